package raftstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/seglog/journal/vfs/vfstest"
)

// Power cuts at every filesystem operation of a workload of StoreLogs and
// DeleteRange at both ends, on the in-memory crash-simulating filesystem
// (strict states: only what was synced; and random ones: unsynced writes
// kept, dropped or torn). Each state opens, and its log is exactly the one
// after the acknowledged operations, or after the one in flight too.
func TestLogStorePowerCut(t *testing.T) {
	type bounds struct{ first, last uint64 }
	fs := vfstest.New()
	const dir = "/node/store"
	var (
		mu     sync.Mutex
		states []*vfstest.FS
		// stepOf[i]: operations acknowledged before and after state i was
		// taken (background work may take a state while the workload goes
		// on, so the state may include operations acknowledged meanwhile).
		stepOf  [][2]int
		acked   atomic.Int64
		rngSeed = rand.New(rand.NewPCG(3, 4))
	)
	fs.OnOp(func(vfstest.Op, string) {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range []vfstest.CrashOptions{{}, {Rand: rand.New(rand.NewPCG(rngSeed.Uint64(), 0))}} {
			before := int(acked.Load())
			states = append(states, fs.CrashClone(o))
			stepOf = append(stepOf, [2]int{before, int(acked.Load())})
		}
	})
	s, err := Open(dir, Options{FS: fs, Logger: quiet, SegmentSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	model := []bounds{{0, 0}} // model[k]: the log after k acknowledged operations
	var ops []string
	cur := bounds{0, 0}
	for range 150 {
		switch op := rng.IntN(10); {
		case op < 7 || cur.first == 0: // store a batch
			lo := cur.last + 1
			if cur.first == 0 {
				lo = 1 + uint64(rng.IntN(50))*100 // an empty store continues anywhere
			}
			hi := lo + uint64(rng.IntN(40))
			logs := make([]*raft.Log, 0, hi-lo+1)
			for i := lo; i <= hi; i++ {
				logs = append(logs, crashLog(i))
			}
			ops = append(ops, fmt.Sprintf("StoreLogs(%d..%d)", lo, hi))
			if err := s.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
			if cur.first == 0 {
				cur.first = lo
			}
			cur.last = hi
		case op < 9: // compaction: delete a head, sometimes everything
			x := cur.first + uint64(rng.IntN(int(cur.last-cur.first)+5))
			ops = append(ops, fmt.Sprintf("DeleteRange(%d, %d)", cur.first, x))
			if err := s.DeleteRange(cur.first, x); err != nil {
				t.Fatal(err)
			}
			if x >= cur.last {
				cur = bounds{0, 0}
			} else {
				cur.first = x + 1
			}
		default: // conflict: delete a tail
			x := cur.first + uint64(rng.IntN(int(cur.last-cur.first)+1))
			ops = append(ops, fmt.Sprintf("DeleteRange(%d, %d)", x, cur.last))
			if err := s.DeleteRange(x, cur.last); err != nil {
				t.Fatal(err)
			}
			if x == cur.first {
				cur = bounds{0, 0}
			} else {
				cur.last = x - 1
			}
		}
		model = append(model, cur)
		acked.Add(1)
	}
	fs.OnOp(nil)
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	for i, clone := range states {
		k, kmax := stepOf[i][0], min(stepOf[i][1]+1, len(model)-1)
		st, err := Open(dir, Options{FS: clone, Logger: quiet, SegmentSize: 8 << 10})
		if err != nil {
			t.Fatalf("state %d (after %d operations, %v; then %s in flight): Open: %v\nops so far: %v\n%s",
				i, k, model[k], ops[min(k, len(ops)-1)], err, ops[:k], clone.Dump())
		}
		first, _ := st.FirstIndex()
		last, _ := st.LastIndex()
		got := bounds{first, last}
		ok := slices.Contains(model[k:kmax+1], got)
		for j := first; ok && first != 0 && j <= last; j++ {
			var l raft.Log
			if err := st.GetLog(j, &l); err != nil || !sameLog(&l, crashLog(j)) {
				st.Close()
				t.Fatalf("state %d (after %d operations): GetLog(%d): %v", i, k, j, err)
			}
		}
		st.Close()
		if !ok {
			t.Fatalf("state %d (after %d..%d operations): log %v; want one of %v", i, k, kmax, got, model[k:kmax+1])
		}
	}
	t.Logf("%d crash states checked", len(states))
}
