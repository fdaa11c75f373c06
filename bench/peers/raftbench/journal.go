package raftbench

import "github.com/seglog/journal/raftstore"

// OpenJournal opens the journal's raftstore with its defaults (Immediate
// durability: every StoreLogs durable on return; 64 MiB segments), log and
// stable store in one directory as raftstore.Open lays them out.
func OpenJournal(dir string) (Store, error) {
	return raftstore.Open(dir, raftstore.Options{})
}

func init() {
	journalStores = []Named{{Journal, OpenJournal}}
}
