package wal

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// tlog is a log plus the model of what it must hold: seq -> value.
type tlog struct {
	t     *testing.T
	fs    *vfstest.FS
	opts  Options
	l     *Log
	model map[uint64]string
	next  uint64
}

func newTlog(t *testing.T, d Durability) *tlog {
	t.Helper()
	fs := crashFS(t)
	// Uncompressed, so the setups span the segments they count on.
	tl := &tlog{t: t, fs: fs, opts: Options{FS: fs, Durability: d, SegmentSize: MinSegmentSize, Logger: crashQuiet, Inline: true, Compression: CompressionNone}, model: map[uint64]string{}}
	tl.reopen()
	return tl
}

func (tl *tlog) reopen() {
	tl.t.Helper()
	if tl.l != nil {
		if err := tl.l.Close(); err != nil {
			tl.t.Fatalf("Close: %v", err)
		}
	}
	l, err := Open(crashDir, tl.opts)
	if err != nil {
		tl.t.Fatalf("Open: %v", err)
	}
	tl.l = l
}

// add appends n records at the log's next sequence number, each with a
// value naming its sequence number and tag.
func (tl *tlog) add(n int, tag string) {
	tl.t.Helper()
	tl.addAt(tl.next, n, tag)
}

func (tl *tlog) addAt(first uint64, n int, tag string) {
	tl.t.Helper()
	var recs []Record
	for i := range n {
		v := fmt.Sprintf("%s-%d-%s", tag, first+uint64(i), bytes.Repeat([]byte{'v'}, 40))
		recs = append(recs, Record{Value: []byte(v)})
	}
	if err := tl.l.AppendAt(first, Batch{Time: int64(first), Records: recs}); err != nil {
		tl.t.Fatalf("AppendAt(%d, %d records): %v", first, n, err)
	}
	for i := range n {
		tl.model[first+uint64(i)] = string(recs[i].Value)
	}
	tl.next = first + uint64(n)
}

func (tl *tlog) truncFront(seq uint64) {
	tl.t.Helper()
	if err := tl.l.TruncateFront(seq); err != nil {
		tl.t.Fatalf("TruncateFront(%d): %v", seq, err)
	}
	for s := range tl.model {
		if s < seq {
			delete(tl.model, s)
		}
	}
	tl.next = max(tl.next, seq)
}

func (tl *tlog) truncBack(seq uint64) {
	tl.t.Helper()
	if err := tl.l.TruncateBack(seq); err != nil {
		tl.t.Fatalf("TruncateBack(%d): %v", seq, err)
	}
	for s := range tl.model {
		if s > seq {
			delete(tl.model, s)
		}
	}
	tl.next = min(tl.next, seq+1)
}

// check compares the log with the model: bounds, NextSeq, a full scan,
// and Get of every record and of the numbers just outside.
func (tl *tlog) check(when string) {
	tl.t.Helper()
	if err := checkAgainst(tl.l, tl.model, tl.next); err != nil {
		tl.t.Fatalf("%s: %v", when, err)
	}
}

func checkAgainst(l *Log, model map[uint64]string, next uint64) error {
	seqs := slices.Sorted(maps.Keys(model))
	var wantFirst, wantLast uint64
	if len(seqs) > 0 {
		wantFirst, wantLast = seqs[0], seqs[len(seqs)-1]
		if uint64(len(seqs)) != wantLast-wantFirst+1 {
			return fmt.Errorf("model is not contiguous: %v", seqs)
		}
	}
	if f, la := l.FirstSeq(), l.LastSeq(); f != wantFirst || la != wantLast {
		return fmt.Errorf("bounds %d..%d, want %d..%d", f, la, wantFirst, wantLast)
	}
	if n := l.NextSeq(); n != next {
		return fmt.Errorf("NextSeq %d, want %d", n, next)
	}
	var got []uint64
	for e, err := range l.Entries(0) {
		if err != nil {
			return fmt.Errorf("Entries: %v", err)
		}
		if string(e.Value) != model[e.Seq] {
			return fmt.Errorf("entry %d holds %q, want %q", e.Seq, e.Value, model[e.Seq])
		}
		got = append(got, e.Seq)
	}
	if !slices.Equal(got, seqs) {
		return fmt.Errorf("Entries gave %d records %v, want %d %v", len(got), abbrev(got), len(seqs), abbrev(seqs))
	}
	for _, s := range seqs {
		e, err := l.Get(s)
		if err != nil || string(e.Value) != model[s] {
			return fmt.Errorf("Get(%d) = %q, %v; want %q", s, e.Value, err, model[s])
		}
	}
	if len(seqs) > 0 {
		for _, s := range []uint64{wantFirst - 1, wantLast + 1} {
			if _, err := l.Get(s); !errors.Is(err, ErrNotFound) && s != ^uint64(0) {
				return fmt.Errorf("Get(%d) outside %d..%d: %v, want ErrNotFound", s, wantFirst, wantLast, err)
			}
		}
	}
	return nil
}

