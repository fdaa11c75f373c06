package wal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// repackNow runs a repack pass in the calling goroutine, as the
// background worker would after a rotation.
func (l *Log) repackNow(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	for l.working {
		l.cond.Wait()
	}
	l.working, l.repackDue = true, true
	l.mu.Unlock()
	err := l.repackPass()
	l.mu.Lock()
	l.working = false
	l.cond.Broadcast()
	l.mu.Unlock()
	if err != nil {
		t.Fatalf("repack: %v", err)
	}
}

// smallBatches appends n batches, mostly of one record, with times that
// step unevenly (some repeat, one goes back), and returns what was
// appended, by sequence number.
func smallBatches(t *testing.T, l *Log, n int, seed uint64) map[uint64]Entry {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0))
	want := map[uint64]Entry{}
	time := int64(1_764_190_000_000)
	for i := range n {
		recs := make([]Record, 1+r.IntN(4)/3) // a quarter of the batches hold two
		for j := range recs {
			recs[j] = Record{Key: fmt.Appendf(nil, "route-%d", r.IntN(300)), Value: fmt.Appendf(nil, "event %d.%d", i, j), Tombstone: r.IntN(50) == 0}
		}
		switch r.IntN(10) {
		case 0: // the same millisecond
		case 1:
			time -= int64(r.IntN(1000)) // a clock stepping back
		default:
			time += int64(r.IntN(5000))
		}
		first, err := l.Append(Batch{Records: recs, Time: time})
		if err != nil {
			t.Fatalf("seed %d: append %d: %v", seed, i, err)
		}
		for j, rec := range recs {
			want[first+uint64(j)] = Entry{Seq: first + uint64(j), Time: time, Key: rec.Key, Value: rec.Value, Tombstone: rec.Tombstone}
		}
	}
	return want
}

// sameEntries checks that l holds exactly want, each entry with its
// sequence number, time, key, value and tombstone, read in order and by
// Get.
func sameEntries(l *Log, want map[uint64]Entry) error {
	n := 0
	for e, err := range l.Entries(0) {
		if err != nil {
			return err
		}
		w, ok := want[e.Seq]
		if !ok || e.Time != w.Time || string(e.Key) != string(w.Key) || string(e.Value) != string(w.Value) || e.Tombstone != w.Tombstone {
			return fmt.Errorf("entry %d: got (%d %q %q %v), want (%d %q %q %v)", e.Seq, e.Time, e.Key, e.Value, e.Tombstone, w.Time, w.Key, w.Value, w.Tombstone)
		}
		n++
	}
	if n != len(want) {
		return fmt.Errorf("read %d entries, want %d", n, len(want))
	}
	for seq, w := range want {
		if seq%97 != 0 {
			continue
		}
		e, err := l.Get(seq)
		if err != nil || e.Time != w.Time || string(e.Value) != string(w.Value) {
			return fmt.Errorf("Get(%d) = (%d %q), %v; want (%d %q)", seq, e.Time, e.Value, err, w.Time, w.Value)
		}
	}
	return nil
}

// sealedFrames is the number of frames in l's sealed segments, and their
// count.
func sealedFrames(l *Log) (frames, segs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts := l.idx.FrameCounts()
	for _, s := range l.segs[:len(l.segs)-1] {
		frames += counts[s.id]
	}
	return frames, len(l.segs) - 1
}

// Sealed segments of single-record frames are repacked in the background
// into a few frames each; every entry keeps its sequence number, its
// batch's time, key, value and tombstone, before and after a reopen, and
// the files shrink. NoRepack leaves the frames as written.
func TestRepackPacksSmallFramesAndKeepsEveryEntry(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"none", Options{Compression: CompressionNone}},
		{"s2", Options{Compression: CompressionS2}},
		{"zstd with compaction", Options{Compression: CompressionZstd, CompactionThreshold: 1 << 40}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var sizes [2]int64
			for i, noRepack := range []bool{true, false} {
				dir := t.TempDir()
				opts := c.opts
				opts.Durability, opts.SegmentSize, opts.Logger, opts.NoRepack = Eventual, 64<<10, crashQuiet, noRepack
				l, err := Open(dir, opts)
				if err != nil {
					t.Fatal(err)
				}
				want := smallBatches(t, l, 6000, 1)
				l.WaitCompaction()
				frames, segs := sealedFrames(l)
				if segs < 2 {
					t.Fatalf("setup: %d sealed segments, want several", segs)
				}
				if packed := frames < 20*segs; packed == noRepack {
					t.Fatalf("NoRepack=%v: %d frames in %d sealed segments", noRepack, frames, segs)
				}
				if err := sameEntries(l, want); err != nil {
					t.Fatalf("NoRepack=%v, before reopen: %v", noRepack, err)
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				st, err := Stat(dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				sizes[i] = st.ApparentBytes
				if l, err = Open(dir, opts); err != nil {
					t.Fatal(err)
				}
				if err := sameEntries(l, want); err != nil {
					t.Fatalf("NoRepack=%v, after reopen: %v", noRepack, err)
				}
				l.Close()
			}
			if sizes[1] > sizes[0]/2 {
				t.Errorf("files take %d bytes repacked, %d not: want under half", sizes[1], sizes[0])
			}
		})
	}
}

// A log written without repacking is repacked when opened with it.
func TestRepackOfAnOlderLogAtOpen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Durability: Eventual, SegmentSize: 64 << 10, Logger: crashQuiet, NoRepack: true}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := smallBatches(t, l, 3000, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts.NoRepack = false
	if l, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.WaitCompaction()
	if frames, segs := sealedFrames(l); frames >= 20*segs {
		t.Fatalf("%d frames in %d sealed segments after Open: not repacked", frames, segs)
	}
	if err := sameEntries(l, want); err != nil {
		t.Fatal(err)
	}
}

