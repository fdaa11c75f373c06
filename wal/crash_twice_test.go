package wal

// Two crashes in a row: a crash state is recovered, written to, and crashed
// again. Recovery after the first crash must leave nothing of what it cut
// in the file, or a second crash can bring it back (a batch lost in the
// first crash reappearing under sequence numbers given out again).

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

var twiceSeed = flag.Uint64("twice.seed", 0, "seed of TestCrashTwice (0: the default)")

// twBatch is one batch as the model knows it.
type twBatch struct {
	first uint64
	recs  []Record
}

func (b twBatch) end() uint64 { return b.first + uint64(len(b.recs)) }

// twRecords makes n records with fixed-width keys and incompressible
// values, so that a batch of the same shape encodes to a frame of the
// same size.
func twRecords(rng *rand.Rand, tag string, i int, lens []int) []Record {
	recs := make([]Record, len(lens))
	for k, n := range lens {
		v := make([]byte, n)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		recs[k] = Record{Key: fmt.Appendf(nil, "%s%05d-%d", tag, i, k), Value: v}
	}
	return recs
}

func twShape(rng *rand.Rand) []int {
	lens := make([]int, 1+rng.IntN(3))
	for k := range lens {
		lens[k] = 50 + rng.IntN(700)
	}
	return lens
}

// twPresent matches the log's entries against the model's batches in
// order: each batch wholly present or absent, present ones a prefix, and
// nothing else. It returns how many batches are present.
func twPresent(l *Log, model []twBatch) (int, error) {
	i, bi := 0, 0
	var present int
	for e, err := range l.Entries(0) {
		if err != nil {
			return 0, fmt.Errorf("Entries: %w", err)
		}
		for bi < len(model) && i == len(model[bi].recs) {
			bi, i = bi+1, 0
		}
		if bi == len(model) {
			return 0, fmt.Errorf("entry seq %d key %q is beyond every batch the model holds: a batch lost to a crash came back, or a sequence number was given to two batches", e.Seq, e.Key)
		}
		b := model[bi]
		r := b.recs[i]
		if e.Seq != b.first+uint64(i) || !bytes.Equal(e.Key, r.Key) || !bytes.Equal(e.Value, r.Value) {
			return 0, fmt.Errorf("entry seq %d key %q: want seq %d key %q (batch %d, record %d): hole, reorder or another batch's data", e.Seq, e.Key, b.first+uint64(i), r.Key, bi, i)
		}
		i++
		if i == len(b.recs) {
			present = bi + 1
		}
	}
	if bi < len(model) && i > 0 && i < len(model[bi].recs) {
		return 0, fmt.Errorf("batch %d is partial: %d of %d records", bi, i, len(model[bi].recs))
	}
	return present, nil
}

// checkRecoveredTail asserts that after recovery the newest segment file,
// as the process sees it and as a power cut right now would leave it,
// holds nothing but zeros after the end of its last valid frame (recovery
// keeps zeros grown ahead and cuts anything else): nothing cut by recovery
// is left behind for a later scan to find.
func checkRecoveredTail(l *Log, fs *vfstest.FS) error {
	name, end := l.active.Name(), l.active.Offset()
	live, err := fs.ReadFile(name)
	if err != nil {
		return err
	}
	durable, err := fs.CrashClone(vfstest.CrashOptions{}).ReadFile(name)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		what string
		b    []byte
	}{{"the file", live}, {"what a power cut leaves of it", durable}} {
		if int64(len(c.b)) < end {
			return fmt.Errorf("after recovery %s of %s is %d bytes, but its last valid frame ends at %d", c.what, name, len(c.b), end)
		}
		if i := bytes.IndexFunc(c.b[end:], func(r rune) bool { return r != 0 }); i >= 0 {
			return fmt.Errorf("after recovery %s of %s holds data at %d, after its last valid frame (ends at %d): the cut tail is still there", c.what, name, end+int64(i), end)
		}
	}
	return nil
}

