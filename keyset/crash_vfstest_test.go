package keyset

// Crash-state exploration of a Set on the vfstest filesystem: an Add/Remove
// history long enough for several snapshot rewrites, with crash states taken
// from the FS hook at every fsync and directory fsync, at renames, and at a
// seeded sample of writes, strictly and randomly. Every message names the
// seed and the crash index; the random state of index i is
// CrashOptions{Rand: rand.New(rand.NewPCG(seed, i))}, with AnyOrder where the
// message says "entries in any order".

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
)

const vxDir = "/db/cmds"

// vxFS returns a memory filesystem holding vxDir, durably.
func vxFS(t *testing.T) *vfstest.FS {
	t.Helper()
	fs := vfstest.New()
	if err := fs.MkdirAll(vxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs.SyncDir("/")
	fs.SyncDir("/db")
	return fs
}

// vxState is the set after some number of operations.
type vxState map[string]struct{}

func vxEqual(keys []string, st vxState) bool {
	if len(keys) != len(st) {
		return false
	}
	for _, k := range keys {
		if _, ok := st[k]; !ok {
			return false
		}
	}
	return true
}

func vxExplore(t *testing.T, seed uint64, mode Durability, nOps int) (states, rewrites int) {
	fs := vxFS(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	hookRng := rand.New(rand.NewPCG(seed, 2))

	// history[i] is the set after i operations that returned (acknowledged).
	history := []vxState{{}}
	cur := vxState{}
	synced := 0 // operations covered by a successful Sync/Close
	failures := 0
	randoms := 2
	if testing.Short() {
		randoms = 1
	}
	var s *Set
	fs.OnOp(func(op vfstest.Op, name string) {
		// Failing here (t.FailNow) would unwind through the Set with its
		// lock released: stop taking states instead.
		if failures > 5 {
			return
		}
		n := 0
		strict := false
		if op == vfstest.OpRename && name == vxDir+"/keys.snap.tmp" {
			rewrites++
		}
		switch op {
		case vfstest.OpSync, vfstest.OpSyncDir:
			strict, n = true, randoms
			if hookRng.IntN(3) != 0 && mode == Immediate {
				// Immediate syncs once per operation: sample them.
				strict, n = hookRng.IntN(2) == 0, 0
			}
		case vfstest.OpRename, vfstest.OpRemove, vfstest.OpTruncate, vfstest.OpCreate:
			strict, n = true, randoms
		case vfstest.OpWrite:
			if hookRng.IntN(8) != 0 {
				return
			}
			n = 1
		default:
			return
		}
		done := len(history) - 1 // operations acknowledged so far
		// The operation in flight, if any, may be there or not.
		inflight := cur
		lo := done
		if mode == Eventual {
			lo = synced
		}
		// After an entry operation, more random states let the directory
		// keep its pending operations in any order: the set must order
		// its renames with directory syncs, not rely on the file system's
		// order. Renames are rare (two per rewrite) and decide the most.
		anyOrder := 0
		switch {
		case op == vfstest.OpRename:
			anyOrder = 6
		case op != vfstest.OpWrite && op != vfstest.OpSync && n > 0:
			anyOrder = 1
		}
		for r := -1; r < n+anyOrder; r++ {
			if r < 0 && !strict {
				continue
			}
			idx := states
			states++
			var co vfstest.CrashOptions
			kind := "strict"
			if r >= 0 {
				co.Rand = rand.New(rand.NewPCG(seed, uint64(idx)))
				kind = "random"
			}
			if r >= n {
				co.AnyOrder = true
				kind = "random, entries in any order"
			}
			clone := fs.CrashClone(co)
			s2, err := Open(vxDir, Options{FS: clone, Durability: mode})
			if err != nil {
				failures++
				t.Errorf("seed=%d crash=%d (%s) after %s %s, %d ops acked: Open: %v\n%s", seed, idx, kind, op, name, done, err, clone.Dump())
				continue
			}
			keys := s2.Keys()
			ok := vxEqual(keys, inflight)
			for i := lo; !ok && i <= done; i++ {
				ok = vxEqual(keys, history[i])
			}
			if !ok {
				failures++
				t.Errorf("seed=%d crash=%d (%s) after %s %s: recovered set of %d keys is not the state after any of operations %d..%d (or the one in flight)",
					seed, idx, kind, op, name, len(keys), lo, done)
			}
			// Recovery is stable: the set works and reopens the same.
			if err := s2.Add("probe"); err != nil {
				t.Errorf("seed=%d crash=%d: Add after recovery: %v", seed, idx, err)
			}
			s2.Close()
			s3, err := Open(vxDir, Options{FS: clone})
			if err != nil {
				t.Errorf("seed=%d crash=%d: second Open: %v", seed, idx, err)
				continue
			}
			if got := s3.Keys(); !slices.Contains(got, "probe") || len(got) != len(keys)+boolInt(!slices.Contains(keys, "probe")) {
				t.Errorf("seed=%d crash=%d: reopened set has %d keys, want %d + probe", seed, idx, len(got), len(keys))
			}
			s3.Close()
		}
	})
	defer fs.OnOp(nil)

	var err error
	if s, err = Open(vxDir, Options{FS: fs, Durability: mode}); err != nil {
		t.Fatal(err)
	}
	for i := range nOps {
		key := fmt.Sprintf("cmd-%d", rng.IntN(60))
		remove := rng.IntN(2) == 0
		next := maps.Clone(cur)
		if remove {
			delete(next, key)
		} else {
			next[key] = struct{}{}
		}
		cur = next // in flight
		if remove {
			err = s.Remove(key)
		} else {
			err = s.Add(key)
		}
		if err != nil {
			t.Fatalf("seed=%d op %d: %v", seed, i, err)
		}
		history = append(history, cur)
		if mode == Eventual && rng.IntN(50) == 0 {
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			synced = len(history) - 1
		}
		if rng.IntN(800) == 0 {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			synced = len(history) - 1
			if s, err = Open(vxDir, Options{FS: fs, Durability: mode}); err != nil {
				t.Fatalf("seed=%d reopen: %v", seed, err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return states, rewrites
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestCrashVFSTestExploration: after a crash at any point, the set equals
// the state after the last acknowledged operation (or the one in flight)
// under Immediate, and the state after some operation at or after the last
// Sync under Eventual; Open always succeeds and recovery is stable.
func TestCrashVFSTestExploration(t *testing.T) {
	for _, mode := range []Durability{Immediate, Eventual} {
		t.Run(mode.String(), func(t *testing.T) {
			for _, seed := range []uint64{1, 2} {
				states, rw := vxExplore(t, seed, mode, 6000)
				t.Logf("seed=%d: %d crash states, %d snapshot rewrites", seed, states, rw)
			}
		})
	}
}

// TestCrashFailedSyncReopenSameBoot models Linux after a failed fsync
// ("fsyncgate", vfstest.SetSyncErrorLosesData): the delta's dirty pages are
// dropped from writeback but still served from the page cache. The set is
// closed and reopened in the same boot, so recovery reads the never-durable
// operations back and shows them; more operations are then acknowledged
// (and, under Eventual, Synced). A power cut must keep every one of them —
// including the ones read back after the failure, which the reopened set
// reported as present and then declared durable. Before the fix, the dropped
// range was never rewritten: after the power cut it was zeros in front of
// synced frames claiming it durable, and Open failed with ErrCorrupt (or
// lost the operations).
func TestCrashFailedSyncReopenSameBoot(t *testing.T) {
	for _, mode := range []Durability{Immediate, Eventual} {
		for _, failDir := range []bool{false, true} {
			name := mode.String()
			if failDir {
				name += "/FailedDirSyncAtRewrite"
			}
			t.Run(name, func(t *testing.T) {
				fs := vxFS(t)
				fs.SetSyncErrorLosesData(true)
				opts := Options{FS: fs, Durability: mode}
				s := mustOpen(t, vxDir, opts)
				want := map[string]bool{}
				for i := range 5 {
					k := fmt.Sprint("a", i)
					if err := s.Add(k); err != nil {
						t.Fatal(err)
					}
					want[k] = true
				}
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
				if failDir {
					// The last directory fsync of a rewrite (after the new
					// delta's rename) fails: the rename stays pending.
					// Churn one key so the delta outgrows the set.
					for i := 0; ; i++ {
						add := i%2 == 0
						n := len(s.keys) - 1
						if add {
							n = len(s.keys) + 1
						}
						if s.deltaOps+1 > max(2*n, minRewriteOps) {
							// This operation rewrites: fail the second
							// directory fsync (after the new delta's rename).
							fs.InjectError(vfstest.OpSyncDir, 2, syscall.EIO)
							var err error
							if add {
								err = s.Add("r")
							} else {
								err = s.Remove("r")
							}
							if !errors.Is(err, syscall.EIO) {
								t.Fatalf("operation whose rewrite has a failing directory fsync: %v, want EIO", err)
							}
							break
						}
						var err error
						if add {
							err = s.Add("r")
						} else {
							err = s.Remove("r")
						}
						if err != nil {
							t.Fatal(err)
						}
					}
				} else {
					// Failed fsync: under Immediate Add reports it; under
					// Eventual the Sync does.
					fs.InjectError(vfstest.OpSync, 1, syscall.EIO)
					err := s.Add("b0")
					if mode == Eventual {
						if err != nil {
							t.Fatal(err)
						}
						if err := s.Add("b1"); err != nil {
							t.Fatal(err)
						}
						err = s.Sync()
					}
					if !errors.Is(err, syscall.EIO) {
						t.Fatalf("operation with failing fsync: %v, want EIO", err)
					}
				}
				s.Close() // reports the sticky error; closes the files
				fs.ClearErrors()

				// Same boot: the failed operations are read back. Whatever
				// the reopened set shows must become durable with the next
				// successful Sync.
				s = mustOpen(t, vxDir, opts)
				want = map[string]bool{}
				for _, k := range s.Keys() {
					want[k] = true
				}
				for i := range 3 {
					k := fmt.Sprint("c", i)
					if err := s.Add(k); err != nil {
						t.Fatal(err)
					}
					want[k] = true
				}
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
				if err := s.Remove("a0"); err != nil {
					t.Fatal(err)
				}
				delete(want, "a0")
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
				clone := fs.CrashClone(vfstest.CrashOptions{}) // power cut: only what was synced
				s.Close()
				s2, err := Open(vxDir, Options{FS: clone, Durability: mode})
				if err != nil {
					t.Fatalf("Open after power cut: %v (acknowledged, synced operations unreachable)\n%s", err, clone.Dump())
				}
				defer s2.Close()
				got := s2.Keys()
				if !slices.Equal(got, sortedKeys(want)) {
					t.Fatalf("after power cut: %d keys %v, want the %d acknowledged %v", len(got), abbrev(got), len(want), abbrev(sortedKeys(want)))
				}
			})
		}
	}
}

// TestCrashEveryAcknowledgementIsDurable: under Immediate an Add or Remove
// returns only once a delta fdatasync that began after its write has
// completed. Writers run concurrently while every fdatasync is held in
// flight (vfstest's DuringSync), so operations land during syncs; at each
// return the writer takes the strict crash state, and every such state,
// opened, must reflect that writer's operation.
func TestCrashEveryAcknowledgementIsDurable(t *testing.T) {
	const writers, perWriter = 4, 40
	fs := vxFS(t)
	s, err := Open(vxDir, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	fs.YieldDuringSyncs()
	type ack struct {
		key    string
		remove bool
		state  *vfstest.FS
	}
	acks := make([][]ack, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				// Each writer owns its keys: add one, and remove it again
				// at the next step, so each state has one answer per key.
				key := fmt.Sprintf("w%d-%d", w, i/2)
				remove := i%2 == 1
				var err error
				if remove {
					err = s.Remove(key)
				} else {
					err = s.Add(key)
				}
				if err != nil {
					t.Errorf("writer %d op %d: %v", w, i, err)
					return
				}
				acks[w] = append(acks[w], ack{key, remove, fs.CrashClone(vfstest.CrashOptions{})})
			}
		})
	}
	wg.Wait()
	fs.DuringSync(nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		for _, a := range acks[w] {
			s2, err := Open(vxDir, Options{FS: a.state})
			if err != nil {
				t.Fatalf("state taken as %s's operation returned: Open: %v", a.key, err)
			}
			has := s2.Has(a.key)
			s2.Close()
			if has == a.remove {
				t.Fatalf("%s (remove %v) returned, but the strict crash state taken then has the key %v: durability reported before a sync covering it completed", a.key, a.remove, has)
			}
		}
	}
}

// TestWaiterWrittenDuringASyncWaitsForTheNext: group commit in one exact
// interleaving. While A's delta fdatasync is in flight, B writes its
// operation and waits; A's sync, which began before B's write, must not
// release B: B returns only after a sync of its own, so the strict crash
// state taken as B returns holds B's key.
func TestWaiterWrittenDuringASyncWaitsForTheNext(t *testing.T) {
	fs := vxFS(t)
	s, err := Open(vxDir, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type result struct {
		err   error
		state *vfstest.FS
	}
	bDone := make(chan result, 1)
	fs.DuringSync(func(string) {
		fs.DuringSync(nil)
		written := make(chan struct{})
		fs.OnOp(func(op vfstest.Op, _ string) {
			if op == vfstest.OpWrite {
				fs.OnOp(nil)
				close(written) // B holds the set's lock until it waits
			}
		})
		go func() {
			err := s.Add("b")
			bDone <- result{err, fs.CrashClone(vfstest.CrashOptions{})}
		}()
		<-written
	})
	if err := s.Add("a"); err != nil {
		t.Fatal(err)
	}
	b := <-bDone
	if b.err != nil {
		t.Fatal(b.err)
	}
	s2, err := Open(vxDir, Options{FS: b.state})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !s2.Has("a") || !s2.Has("b") {
		t.Fatalf("B's Add returned, but the strict crash state then holds %q: A's sync, begun before B's write, released B", s2.Keys())
	}
}

// TestNoOpWaitsForTheStateItObserved: an Add of a key already present
// writes nothing but, under Immediate, returns only once the state it
// observed is durable. A's sync is in flight when B adds "b" (B then
// waits for a sync of its own); once A has returned, C adds "b" again
// while B's sync is in flight: C must not return before that sync does, or
// a crash then loses the key C was told is stored.
func TestNoOpWaitsForTheStateItObserved(t *testing.T) {
	fs := vxFS(t)
	s, err := Open(vxDir, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	aDone, bDone, cDone := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	var early error // set by the second sync's hook
	syncs := 0
	fs.DuringSync(func(string) {
		syncs++
		switch syncs {
		case 1: // A's: B writes "b" and waits
			written := make(chan struct{})
			fs.OnOp(func(op vfstest.Op, _ string) {
				if op == vfstest.OpWrite {
					fs.OnOp(nil)
					close(written)
				}
			})
			go func() { bDone <- s.Add("b") }()
			<-written
		case 2: // B's: A has returned; C repeats B's Add
			if err := <-aDone; err != nil {
				early = err
				return
			}
			aDone <- nil
			go func() { cDone <- s.Add("b") }()
			select {
			case err := <-cDone:
				early = fmt.Errorf("C's Add of a present key returned (%v) while the sync covering it was in flight", err)
				cDone <- err
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
	go func() { aDone <- s.Add("a") }()
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	if err := <-cDone; err != nil {
		t.Fatal(err)
	}
	fs.DuringSync(nil)
	if early != nil {
		t.Fatal(early)
	}
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
}
