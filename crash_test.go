package journal

// Crash-state exploration on the in-memory vfstest filesystem.
//
// A deterministic workload (seeded) appends batches of 1..50 events in one
// durability mode, with 8 KiB segments so that segments rotate, Syncs (in
// Eventual mode) and Close+Open cycles in the middle. A model records every
// batch: its expected sequence numbers and events, whether AppendBatch
// returned nil, and what a successful Sync covered. From the FS hook a crash
// state is taken at every fsync / directory fsync and at a seeded sample of
// writes, strictly (only synced data) and randomly (torn sectors, directory
// operation prefixes). Each crash state is opened and checked against the
// model.
//
// Replay a failure: every message names the seed and the crash index; run
//
//	go test -run 'TestCrashExploration/<mode>' -crash.seed=<seed> -crash.only=<index> -v
//
// to check just that crash state.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

var (
	crashSeed = flag.Uint64("crash.seed", 0, "seed of TestCrashExploration (0: the default seeds)")
	crashOnly = flag.Int("crash.only", -1, "check only this crash index in TestCrashExploration")
)

// cxBatch is one batch of the workload as the model knows it.
type cxBatch struct {
	first  uint64
	events []Event
	acked  bool // AppendBatch returned nil
}

// cxModel is the state of the workload at any moment.
type cxModel struct {
	batches []cxBatch // attempted, in order; the last may be in flight
	acked   int       // batches[:acked] were acknowledged (AppendBatch returned nil)
	synced  int       // batches[:synced] were covered by a successful Sync/Close
	next    uint64    // first seq of the next batch
}

// cxEvents generates a batch of n events.
func cxEvents(rng *rand.Rand, n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		k := EventKind(1 + rng.IntN(int(RouteRemoved)))
		e := Event{Kind: k, RouteID: fmt.Sprintf("route-%d", rng.IntN(40))}
		if k == RouteFailed {
			// Error texts of varied length, some spanning several sectors.
			e.Error = strings.Repeat("e", rng.IntN(4)*rng.IntN(300))
		}
		evs[i] = e
	}
	return evs
}

// openCrashState opens the journal of a crash state and reads its entries,
// checking that Entries and LoadAll agree. The caller closes the journal.
func openCrashState(clone *vfstest.FS, dir string, opts Options) (*Journal, []Entry, error) {
	opts.FS = clone
	opts.Logger = quiet
	j, err := Open(dir, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("Open of crash state failed (a torn tail must be cut, not refused): %w", err)
	}
	var got []Entry
	for e, err := range j.Entries(0) {
		if err != nil {
			j.Close()
			return nil, nil, fmt.Errorf("Entries(0): %w", err)
		}
		got = append(got, e)
	}
	evs, err := j.LoadAll()
	if err == nil && len(evs) != len(got) {
		err = fmt.Errorf("LoadAll returned %d events, Entries(0) %d", len(evs), len(got))
	}
	for i := 0; err == nil && i < len(evs); i++ {
		if evs[i] != got[i].Event {
			err = fmt.Errorf("LoadAll event %d = %+v, Entries(0) has %+v", i, evs[i], got[i].Event)
		}
	}
	if err != nil {
		j.Close()
		return nil, nil, fmt.Errorf("LoadAll: %w", err)
	}
	return j, got, nil
}

