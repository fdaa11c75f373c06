// Command raftbench measures hashicorp/raft log stores side by side (issue
// 10, part 4): the journal's raftstore, raft-boltdb v2 and raft-wal, on the
// same disk and the same entries (see package raftbench for the jobs), and
// prints a markdown table of medians (min–max) with journal ÷ store in
// every cell; -png draws the chart.
//
//	cd bench/peers && go run ./cmd/raftbench -png ../raft-stores.png   # full run, 7 rounds (many minutes: 3 fills of 1M entries per store per round)
//	cd bench/peers && go run ./cmd/raftbench -short                     # smoke run, seconds
//	go run ./cmd/raftbench -stores raft-boltdb,raft-wal -jobs batch1,get -rounds 3
//	go run ./cmd/raftbench -jobs open,openkill,deletefront,deletehalf -rounds 5   # open and truncation rows
//
// Every (store, job) run happens in its own process (this binary
// re-executed with -child) in a fresh directory under -base, so one
// store's heap or background goroutines do not leak into the next one's
// figures; a job of two phases (open, openkill) runs each in its own
// process on the same directory, and openkill's fill reports its result,
// then kills itself with SIGKILL, so the store is never closed. Runs are
// interleaved: each round runs every job on every store,
// the store order rotated each round, so drift of the shared, noisy
// machine hits all stores alike.
package main
