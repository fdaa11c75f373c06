package keyset

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
)

// TestPowerLoss runs seeded random histories on vfstest's filesystem, cuts the power at a
// random moment — between operations or at a random step of a snapshot
// rewrite — and checks the recovered set: with Immediate durability it is
// exactly the state after the last acknowledged operation (or after the
// one in flight); with Eventual it is the state after some prefix of the
// history at least as long as the last Sync.
func TestPowerLoss(t *testing.T) {
	seeds := 120
	if testing.Short() {
		seeds = 20
	}
	deadline := time.Now().Add(6 * time.Second)
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		if time.Now().After(deadline) {
			t.Logf("stopping after %d seeds (time budget)", seed-1)
			break
		}
		powerLossRun(t, seed)
	}
}

func powerLossRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	fs := vfstest.New()
	const dir = "/db"
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs.SyncDir("/")
	mode := Immediate
	if seed%2 == 1 {
		mode = Eventual
	}
	opts := Options{FS: fs, Durability: mode}
	// History so far, replayed by reopening after earlier crashes.
	states := []map[string]bool{{}} // states[i]: after i ops
	synced := 0                     // ops known durable
	for round := range 3 {
		s, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("seed %d round %d: Open: %v", seed, round, err)
		}
		cur := maps.Clone(states[len(states)-1])
		// Crash inside the k-th rewrite of this round at a random step,
		// or after a random number of operations.
		crashRewrite, crashStep := -1, rewriteStep(0)
		if rng.IntN(3) > 0 {
			crashRewrite, crashStep = rng.IntN(2), rewriteStep(rng.IntN(int(numSteps)))
		}
		nops := rng.IntN(3000)
		rewrites := 0
		s.hook = func(st rewriteStep) error {
			if rewrites == crashRewrite && st == crashStep {
				return errCrash
			}
			if st == stepDeltaReset {
				rewrites++
			}
			return nil
		}
		keyspace := 2 + rng.IntN(30)
		inFlight := false
		for i := 0; i < nops || crashRewrite >= 0; i++ {
			if i > 20_000 {
				t.Fatalf("seed %d: no crash after %d ops", seed, i)
			}
			k := fmt.Sprintf("k%d", rng.IntN(keyspace))
			if cur[k] {
				err = s.Remove(k)
				delete(cur, k)
			} else {
				err = s.Add(k)
				cur[k] = true
			}
			states = append(states, maps.Clone(cur))
			if err != nil {
				if !errors.Is(err, errCrash) {
					t.Fatalf("seed %d: op: %v", seed, err)
				}
				inFlight = true
				break
			}
			if mode == Immediate {
				synced = len(states) - 1
			} else if rng.IntN(200) == 0 {
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
				synced = len(states) - 1
			}
		}
		if !inFlight && crashRewrite >= 0 {
			t.Fatalf("seed %d: crash point never reached", seed)
		}
		fs = fs.CrashClone(vfstest.CrashOptions{Rand: rng})
		opts.FS = fs
		abandon(s)
		s, err = Open(dir, opts)
		if err != nil {
			t.Fatalf("seed %d round %d (%v, crash in rewrite %d at %v): Open after power cut: %v", seed, round, mode, crashRewrite, crashStep, err)
		}
		got := map[string]bool{}
		for _, k := range s.Keys() {
			got[k] = true
		}
		lo := synced
		if inFlight && mode == Immediate {
			lo = len(states) - 2 // the op in flight may be lost
		}
		match := -1
		for i := len(states) - 1; i >= lo; i-- {
			if maps.Equal(states[i], got) {
				match = i
				break
			}
		}
		if match < 0 {
			t.Fatalf("seed %d round %d (%v, crash in rewrite %d at %v): recovered %d keys %v, want the state after op %d..%d of %d (durable %d): last %v",
				seed, round, mode, crashRewrite, crashStep, len(got), sortedKeys(got), lo, len(states)-1, len(states)-1, synced, sortedKeys(states[len(states)-1]))
		}
		// Continue from what survived.
		states = append(states[:match+1:match+1], maps.Clone(got))
		synced = len(states) - 1
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		states = states[len(states)-1:]
		synced = 0
	}
}
