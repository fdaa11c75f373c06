// Package raftstore stores the log and the stable state of a
// github.com/hashicorp/raft node on this module's engine: the raft log is a
// wal log directory (package github.com/seglog/journal/wal) whose sequence
// numbers are the raft indexes, and the stable state (current term, vote) is
// a small checksummed file replaced atomically on every change.
//
// Use Open for both in one directory and pass the Store as raft's LogStore
// and StableStore:
//
//	st, err := raftstore.Open(dir, raftstore.Options{})
//	...
//	r, err := raft.NewRaft(conf, fsm, st, st, snaps, transport)
//
// It lives in its own module so that hashicorp/raft never becomes a
// requirement of the journal module.
package raftstore