func abbrev(s []uint64) string {
	if len(s) <= 6 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("[%d %d %d ... %d %d %d]", s[0], s[1], s[2], s[len(s)-3], s[len(s)-2], s[len(s)-1])
}

func countSegments(t *testing.T, fs *vfstest.FS) int {
	t.Helper()
	names, err := fs.List(crashDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		if _, ok := parseSegName(name); ok {
			n++
		}
	}
	return n
}

func TestTruncateFrontDropsWholeSegmentsAndHidesTheRest(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(d.String(), func(t *testing.T) {
			tl := newTlog(t, d)
			tl.addAt(1, 5, "a")
			for range 150 {
				tl.add(7, "a")
			}
			before := countSegments(t, tl.fs)
			if before < 5 {
				t.Fatalf("setup: %d segments, want several", before)
			}
			tl.truncFront(500)
			tl.check("after TruncateFront(500)")
			after := countSegments(t, tl.fs)
			if after >= before {
				t.Errorf("TruncateFront kept all %d segments; want those below 500 deleted", before)
			}
			tl.reopen()
			tl.check("after reopen")
			tl.add(3, "b")
			tl.check("after appending")
		})
	}
}

func TestTruncateFrontPastTheEndMovesNextSeq(t *testing.T) {
	tl := newTlog(t, Immediate)
	tl.addAt(1, 10, "a")
	tl.truncFront(100)
	tl.check("after TruncateFront past the end")
	if _, err := tl.l.Get(5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(5) after truncation: %v, want ErrNotFound", err)
	}
	tl.reopen()
	tl.check("after reopen")
	tl.addAt(100, 4, "b")
	tl.check("after appending at the new front")
	tl.reopen()
	tl.check("after second reopen")
}

func TestTruncateBackCutsAtEveryKindOfPoint(t *testing.T) {
	// 60 batches of 7 records from 1 in ~4 KiB segments: cuts inside a
	// frame, at a frame boundary, at a segment boundary, at the very
	// start, and below the first record.
	cases := []struct {
		name string
		keep uint64 // TruncateBack(keep)
	}{
		{"inside a frame", 100},
		{"frame boundary", 7 * 20},
		{"inside the first frame", 3},
		{"before the first record", 0},
		{"last record kept", 419},
		{"nothing removed", 500},
		{"first record kept", 1},
	}
	for _, c := range cases {
		for _, d := range []Durability{Immediate, Eventual} {
			t.Run(c.name+"/"+d.String(), func(t *testing.T) {
				tl := newTlog(t, d)
				tl.addAt(1, 7, "a")
				for range 59 {
					tl.add(7, "a")
				}
				tl.truncBack(c.keep)
				tl.check(fmt.Sprintf("after TruncateBack(%d)", c.keep))
				tl.add(5, "b") // numbers reused, new values
				tl.check("after appending again")
				tl.reopen()
				tl.check("after reopen")
				if n, err := tl.fs.ReadFile(crashDir + "/" + boundsName); err == nil && len(n) != boundsFixed {
					t.Errorf("bounds file still records a cut (%d bytes) after TruncateBack returned", len(n))
				}
			})
		}
	}
}

func TestAppendAtChecksTheSequenceNumber(t *testing.T) {
	tl := newTlog(t, Immediate)
	tl.addAt(10, 3, "a")
	for _, at := range []uint64{9, 11, 14, 0} {
		err := tl.l.AppendAt(at, Batch{Records: []Record{{Value: []byte("x")}}})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("AppendAt(%d) with the log continuing at 13: %v, want ErrInvalid", at, err)
		}
	}
	tl.check("after refused appends")
	// Emptied, the log may continue anywhere: below and above.
	tl.truncBack(9)
	tl.addAt(3, 2, "b")
	tl.check("after AppendAt below on an emptied log")
	tl.truncFront(tl.next)
	tl.addAt(1000, 2, "c")
	tl.check("after AppendAt above on an emptied log")
	tl.reopen()
	tl.check("after reopen")
}