// TestCrashTwiceLostBatchesNeverReturn: an Eventual log with a synced head
// and an unsynced tail is crashed (seeded random states: each unsynced
// write kept, dropped or torn), recovered, written to again (the first new
// batch the same size and record count as the first batch the crash took,
// so that an old frame after it would line up), and crashed again at
// every file operation of that work, strictly and randomly. Every state,
// after each crash: the synced batches and the acknowledged-and-synced new
// ones present, batches lost in the first crash never back, each sequence
// number with one batch's data, the next append numbered after the last
// present batch, and nothing but zeros after the newest file's last valid
// frame.
func TestCrashTwiceLostBatchesNeverReturn(t *testing.T) {
	seed := uint64(11)
	if *twiceSeed != 0 {
		seed = *twiceSeed
	}
	firstCrashes, randoms := 48, 2
	if testing.Short() {
		firstCrashes, randoms = 12, 1
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	opts := Options{Durability: Eventual, SegmentSize: 64 << 10, Logger: crashQuiet, Inline: true}

	// The first life: 6 synced batches, then 8 unsynced ones.
	fs := crashFS(t)
	o := opts
	o.FS = fs
	l, err := Open(crashDir, o)
	if err != nil {
		t.Fatal(err)
	}
	var model []twBatch
	shapes := map[int][]int{}
	for i := range 14 {
		shapes[i] = twShape(rng)
		recs := twRecords(rng, "a", i, shapes[i])
		first, err := l.Append(Batch{Time: int64(i), Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		model = append(model, twBatch{first, recs})
		if i == 5 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	const synced = 6

	lostSomething := 0
	for c1 := range firstCrashes {
		where := fmt.Sprintf("seed=%d crash1=%d", seed, c1)
		state := fs.CrashClone(vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(seed, uint64(c1)))})
		o := opts
		o.FS = state
		l1, err := Open(crashDir, o)
		if err != nil {
			t.Fatalf("%s: Open after the first crash: %v", where, err)
		}
		if err := checkRecoveredTail(l1, state); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		present, err := twPresent(l1, model)
		if err != nil {
			t.Fatalf("%s: after the first crash: %v", where, err)
		}
		if present < synced {
			t.Fatalf("%s: after the first crash %d batches present, %d were synced", where, present, synced)
		}
		if present < len(model) {
			lostSomething++
		}
		// The second life's model: what survived, then the new batches.
		m2 := append([]twBatch(nil), model[:present]...)
		next := l1.NextSeq()
		if want := model[present-1].end(); next != want {
			t.Fatalf("%s: next sequence number %d after recovery, want %d", where, next, want)
		}
		var acked2, synced2 int
		var c2 int
		// A crash state that fails is reported, not raised (t.Fatal): the
		// hook runs inside the log's calls.
		secondCrash := func(s2 *vfstest.FS) error {
			o2 := opts
			o2.FS = s2
			l2, err := Open(crashDir, o2)
			if err != nil {
				return fmt.Errorf("Open after the second crash: %w", err)
			}
			defer l2.Close()
			if err := checkRecoveredTail(l2, s2); err != nil {
				return err
			}
			p2, err := twPresent(l2, m2)
			if err != nil {
				return fmt.Errorf("after the second crash: %w", err)
			}
			if p2 < present+synced2 {
				return fmt.Errorf("%d batches present, but %d were synced", p2, present+synced2)
			}
			if p2 > present+acked2+1 {
				return fmt.Errorf("%d batches present, only %d were written", p2, present+acked2+1)
			}
			probe, err := l2.Append(Batch{Records: []Record{{Key: []byte("probe")}}})
			if err != nil || probe != m2[p2-1].end() {
				return fmt.Errorf("probe append got seq %d, %v; want %d", probe, err, m2[p2-1].end())
			}
			return nil
		}
		failed := false
		state.OnOp(func(op vfstest.Op, name string) {
			for r := range randoms + 1 {
				co := vfstest.CrashOptions{}
				if r > 0 {
					co.Rand = rand.New(rand.NewPCG(seed, uint64(1000*c1+c2)))
				}
				idx := c2
				c2++
				if failed {
					return
				}
				if err := secondCrash(state.CrashClone(co)); err != nil {
					t.Errorf("%s crash2=%d (after %s %s): %v", where, idx, op, name, err)
					failed = true
				}
			}
		})
		// The first new batch has the shape of the first lost one.
		for i := range 5 {
			shape := twShape(rng)
			if i == 0 && present < len(model) {
				shape = shapes[present]
			}
			recs := twRecords(rng, "b", i, shape)
			m2 = append(m2, twBatch{l1.NextSeq(), recs})
			if _, err := l1.Append(Batch{Time: int64(100 + i), Records: recs}); err != nil {
				t.Fatalf("%s: append %d after recovery: %v", where, i, err)
			}
			acked2++
			if i == 2 {
				if err := l1.Sync(); err != nil {
					t.Fatal(err)
				}
				synced2 = acked2
			}
		}
		state.OnOp(nil)
		l1.Close()
		if failed {
			t.FailNow()
		}
	}
	l.Close()
	if lostSomething < firstCrashes/4 {
		t.Fatalf("only %d of %d first crashes lost a batch: the workload does not exercise a cut tail", lostSomething, firstCrashes)
	}
	t.Logf("seed=%d: %d first crashes, %d lost unsynced batches", seed, firstCrashes, lostSomething)
}
