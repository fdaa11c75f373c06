package segment

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
)

// readAll scans the file name on fs and returns its entries with the
// scan's result.
func readAll(t *testing.T, fs *vfstest.FS, name string) ([]Entry, ScanResult) {
	t.Helper()
	out, res, err := scanAll(fs, name)
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

// scanAll is readAll for goroutines other than the test's.
func scanAll(fs *vfstest.FS, name string) ([]Entry, ScanResult, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, ScanResult{}, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, ScanResult{}, err
	}
	var out []Entry
	res, err := Scan(f, size, name, func(off int64, h FrameHeader, p []byte) error {
		it := NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil || !ok {
				return err
			}
			out = append(out, Entry{Seq: e.Seq, Key: bytes.Clone(e.Key), Value: bytes.Clone(e.Value), Tombstone: e.Tombstone})
		}
	})
	if err != nil {
		return nil, res, fmt.Errorf("scan %s: %w", name, err)
	}
	return out, res, nil
}

// create is Create with the directory synced, so that crash states hold
// the file.
func create(t *testing.T, fs *vfstest.FS, name string, fh FileHeader, reserve int64) *Writer {
	t.Helper()
	w, err := Create(fs, name, fh, reserve)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	return w
}

// CreateGrown writes a new segment's first step of zeros and makes it
// durable with its header: the first commit then writes and syncs only
// its frame, with no size change for its fdatasync to commit. Create
// leaves the step to the first frame.
func TestCreateGrownMakesTheFirstGrowthStepDurable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		grown   bool
		reserve int64
		want    int64 // durable size after creation
	}{
		{"large segment", true, 64 << 20, FileHeaderSize + minGrowStep},
		{"segment smaller than a step", true, 8 << 10, 8 << 10},
		{"no reserve: plain appends", true, 0, FileHeaderSize},
		{"Create: grown by the first frame", false, 64 << 20, FileHeaderSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfstest.New()
			createFn := Create
			if tc.grown {
				createFn = CreateGrown
			}
			w, err := createFn(fs, "1.seg", FileHeader{ID: 1}, tc.reserve)
			if err != nil {
				t.Fatal(err)
			}
			if err := fs.SyncDir("/"); err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			size := func() int64 {
				f, err := fs.CrashClone(vfstest.CrashOptions{}).Open("1.seg")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				n, err := f.Size()
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if got := size(); got != tc.want {
				t.Fatalf("durable size after Create: %d; want %d", got, tc.want)
			}
			if tc.reserve == 0 || !tc.grown {
				return
			}
			writes := 0
			fs.OnOp(func(op vfstest.Op, name string) {
				if op == vfstest.OpWrite || op == vfstest.OpTruncate {
					writes++
				}
			})
			w.WriteWithSyscalls()
			writeSingles(t, w, 1, 1)
			if err := w.Sync(w.Offset()); err != nil {
				t.Fatal(err)
			}
			fs.OnOp(nil)
			if writes != 1 || size() != tc.want {
				t.Fatalf("first commit: %d writes, durable size %d; want 1 write (the frame) and the size unchanged (%d)", writes, size(), tc.want)
			}
		})
	}
}

