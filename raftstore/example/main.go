package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/seglog/journal"
	"github.com/seglog/journal/raftstore"
)

// routeFSM is the replicated state machine: each route's latest lifecycle
// event and how many events were applied.
type routeFSM struct {
	mu     sync.Mutex
	State  map[string]journal.EventKind
	Events int
}

func (f *routeFSM) Apply(l *raft.Log) any {
	var e journal.Event
	if err := json.Unmarshal(l.Data, &e); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Events++
	if e.Kind == journal.RouteRemoved {
		delete(f.State, e.RouteID)
	} else {
		f.State[e.RouteID] = e.Kind
	}
	return nil
}

func (f *routeFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f)
	return snapshot(b), err
}

func (f *routeFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s routeFSM
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.State, f.Events = s.State, s.Events
	return nil
}

// digest is the whole state, encoded deterministically (JSON sorts map
// keys), for comparing replicas.
func (f *routeFSM) digest() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(f)
	return string(b)
}

// summary renders the state as one line: event count, then routes by
// their latest event.
func (f *routeFSM) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	byKind := map[journal.EventKind]int{}
	for _, k := range f.State {
		byKind[k]++
	}
	var parts []string
	for k := journal.RouteRegistered; k <= journal.RouteRemoved; k++ {
		if byKind[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, byKind[k]))
		}
	}
	return fmt.Sprintf("%d events applied, %d routes: %s", f.Events, len(f.State), strings.Join(parts, " "))
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshot) Release() {}

var verbose = flag.Bool("v", false, "show raft's own log")

type node struct {
	id    raft.ServerID
	dir   string
	store *raftstore.Store
	fsm   *routeFSM
	trans *raft.InmemTransport
	raft  *raft.Raft
}

// start opens the node's files and starts raft on them, connecting its
// transport to the others'.
func start(n *node, peers []*node) error {
	st, err := raftstore.Open(filepath.Join(n.dir, "store"), raftstore.Options{})
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStore(n.dir, 2, io.Discard)
	if err != nil {
		st.Close()
		return err
	}
	_, n.trans = raft.NewInmemTransport(raft.ServerAddress(n.id))
	for _, p := range peers {
		if p != n && p.trans != nil {
			p.trans.Disconnect(raft.ServerAddress(n.id))
			p.trans.Connect(raft.ServerAddress(n.id), n.trans)
			n.trans.Connect(raft.ServerAddress(p.id), p.trans)
		}
	}
	conf := raft.DefaultConfig()
	conf.LocalID = n.id
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1000 // snapshot (and truncate the log) often
	conf.SnapshotInterval = 200 * time.Millisecond
	conf.TrailingLogs = 200
	level := hclog.Off
	if *verbose {
		level = hclog.Info
	}
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: string(n.id), Level: level})
	n.store, n.fsm = st, &routeFSM{State: map[string]journal.EventKind{}}
	n.raft, err = raft.NewRaft(conf, n.fsm, st, st, snaps, n.trans)
	if err != nil {
		st.Close()
	}
	return err
}

func stop(n *node) error {
	if err := n.raft.Shutdown().Error(); err != nil {
		return err
	}
	n.raft = nil
	return n.store.Close()
}

func leader(nodes []*node) (*node, error) {
	for range 500 {
		for _, n := range nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				return n, nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("no leader elected in 5s")
}

// applyEvents applies n route events through the leader, up to 256 in
// flight at a time (raft batches them into one StoreLogs each).
func applyEvents(nodes []*node, from, n int) error {
	kinds := []journal.EventKind{journal.RouteRegistered, journal.RouteStartRequested, journal.RouteStarted,
		journal.RouteFailed, journal.RouteResumed, journal.RouteStopped, journal.RouteRemoved}
	l, err := leader(nodes)
	if err != nil {
		return err
	}
	var pending []raft.ApplyFuture
	for i := from; i < from+n; i++ {
		e := journal.Event{RouteID: fmt.Sprintf("route-%02d", i%25), Kind: kinds[(i/25+i%25)%len(kinds)]}
		if e.Kind == journal.RouteFailed {
			e.Error = "connection refused"
		}
		b, _ := json.Marshal(e)
		pending = append(pending, l.raft.Apply(b, 5*time.Second))
		if len(pending) == 256 || i == from+n-1 {
			for _, f := range pending {
				if err := f.Error(); err != nil {
					return fmt.Errorf("apply: %w", err)
				}
			}
			pending = pending[:0]
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	dir := flag.String("dir", "", "directory for the nodes' files (default: a new temporary directory, removed at exit)")
	events := flag.Int("events", 3000, "route events to apply before and after the follower restarts")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "raftstore-example-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}

	var nodes []*node
	var servers []raft.Server
	for i := range 3 {
		id := raft.ServerID(fmt.Sprintf("node%d", i))
		nodes = append(nodes, &node{id: id, dir: filepath.Join(*dir, string(id))})
		servers = append(servers, raft.Server{ID: id, Address: raft.ServerAddress(id)})
	}
	for _, n := range nodes {
		if err := start(n, nodes); err != nil {
			return fmt.Errorf("%s: %w", n.id, err)
		}
		defer func() {
			if n.raft != nil {
				stop(n)
			}
		}()
	}
	// Bootstrapping is only for a new cluster; with -dir pointing at an
	// existing one the nodes resume from their files.
	err := nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if err != nil && err != raft.ErrCantBootstrap {
		return err
	}
	l, err := leader(nodes)
	if err != nil {
		return err
	}
	fmt.Printf("leader: %s; files in %s\n", l.id, *dir)

	if err := applyEvents(nodes, 0, *events); err != nil {
		return err
	}
	var follower *node
	for _, n := range nodes {
		if n != l {
			follower = n
			break
		}
	}
	fmt.Printf("stopping %s\n", follower.id)
	if err := stop(follower); err != nil {
		return err
	}
	if err := applyEvents(nodes, *events, *events); err != nil {
		return err
	}
	if err := l.raft.Snapshot().Error(); err != nil {
		return err
	}
	fmt.Printf("restarting %s from its files\n", follower.id)
	if err := start(follower, nodes); err != nil {
		return err
	}
	if err := applyEvents(nodes, 2**events, 100); err != nil {
		return err
	}
	if err := l.raft.Barrier(5 * time.Second).Error(); err != nil {
		return err
	}
	want := l.fsm.digest()
	for range 500 { // wait for the followers to apply everything
		same := true
		for _, n := range nodes {
			same = same && n.fsm.digest() == want
		}
		if same {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, n := range nodes {
		first, _ := n.store.FirstIndex()
		last, _ := n.store.LastIndex()
		fmt.Printf("%s (%s): log %d..%d; %s\n", n.id, n.raft.State(), first, last, n.fsm.summary())
	}
	for _, n := range nodes {
		if n.fsm.digest() != want {
			return fmt.Errorf("%s differs from the leader", n.id)
		}
	}
	fmt.Println("all three nodes hold the same state")
	for _, n := range nodes {
		if err := stop(n); err != nil {
			return err
		}
	}
	return nil
}