func TestTruncationRefusedWithCompaction(t *testing.T) {
	fs := crashFS(t)
	l, err := Open(crashDir, Options{FS: fs, CompactionThreshold: 10, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(Batch{Records: []Record{{Key: []byte("k")}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateFront(1); !errors.Is(err, ErrInvalid) {
		t.Errorf("TruncateFront with compaction on: %v, want ErrInvalid", err)
	}
	if err := l.TruncateBack(0); !errors.Is(err, ErrInvalid) {
		t.Errorf("TruncateBack with compaction on: %v, want ErrInvalid", err)
	}
}

// TestTruncateRandomAgainstModel runs random appends, truncations at both
// ends and reopens against the model.
func TestTruncateRandomAgainstModel(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			tl := newTlog(t, Durability(seed%2))
			if seed > 2 { // compressed frames cut and re-appended too
				tl.opts.Compression = CompressionS2
				tl.reopen()
			}
			tl.addAt(1+rng.Uint64N(5), 3, "s")
			for step := range 300 {
				first, last := tl.next, tl.next
				if len(tl.model) > 0 {
					first, last = tl.l.FirstSeq(), tl.l.LastSeq()
				}
				switch r := rng.IntN(20); {
				case r < 13:
					tl.add(1+rng.IntN(12), fmt.Sprint("s", step))
				case r < 15:
					tl.truncFront(first + rng.Uint64N(last-first+3))
				case r < 18:
					tl.truncBack(first - 1 + rng.Uint64N(last-first+2))
				case r < 19:
					tl.reopen()
				default:
					if len(tl.model) == 0 {
						tl.addAt(1+rng.Uint64N(2*tl.next+1), 2, fmt.Sprint("m", step))
					}
				}
				if err := checkAgainst(tl.l, tl.model, tl.next); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
			}
			if err := tl.l.Close(); err != nil {
				t.Fatal(err)
			}
			in, err := Inspect(crashDir, tl.fs)
			if err != nil || len(in.Damage) > 0 {
				t.Fatalf("seed %d: Inspect of a truncated log: %v, damage %v; want none", seed, err, in.Damage)
			}
			v, err := OpenView(crashDir, tl.fs)
			if err != nil {
				t.Fatalf("seed %d: OpenView: %v", seed, err)
			}
			var got []uint64
			for e, err := range v.Entries(0) {
				if err != nil {
					t.Fatalf("seed %d: view: %v", seed, err)
				}
				got = append(got, e.Seq)
			}
			v.Close()
			if want := slices.Sorted(maps.Keys(tl.model)); !slices.Equal(got, want) {
				t.Fatalf("seed %d: view holds %s, want %s", seed, abbrev(got), abbrev(want))
			}
		})
	}
}

// TestCrashDuringTruncation takes a crash state after every file operation
// of a TruncateBack and of a TruncateFront: each must open to the log
// before the truncation or after it, never a mix, and open again the same.
func TestCrashDuringTruncation(t *testing.T) {
	ops := []struct {
		name string
		run  func(*Log) error
		keep func(seq uint64) bool
		next uint64
	}{
		{"TruncateBack inside a frame in an old segment", func(l *Log) error { return l.TruncateBack(50) }, func(s uint64) bool { return s <= 50 }, 51},
		{"TruncateBack to nothing", func(l *Log) error { return l.TruncateBack(0) }, func(uint64) bool { return false }, 1},
		{"TruncateFront inside a frame", func(l *Log) error { return l.TruncateFront(300) }, func(s uint64) bool { return s >= 300 }, 421},
		{"TruncateFront past the end", func(l *Log) error { return l.TruncateFront(1000) }, func(uint64) bool { return false }, 1000},
	}
	// A cut inside the frame that starts a segment: the kept records go
	// back into that segment, emptied.
	probe, _, _ := newTruncSetup(t, func(uint64) bool { return true })
	segStart := probe.l.segs[4].base
	if fr, err := probe.l.idx.Frames(probe.l.segs[4].id); err != nil || len(fr) == 0 || fr[0].First != segStart {
		t.Fatalf("setup: segment 5 does not start with a frame at its base %d", segStart)
	}
	ops = append(ops, struct {
		name string
		run  func(*Log) error
		keep func(seq uint64) bool
		next uint64
	}{"TruncateBack inside the first frame of a segment", func(l *Log) error { return l.TruncateBack(segStart + 2) }, func(s uint64) bool { return s <= segStart+2 }, segStart + 3})
	for oi, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			tl, pre, post := newTruncSetup(t, op.keep)
			preNext := tl.next
			states, failures := 0, 0
			tl.fs.OnOp(func(o vfstest.Op, name string) {
				for r := -1; r < 2; r++ {
					var co vfstest.CrashOptions
					if r >= 0 {
						co.Rand = rand.New(rand.NewPCG(uint64(oi), uint64(states)))
					}
					states++
					clone := tl.fs.CrashClone(co)
					if err := crashTruncState(clone, tl.opts, pre, preNext, post, op.next); err != nil {
						failures++
						if failures <= 3 {
							t.Errorf("crash state %d (rand %v) after %v %s: %v", states, r >= 0, o, name, err)
						}
					}
				}
			})
			if err := op.run(tl.l); err != nil {
				t.Fatal(err)
			}
			tl.fs.OnOp(nil)
			if states == 0 {
				t.Fatal("no file operation observed")
			}
			t.Logf("%d crash states checked", states)
			if err := checkAgainst(tl.l, post, op.next); err != nil {
				t.Fatalf("after the truncation: %v", err)
			}
		})
	}
}