// TruncateBack inside a packed frame keeps the entries below the cut with
// their own times (the bounds file keeps a FlagTimed frame's entries),
// also when the cut is finished by Open after a crash.
func TestTruncateBackInsidePackedFrameKeepsTimes(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("reopen=%v", reopen), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Durability: Eventual, SegmentSize: 64 << 10, Logger: crashQuiet}
			l, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := smallBatches(t, l, 3000, 3)
			l.WaitCompaction()
			l.mu.Lock()
			fr, err := l.idx.Frames(l.segs[0].id)
			l.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if len(fr) < 2 || fr[1].Count < 10 {
				t.Fatalf("setup: first segment's frames %v: not packed", fr[:min(len(fr), 3)])
			}
			cut := fr[1].First + uint64(fr[1].Count)/2
			if want[cut].Time == want[fr[1].First].Time {
				t.Fatalf("setup: the packed frame's entries up to %d share one time", cut)
			}
			if err := l.TruncateBack(cut); err != nil {
				t.Fatal(err)
			}
			for seq := range want {
				if seq > cut {
					delete(want, seq)
				}
			}
			if reopen {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				if l, err = Open(dir, opts); err != nil {
					t.Fatal(err)
				}
			}
			defer l.Close()
			if err := sameEntries(l, want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A crash at any point of a repack (by the background pass, or by Close,
// which first seals the active segment) leaves a log that opens, twice,
// with every entry as appended: the old file or the new one, each whole.
func TestCrashDuringRepack(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, l *Log)
	}{
		{"background pass", func(t *testing.T, l *Log) { l.repackNow(t) }},
		{"Close", func(t *testing.T, l *Log) {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := crashFS(t)
			opts := Options{FS: fs, Durability: Immediate, SegmentSize: MinSegmentSize * 4, Logger: crashQuiet, Inline: true, NoRepack: true}
			l, err := Open(crashDir, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := smallBatches(t, l, 600, 4)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			opts.NoRepack = false
			if l, err = Open(crashDir, opts); err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			// Frames in the active segment too, for Close to seal.
			for seq, e := range smallBatches(t, l, 100, 5) {
				want[seq] = e
			}
			states := 0
			var failures []error
			fs.OnOp(func(o vfstest.Op, name string) {
				for r := -1; r < 2; r++ {
					var co vfstest.CrashOptions
					if r >= 0 {
						co.Rand = rand.New(rand.NewPCG(4, uint64(states)))
					}
					states++
					o2 := opts
					o2.FS = fs.CrashClone(co)
					for round := range 2 {
						cl, err := Open(crashDir, o2)
						if err == nil {
							err = sameEntries(cl, want)
							cl.Close()
						}
						if err != nil && len(failures) < 3 {
							failures = append(failures, fmt.Errorf("crash state %d (random %v) after %v %s, open %d: %w", states, r >= 0, o, name, round, err))
						}
					}
				}
			})
			c.run(t, l)
			fs.OnOp(nil)
			if err := errors.Join(failures...); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d crash states checked", states)
			if c.name == "Close" {
				if l, err = Open(crashDir, opts); err != nil {
					t.Fatal(err)
				}
			}
			if frames, segs := sealedFrames(l); frames >= 20*segs || states == 0 {
				t.Fatalf("%d frames in %d sealed segments, %d crash states: the repack did not run", frames, segs, states)
			}
			if err := sameEntries(l, want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Close seals an active segment of small frames and repacks it: a closed
// log of single-event batches is packed whole, and after a reopen appends
// continue in a new segment.
func TestCloseRepacksTheActiveSegment(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Logger: crashQuiet} // Immediate, 64 MiB segments: never rotated by size
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := smallBatches(t, l, 2000, 6)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if frames, segs := sealedFrames(l); segs != 1 || frames > 20 {
		t.Fatalf("after Close: %d frames in %d sealed segments; want one packed segment", frames, segs)
	}
	for seq, e := range smallBatches(t, l, 10, 7) {
		want[seq] = e
	}
	if err := sameEntries(l, want); err != nil {
		t.Fatal(err)
	}
}

// A segment whose seal job is still queued is no repacking candidate:
// the job would write the index of the file as sealed over the repacked
// one's, and the next Open would refuse the log (a sealed segment whose
// size is not its index's). It becomes one once the job is written.
func TestNoRepackBeforeTheSealJobIsWritten(t *testing.T) {
	l, err := Open(t.TempDir(), Options{Durability: Eventual, Inline: true, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		l.mu.Lock()
		l.runInline() // the work rotate queued (Inline), which Close waits for
		l.mu.Unlock()
		l.Close()
	}()
	smallBatches(t, l, 2000, 1)
	l.mu.Lock()
	if err := l.rotate(); err != nil {
		l.mu.Unlock()
		t.Fatal(err)
	}
	sealed := l.segs[len(l.segs)-2]
	pending := l.repackCandidates()
	l.mu.Unlock()
	if slices.Contains(pending, sealed) {
		t.Fatalf("segment %d is a repacking candidate while its seal job is queued", sealed.id)
	}
	if err := l.drainSeals(false); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	after := l.repackCandidates()
	l.mu.Unlock()
	if !slices.Contains(after, sealed) {
		t.Fatalf("segment %d of 2000 single-record frames is no repacking candidate once sealed", sealed.id)
	}
}
