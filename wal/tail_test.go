package wal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

// killedCopy copies the files of the open log in dir to a new directory:
// what a SIGKILL of its process leaves (everything written is in the page
// cache), without Close.
func killedCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// appendSingles appends n batches of one record of size random
// (incompressible) bytes each, syncing every 50, and returns the sequence
// number after them.
func appendSingles(t *testing.T, l *Log, n, size int, tag string) uint64 {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n), uint64(size)))
	var next uint64
	for i := range n {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte(r.Uint32())
		}
		first, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "%s-%d", tag, i), Value: v}}})
		if err != nil {
			t.Fatal(err)
		}
		next = first + 1
		if i%50 == 49 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	return next
}

// countEntries reads every entry of l and checks they run 0..next-1.
func countEntries(t *testing.T, l *Log, next uint64) {
	t.Helper()
	want := uint64(0)
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != want {
			t.Fatalf("entry %d where %d was expected", e.Seq, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("%d entries, want %d", want, next)
	}
}

// TestOpenAfterAKillReadsOnlyWhatTheTailIndexDoesNotList: Open of a log
// whose process was killed (no Close, its newest segment without an index
// file) reads the frames past the tail index, not the whole segment; with
// the tail index damaged or gone it scans and loses nothing either.
func TestOpenAfterAKillReadsOnlyWhatTheTailIndexDoesNotList(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Eventual, SegmentSize: 64 << 20, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	next := appendSingles(t, l, 3000, 2000, "a") // ~6 MiB in one segment
	killed := killedCopy(t, dir)
	segSize := l.active.Offset()
	fi, err := os.Stat(segName(killed, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Past the frames, the zeros the file grew ahead in are read too, to
	// tell a clean end from damage.
	zeros := fi.Size() - segSize

	damageTail := func(t *testing.T, d string) {
		name := tailName(d, 1)
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-10] ^= 1 // in the last chunk
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		change  func(t *testing.T, d string)
		maxRead int64
		minRead int64
	}{
		{"tail index", func(*testing.T, string) {}, zeros + 2*defaultTailEvery, 0},
		{"last chunk damaged", damageTail, zeros + 3*defaultTailEvery, 0},
		{"tail index removed", func(t *testing.T, d string) { os.Remove(tailName(d, 1)) }, zeros + 2*segSize, segSize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := killedCopy(t, killed)
			if _, err := os.Stat(tailName(d, 1)); err != nil {
				t.Fatalf("no tail index after %d bytes of the active segment: %v", segSize, err)
			}
			c.change(t, d)
			var read atomic.Int64
			l2, err := Open(d, Options{Durability: Immediate, FS: readCountFS{FS: vfs.Default(), read: &read, exts: []string{segSuffix}}, Logger: crashQuiet})
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			if r := read.Load(); r > c.maxRead || r < c.minRead {
				t.Errorf("Open read %d bytes of a %d-byte segment; want %d to %d", r, segSize, c.minRead, c.maxRead)
			}
			countEntries(t, l2, next)
			// The tail index it read stays (its frames are there and
			// durable) until a checkpoint replaces it; killed again
			// before that, the next Open reads it, and what follows.
			_, err = os.Stat(tailName(d, 1))
			if kept := err == nil; kept != (c.name == "tail index" || c.name == "last chunk damaged") {
				t.Errorf("Open kept the tail index: %v (%v)", kept, err)
			}
			more := appendSingles(t, l2, 10, 2000, "b")
			l3, err := Open(killedCopy(t, d), Options{Durability: Immediate, Logger: crashQuiet})
			if err != nil {
				t.Fatal(err)
			}
			defer l3.Close()
			countEntries(t, l3, more)
		})
	}
}

// TestTailIndexOutlivesNoTruncateBack: after TruncateBack cuts the active
// segment and frames of other sizes take the place of those cut, Open after
// a kill lists what the segment holds, not what the old tail index said.
func TestTailIndexOutlivesNoTruncateBack(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Immediate, SegmentSize: 64 << 20, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.tailEvery = 4 << 10
	appendSingles(t, l, 200, 100, "a")
	if err := l.TruncateBack(49); err != nil {
		t.Fatal(err)
	}
	// Other sizes: the old list's offsets no longer meet frames.
	appendAfterCut(t, l)
	checkAfterCut(t, killedCopy(t, dir))
}

// TestTailIndexKeptByOpenOutlivesNoTruncateBack: the tail index Open
// keeps after a kill (an earlier session's) goes with a TruncateBack made
// before this session writes its own, as the session's own does. The
// frames written after the cut are sized so that the old list's last
// frame meets one of them again, of the same number, while the frames
// before it moved: a list that outlived the cut would pass its check and
// point at the wrong offsets.
func TestTailIndexKeptByOpenOutlivesNoTruncateBack(t *testing.T) {
	dir := t.TempDir()
	o := Options{Durability: Immediate, SegmentSize: 64 << 20, Logger: crashQuiet}
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	l.tailEvery = 4 << 10
	put := func(l *Log, i, size int) {
		t.Helper()
		if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "k%03d", i), Value: make([]byte, size)}}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		put(l, i, 100)
	}
	killed := killedCopy(t, dir)
	l.Close()
	listed, _ := segment.ReadTailIndex(vfs.Default(), tailName(killed, 1), 1, 64<<20, nil)
	if n := len(listed); n == 0 || listed[n-1].Last < 60 {
		t.Fatalf("setup: the tail index lists %d frames, not past 60", n)
	}
	l2, err := Open(killed, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if !l2.staleTail {
		t.Fatal("setup: Open kept no tail index")
	}
	l2.tailEvery = 64 << 20                     // this session writes none of its own
	if err := l2.TruncateBack(48); err != nil { // 49 on go
		t.Fatal(err)
	}
	for i := 49; i < 100; i++ {
		size := 100
		switch i {
		case 49:
			size = 120
		case 50:
			size = 80 // from 51 on, the old offsets again
		}
		put(l2, i, size)
	}
	l3, err := Open(killedCopy(t, killed), o)
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	for i := uint64(45); i < 100; i++ {
		e, err := l3.Get(i)
		if err != nil || string(e.Key) != fmt.Sprintf("k%03d", i) {
			t.Fatalf("Get(%d) = %q, %v", i, e.Key, err)
		}
	}
}