// crashTruncState opens a crash state and checks it holds pre or post
// whole, twice (the second Open sees what the first one finished). Before
// the first Open, the read-only readers see the state as Open will: Inspect
// (what verify reports) finds no damage where Open finds none, and a view
// holds pre, or post but for a suffix (the records of the cut frame that
// Open writes back).
func crashTruncState(fs *vfstest.FS, opts Options, pre map[uint64]string, preNext uint64, post map[uint64]string, postNext uint64) error {
	opts.FS = fs
	if in, err := Inspect(crashDir, fs); err != nil || len(in.Damage) > 0 {
		if err == nil {
			err = fmt.Errorf("%v", in.Damage)
		}
		return fmt.Errorf("Inspect before Open: %v", err)
	}
	if err := viewBeforeOpen(fs, pre, post); err != nil {
		return err
	}
	for round := range 2 {
		l, err := Open(crashDir, opts)
		if err != nil {
			return fmt.Errorf("open %d: %v", round, err)
		}
		errPre := checkAgainst(l, pre, preNext)
		errPost := checkAgainst(l, post, postNext)
		l.Close()
		if errPre != nil && errPost != nil {
			return fmt.Errorf("open %d: neither before (%v) nor after (%v)", round, errPre, errPost)
		}
	}
	return nil
}

// viewBeforeOpen checks that a view of the crash state in fs holds pre, or
// a prefix of post.
func viewBeforeOpen(fs *vfstest.FS, pre, post map[uint64]string) error {
	v, err := OpenView(crashDir, fs)
	if err != nil {
		return fmt.Errorf("view before Open: %v", err)
	}
	defer v.Close()
	got := map[uint64]string{}
	for e, err := range v.Entries(0) {
		if err != nil {
			return fmt.Errorf("view before Open: %v", err)
		}
		got[e.Seq] = string(e.Value)
	}
	if maps.Equal(got, pre) {
		return nil
	}
	seqs := slices.Sorted(maps.Keys(post))
	if len(got) > len(seqs) {
		return fmt.Errorf("view before Open holds %d records, neither before nor a prefix of after", len(got))
	}
	for _, s := range seqs[:len(got)] {
		if v, ok := got[s]; !ok || v != post[s] {
			return fmt.Errorf("view before Open holds %d records, neither before nor a prefix of after (first difference at %d)", len(got), s)
		}
	}
	return nil
}