// cxCheck opens a crash state and checks it against the model as it was
// when the state was taken.
func cxCheck(clone *vfstest.FS, dir string, opts Options, m cxModel, mustHave int) error {
	j, got, err := openCrashState(clone, dir, opts)
	if err != nil {
		return err
	}
	defer j.Close()
	// Match got against the batches in order: each wholly present, a prefix.
	i, present := 0, 0
	for bi, b := range m.batches {
		if i == len(got) {
			break
		}
		for k, want := range b.events {
			if i == len(got) {
				return fmt.Errorf("batch %d (seqs %d..%d) is partial: only %d of %d events present",
					bi, b.first, b.first+uint64(len(b.events))-1, k, len(b.events))
			}
			e := got[i]
			if e.Seq != b.first+uint64(k) || e.Event != want {
				return fmt.Errorf("entry %d: got seq %d %+v, want seq %d %+v (batch %d, event %d): hole, reorder or wrong data",
					i, e.Seq, e.Event, b.first+uint64(k), want, bi, k)
			}
			if k > 0 && e.TimestampMs != got[i-1].TimestampMs {
				return fmt.Errorf("batch %d has two timestamps", bi)
			}
			i++
		}
		present++
	}
	if i != len(got) {
		return fmt.Errorf("%d entries beyond every batch written (first: seq %d)", len(got)-i, got[i].Seq)
	}
	if present < mustHave {
		return fmt.Errorf("only %d batches present, but %d were durable (acknowledged under Immediate / synced under Eventual)", present, mustHave)
	}
	// The next batch gets the next sequence number after the highest present.
	want := uint64(0)
	if present > 0 {
		b := m.batches[present-1]
		want = b.first + uint64(len(b.events))
	}
	probe := Event{Kind: RouteRegistered, RouteID: "probe-after-crash"}
	if err := j.AppendBatch([]Event{probe}); err != nil {
		return fmt.Errorf("AppendBatch after recovery: %w", err)
	}
	var after []Entry
	for e, err := range j.Entries(0) {
		if err != nil {
			return fmt.Errorf("Entries(0) after probe: %w", err)
		}
		after = append(after, e)
	}
	if len(after) != len(got)+1 {
		return fmt.Errorf("after appending a probe: %d entries, want %d", len(after), len(got)+1)
	}
	p := after[len(after)-1]
	if p.Event != probe || p.Seq != want {
		return fmt.Errorf("probe batch got seq %d (%+v), want %d (next after the highest present)", p.Seq, p.Event, want)
	}
	for _, b := range m.batches[:mustHave] {
		if p.Seq >= b.first && p.Seq < b.first+uint64(len(b.events)) {
			return fmt.Errorf("probe batch reused seq %d of a durable batch", p.Seq)
		}
	}
	return nil
}

type cxStats struct{ states, strict, random int }

