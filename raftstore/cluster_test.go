package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// sumFSM is the state machine of the cluster test: command i (a uint64) is
// applied when it is the next one expected (applied == i), folding i and
// the entry's index into an order-sensitive hash, so two replicas are equal
// only if they applied the same commands at the same indexes. A command
// seen again (a client retry after a change of leader, of a command that
// had been committed after all) is ignored; one out of order is an error.
type sumFSM struct {
	mu      sync.Mutex
	applied uint64 // commands applied: the next expected command
	hash    uint64
}

type fsmState struct{ applied, hash uint64 }

func (f *sumFSM) Apply(l *raft.Log) any {
	if len(l.Data) != 8 {
		return fmt.Errorf("command at %d has %d bytes", l.Index, len(l.Data))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch i := binary.BigEndian.Uint64(l.Data); {
	case i < f.applied:
		return nil // a retry of a command already applied
	case i > f.applied:
		return fmt.Errorf("command %d at index %d; expected %d", i, l.Index, f.applied)
	}
	f.applied++
	f.hash = (f.hash^f.applied^l.Index<<32)*0x100000001b3 + 1
	return nil
}

func (f *sumFSM) state() fsmState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fsmState{f.applied, f.hash}
}

func (f *sumFSM) Snapshot() (raft.FSMSnapshot, error) { return f.state(), nil }

func (f *sumFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [16]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied, f.hash = binary.BigEndian.Uint64(b[:]), binary.BigEndian.Uint64(b[8:])
	return nil
}

func (s fsmState) Persist(sink raft.SnapshotSink) error {
	b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, s.applied), s.hash)
	if _, err := sink.Write(b); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (fsmState) Release() {}

// testNode is one raft server of the cluster, with its stores on disk.
type testNode struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	dir   string
	store *Store
	fsm   *sumFSM
	trans *raft.InmemTransport
	r     *raft.Raft
}

type testCluster struct {
	t             *testing.T
	nodes         []*testNode
	leaderChanges int // seen while applying
}

func clusterConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	c.HeartbeatTimeout = 100 * time.Millisecond
	c.ElectionTimeout = 100 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotInterval = 100 * time.Millisecond
	c.SnapshotThreshold = 1000
	c.TrailingLogs = 200
	c.Logger = hclog.NewNullLogger()
	return c
}

// start opens n's stores (as they are on disk) and starts raft on them.
func (c *testCluster) start(n *testNode) {
	c.t.Helper()
	st, err := Open(filepath.Join(n.dir, "store"), Options{Logger: quiet, SegmentSize: 256 << 10})
	if err != nil {
		c.t.Fatalf("%s: %v", n.id, err)
	}
	snaps, err := raft.NewFileSnapshotStore(n.dir, 2, io.Discard)
	if err != nil {
		c.t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport(n.addr)
	n.store, n.fsm, n.trans = st, &sumFSM{}, trans
	for _, o := range c.nodes {
		if o != n && o.trans != nil {
			o.trans.Disconnect(n.addr) // drop pipelines to its old transport
			o.trans.Connect(n.addr, trans)
			trans.Connect(o.addr, o.trans)
		}
	}
	n.r, err = raft.NewRaft(clusterConfig(n.id), n.fsm, st, st, snaps, trans)
	if err != nil {
		c.t.Fatalf("%s: NewRaft: %v", n.id, err)
	}
}

// stop shuts n's raft down and closes its stores.
func (c *testCluster) stop(n *testNode) {
	c.t.Helper()
	if err := n.r.Shutdown().Error(); err != nil {
		c.t.Fatalf("%s: Shutdown: %v", n.id, err)
	}
	if err := n.store.Close(); err != nil {
		c.t.Fatalf("%s: Close: %v", n.id, err)
	}
	n.r = nil
}

func newTestCluster(t *testing.T, size int) *testCluster {
	c := &testCluster{t: t}
	var servers []raft.Server
	for i := range size {
		n := &testNode{id: raft.ServerID(fmt.Sprintf("node%d", i)), addr: raft.ServerAddress(fmt.Sprintf("addr%d", i)), dir: t.TempDir()}
		c.nodes = append(c.nodes, n)
		servers = append(servers, raft.Server{ID: n.id, Address: n.addr})
	}
	for _, n := range c.nodes {
		c.start(n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.r != nil {
				n.r.Shutdown().Error()
				n.store.Close()
			}
		}
	})
	if err := c.nodes[0].r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *testCluster) leader() *testNode {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if n.r != nil && n.r.State() == raft.Leader {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no leader elected within 10s")
	return nil
}

// onLeader runs fn on the leader and returns the node it succeeded on,
// trying again on the new leader when leadership moved meanwhile (a loaded
// machine misses heartbeats); any other error fails the test.
func (c *testCluster) onLeader(what string, fn func(n *testNode) error) *testNode {
	c.t.Helper()
	for try := 0; ; try++ {
		n := c.leader()
		err := fn(n)
		if err == nil {
			return n
		}
		if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) || try == 20 {
			c.t.Fatalf("%s on the leader (try %d): %v", what, try, err)
		}
		c.leaderChanges++
	}
}

