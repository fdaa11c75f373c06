package wal

// A crash at every step of a compaction: a log with tombstoned records and
// several sealed segments runs Compact on the vfstest filesystem, and from
// the FS hook a strict and several random crash states are taken after
// EVERY mutating operation Compact performs (rewrite to a temporary file,
// its fsync, removal of the old index, rename over the segment, the new
// index, directory fsyncs, deletions of wholly dead segments, checkpoint
// writes). Each state is opened with the same options and must hold every
// record either in its old or in its new place: never lost, never twice,
// and per key the records that Compact removes either all present or all
// absent. Sequence numbers continue: NextSeq is never below the one before
// Compact, and a reopened log converges (its own Compact leaves exactly the
// live records).
//
// Replay: messages name the variant, the crash index and the random state,
// CrashOptions{Rand: rand.New(rand.NewPCG(seed, index))}.

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/vfs/vfstest"
)

// ccRec is a record as the test knows it.
type ccRec struct {
	seq  uint64
	key  string
	val  []byte
	tomb bool
}

func ccRead(entries iter.Seq2[Entry, error]) ([]ccRec, error) {
	var out []ccRec
	for e, err := range entries {
		if err != nil {
			return out, err
		}
		out = append(out, ccRec{seq: e.Seq, key: string(e.Key), val: bytes.Clone(e.Value), tomb: e.Tombstone})
	}
	return out, nil
}

// ccCheck checks a log's records against pre (every record visible before
// Compact) and removed (the seqs of pre that Compact removes, by key).
func ccCheck(got []ccRec, pre map[uint64]ccRec, removed map[string][]uint64) error {
	seen := make(map[uint64]bool, len(got))
	for i, r := range got {
		if i > 0 && r.seq <= got[i-1].seq {
			return fmt.Errorf("entry %d: seq %d after %d: duplicate or out of order", i, r.seq, got[i-1].seq)
		}
		w, ok := pre[r.seq]
		if !ok {
			return fmt.Errorf("entry %d: seq %d was not visible before Compact (a removed record came back, or garbage)", i, r.seq)
		}
		if w.key != r.key || !bytes.Equal(w.val, r.val) || w.tomb != r.tomb {
			return fmt.Errorf("entry %d: seq %d holds %q/%x/%v, want %q/%x/%v", i, r.seq, r.key, r.val, r.tomb, w.key, w.val, w.tomb)
		}
		seen[r.seq] = true
	}
	dead := map[uint64]bool{}
	for key, seqs := range removed {
		n := 0
		for _, s := range seqs {
			dead[s] = true
			if seen[s] {
				n++
			}
		}
		if n != 0 && n != len(seqs) {
			return fmt.Errorf("key %q: %d of its %d removed records present: a partial removal", key, n, len(seqs))
		}
	}
	for s, r := range pre {
		if !dead[s] && !seen[s] {
			return fmt.Errorf("live record seq %d (key %q) lost", s, r.key)
		}
	}
	return nil
}

type ccVariant struct {
	name           string
	mode           Durability
	threshold      uint64 // of the Compact run and the crash states
	earlyThreshold uint64 // if not 0: of the first half of the setup
}

func TestCrashAtEveryStepOfCompact(t *testing.T) {
	variants := []ccVariant{
		{"Immediate/AllPending", Immediate, 1 << 40, 0},
		{"Immediate/SomeApplied", Immediate, 1 << 40, 20},
		{"Eventual/AllPending", Eventual, 1 << 40, 0},
		{"Eventual/SomeApplied", Eventual, 1 << 40, 20},
	}
	for vi, v := range variants {
		t.Run(v.name, func(t *testing.T) { ccRun(t, uint64(vi+1), v) })
	}
}

