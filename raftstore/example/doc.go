// Command example runs a replicated route journal: three hashicorp/raft
// nodes in one process, talking over raft's in-memory transport, each
// keeping its raft log and stable state in a raftstore.Store on disk and its
// snapshots in a raft.FileSnapshotStore.
//
// It applies route lifecycle events through the leader, stops a follower,
// applies more, restarts the follower from its files (it catches up from a
// snapshot and the leader's log), and prints every node's state, which is
// the same on all three.
//
//	cd raftstore && go run ./example [-dir DIR] [-events N] [-v]
package main
