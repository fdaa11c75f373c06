// Package journal is an embeddable, append-only, crash-safe journal of route
// lifecycle events for an integration runtime: it records when routes are
// registered, started, failed, stopped, suspended, resumed, reloaded and
// removed, and replays them after a restart.
//
// Events are appended in batches; every event gets a sequence number (the
// first ever is 0) that is never reused. A batch is atomic: after any crash
// it is wholly present or wholly absent. Storage is a directory of segment
// files of CRC-32C checked records (package wal), with an in-memory B-tree
// index (package index).
//
// # Durability
//
// Immediate (the default): AppendBatch returns once the batch is on stable
// storage (fdatasync); it survives a process crash, an OS crash and a power
// cut. Concurrent AppendBatch calls share one fdatasync.
//
// Eventual: AppendBatch returns once the batch is handed to the OS; it
// survives the process being killed, but a power cut or OS crash may lose
// the batches of about the last Options.FlushInterval (a background flusher
// syncs them; default 200 ms), always a suffix and never part of a batch:
// recovery cuts a torn batch off. The sequence numbers of batches lost that
// way are given out again; those of synced batches never are.
//
// CRASH-SAFETY.md in the repository lists every promise and the test that
// proves it.
package journal