func ccRun(t *testing.T, seed uint64, v ccVariant) {
	fs := crashFS(t)
	// Written uncompressed so the setup spans its ~10 segments; the crash
	// clones reopen with the default compression, so rewrites after them
	// mix codecs.
	opts := Options{FS: fs, Durability: v.mode, SegmentSize: MinSegmentSize, CompactionThreshold: v.threshold, Logger: crashQuiet, Compression: CompressionNone}
	early := opts
	if v.earlyThreshold != 0 {
		early.CompactionThreshold = v.earlyThreshold
	}
	l, err := Open(crashDir, early)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	// ~10 segments: keys k0..k11; a tombstone now and then removes a key's
	// history; some keys are re-added after their tombstone. With
	// earlyThreshold, the first half runs with triggered compactions and
	// background rewrites (sparse, FileCompacted segments, deleted ones),
	// the second half leaves its tombstones pending for Compact.
	for i := range 200 {
		if i == 100 && v.earlyThreshold != 0 {
			l.WaitCompaction()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if l, err = Open(crashDir, opts); err != nil {
				t.Fatal(err)
			}
		}
		var recs []Record
		for range 1 + rng.IntN(3) {
			k := fmt.Sprintf("k%d", rng.IntN(12))
			recs = append(recs, Record{Key: []byte(k), Value: fmt.Appendf(nil, "v%d-%s", i, bytes.Repeat([]byte{'x'}, rng.IntN(120))), Tombstone: rng.IntN(12) == 0})
		}
		if _, err := l.Append(Batch{Time: int64(i), Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	// A tail in the active segment: its removed records are sealed by Compact.
	if _, err := l.Append(Batch{Time: 1000, Records: []Record{{Key: []byte("k0"), Value: []byte("last")}, {Key: []byte("k0"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.WaitCompaction()
	preList, err := ccRead(l.Entries(0))
	if err != nil {
		t.Fatal(err)
	}
	pre := make(map[uint64]ccRec, len(preList))
	lastTomb := map[string]uint64{}
	hasTomb := map[string]bool{}
	for _, r := range preList {
		pre[r.seq] = r
		if r.tomb {
			lastTomb[r.key], hasTomb[r.key] = r.seq, true
		}
	}
	removed := map[string][]uint64{}
	nRemoved := 0
	for _, r := range preList {
		if hasTomb[r.key] && r.seq <= lastTomb[r.key] {
			removed[r.key] = append(removed[r.key], r.seq)
			nRemoved++
		}
	}
	preNext := l.NextSeq()
	segsBefore := len(l.segs)
	if segsBefore < 6 || nRemoved == 0 {
		t.Fatalf("setup: %d segments, %d removable records; want several sealed segments and tombstones", segsBefore, nRemoved)
	}

	const randoms = 3
	states, failures := 0, 0
	ops := map[vfstest.Op]int{}
	fs.OnOp(func(op vfstest.Op, name string) {
		ops[op]++
		for r := -1; r < randoms; r++ {
			idx := states
			states++
			var co vfstest.CrashOptions
			kind := "strict"
			if r >= 0 {
				co.Rand = rand.New(rand.NewPCG(seed, uint64(idx)))
				kind = fmt.Sprintf("random PCG(%d,%d)", seed, idx)
			}
			clone := fs.CrashClone(co)
			if err := ccCheckState(clone, opts, pre, removed, preNext, r < 1); err != nil {
				failures++
				if failures <= 3 {
					t.Errorf("%s crash=%d (%s) after %s %s: %v\ncrash state:\n%s", v.name, idx, kind, op, name, err, clone.Dump())
				}
			}
		}
	})
	err = l.Compact()
	fs.OnOp(nil)
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if failures > 3 {
		t.Errorf("%d failing crash states in all", failures)
	}
	// The finished Compact: exactly the live records, in any crash state.
	post, err := ccRead(l.Entries(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := ccCheck(post, pre, removed); err != nil || len(post) != len(pre)-nRemoved {
		t.Fatalf("after Compact: %d entries (want %d): %v", len(post), len(pre)-nRemoved, err)
	}
	for r := -1; r < randoms; r++ {
		co := vfstest.CrashOptions{}
		if r >= 0 {
			co.Rand = rand.New(rand.NewPCG(seed, uint64(1000+r)))
		}
		clone := fs.CrashClone(co)
		l2, err := Open(crashDir, Options{FS: clone, Durability: v.mode, SegmentSize: MinSegmentSize, CompactionThreshold: v.threshold, Logger: crashQuiet})
		if err != nil {
			t.Fatalf("after Compact returned, crash %d: Open: %v", r, err)
		}
		got, err := ccRead(l2.Entries(0))
		l2.Close()
		if err != nil || len(got) != len(pre)-nRemoved {
			t.Fatalf("after Compact returned, crash %d: %d entries (%v), want the %d live ones: a removal was undone", r, len(got), err, len(pre)-nRemoved)
		}
	}
	l.Close()
	t.Logf("%d segments, %d records, %d removed by Compact; %d crash states over %v", segsBefore, len(pre), nRemoved, states, ops)
}

// ccCheckState opens one crash state and checks it; then checks that the
// reopened log continues the sequence and converges under its own Compact.
func ccCheckState(clone *vfstest.FS, opts Options, pre map[uint64]ccRec, removed map[string][]uint64, preNext uint64, converge bool) error {
	// The read-only view (Inspect's path) must agree before Open repairs anything.
	var viewGot []ccRec
	if vw, err := OpenCompactedView(crashDir, clone); err != nil {
		return fmt.Errorf("OpenCompactedView: %w", err)
	} else {
		viewGot, err = ccRead(vw.Entries(0))
		vw.Close()
		if err != nil {
			return fmt.Errorf("view entries: %w", err)
		}
	}
	opts.FS = clone
	l, err := Open(crashDir, opts)
	if err != nil {
		return fmt.Errorf("Open: %w", err)
	}
	defer func() {
		if l != nil {
			l.Close()
		}
	}()
	got, err := ccRead(l.Entries(0))
	if err != nil {
		return fmt.Errorf("Entries: %w", err)
	}
	if err := ccCheck(got, pre, removed); err != nil {
		return err
	}
	// The compaction state rebuilt by recovery counts what is on disk:
	// LiveHint is exact with compaction on.
	if h := l.LiveHint(); h != len(got) {
		return fmt.Errorf("LiveHint %d after recovery, but %d entries are live: the compaction state does not describe the files", h, len(got))
	}
	if !slices.EqualFunc(got, viewGot, func(a, b ccRec) bool { return a.seq == b.seq }) {
		return fmt.Errorf("read-only view shows %d entries, the opened log %d", len(viewGot), len(got))
	}
	if n := l.NextSeq(); n < preNext {
		return fmt.Errorf("NextSeq %d below %d before Compact: sequence numbers would be reused", n, preNext)
	}
	first, err := l.Append(Batch{Time: 5000, Records: []Record{{Key: []byte("probe"), Value: []byte("p")}}})
	if err != nil {
		return fmt.Errorf("Append after recovery: %w", err)
	}
	if first < preNext {
		return fmt.Errorf("probe got seq %d, below %d before Compact", first, preNext)
	}
	if !converge {
		return nil
	}
	// Converge (checked in the strict state and one random one per
	// operation): a Compact of the recovered log leaves exactly the live
	// records (and the probe), also after another reopen.
	if err := ccCompactBounded(l, clone); err != nil {
		return fmt.Errorf("Compact after recovery: %w", err)
	}
	l.Close()
	l = nil
	l, err = Open(crashDir, opts)
	if err != nil {
		return fmt.Errorf("second Open: %w", err)
	}
	got, err = ccRead(l.Entries(0))
	if err != nil {
		return fmt.Errorf("second Entries: %w", err)
	}
	if len(got) == 0 || got[len(got)-1].seq != first || got[len(got)-1].key != "probe" {
		return fmt.Errorf("after recovery, Compact and reopen the probe (seq %d) is not last", first)
	}
	got = got[:len(got)-1]
	if err := ccCheck(got, pre, removed); err != nil {
		return fmt.Errorf("after recovery, Compact and reopen: %w", err)
	}
	for _, r := range got {
		for _, s := range removed[r.key] {
			if s == r.seq {
				return fmt.Errorf("after recovery, Compact and reopen: removed record seq %d (key %q) still present", r.seq, r.key)
			}
		}
	}
	return nil
}

var errCompactLoops = errors.New("rewrite pass loops: a segment stays a candidate after its rewrite purged nothing")

// ccCompactBounded runs l.Compact, failing (instead of hanging the test) if
// it performs an unbounded number of filesystem operations.
func ccCompactBounded(l *Log, fs *vfstest.FS) error { return ccBounded(l, fs, l.Compact) }

// ccBounded runs fn; if fn makes more filesystem operations on fs than a
// Compact of these small logs ever needs, it closes l (a rewrite pass stops
// at a closed log) and reports errCompactLoops.
func ccBounded(l *Log, fs *vfstest.FS, fn func() error) error {
	const limit = 400 // a full Compact of these logs takes under 200
	var mu sync.Mutex
	n := 0
	stuck := false
	fs.OnOp(func(op vfstest.Op, name string) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == limit {
			stuck = true
			l.mu.Lock()
			l.state = stateClosing
			l.mu.Unlock()
		}
	})
	defer fs.OnOp(nil)
	err := fn()
	mu.Lock()
	defer mu.Unlock()
	if stuck {
		return fmt.Errorf("%w: no end after %d filesystem operations; last error %v", errCompactLoops, limit, err)
	}
	return err
}

// TestCrashCompactAfterInterruptedRewriteTerminates: a crash after Compact
// has durably replaced a segment by its rewrite (rename + directory fsync)
// but before the rewrite pass wrote its checkpoint leaves the old
// checkpoint, whose counts say the segment still holds removed records.
// After recovery a rewrite pass — Compact's, and the background one started
// by a triggered compaction — picks that segment again; the rewrite purges
// nothing. With the HEAD version of the compactor (State.Purged, called
// only per purged key) the segment's Dead count never dropped and the pass
// looped forever, rewriting the same file; the pass must end.
func TestCrashCompactAfterInterruptedRewriteTerminates(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Logger: crashQuiet}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Keys k0..k3 are removed at the end, k4 lives: every sealed segment is
	// 80% removed, so both Compact and the background rewriter pick it.
	for i := range 120 {
		k := fmt.Appendf(nil, "k%d", i%5)
		if _, err := l.Append(Batch{Time: int64(i), Records: []Record{{Key: k, Value: bytes.Repeat([]byte{'v'}, 60)}, {Key: k, Tombstone: i >= 110 && i%5 != 4}}}); err != nil {
			t.Fatal(err)
		}
	}
	var clone *vfstest.FS
	renamed := false
	fs.OnOp(func(op vfstest.Op, name string) {
		switch {
		case op == vfstest.OpRename && strings.HasSuffix(name, segSuffix+tmpSuffix):
			renamed = true
		case op == vfstest.OpSyncDir && renamed && clone == nil:
			clone = fs.CrashClone(vfstest.CrashOptions{}) // first rewrite durable, checkpoint not yet
		}
	})
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	fs.OnOp(nil)
	l.Close()
	if clone == nil {
		t.Fatal("no segment was rewritten")
	}
	for _, name := range []string{"Compact", "background"} {
		c := clone.CrashClone(vfstest.CrashOptions{})
		o := opts
		o.FS = c
		if name == "background" {
			o.CompactionThreshold = 1
		}
		l2, err := Open(crashDir, o)
		if err != nil {
			t.Fatalf("%s: Open: %v", name, err)
		}
		if name == "Compact" {
			err = ccCompactBounded(l2, c)
		} else {
			// A triggered compaction kicks the background rewriter.
			err = ccBounded(l2, c, func() error {
				if _, err := l2.Append(Batch{Records: []Record{{Key: []byte("z"), Tombstone: true}}}); err != nil {
					return err
				}
				l2.WaitCompaction()
				return nil
			})
		}
		if err != nil {
			t.Errorf("%s after recovery: %v", name, err)
		}
		l2.Close()
	}
}

// TestCrashRewriteUsesOnlyDurableRemovals: under Eventual, rewritePass
// syncs the log (waitSynced(l.nextSeq), which releases l.mu during the
// fdatasync) and only then reads l.dead. A batch appended during that
// fdatasync whose append applies a compaction is in l.dead but not on
// disk, and the rewrite drops the records it removes: a power cut then
// loses the batch (and its tombstone) but not its effect, so live records
// vanish. Here the append happens from the FS hook, on the rewriter's own
// goroutine, exactly while l.mu is released for the fdatasync.
func TestCrashRewriteUsesOnlyDurableRemovals(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, Durability: Eventual, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Logger: crashQuiet}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	// x: live records spread over sealed segments; d: removed, so that
	// Compact has segments to rewrite.
	var xs []uint64
	for i := range 60 {
		first, err := l.Append(Batch{Time: int64(i), Records: []Record{
			{Key: []byte("x"), Value: bytes.Repeat([]byte{'x'}, 80)},
			{Key: []byte("d"), Value: bytes.Repeat([]byte{'d'}, 80)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, first)
	}
	if _, err := l.Append(Batch{Time: 100, Records: []Record{{Key: []byte("d"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	// Reopen with threshold 1: d's tombstone is still pending (nothing was
	// rewritten yet), and the next tombstone appended triggers compaction.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts.CompactionThreshold = 1
	if l, err = Open(crashDir, opts); err != nil {
		t.Fatal(err)
	}
	var clone *vfstest.FS
	step := 0
	fs.OnOp(func(op vfstest.Op, name string) {
		switch {
		case step == 0 && op == vfstest.OpCreate && strings.HasSuffix(name, segSuffix+tmpSuffix):
			// The pass's first rewrite (no lock held): leave an unsynced
			// batch so that the next iteration's waitSynced must fsync.
			step = 1
			if _, err := l.Append(Batch{Time: 200, Records: []Record{{Key: []byte("y"), Value: []byte("y")}}}); err != nil {
				t.Error(err)
			}
		case step == 1 && op == vfstest.OpSync && strings.HasSuffix(name, segSuffix):
			// The pass's fdatasync, l.mu released: remove x (a triggered
			// compaction, visible at once under Eventual, not durable).
			step = 2
			if _, err := l.Append(Batch{Time: 300, Records: []Record{{Key: []byte("x"), Tombstone: true}}}); err != nil {
				t.Error(err)
			}
		case step == 2 && op == vfstest.OpSyncDir:
			step = 3
			clone = fs.CrashClone(vfstest.CrashOptions{}) // a segment rewritten; the x tombstone not synced
		}
	})
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	fs.OnOp(nil)
	l.Close()
	if clone == nil {
		t.Fatalf("the scenario did not happen (step %d)", step)
	}
	l2, err := Open(crashDir, Options{FS: clone, Durability: Eventual, SegmentSize: MinSegmentSize, CompactionThreshold: 1, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	got, err := ccRead(l2.Entries(0))
	if err != nil {
		t.Fatal(err)
	}
	n, tomb := 0, false
	for _, r := range got {
		if r.key == "x" {
			if r.tomb {
				tomb = true
			}
			n++
		}
	}
	t.Logf("step %d: %d x records, tombstone %v", step, n, tomb)
	if !tomb && n != len(xs) {
		t.Fatalf("after a power cut the x tombstone is lost (never synced) but only %d of the %d live x records are left: a rewrite dropped records removed by a non-durable batch", n, len(xs))
	}
}

// ccEveryState takes, after every file operation on fs, the strict crash
// state and two random ones (PCG(seed, index)) and checks each; check is
// also called with nil after a rename of a rewritten segment, before the
// states. A failing state is reported (t.Errorf), not raised, since the
// hook runs inside the log's calls, and no more states are taken. stop
// removes the hook and says how many states were taken and whether all
// passed.
func ccEveryState(t *testing.T, fs *vfstest.FS, seed uint64, check func(*vfstest.FS) error) (stop func() (states int, ok bool)) {
	states, failed := 0, false
	fs.OnOp(func(op vfstest.Op, name string) {
		if op == vfstest.OpRename && strings.HasSuffix(name, segSuffix+tmpSuffix) {
			check(nil)
		}
		for r := range 3 {
			co := vfstest.CrashOptions{}
			if r > 0 {
				co.Rand = rand.New(rand.NewPCG(seed, uint64(states)))
			}
			idx := states
			states++
			if failed {
				return
			}
			if err := check(fs.CrashClone(co)); err != nil {
				t.Errorf("crash state %d (seed %d) after %s %s: %v", idx, seed, op, name, err)
				failed = true
			}
		}
	})
	return func() (int, bool) {
		fs.OnOp(nil)
		return states, !failed
	}
}

// ccOpenRead opens a crash state with opts and reads every entry.
func ccOpenRead(c *vfstest.FS, opts Options) ([]ccRec, error) {
	opts.FS, opts.Logger = c, crashQuiet
	l, err := Open(crashDir, opts)
	if err != nil {
		return nil, fmt.Errorf("Open: %w", err)
	}
	defer l.Close()
	return ccRead(l.Entries(0))
}

// failingRenameFS fails, once, the rename over the file named target.
type failingRenameFS struct {
	*vfstest.FS
	target string
	armed  bool
}

func (f *failingRenameFS) Rename(oldname, newname string) error {
	if f.armed && filepath.Base(newname) == f.target {
		f.armed = false
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EIO}
	}
	return f.FS.Rename(oldname, newname)
}

// TestCrashAfterFailedCheckpointRemovalsStayRemoved: a checkpoint that
// failed to be written covers nothing. The log is reopened after a crash
// that left a sealed segment no checkpoint covers, holding the tombstones
// of records in an older segment; Compact's checkpoint then fails, and a
// triggered background pass runs. Were the failed checkpoint counted as
// written, the pass would rewrite the uncovered segment, dropping its
// tombstones, and a crash before the next checkpoint would bring the
// removed records back. Crash states at every file operation of the pass
// must keep every removed record removed.
func TestCrashAfterFailedCheckpointRemovalsStayRemoved(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Compression: CompressionNone, Logger: crashQuiet, Inline: true}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte{'v'}, 300)
	app := func(recs ...Record) {
		t.Helper()
		if _, err := l.Append(Batch{Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	// Segment 1: x, then live records (too few removed to rewrite it).
	app(Record{Key: []byte("x"), Value: val})
	for i := range 10 {
		app(Record{Key: fmt.Appendf(nil, "z%d", i), Value: val})
	}
	// Segment 2 (after the rotation): y's records and the tombstones of x
	// and y, wholly removed once applied.
	for !(len(l.segs) >= 2) {
		app(Record{Key: []byte("y"), Value: val})
	}
	for range 4 {
		app(Record{Key: []byte("y"), Value: val})
	}
	app(Record{Key: []byte("x"), Tombstone: true}, Record{Key: []byte("y"), Tombstone: true})
	// The crash: segment 2 sealed and segment 3 created, segment 2's
	// checkpoint not written yet.
	var state *vfstest.FS
	created := false
	fs.OnOp(func(op vfstest.Op, name string) {
		switch {
		case op == vfstest.OpCreate && name == segName(crashDir, 3):
			created = true
		case op == vfstest.OpSyncDir && created && state == nil:
			state = fs.CrashClone(vfstest.CrashOptions{})
		}
	})
	for len(l.segs) < 3 {
		app(Record{Key: []byte("w"), Value: val})
	}
	fs.OnOp(nil)
	l.Close()
	if state == nil {
		t.Fatal("no crash state with segment 3 created")
	}

	ffs := &failingRenameFS{FS: state, target: compactor.CheckpointName}
	o := opts
	o.FS, o.CompactionThreshold = ffs, 1
	l2, err := Open(crashDir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if n := len(l2.segs); n != 3 {
		t.Fatalf("reopened log has %d segments, want 3", n)
	}
	ffs.armed = true
	if err := l2.Compact(); err == nil {
		t.Fatal("Compact succeeded with its checkpoint failing")
	}
	removed := func(e Entry) bool { return string(e.Key) == "x" || string(e.Key) == "y" }
	stop := ccEveryState(t, state, 5, func(c *vfstest.FS) error {
		if c == nil {
			return nil
		}
		got, err := ccOpenRead(c, Options{SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40})
		if err != nil {
			return err
		}
		// The removal is durable with the batch that applied it (the
		// marker's, FlagCompact): where that batch is, x and y must not be.
		keys := map[string]int{}
		for _, r := range got {
			keys[r.key]++
		}
		if keys["marker"] > 0 && keys["x"]+keys["y"] > 0 {
			return fmt.Errorf("the batch that applied the removals is present and so is a removed record: a segment no written checkpoint covered was rewritten (keys %v)", keys)
		}
		return nil
	})
	// A tombstone triggers compaction, applied with the marker's batch;
	// Inline runs the pass before Append returns.
	if _, err := l2.Append(Batch{Records: []Record{{Key: []byte("marker")}, {Key: []byte("q"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	if states, ok := stop(); states == 0 || !ok {
		t.Fatalf("%d crash states taken during the triggered pass", states)
	}
	for e, err := range l2.Entries(0) {
		if err != nil || removed(e) {
			t.Fatalf("after the pass: %q, %v", e.Key, err)
		}
	}
}

// TestCrashBackgroundRewriteUsesOnlyDurableRemovals: under Eventual an
// append that applies a compaction is visible at once but durable only
// after a sync, and the background rewrite it triggers must not drop the
// records it removes before then: a power cut would lose the batch (and
// its tombstone) but keep its effect. Crash states at every file operation
// of the append and its pass: where the batch that applied the removal is
// absent, every removed record is present; where it is present, none is.
func TestCrashBackgroundRewriteUsesOnlyDurableRemovals(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, Durability: Eventual, SegmentSize: MinSegmentSize, CompactionThreshold: 1, Compression: CompressionNone, Logger: crashQuiet, Inline: true}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		if _, err := l.Append(Batch{Time: int64(i), Records: []Record{
			{Key: []byte("x"), Value: bytes.Repeat([]byte{'x'}, 80)},
			{Key: []byte("d"), Value: bytes.Repeat([]byte{'d'}, 80)},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	rewrites := 0
	stop := ccEveryState(t, fs, 9, func(c *vfstest.FS) error {
		if c == nil { // a rename, before the states after it
			rewrites++
			return nil
		}
		got, err := ccOpenRead(c, Options{Durability: Eventual, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40})
		if err != nil {
			return err
		}
		marker, ds := false, 0
		for _, e := range got {
			marker = marker || e.key == "marker"
			if e.key == "d" {
				ds++
			}
		}
		if (!marker && ds != n) || (marker && ds != 0) {
			return fmt.Errorf("batch that removed d present %v, %d of %d d records present: a removal's effect outlived its batch", marker, ds, n)
		}
		return nil
	})
	if _, err := l.Append(Batch{Time: 100, Records: []Record{{Key: []byte("marker")}, {Key: []byte("d"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	states, ok := stop()
	l.Close()
	if !ok || rewrites == 0 {
		t.Fatalf("%d crash states, %d segment files renamed by the triggered pass", states, rewrites)
	}
}

// rvRecs returns n records of key, each value size copies of key's first
// byte.
func rvRecs(key string, n, size int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Key: []byte(key), Value: bytes.Repeat([]byte{key[0]}, size)}
	}
	return recs
}

// rvKeys counts the log's visible records per key.
func rvKeys(t *testing.T, l *Log) map[string]int {
	t.Helper()
	got, err := ccRead(l.Entries(0))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, r := range got {
		m[r.key]++
	}
	return m
}

// TestCrashRecoveredCheckpointCoversOnlyWhatIsOnDisk: after a crash, the
// recovered log counts as checkpointed only what the checkpoint file on
// disk covers, so a rewrite in the next session leaves alone the sealed
// segments that checkpoint does not cover, and a removed key stays removed
// through that session and a second crash before its checkpoint. It guards
// against taking the replayed state's sequence number as the coverage: a
// segment rewritten on that basis loses the tombstones the replay from the
// old checkpoint needs, and the removed key's records come back.
func TestCrashRecoveredCheckpointCoversOnlyWhatIsOnDisk(t *testing.T) {
	fs := crashFS(t)
	// Uncompressed: the segment layout below counts encoded bytes.
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 5, Logger: crashQuiet, Inline: true, Compression: CompressionNone}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Segment 1: two "a" records and many live "b" records (not worth a rewrite).
	if _, err := l.Append(Batch{Time: 1, Records: append(rvRecs("a", 2, 100), rvRecs("b", 25, 100)...)}); err != nil {
		t.Fatal(err)
	}
	// Segment 2: more "a" records and a's tombstone; the batch applies
	// compaction (live >= 5), so segment 2 is wholly dead.
	recs := append(rvRecs("a", 20, 100), Record{Key: []byte("a"), Tombstone: true})
	if _, err := l.Append(Batch{Time: 2, Records: recs}); err != nil {
		t.Fatal(err)
	}
	if l.active.ID() != 2 {
		t.Fatalf("setup: active segment %d, want 2", l.active.ID())
	}
	// Rotating to segment 3: crash once segment 3 is durably created,
	// before segment 2's index and checkpoint are written.
	var clone *vfstest.FS
	created := false
	fs.OnOp(func(op vfstest.Op, name string) {
		if op == vfstest.OpCreate && strings.HasSuffix(name, fmt.Sprintf("%020d%s", 3, segSuffix)) {
			created = true
		}
		if created && clone == nil && op == vfstest.OpSyncDir {
			clone = fs.CrashClone(vfstest.CrashOptions{})
		}
	})
	if _, err := l.Append(Batch{Time: 3, Records: rvRecs("b", 1, 3000)}); err != nil {
		t.Fatal(err)
	}
	fs.OnOp(nil)
	l.Close()
	if clone == nil {
		t.Fatal("setup: no crash state taken")
	}

	// Session 2 on the crash state: a triggered compaction (no rotation)
	// kicks the rewriter, which deletes segment 2 although the durable
	// checkpoint only covers segment 1. Crash before the pass's checkpoint.
	opts.FS = clone
	l2, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := rvKeys(t, l2)["a"]; n != 0 {
		t.Fatalf("setup: %d a records visible after first reopen", n)
	}
	var clone2 *vfstest.FS
	clone.OnOp(func(op vfstest.Op, name string) {
		if clone2 == nil && op == vfstest.OpCreate && strings.HasSuffix(name, ".cpt.tmp") {
			clone2 = clone.CrashClone(vfstest.CrashOptions{})
		}
	})
	if _, err := l2.Append(Batch{Time: 4, Records: []Record{{Key: []byte("c"), Value: []byte("c")}, {Key: []byte("c"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	clone.OnOp(nil)
	l2.Close()
	if clone2 == nil {
		// The segment sealed after the checkpoint is not rewritten until a
		// checkpoint covers it: no rewrite, nothing to crash in.
		clone2 = clone.CrashClone(vfstest.CrashOptions{})
	}
	opts.FS = clone2
	l3, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if n := rvKeys(t, l3)["a"]; n != 0 {
		t.Fatalf("%d records of the removed key \"a\" came back after a crash following a post-recovery rewrite", n)
	}
}
