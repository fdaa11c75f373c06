// Package raftbench measures hashicorp/raft log stores (raft.LogStore)
// side by side: the journal's raftstore, raft-boltdb v2 and raft-wal, on
// the same disk and the same entries. It is the library of the command
// cmd/raftbench, which runs every (store, job) in a child process in a
// fresh directory and prints the medians of several interleaved rounds.
//
// The jobs (issue 10, part 4; issue 19 added the last three):
//
//   - JobBatch1: StoreLogs with batches of 1 entry (every call durable);
//     entries/s, the p50/p99 latency of a call and its minor page faults
//     (Unix).
//   - JobBatch64: the same with batches of 64 entries.
//   - JobGet: GetLog of random indexes over a store of GetStore entries;
//     ops/s and p50/p99 latency.
//   - JobOpen: OpenEntries entries written in batches of 64, Close; then,
//     in a new process, the time to open the store, read FirstIndex and
//     LastIndex and GetLog the last index; and the disk bytes per entry of
//     what was written.
//   - JobOpenKill: the same OpenEntries written, then the process that
//     wrote them dies of SIGKILL, without Close (the parent checks it did);
//     in a new process, the same open as JobOpen's, which now recovers what
//     a crash left.
//   - JobDeleteFront: DeleteStore entries written in batches of 64, then
//     DeleteCalls calls of DeleteRange that each drop the DeleteFront
//     entries at the front, as raft does after a snapshot; the median time
//     of a call. With the default sizes (1,000 entries 20 times over
//     200,000) every call stays inside the first segment of the stores
//     that have segments.
//   - JobDeleteHalf: OpenEntries written, then one DeleteRange of the first
//     half; its time. At the default 1M entries, whole segments go.
//
// Every entry is a raft.LogCommand of EntrySize deterministic pseudo-random
// bytes (the same bytes for every store), with a term that changes every
// 100,000 entries and AppendedAt set, as raft's leader does, to the time of
// the StoreLogs call.
package raftbench
