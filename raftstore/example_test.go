package raftstore_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/seglog/journal/raftstore"
)

// routeFSM is the replicated state machine: it keeps the commands applied.
type routeFSM struct{ applied []string }

func (f *routeFSM) Apply(l *raft.Log) any {
	f.applied = append(f.applied, string(l.Data))
	return len(f.applied)
}

// Snapshot and Restore are not needed here: the log stays far below
// raft's SnapshotThreshold. (raftstore/example has a complete FSM.)
func (f *routeFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.ErrUnsupported }
func (f *routeFSM) Restore(io.ReadCloser) error         { return errors.ErrUnsupported }

// A Store is both the LogStore and the StableStore of a raft node. Here a
// single-node cluster on raft's in-memory transport is bootstrapped, elects
// itself and applies one command, which is in the store's log on disk when
// the store is opened again.
func Example() {
	dir, err := os.MkdirTemp("", "raftstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := raftstore.Open(dir, raftstore.Options{}) // Immediate durability
	if err != nil {
		log.Fatal(err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = "node0"
	conf.HeartbeatTimeout = 50 * time.Millisecond // a single node need not wait long to elect itself
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
	addr, trans := raft.NewInmemTransport("node0")
	fsm := &routeFSM{}
	r, err := raft.NewRaft(conf, fsm, st, st, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		log.Fatal(err)
	}

	boot := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}
	if err := r.BootstrapCluster(boot).Error(); err != nil {
		log.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); r.State() != raft.Leader; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			log.Fatal("no leader after 2s")
		}
	}

	f := r.Apply([]byte("RouteStarted orders"), time.Second)
	if err := f.Error(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("the FSM has applied %v: %q\n", f.Response(), fsm.applied)

	if err := r.Shutdown().Error(); err != nil {
		log.Fatal(err)
	}
	if err := st.Close(); err != nil {
		log.Fatal(err)
	}

	// The log is on disk: a restarted node reopens the store and finds the
	// command at the index raft gave it.
	st, err = raftstore.Open(dir, raftstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	var entry raft.Log
	if err := st.GetLog(f.Index(), &entry); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("after reopening, the store holds %q\n", entry.Data)
	// Output:
	// the FSM has applied 1: ["RouteStarted orders"]
	// after reopening, the store holds "RouteStarted orders"
}