// TestTruncationWithFailingFileOperations fails the n-th file operation of
// each kind during a truncation: the call succeeds (the failure hit
// nothing it needs) or returns an error, and a reopen holds the log before
// or after the truncation; after a success, after.
func TestTruncationWithFailingFileOperations(t *testing.T) {
	kinds := []vfstest.Op{vfstest.OpCreate, vfstest.OpOpen, vfstest.OpWrite, vfstest.OpSync, vfstest.OpSyncDir,
		vfstest.OpRename, vfstest.OpRemove, vfstest.OpTruncate, vfstest.OpRead, vfstest.OpList}
	ops := []struct {
		name string
		run  func(*Log) error
		keep func(uint64) bool
		next uint64
	}{
		{"TruncateBack", func(l *Log) error { return l.TruncateBack(50) }, func(s uint64) bool { return s <= 50 }, 51},
		{"TruncateFront", func(l *Log) error { return l.TruncateFront(300) }, func(s uint64) bool { return s >= 300 }, 421},
	}
	for _, op := range ops {
		for _, kind := range kinds {
			for n := 1; n <= 4; n++ {
				tl, pre, post := newTruncSetup(t, op.keep)
				tl.fs.InjectError(kind, n, syscall.EIO)
				err := op.run(tl.l)
				tl.l.Close()
				tl.fs.ClearErrors()
				l, oerr := Open(crashDir, tl.opts)
				if oerr != nil {
					t.Fatalf("%s with %s #%d failing (call: %v): reopen: %v", op.name, kind, n, err, oerr)
				}
				errPost := checkAgainst(l, post, op.next)
				errPre := checkAgainst(l, pre, tl.next)
				l.Close()
				switch {
				case err == nil && errPost != nil:
					t.Errorf("%s with %s #%d failing returned nil, but after reopen: %v", op.name, kind, n, errPost)
				case errPost != nil && errPre != nil:
					t.Errorf("%s with %s #%d failing (call: %v): after reopen neither before (%v) nor after (%v)", op.name, kind, n, err, errPre, errPost)
				}
			}
		}
	}
}

// TestReadersDuringTruncation reads the log from other goroutines while
// it is cut at both ends: every read gets the records as they were before
// or after each cut, or ErrNotFound, never other content.
func TestReadersDuringTruncation(t *testing.T) {
	tl := newTlog(t, Eventual)
	tl.addAt(1, 7, "a")
	for range 200 {
		tl.add(7, "a")
	}
	want := maps.Clone(tl.model)
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for r := range 2 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				s := 1 + rng.Uint64N(1407)
				e, err := tl.l.Get(s)
				if err == nil && string(e.Value) != want[s] {
					errs <- fmt.Errorf("Get(%d) = %q, want %q", s, e.Value, want[s])
					return
				}
				if err != nil && !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("Get(%d): %v", s, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		tl.truncFront(uint64(1 + 30*i))
		tl.truncBack(1400 - uint64(30*i))
	}
	close(stop)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	tl.check("after the cuts")
}

// newTruncSetup makes a log of 60 batches of 7 records from 1 (about ten
// 4 KiB segments) and returns it with its model before and after a
// truncation keeping the records keep selects.
func newTruncSetup(t *testing.T, keep func(uint64) bool) (tl *tlog, pre, post map[uint64]string) {
	t.Helper()
	tl = newTlog(t, Immediate)
	tl.addAt(1, 7, "a")
	for range 59 {
		tl.add(7, "a")
	}
	pre = maps.Clone(tl.model)
	post = maps.Clone(pre)
	maps.DeleteFunc(post, func(s uint64, _ string) bool { return !keep(s) })
	return tl, pre, post
}

// TestCloseAfterFailedTruncateBackOfReopenedLog: a TruncateBack that fails
// after releasing the active segment, on a log reopened after a clean
// Close, leaves a log that Close still closes (no panic, lock released)
// and that reopens before or after the cut.
func TestCloseAfterFailedTruncateBackOfReopenedLog(t *testing.T) {
	tl, pre, post := newTruncSetup(t, func(s uint64) bool { return s <= 50 })
	tl.reopen() // the newest segment keeps its index file from Close
	if !tl.l.staleIdx {
		t.Fatal("setup: the reopened log's newest segment has no index file from Close")
	}
	tl.fs.InjectError(vfstest.OpTruncate, 1, syscall.EIO) // the cut itself
	err := tl.l.TruncateBack(50)
	if err == nil {
		t.Fatal("setup: TruncateBack succeeded; want the injected failure")
	}
	tl.fs.ClearErrors()
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("Close after a failed TruncateBack panicked: %v", r)
			}
		}()
		tl.l.Close()
	}()
	if err := tl.l.Sync(); err == nil {
		t.Error("Sync of a closed log returned nil")
	}
	l, err := Open(crashDir, tl.opts)
	if err != nil {
		t.Fatalf("reopen after the failed cut: %v", err)
	}
	defer l.Close()
	if errPost, errPre := checkAgainst(l, post, 51), checkAgainst(l, pre, tl.next); errPost != nil && errPre != nil {
		t.Fatalf("after reopen neither before (%v) nor after (%v)", errPre, errPost)
	}
	tl.l = nil
}

func TestLiveHintLeavesTruncatedRecordsOut(t *testing.T) {
	tl := newTlog(t, Immediate)
	tl.addAt(1, 100, "a")
	tl.truncFront(61)
	if got := tl.l.LiveHint(); got != 40 {
		t.Fatalf("LiveHint after TruncateFront(61) of records 1..100: %d, want 40", got)
	}
}