// TestCrashWithTailIndexKeepsEveryAcknowledgedBatch: power cuts at random
// points of a log whose tail index is written every few KiB (any subset of
// its unsynced chunks surviving, torn at sector boundaries) open with
// every acknowledged batch and nothing else.
func TestCrashWithTailIndexKeepsEveryAcknowledgedBatch(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		fs := crashFS(t)
		l := crashOpen(t, fs, Immediate)
		l.tailEvery = 2 << 10
		r := rand.New(rand.NewPCG(seed, 3))
		acked := uint64(0)
		n := 20 + r.IntN(200)
		var crashed *vfstest.FS
		crashAt := r.IntN(n)
		for i := range n {
			first, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "k%d", i), Value: make([]byte, r.IntN(200))}}})
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			acked = first + 1
			if i == crashAt {
				crashed = fs.CrashClone(vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(seed, 4))})
				break
			}
		}
		l.Close()
		l2, err := Open(crashDir, Options{FS: crashed, Durability: Immediate, SegmentSize: MinSegmentSize, Logger: crashQuiet})
		if err != nil {
			t.Fatalf("seed %d: Open after the crash: %v", seed, err)
		}
		seqs, err := crashSeqs(t, l2)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if uint64(len(seqs)) != acked {
			t.Fatalf("seed %d: %d entries after the crash, %d acknowledged", seed, len(seqs), acked)
		}
		l2.Close()
	}
}