// TestWriterSyncIsAGroupCommit has goroutines write frames (serialized, as
// a log serializes them) and each wait for its own with Sync while others
// write during the fdatasync: every frame acknowledged is in the strict
// crash state taken right after its Sync returned, and callers share
// fdatasyncs.
func TestWriterSyncIsAGroupCommit(t *testing.T) {
	fs := vfstest.New()
	fs.YieldDuringSyncs()
	w := create(t, fs, "1.seg", FileHeader{ID: 1}, 1<<20)
	defer w.Close()
	const workers, per = 8, 40
	var mu sync.Mutex // serializes WriteFrame, as the log's lock does
	enc := NewEncoder(nil)
	next := uint64(1)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				mu.Lock()
				f, err := enc.Batch([]Record{{Key: []byte("k"), Value: fmt.Appendf(nil, "g%d-%d", g, i)}}, 0)
				if err != nil {
					mu.Unlock()
					errs <- err
					return
				}
				f.SetFirst(next)
				at, err := w.WriteFrame(&f)
				fi := f.Info(at)
				next++
				off := w.Offset()
				mu.Unlock()
				if err != nil {
					errs <- err
					return
				}
				if err := w.Sync(off); err != nil {
					errs <- err
					return
				}
				got, _, err := scanAll(fs.CrashClone(vfstest.CrashOptions{}), "1.seg")
				if err != nil {
					errs <- err
					return
				}
				if uint64(len(got)) < fi.Last {
					errs <- fmt.Errorf("frame of seq %d acknowledged by Sync(%d), but a crash keeps %d entries", fi.Last, off, len(got))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := w.Syncs(); n >= workers*per || n == 0 {
		t.Fatalf("%d Syncs took %d fdatasyncs; want fewer (shared) and at least one", workers*per, n)
	}
	t.Logf("%d Syncs, %d fdatasyncs", workers*per, w.Syncs())
}

// TestQueuedFramesAreWrittenTogetherBySync: frames queued (and a frame
// written while others are queued, which joins them) are not in the file
// until a Sync, which writes them in order with one write before its
// fdatasync.
func TestQueuedFramesAreWrittenTogetherBySync(t *testing.T) {
	fs := vfstest.New()
	w := create(t, fs, "1.seg", FileHeader{ID: 1}, 0) // no zeros grown ahead: only frames are written
	defer w.Close()
	enc := NewEncoder(nil)
	writes := 0
	fs.OnOp(func(op vfstest.Op, name string) {
		if op == vfstest.OpWrite {
			writes++
		}
	})
	for i, write := range []func(*Frame) (int64, error){w.QueueFrame, w.WriteFrame, w.QueueFrame} {
		f, err := enc.Batch([]Record{{Key: []byte("k"), Value: bytes.Repeat([]byte{byte('a' + i)}, 10+i*7)}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.SetFirst(uint64(i + 1))
		if _, err := write(&f); err != nil {
			t.Fatal(err)
		}
	}
	if got, _, err := scanAll(fs, "1.seg"); err != nil || len(got) != 0 || writes != 0 {
		t.Fatalf("before Sync: %d entries in the file, %d writes (%v); want none", len(got), writes, err)
	}
	if err := w.Sync(w.Offset()); err != nil {
		t.Fatal(err)
	}
	fs.OnOp(nil)
	got, _, err := scanAll(fs.CrashClone(vfstest.CrashOptions{}), "1.seg")
	if err != nil || len(got) != 3 || writes != 1 {
		t.Fatalf("after Sync: %d entries durable, %d writes (%v); want 3 and 1", len(got), writes, err)
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) || len(e.Value) != 10+i*7 || e.Value[0] != byte('a'+i) {
			t.Fatalf("entry %d: seq %d value %q", i, e.Seq, e.Value)
		}
	}
}

// Writers counting in one SyncCounter add up their fdatasyncs there, each
// the file system ran once: a Sync with nothing new runs none, Seal's
// first counts. SyncStats reads the counter while syncs run (-race), and
// times each sync from its start to its return.
func TestSyncCounterAddsUpWriters(t *testing.T) {
	fs := vfstest.New()
	var c SyncCounter
	const pause = 2 * time.Millisecond
	fs.DuringSync(func(string) { time.Sleep(pause) })
	enc := NewEncoder(nil)
	for i, name := range []string{"1.seg", "2.seg"} {
		w := create(t, fs, name, FileHeader{ID: uint64(i + 1)}, 1<<20)
		w.CountSyncsIn(&c)
		done := make(chan struct{})
		go func() { // a reader, as Stats is
			defer close(done)
			for prev := int64(0); prev < int64(i+1); {
				st := w.SyncStats()
				if st.Count < prev || st.Max < st.Last {
					t.Errorf("%s: %+v after count %d", name, st, prev)
					return
				}
				prev = st.Count
			}
		}()
		f, err := enc.Batch([]Record{{Key: []byte("k"), Value: []byte(name)}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.SetFirst(uint64(i + 1))
		if _, err := w.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
		before := fs.Count(vfstest.OpSync)
		for range 2 { // the second has nothing to sync
			if err := w.Sync(w.Offset()); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Seal(); err != nil { // nothing new: only its sync of the cut file, not counted
			t.Fatal(err)
		}
		<-done
		ran := int64(fs.Count(vfstest.OpSync) - before)
		if st := c.Load(); st.Count != int64(i+1) || ran < 1 {
			t.Errorf("after %s: counter %d, the file system ran %d; want %d", name, st.Count, ran, i+1)
		}
		w.Close()
	}
	st := c.Load()
	if st.Count != 2 || st.Last < pause || st.Max < st.Last {
		t.Errorf("two writers: %+v; want 2 syncs, each at least %v", st, pause)
	}
	var own SyncCounter
	if w := create(t, fs, "3.seg", FileHeader{ID: 3}, 0); w.Syncs() != 0 || w.SyncStats() != own.Load() {
		t.Errorf("a new writer counts in its own counter, from 0: %+v", w.SyncStats())
	}
}

// TestWriterFailureIsSticky: after a failed fdatasync, or a failed write,
// the writer refuses every later frame and sync with that failure, even
// once the file system works again.
func TestWriterFailureIsSticky(t *testing.T) {
	for _, op := range []vfstest.Op{vfstest.OpSync, vfstest.OpWrite} {
		t.Run(op.String(), func(t *testing.T) {
			fs := vfstest.New()
			w, err := Create(fs, "1.seg", FileHeader{ID: 1}, 0) // unmapped: frames are written
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			enc := NewEncoder(nil)
			write := func(seq uint64) error {
				f, err := enc.Batch([]Record{{Key: []byte("k"), Value: []byte("v")}}, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.SetFirst(seq)
				_, err = w.WriteFrame(&f)
				return err
			}
			if err := write(1); err != nil {
				t.Fatal(err)
			}
			injected := errors.New("injected")
			fs.InjectError(op, 1, injected)
			var first error
			if op == vfstest.OpSync {
				first = w.Sync(w.Offset())
			} else {
				first = write(2)
			}
			if !errors.Is(first, injected) {
				t.Fatalf("failing %v: got %v, want the injected error", op, first)
			}
			fs.ClearErrors()
			if err := write(3); !errors.Is(err, injected) {
				t.Fatalf("WriteFrame after a failed %v: %v; want the first failure again", op, err)
			}
			if err := w.Sync(w.Offset() + 1); !errors.Is(err, injected) {
				t.Fatalf("Sync after a failed %v: %v; want the first failure again", op, err)
			}
			if err := w.Err(); !errors.Is(err, injected) {
				t.Fatalf("Err() = %v; want the first failure", err)
			}
		})
	}
}

// TestCreateBufferedWritesAtFlush: a buffered file holds nothing of its
// frames until the buffer fills or is flushed, then reads back whole; its
// frames record their own offsets as durable, since the file is used only
// once synced whole.
func TestCreateBufferedWritesAtFlush(t *testing.T) {
	fs := vfstest.New()
	w, err := CreateBuffered(fs, "c.seg", FileHeader{ID: 4, Flags: FileCompacted}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	enc := NewEncoder(nil)
	var want []Entry
	for i := range 10 {
		seq := uint64(10 + 3*i) // gaps: a compactor's copy
		want = append(want, Entry{Seq: seq, Key: []byte("route-a"), Value: []byte{byte(i)}})
		f, err := enc.Sparse(want[len(want)-1:])
		if err != nil {
			t.Fatal(err)
		}
		off, err := w.WriteFrame(&f)
		if err != nil {
			t.Fatal(err)
		}
		fi := f.Info(off)
		if fi.First != seq || fi.Last != seq || fi.Count != 1 {
			t.Fatalf("frame %d: %+v, want seq %d", i, fi, seq)
		}
	}
	if n := fs.Count(vfstest.OpWrite); n != 0 {
		t.Fatalf("%d writes before Flush; want the frames buffered", n)
	}
	if err := w.SyncAll(); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	got, res := readAll(t, fs.CrashClone(vfstest.CrashOptions{}), "c.seg")
	if res.Tail != TailClean || res.End != w.Offset() || len(got) != len(want) {
		t.Fatalf("after SyncAll a crash keeps %d entries, %+v; want %d ending at %d", len(got), res, len(want), w.Offset())
	}
	for i := range want {
		if got[i].Seq != want[i].Seq || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if res.MaxSynced < res.End-(FrameHeaderSize+16) {
		t.Fatalf("frames record %d as durable; want their own offsets (last frame near %d)", res.MaxSynced, res.End)
	}
}

// TestRecoverRewritesCutsAndSyncs: Recover writes again what no frame
// recorded as durable, cuts what follows the valid frames, and syncs; a
// sealed file (synced whole, cut to its frames) is left without a write
// or an fdatasync.
func TestRecoverRewritesCutsAndSyncs(t *testing.T) {
	fs := vfstest.New()
	w := create(t, fs, "1.seg", FileHeader{ID: 1}, 1<<20) // grows ahead with zeros
	writeSingles(t, w, 1, 3)
	if err := w.Sync(w.Offset()); err != nil {
		t.Fatal(err)
	}
	writeSingles(t, w, 4, 2)
	end := w.Offset()
	w.Close()
	// A torn write after the last frame.
	f, err := fs.OpenReadWrite("1.seg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{1, 2, 3}, end); err != nil {
		t.Fatal(err)
	}
	entries, res := readAll(t, fs, "1.seg")
	if len(entries) != 5 || res.End != end || res.Tail != TailTorn {
		t.Fatalf("before Recover: %d entries, %+v", len(entries), res)
	}
	size, _ := f.Size()
	writes, syncs := fs.Count(vfstest.OpWrite), fs.Count(vfstest.OpSync)
	rw, err := Recover(f, "1.seg", 1, res.MaxSynced, res.End, size, 0, res.Tail)
	if err != nil {
		t.Fatal(err)
	}
	if fs.Count(vfstest.OpWrite) == writes || fs.Count(vfstest.OpSync) == syncs {
		t.Fatal("Recover neither rewrote the unconfirmed frames nor synced")
	}
	if got, _ := f.Size(); got != end || rw.Offset() != end || rw.Synced() != end {
		t.Fatalf("after Recover: file of %d bytes, writer at %d synced %d; want all %d", got, rw.Offset(), rw.Synced(), end)
	}
	entries, res = readAll(t, fs.CrashClone(vfstest.CrashOptions{}), "1.seg")
	if len(entries) != 5 || res.Tail != TailClean || res.End != end {
		t.Fatalf("crash after Recover: %d entries, %+v; want 5, clean at %d", len(entries), res, end)
	}
	// Sealed now: a second Recover touches nothing.
	writes, syncs = fs.Count(vfstest.OpWrite), fs.Count(vfstest.OpSync)
	if _, err := Recover(f, "1.seg", 1, end, end, end, 0, TailClean); err != nil {
		t.Fatal(err)
	}
	if fs.Count(vfstest.OpWrite) != writes || fs.Count(vfstest.OpSync) != syncs {
		t.Fatal("Recover of a sealed file wrote or synced")
	}
	f.Close()
}

// TestRecoverKeepsZerosGrownAhead: after a crash whose scan found only
// zeros after the frames, Recover keeps them as the room the writer grows
// into (no cut, so no change of size for the sync to record, and none at
// all when every frame was confirmed durable); frames appended after it
// TestRecoverForNextSyncLeavesTheRewriteUnclaimed: RecoverForNextSync
// rewrites the unconfirmed frames without an fsync; the frame written next
// claims durable only what was before them, and its Sync makes both
// durable with one fsync.
func TestRecoverForNextSyncLeavesTheRewriteUnclaimed(t *testing.T) {
	fs := vfstest.New()
	w := create(t, fs, "1.seg", FileHeader{ID: 1}, 0)
	writeSingles(t, w, 1, 3)
	if err := w.Sync(w.Offset()); err != nil {
		t.Fatal(err)
	}
	writeSingles(t, w, 4, 2)
	w.Close()
	f, err := fs.OpenReadWrite("1.seg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, res := readAll(t, fs, "1.seg")
	size, _ := f.Size()
	if res.MaxSynced >= res.End {
		t.Fatalf("setup: nothing unconfirmed (%+v)", res)
	}
	writes, syncs := fs.Count(vfstest.OpWrite), fs.Count(vfstest.OpSync)
	rw, err := RecoverForNextSync(f, "1.seg", 1, res.MaxSynced, res.End, size, 0, res.Tail)
	if err != nil {
		t.Fatal(err)
	}
	if fs.Count(vfstest.OpWrite) == writes || fs.Count(vfstest.OpSync) != syncs {
		t.Fatalf("RecoverForNextSync: %d writes, %d fsyncs; want a rewrite and no fsync", fs.Count(vfstest.OpWrite)-writes, fs.Count(vfstest.OpSync)-syncs)
	}
	writeSingles(t, rw, 6, 1)
	if err := rw.Sync(rw.Offset()); err != nil {
		t.Fatal(err)
	}
	if n := fs.Count(vfstest.OpSync) - syncs; n != 1 {
		t.Fatalf("%d fsyncs for the rewrite and the next frame; want 1", n)
	}
	entries, after := readAll(t, fs.CrashClone(vfstest.CrashOptions{}), "1.seg")
	if len(entries) != 6 || after.MaxSynced != res.MaxSynced {
		t.Fatalf("after the next Sync: %d entries, the next frame claims durable to %d; want 6, and %d (not the rewritten %d)", len(entries), after.MaxSynced, res.MaxSynced, res.End)
	}
}

// read back, and Seal still cuts the file to its data.
func TestRecoverKeepsZerosGrownAhead(t *testing.T) {
	for _, confirmed := range []bool{false, true} {
		t.Run(fmt.Sprintf("confirmed=%v", confirmed), func(t *testing.T) {
			fs := vfstest.New()
			w := create(t, fs, "1.seg", FileHeader{ID: 1}, 1<<20) // grows ahead with zeros
			writeSingles(t, w, 1, 5)
			if confirmed {
				if err := w.Sync(w.Offset()); err != nil {
					t.Fatal(err)
				}
			}
			end := w.Offset()
			w.Close()
			f, err := fs.OpenReadWrite("1.seg")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			entries, res := readAll(t, fs, "1.seg")
			size, _ := f.Size()
			if len(entries) != 5 || res.Tail != TailClean || size <= end {
				t.Fatalf("before Recover: %d entries, %+v, file of %d bytes; want zeros after %d", len(entries), res, size, end)
			}
			synced := res.MaxSynced
			if confirmed {
				synced = end // as a tail index would say
			}
			truncs, syncs := fs.Count(vfstest.OpTruncate), fs.Count(vfstest.OpSync)
			rw, err := Recover(f, "1.seg", 1, synced, res.End, size, 1<<20, res.Tail)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := f.Size(); got != size || fs.Count(vfstest.OpTruncate) != truncs {
				t.Fatalf("Recover cut the zeros: file of %d bytes, was %d", got, size)
			}
			if gotSyncs := fs.Count(vfstest.OpSync) - syncs; confirmed && gotSyncs != 0 || !confirmed && gotSyncs == 0 {
				t.Fatalf("Recover synced %d times (every frame confirmed: %v)", gotSyncs, confirmed)
			}
			writeSingles(t, rw, 6, 3)
			if err := rw.Seal(); err != nil {
				t.Fatal(err)
			}
			entries, res = readAll(t, fs.CrashClone(vfstest.CrashOptions{}), "1.seg")
			if got, _ := f.Size(); len(entries) != 8 || res.Tail != TailClean || got != res.End {
				t.Fatalf("after appending and sealing: %d entries, %+v, file of %d bytes; want 8, cut to the data", len(entries), res, got)
			}
		})
	}
}

// writeSingles writes n single-record frames to w from sequence first.
func writeSingles(t *testing.T, w *Writer, first uint64, n int) {
	t.Helper()
	enc := NewEncoder(nil)
	for i := range n {
		f, err := enc.Batch([]Record{{Key: []byte("k"), Value: []byte{byte(i)}}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.SetFirst(first + uint64(i))
		if _, err := w.WriteFrame(&f); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEncoderChoosesTheSmallerEncoding: batches whose keys share a prefix
// are stored with prefix keys, others plainly; a compressor is used only
// where it makes the payload smaller; every frame reads back as written.
func TestEncoderChoosesTheSmallerEncoding(t *testing.T) {
	s2, err := NewCompressor(CodecS2, 64)
	if err != nil {
		t.Fatal(err)
	}
	route := func(i int) []byte { return fmt.Appendf(nil, "route/orders-%03d", i) }
	cases := []struct {
		name      string
		comp      *Compressor
		recs      []Record
		wantFlags uint8
		wantCodec uint8
	}{
		{"one record", nil, []Record{{Key: route(1), Value: []byte("started")}}, 0, CodecNone},
		{"shared keys", nil, []Record{{Key: route(1), Value: []byte("a")}, {Key: route(2), Value: []byte("b")}}, FlagPrefix, CodecNone},
		{"keyless", nil, []Record{{Value: []byte("a")}, {Value: []byte("b")}}, 0, CodecNone},
		{"compressible", s2, []Record{{Key: route(1), Value: bytes.Repeat([]byte("x"), 4096)}}, 0, CodecS2},
		{"too small to compress", s2, []Record{{Key: route(1), Value: []byte("x")}}, 0, CodecNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfstest.New()
			w, err := Create(fs, "1.seg", FileHeader{ID: 1}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			f, err := NewEncoder(tc.comp).Batch(tc.recs, 42)
			if err != nil {
				t.Fatal(err)
			}
			f.SetFirst(7)
			if _, err := w.WriteFrame(&f); err != nil {
				t.Fatal(err)
			}
			rf, _ := fs.Open("1.seg")
			defer rf.Close()
			_, h, p, err := NewReader(rf, w.Offset(), "1.seg").Next()
			if err != nil {
				t.Fatal(err)
			}
			if h.Flags != tc.wantFlags || h.Codec != tc.wantCodec || h.FirstSeq != 7 || h.Time != 42 || h.Count != uint32(len(tc.recs)) {
				t.Fatalf("header %+v; want flags %d codec %d first 7 time 42 count %d", h, tc.wantFlags, tc.wantCodec, len(tc.recs))
			}
			it := NewEntryIter(h, p)
			for i, r := range tc.recs {
				e, ok, err := it.Next()
				if err != nil || !ok || e.Seq != uint64(7+i) || !bytes.Equal(e.Key, r.Key) || !bytes.Equal(e.Value, r.Value) {
					t.Fatalf("entry %d: %+v ok=%v err=%v; want %+v", i, e, ok, err, r)
				}
			}
			if _, ok, err := it.Next(); ok || err != nil {
				t.Fatalf("after the last entry: ok=%v err=%v", ok, err)
			}
		})
	}
}

// TestEncoderRefusesWhatNoFrameHolds: no records, a batch over
// MaxPayload, and sparse entries out of order are ErrInvalid.
func TestEncoderRefusesWhatNoFrameHolds(t *testing.T) {
	enc := NewEncoder(nil)
	big := make([]byte, MaxPayload/2)
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"no records", func() error { _, err := enc.Batch(nil, 0); return err }},
		{"no entries", func() error { _, err := enc.Sparse(nil); return err }},
		{"over MaxPayload", func() error {
			_, err := enc.Batch([]Record{{Key: []byte("a"), Value: big}, {Key: []byte("b"), Value: big}}, 0)
			return err
		}},
		{"sparse out of order", func() error {
			_, err := enc.Sparse([]Entry{{Seq: 5, Key: []byte("a")}, {Seq: 5, Key: []byte("b")}})
			return err
		}},
	} {
		if err := tc.err(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", tc.name, err)
		}
	}
}