// runCrashWorkload runs the workload on fs, calling check at each crash
// point, and returns the final model.
func runCrashWorkload(t *testing.T, seed uint64, mode Durability, nBatches int) cxStats {
	t.Helper()
	const dir = "/data/journal"
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	fs := vfstest.New()
	// The journal's directory must itself be durable (see
	// TestCrashFreshDirectorySurvivesPowerCut for what happens otherwise).
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs.SyncDir("/")
	fs.SyncDir("/data")
	opts := Options{Durability: mode, SegmentSize: 8 << 10, FS: fs, Logger: quiet, inline: true, FlushInterval: -1}

	var (
		m        cxModel
		stats    cxStats
		crashIdx int
		writes   int
		randoms  = 3
		failures int
	)
	if testing.Short() {
		randoms = 0
	}
	hookRng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	fs.OnOp(func(op vfstest.Op, name string) {
		var strict bool
		nRand := 0
		switch op {
		case vfstest.OpSync, vfstest.OpSyncDir:
			strict, nRand = true, randoms
		case vfstest.OpWrite:
			writes++
			if hookRng.IntN(4) != 0 {
				return
			}
			nRand = max(randoms, 1)
		case vfstest.OpRename, vfstest.OpTruncate, vfstest.OpCreate, vfstest.OpRemove:
			nRand = randoms
		default:
			return
		}
		mustHave := m.acked
		if mode == Eventual {
			mustHave = m.synced
		}
		snap := cxModel{batches: slices.Clone(m.batches), acked: m.acked, synced: m.synced, next: m.next}
		for r := -1; r < nRand; r++ {
			if r < 0 && !strict {
				continue
			}
			idx := crashIdx
			crashIdx++
			if *crashOnly >= 0 && idx != *crashOnly {
				continue
			}
			var co vfstest.CrashOptions
			kind := "strict"
			if r >= 0 {
				co.Rand = rand.New(rand.NewPCG(seed, uint64(idx)))
				kind = fmt.Sprintf("random(PCG(%d,%d))", seed, idx)
				stats.random++
			} else {
				stats.strict++
			}
			stats.states++
			clone := fs.CrashClone(co)
			if err := cxCheck(clone, dir, opts, snap, mustHave); err != nil {
				failures++
				if failures <= 5 {
					t.Errorf("seed=%d crash=%d (%s) after %s %s; %d batches attempted, %d acked, %d synced: %v\ncrash state:\n%s",
						seed, idx, kind, op, name, len(snap.batches), snap.acked, snap.synced, err, clone.Dump())
				}
			}
		}
	})
	defer fs.OnOp(nil)

	j, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("seed=%d: Open: %v", seed, err)
	}
	for b := 0; b < nBatches; b++ {
		if failures > 5 {
			t.Fatalf("seed=%d: too many failures, stopping", seed)
		}
		var n int
		switch rng.IntN(10) {
		case 0:
			n = 1
		case 1:
			n = 30 + rng.IntN(21) // big batches span sectors and segments
		default:
			n = 1 + rng.IntN(12)
		}
		evs := cxEvents(rng, n)
		m.batches = append(m.batches, cxBatch{first: m.next, events: evs})
		m.next += uint64(n)
		if err := j.AppendBatch(evs); err != nil {
			t.Fatalf("seed=%d: AppendBatch %d: %v", seed, b, err)
		}
		m.batches[len(m.batches)-1].acked = true
		m.acked = len(m.batches)
		if mode == Immediate {
			m.synced = m.acked
		}
		if mode == Eventual && rng.IntN(6) == 0 {
			if err := j.Sync(); err != nil {
				t.Fatalf("seed=%d: Sync: %v", seed, err)
			}
			m.synced = m.acked
		}
		if rng.IntN(25) == 0 {
			if err := j.Close(); err != nil {
				t.Fatalf("seed=%d: Close: %v", seed, err)
			}
			m.synced = m.acked // Close makes everything durable
			if j, err = Open(dir, opts); err != nil {
				t.Fatalf("seed=%d: reopen: %v", seed, err)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatalf("seed=%d: Close: %v", seed, err)
	}
	m.synced = m.acked
	// The final state holds everything.
	fs.OnOp(nil)
	if err := cxCheck(fs.CrashClone(vfstest.CrashOptions{}), dir, opts, m, len(m.batches)); err != nil {
		t.Errorf("seed=%d: final strict state: %v", seed, err)
	}
	return stats
}

// TestCrashExploration checks every crash state of a workload: see the top
// of this file.
func TestCrashExploration(t *testing.T) {
	seeds := []uint64{1, 2}
	if *crashSeed != 0 {
		seeds = []uint64{*crashSeed}
	}
	for _, mode := range []Durability{Immediate, Eventual} {
		t.Run(mode.String(), func(t *testing.T) {
			for _, seed := range seeds {
				st := runCrashWorkload(t, seed, mode, 200)
				t.Logf("seed=%d: %d crash states (%d strict, %d random)", seed, st.states, st.strict, st.random)
			}
		})
	}
}

// TestCrashFreshDirectorySurvivesPowerCut: Open creates the journal directory
// (MkdirAll) but never fsyncs its parent, so after a power cut the directory
// entry, and with it every acknowledged batch, may be gone.
func TestCrashFreshDirectorySurvivesPowerCut(t *testing.T) {
	fs := vfstest.New()
	j, err := Open("/fresh/journal", Options{FS: fs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{Kind: RouteRegistered, RouteID: "r1"}
	if err := j.AppendBatch([]Event{ev}); err != nil {
		t.Fatal(err)
	}
	// The batch is acknowledged under Immediate: it must survive a power cut.
	clone := fs.CrashClone(vfstest.CrashOptions{})
	j2, err := Open("/fresh/journal", Options{FS: clone, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	evs, err := j2.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0] != ev {
		t.Fatalf("after a power cut: %v, want the acknowledged batch [%v]", evs, ev)
	}
}