// TestCompactionStateIsCheckpointedWithinASegment: a log with compaction
// on checkpoints its compaction state every cptEvery entries, not only
// when a segment is sealed, so Open after a crash replays fewer entries
// than that (plus those appended before a sync made them durable) even
// within one huge segment; it forces no sync of its own.
func TestCompactionStateIsCheckpointedWithinASegment(t *testing.T) {
	const n = cptEvery + cptEvery/2
	dir, l := logOfSingles(t, n)
	if len(l.segs) != 1 {
		t.Fatalf("%d segments; the test needs one", len(l.segs))
	}
	if _, err := compactor.ReadCheckpoint(vfs.Default(), dir); err == nil {
		t.Fatal("a checkpoint was written before a sync made its entries durable")
	}
	cs, err := syncForCheckpoint(t, l, dir)
	if err != nil {
		t.Fatalf("no checkpoint after %d entries in one segment: %v", n, err)
	}
	if got := cs.Through(); got < cptEvery || got > n {
		t.Fatalf("checkpoint through %d after %d entries; want at least %d", got, n, cptEvery)
	}
}

// TestStaleTailIndexIsNotTrusted: a tail index that outlived a
// TruncateBack (its removal lost, as a power cut may lose it) lists
// frames the segment no longer holds where it lists them; Open proves its
// last frame against the segment, finds it wrong, and scans instead.
func TestStaleTailIndexIsNotTrusted(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Immediate, SegmentSize: 64 << 20, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.tailEvery = 4 << 10
	appendSingles(t, l, 200, 100, "a")
	stale, err := os.ReadFile(tailName(dir, 1))
	if err != nil {
		t.Fatalf("no tail index to make stale: %v", err)
	}
	if err := l.TruncateBack(49); err != nil {
		t.Fatal(err)
	}
	appendAfterCut(t, l)
	killed := killedCopy(t, dir)
	if err := os.WriteFile(tailName(killed, 1), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	checkAfterCut(t, killed)
}

// TestTailIndexKeepsUpWithConcurrentCommits: under Immediate, with
// writers appending while each group commit's fdatasync runs, every chunk
// lists only what its sync made durable, so each one is sound and Open
// after a kill still reads little more than the last MiB.
func TestTailIndexKeepsUpWithConcurrentCommits(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Immediate, SegmentSize: 64 << 20, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const writers, each = 4, 800
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			v := make([]byte, 2000)
			r := rand.New(rand.NewPCG(uint64(w), 5))
			for i := range each {
				for j := range v {
					v[j] = byte(r.Uint32())
				}
				if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "w%d-%d", w, i), Value: v}}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	killed := killedCopy(t, dir)
	fi, err := os.Stat(segName(killed, 1))
	if err != nil {
		t.Fatal(err)
	}
	zeros := fi.Size() - l.active.Offset()
	var read atomic.Int64
	l2, err := Open(killed, Options{Durability: Immediate, FS: readCountFS{FS: vfs.Default(), read: &read, exts: []string{segSuffix}}, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if r := read.Load(); r > zeros+2*defaultTailEvery {
		t.Errorf("Open read %d bytes of a %d-byte segment (%d of them zeros grown ahead); want at most the zeros and 2 MiB", r, l.active.Offset(), zeros)
	}
	countEntries(t, l2, writers*each)
}

// TestCompactionCheckpointCoversWhatASyncMadeDurable: the checkpoint
// written after a sync is as of that sync, not of the entry that crossed
// cptEvery long before it, so that under Eventual (one sync per flush
// interval) Open after a crash replays only what the last sync did not
// cover rather than up to a flush interval's worth more.
func TestCompactionCheckpointCoversWhatASyncMadeDurable(t *testing.T) {
	const n = cptEvery + cptEvery/2
	dir, l := logOfSingles(t, n)
	cs, err := syncForCheckpoint(t, l, dir)
	if err != nil {
		t.Fatalf("no checkpoint after a sync of %d entries: %v", n, err)
	}
	if got := cs.Through(); got != n {
		t.Fatalf("checkpoint through %d; the sync made the log durable through %d", got, n)
	}
}

// logOfSingles opens an Eventual, Inline log with compaction on in a new
// directory and appends n single-record batches to one segment; the log
// is closed when the test ends.
func logOfSingles(t *testing.T, n int) (string, *Log) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Eventual, SegmentSize: 64 << 20, CompactionThreshold: 1 << 30, Inline: true, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i := range n {
		if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "route-%d", i%50), Value: []byte("e")}}}); err != nil {
			t.Fatal(err)
		}
	}
	return dir, l
}