// A TruncateBack that cuts inside a frame compaction left sparse keeps
// the records below the cut under their own sequence numbers: they are
// not renumbered from the first one kept (which gave one record's value
// under another's number), after Open finishes the cut too.
func TestTruncateBackInsideSparseFrameKeepsSequenceNumbers(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("reopen=%v", reopen), func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open(dir, Options{SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Inline: true, Logger: crashQuiet})
			if err != nil {
				t.Fatal(err)
			}
			// Seqs 0..5 in one frame; "b" (1 and 3) is removed by the
			// tombstone at 6, leaving 0, 2, 4, 5 in a sparse frame.
			keys := []string{"a", "b", "c", "b", "d", "e"}
			var recs []Record
			for i, k := range keys {
				recs = append(recs, Record{Key: []byte(k), Value: fmt.Appendf(nil, "value-%d", i)})
			}
			if _, err := l.Append(Batch{Records: recs}); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Append(Batch{Records: []Record{{Key: []byte("b"), Tombstone: true}}}); err != nil {
				t.Fatal(err)
			}
			for l.segs[0].id == l.active.ID() { // seal the first segment
				if _, err := l.Append(Batch{Records: []Record{{Key: []byte("f"), Value: make([]byte, 512)}}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Compact(); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Get(1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("setup: Get(1) after compaction: %v, want ErrNotFound", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			// Truncation needs compaction off.
			l, err = Open(dir, Options{SegmentSize: MinSegmentSize, Logger: crashQuiet})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.TruncateBack(4); err != nil { // removes 5 and above
				t.Fatal(err)
			}
			if reopen {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				if l, err = Open(dir, Options{SegmentSize: MinSegmentSize, Logger: crashQuiet}); err != nil {
					t.Fatal(err)
				}
			}
			for seq, want := range map[uint64]string{0: "value-0", 2: "value-2", 4: "value-4"} {
				e, err := l.Get(seq)
				if err != nil || string(e.Value) != want {
					t.Errorf("Get(%d) = %q, %v; want %q", seq, e.Value, err, want)
				}
			}
			for _, seq := range []uint64{1, 3, 5} {
				if e, err := l.Get(seq); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get(%d) = %q, %v; want ErrNotFound", seq, e.Value, err)
				}
			}
			if n := l.NextSeq(); n != 5 {
				t.Errorf("NextSeq = %d, want 5", n)
			}
			// The index file Close writes holds the kept sparse frame's
			// own count, so Stat (which sums index files) counts 3.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			checkStat(t, 0, "closed after the cut", dir)
			if st, err := Stat(dir, nil); err != nil || st.Entries != 3 {
				t.Errorf("Stat after the cut: %d entries, %v; want 3", st.Entries, err)
			}
		})
	}
}

// A log with compaction on that holds no frames (new, or only ever
// opened) may start at any sequence number: AppendAt moves its front
// there, as an import keeping another system's numbers needs, and the
// numbers stay after a reopen and a compaction. Once it holds a record,
// AppendAt elsewhere is refused as before.
func TestAppendAtStartsAnEmptyLogWithCompactionAnywhere(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, CompactionThreshold: 10, Logger: crashQuiet}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(crashDir, opts); err != nil {
		t.Fatal(err)
	}
	rec := func(k string, tomb bool) Batch {
		return Batch{Time: 1764190000000, Records: []Record{{Key: []byte(k), Value: []byte("v-" + k), Tombstone: tomb}}}
	}
	if err := l.AppendAt(100, rec("a", false)); err != nil {
		t.Fatalf("AppendAt(100) on an empty log with compaction on: %v", err)
	}
	for _, at := range []uint64{100, 200, 0} {
		if err := l.AppendAt(at, rec("x", false)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("AppendAt(%d) with the log continuing at 101: %v, want ErrInvalid", at, err)
		}
	}
	if err := l.AppendAt(101, rec("b", false)); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendAt(102, rec("a", true)); err != nil {
		t.Fatal(err)
	}
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(crashDir, opts); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var seqs []uint64
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, e.Seq)
		if e.Time != 1764190000000 {
			t.Fatalf("entry %d: time %d, want the batch's", e.Seq, e.Time)
		}
	}
	if !slices.Equal(seqs, []uint64{101}) || l.NextSeq() != 103 {
		t.Fatalf("after compaction and reopen: seqs %v, next %d; want [101], 103", seqs, l.NextSeq())
	}

}