// apply applies commands from..to-1 through the leader, many in flight at
// once. After a change of leader it resubmits from the first command whose
// future failed (the FSM ignores those that were committed after all).
func (c *testCluster) apply(from, to uint64) {
	c.t.Helper()
	for from < to {
		l := c.leader()
		end := min(from+500, to)
		var futures []raft.ApplyFuture
		for i := from; i < end; i++ {
			futures = append(futures, l.r.Apply(binary.BigEndian.AppendUint64(nil, i), 5*time.Second))
		}
		for _, f := range futures {
			err := f.Error()
			if err == nil {
				err, _ = f.Response().(error)
			}
			if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
				c.leaderChanges++
				break
			}
			if err != nil {
				c.t.Fatalf("Apply of command %d: %v", from, err)
			}
			from++
		}
	}
}

// waitApplied waits until every running node has applied n commands.
func (c *testCluster) waitApplied(n uint64) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, node := range c.nodes {
		for node.fsm.state().applied < n {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s applied %d of %d commands", node.id, node.fsm.state().applied, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// A three-node cluster on real stores elects a leader, applies 10,000
// commands, loses a follower and restarts it from its stores while the
// leader snapshots and truncates its log past what the follower holds (so
// the follower is sent a snapshot and its store emptied and continued at a
// higher index), and ends with identical state machines and logs.
func TestRaftCluster(t *testing.T) {
	const total = 10000
	c := newTestCluster(t, 3)
	leader := c.leader()
	c.apply(0, 4000)

	var follower *testNode
	for _, n := range c.nodes {
		if n != leader {
			follower = n
			break
		}
	}
	c.waitApplied(4000)
	c.stop(follower)
	downAt := follower.fsm.state()

	c.apply(4000, 7000)
	leader = c.onLeader("snapshot", func(n *testNode) error { return n.r.Snapshot().Error() })
	first, _ := leader.store.FirstIndex()
	last, _ := follower.store.LastIndex() // closed: the last value it had
	c.onLeader("barrier", func(n *testNode) error { return n.r.Barrier(5 * time.Second).Error() })
	if first <= 1 {
		t.Fatalf("leader's log starts at %d after a snapshot; want it truncated", first)
	}

	c.start(follower) // from its stores: snapshot, log, term and vote
	c.apply(7000, total)
	c.waitApplied(total)
	leader = c.onLeader("barrier", func(n *testNode) error { return n.r.Barrier(5 * time.Second).Error() })

	want := leader.fsm.state()
	for _, n := range c.nodes {
		if got := n.fsm.state(); got != want {
			t.Errorf("%s: state %+v; leader has %+v", n.id, got, want)
		}
	}
	if want.applied != total {
		t.Errorf("applied %d commands; want %d", want.applied, total)
	}
	if downAt.applied < 4000 {
		t.Errorf("follower had applied %d before it stopped; want 4000", downAt.applied)
	}
	// Every store holds a contiguous, decodable log ending at the leader's
	// last index (once the followers have the barrier), and each was
	// truncated by snapshots.
	lastIndex, _ := leader.store.LastIndex()
	for _, n := range c.nodes {
		deadline := time.Now().Add(5 * time.Second)
		l, _ := n.store.LastIndex()
		for ; l != lastIndex && time.Now().Before(deadline); l, _ = n.store.LastIndex() {
			time.Sleep(5 * time.Millisecond)
		}
		if l != lastIndex {
			t.Errorf("%s: last index %d; the leader has %d", n.id, l, lastIndex)
		}
		f, _ := n.store.FirstIndex()
		if f <= 1 || f > l {
			t.Errorf("%s: log %d..%d; want a truncated, non-empty log", n.id, f, l)
		}
		for idx := f; idx <= l; idx++ {
			var e raft.Log
			if err := n.store.GetLog(idx, &e); err != nil {
				t.Fatalf("%s: GetLog(%d) in %d..%d: %v", n.id, idx, f, l, err)
			}
		}
		if n == follower && f <= last {
			// The leader's log started past it, so it must have been sent
			// a snapshot, emptied its store and continued higher up.
			t.Errorf("%s: restarted follower's log %d..%d; it had up to %d, so want it to start later", n.id, f, l, last)
		}
	}
	t.Logf("%d leader changes while applying", c.leaderChanges)
	t.Logf("leader %s; follower %s stopped at %d applied (log up to %d), leader log then started at %d",
		leader.id, follower.id, downAt.applied, last, first)
}