// TestCrashDuringTheSyncACheckpointWaitsForLeavesNoCheckpointAhead: the
// compaction state taken as a sync starts is written only once that sync
// has completed, so a power cut while it is in flight finds no checkpoint
// covering the entries the cut loses (Open would count them as given out,
// and the log would skip their numbers).
func TestCrashDuringTheSyncACheckpointWaitsForLeavesNoCheckpointAhead(t *testing.T) {
	fs := crashFS(t)
	l, err := Open(crashDir, Options{FS: fs, Durability: Eventual, SegmentSize: 64 << 20, CompactionThreshold: 1 << 30, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cptEvery + 10 {
		if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "route-%d", i%50), Value: []byte("e")}}}); err != nil {
			t.Fatal(err)
		}
	}
	var state *vfstest.FS
	var once sync.Once
	fs.DuringSync(func(name string) {
		if filepath.Ext(name) != ".seg" {
			return
		}
		once.Do(func() {
			// Time for a background worker that wrongly took the
			// checkpoint before the sync completed to write it.
			for range 300 {
				if _, err := fs.Stat(filepath.Join(crashDir, compactor.CheckpointName)); err == nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
			state = fs.CrashClone(vfstest.CrashOptions{})
		})
	})
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	fs.DuringSync(nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if state == nil {
		t.Fatal("no sync of the segment was seen")
	}
	l2, err := Open(crashDir, Options{FS: state, CompactionThreshold: 1 << 30, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	var n uint64
	for _, err := range l2.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if l2.NextSeq() != n {
		t.Fatalf("after a power cut during the sync: %d entries survive but NextSeq is %d: a checkpoint covered entries the cut lost", n, l2.NextSeq())
	}
}

// TestOpenAfterAKillWithCompactionReadsTheTailOnce: Open after a kill of a
// log with compaction on feeds the compaction state the frames its scan of
// the newest segment reads, rather than reading them again for the replay
// after the checkpoint, and the state it builds so is the one a replay of
// the whole log builds. Where the checkpoint is older than the frames the
// tail index lists, the state must see those first: the scan feeds
// nothing and the replay reads them all, in order.
func TestOpenAfterAKillWithCompactionReadsTheTailOnce(t *testing.T) {
	for _, c := range []struct {
		name      string
		synced    int  // single-record batches synced after the checkpoint's (no new checkpoint)
		readsOnce bool // the checkpoint covers what the tail index lists
	}{
		{"checkpoint covers the tail index", 0, true},
		{"checkpoint older than the tail index", 20000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Durability: Eventual, SegmentSize: 64 << 20, CompactionThreshold: 1 << 30, Inline: true, Logger: crashQuiet}
			l, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			put := func(n int, tag string) {
				for i := range n {
					rec := Record{Key: fmt.Appendf(nil, "route-%d", i%50), Value: fmt.Appendf(nil, "%s-%d", tag, i), Tombstone: i%97 == 0}
					if _, err := l.Append(Batch{Records: []Record{rec}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			put(cptEvery+100, "a")
			if err := l.Sync(); err != nil { // takes a checkpoint, written by the next append (Inline)
				t.Fatal(err)
			}
			if c.synced > 0 {
				put(c.synced, "s")
				if err := l.Sync(); err != nil { // listed by the tail index, not checkpointed
					t.Fatal(err)
				}
			}
			put(30000, "b") // never synced: no index covers it
			if cs, err := compactor.ReadCheckpoint(vfs.Default(), dir); err != nil || cs.Through() != cptEvery+100 {
				t.Fatalf("checkpoint: %v; want one through %d", err, cptEvery+100)
			}
			next, segSize := l.NextSeq(), l.active.Offset()
			killed := killedCopy(t, dir)
			fi, err := os.Stat(segName(killed, 1))
			if err != nil {
				t.Fatal(err)
			}
			listed, tailEnd := segment.ReadTailIndex(vfs.Default(), tailName(killed, 1), 1, fi.Size(), nil)
			if n := len(listed); n == 0 || (listed[n-1].Last >= cptEvery+100) == c.readsOnce {
				t.Fatalf("the tail index lists %d frames; the case needs its last one on the other side of the checkpoint", n)
			}
			unlisted := segSize - tailEnd

			var read atomic.Int64
			o := opts
			o.FS = readCountFS{FS: vfs.Default(), read: &read, exts: []string{segSuffix}}
			l2, err := Open(killed, o)
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			// The scan reads the unlisted frames and the zeros after
			// them, in chunks of at most 256 KiB; recovery reads what no
			// sync confirmed (here the same frames) to write it again
			// (segment.Recover). A replay reading them a third time fails
			// this.
			if r, want := read.Load(), 2*unlisted+(fi.Size()-segSize)+256<<10; c.readsOnce && r > want {
				t.Errorf("Open read %d bytes of the segment; want at most %d: the %d bytes no index lists twice, and the zeros after", r, want, unlisted)
			}
			countEntries(t, l2, next)
			if l2.cptThrough != cptEvery+100 {
				t.Errorf("the log takes the checkpoint file to cover %d; it covers %d", l2.cptThrough, cptEvery+100)
			}

			// The same state as a replay of every segment from no
			// checkpoint.
			rebuilt := killedCopy(t, killed)
			if err := os.Remove(filepath.Join(rebuilt, compactor.CheckpointName)); err != nil {
				t.Fatal(err)
			}
			l3, err := Open(rebuilt, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l3.Close()
			if got, want := compactor.EncodeCheckpoint(l2.cs), compactor.EncodeCheckpoint(l3.cs); !bytes.Equal(got, want) {
				t.Errorf("the compaction state Open built from the checkpoint and the scan differs from a replay of the whole log")
			}
		})
	}
}

// appendAfterCut appends the 150 batches the tests of a TruncateBack(49)
// write after the cut, of other sizes than those before it (so that an
// old list's offsets no longer meet frames).
func appendAfterCut(t *testing.T, l *Log) {
	t.Helper()
	for i := range 150 {
		if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "b-%d", i), Value: make([]byte, 30+i%7)}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkAfterCut opens the killed copy dir and checks it holds the 50
// records kept by the cut, then appendAfterCut's 150.
func checkAfterCut(t *testing.T, dir string) {
	t.Helper()
	l, err := Open(dir, Options{Durability: Immediate, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	countEntries(t, l, 200)
	for e, err := range l.Entries(50) {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("b-%d", e.Seq-50); string(e.Key) != want {
			t.Fatalf("entry %d is %q, want %q", e.Seq, e.Key, want)
		}
	}
}

// syncForCheckpoint syncs the Inline log l in dir, which makes a pending
// checkpoint due, appends one record (under Inline the append writes it),
// and reads the checkpoint on disk.
func syncForCheckpoint(t *testing.T, l *Log, dir string) (*compactor.State, error) {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Batch{Records: []Record{{Key: []byte("route-0"), Value: []byte("e")}}}); err != nil {
		t.Fatal(err)
	}
	return compactor.ReadCheckpoint(vfs.Default(), dir)
}
