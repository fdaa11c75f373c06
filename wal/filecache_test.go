package wal

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/seglog/journal/vfs"
)

// countFS counts the segment files open through it at once (by handle: a
// handle is open from a successful Create or Open until its first Close),
// and the most at any moment. Its files map (for reading and writing)
// where the files under them do.
type countFS struct {
	segFilesFS
	open, peak atomic.Int64
}

func newCountFS(base vfs.FS) *countFS {
	c := &countFS{}
	c.segFilesFS = segFilesFS{FS: base, wrap: c.track}
	return c
}

func (c *countFS) track(_ string, f vfs.File) vfs.File {
	n := c.open.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	return &countFile{File: f, fs: c}
}

type countFile struct {
	vfs.File
	fs     *countFS
	closed atomic.Bool
}

func (f *countFile) Close() error {
	if !f.closed.Swap(true) {
		f.fs.open.Add(-1)
	}
	return f.File.Close()
}

var errNoMap = errors.New("not mapped")

func (f *countFile) Map(n int64) ([]byte, error) {
	if m, ok := f.File.(vfs.Mapper); ok {
		return m.Map(n)
	}
	return nil, errNoMap
}

func (f *countFile) MapRead(n int64) ([]byte, error) {
	if m, ok := f.File.(vfs.ReadMapper); ok {
		return m.MapRead(n)
	}
	return nil, errNoMap
}

func (f *countFile) Unmap(m []byte) error {
	if u, ok := f.File.(vfs.ReadMapper); ok {
		return u.Unmap(m)
	}
	return errNoMap
}

// fileCacheFSes are the file systems the bound is checked on: the memory
// one (no mappings) and the operating system's (mapped reads), where a
// tenth of the records (each rotation syncs) still makes dozens of
// segments.
func fileCacheFSes(t *testing.T) map[string]func() (vfs.FS, string, int) {
	return map[string]func() (vfs.FS, string, int){
		"memory": func() (vfs.FS, string, int) { return crashFS(t), crashDir, 10 },
		"os":     func() (vfs.FS, string, int) { return vfs.Default(), t.TempDir(), 1 },
	}
}

// forEachCountedFS runs test on each of fileCacheFSes, with opts (of 4 KiB
// segments, uncompressed, at most bound files open) on a countFS.
func forEachCountedFS(t *testing.T, bound int, opts Options, test func(t *testing.T, opts Options, cfs *countFS, dir string, scale int)) {
	for name, mk := range fileCacheFSes(t) {
		t.Run(name, func(t *testing.T) {
			base, dir, scale := mk()
			cfs := newCountFS(base)
			opts.FS, opts.SegmentSize, opts.Compression, opts.MaxOpenSegments, opts.Logger = cfs, MinSegmentSize, CompressionNone, bound, crashQuiet
			test(t, opts, cfs, dir, scale)
		})
	}
}

// cacheValue is record seq's value in these tests (about 200 bytes: a
// 4 KiB segment holds some 16 of them).
func cacheValue(seq uint64) string {
	return fmt.Sprintf("v%d-%s", seq, strings.Repeat("x", 190+int(seq%13)))
}

// TestOpenSegmentsStayWithinBound writes, reads (Get in random order, full
// scans, iterations held open across others), truncates, reopens and
// compacts logs of up to 300 segments with MaxOpenSegments 8: no more than
// 8 segment files are ever open at once, and every read is right.
func TestOpenSegmentsStayWithinBound(t *testing.T) {
	const bound = 8
	forEachCountedFS(t, bound, Options{}, func(t *testing.T, opts Options, cfs *countFS, dir string, scale int) {
		l, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		model := map[uint64]string{}
		add := func(n int) {
			for range n {
				seq := l.NextSeq()
				v := cacheValue(seq)
				if err := l.AppendAt(seq, Batch{Records: []Record{{Value: []byte(v)}}}); err != nil {
					t.Fatal(err)
				}
				model[seq] = v
			}
		}
		check := func(when string) {
			t.Helper()
			if err := checkAgainst(l, model, l.NextSeq()); err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			rng := rand.New(rand.NewPCG(uint64(len(model)), 9))
			for seq := range maps.Keys(model) { // random order
				if rng.IntN(2) == 0 {
					continue
				}
				if e, err := l.Get(seq); err != nil || string(e.Value) != model[seq] {
					t.Fatalf("%s: Get(%d) = %.20q, %v", when, seq, e.Value, err)
				}
			}
			if p := cfs.peak.Load(); p > bound {
				t.Fatalf("%s: %d segment files open at once, bound %d", when, p, bound)
			}
		}
		l.AppendAt(1, Batch{Records: []Record{{Value: []byte(cacheValue(1))}}})
		model[1] = cacheValue(1)
		add(500 * scale)
		if n := len(l.segs); n < 25*scale {
			t.Fatalf("%d segments, want many more than %d", n, bound)
		}
		check("after writing")

		// Iterations in flight each hold one file: one held while
		// everything else is read keeps the bound (minus one for it).
		next, stop := iter.Pull2(l.Entries(0))
		if _, err, ok := next(); !ok || err != nil {
			t.Fatal(err)
		}
		check("with an iteration held")
		stop()

		first := l.FirstSeq()
		front := first + 100*uint64(scale)
		if err := l.TruncateFront(front); err != nil {
			t.Fatal(err)
		}
		if err := l.TruncateBack(l.LastSeq() - 70*uint64(scale)); err != nil {
			t.Fatal(err)
		}
		for s := range model {
			if s < front || s >= l.NextSeq() {
				delete(model, s)
			}
		}
		add(30 * scale)
		check("after truncating and appending")

		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if n := cfs.open.Load(); n != 0 {
			t.Fatalf("%d segment files open after Close", n)
		}
		if l, err = Open(dir, opts); err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		check("after reopening")
		add(20 * scale)
		check("after appending to the reopened log")
	})
}

// TestCompactionWithinBound compacts a log of up to 300 segments whose
// records are mostly removed, with MaxOpenSegments 8, while readers read
// it. With readers calling Get (each holding one file while it reads) no
// more than 8 segment files are ever open at once. Full scans running
// meanwhile keep the files rewritten under them open until they end, and
// no longer. Every read is right.
func TestCompactionWithinBound(t *testing.T) {
	const bound = 8
	forEachCountedFS(t, bound, Options{CompactionThreshold: 1 << 40}, func(t *testing.T, opts Options, cfs *countFS, dir string, scale int) {
		l, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		live := map[uint64]string{} // seq -> value of records never removed
		write := func(round int) {
			for i := range 250 * scale {
				k := fmt.Sprint("k", i%50)
				if i%100 < 50 {
					k = fmt.Sprint("keep", round, "-", i) // never removed
				}
				seq := l.NextSeq()
				v := cacheValue(seq)
				if _, err := l.Append(Batch{Records: []Record{{Key: []byte(k), Value: []byte(v)}}}); err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(k, "keep") {
					live[seq] = v
				}
				if i%250 == 249 {
					for j := range 50 {
						if _, err := l.Append(Batch{Records: []Record{{Key: []byte(fmt.Sprint("k", j)), Tombstone: true}}}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
		compactWhileReading := func(scans bool) {
			t.Helper()
			stop := startReaders(l, live, 3, scans)
			if err := l.Compact(); err != nil {
				t.Fatal(err)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkLive(t, l, live)
		}
		write(0)
		compactWhileReading(false)
		if p := cfs.peak.Load(); p > bound {
			t.Fatalf("%d segment files open at once, bound %d", p, bound)
		}
		write(1)
		compactWhileReading(true)
		if n := cfs.open.Load(); n > bound {
			t.Fatalf("%d segment files open once the scans ended, bound %d", n, bound)
		}
	})
}

// checkLive reads l whole: every record of live is there as it says; the
// others are records of the keys compaction removes (k...).
func checkLive(t *testing.T, l *Log, live map[uint64]string) {
	t.Helper()
	got := 0
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := live[e.Seq]; ok {
			if string(e.Value) != v {
				t.Fatalf("entry %d holds %.20q, want %.20q", e.Seq, e.Value, v)
			}
			got++
		} else if !strings.HasPrefix(string(e.Key), "k") {
			t.Fatalf("unexpected entry %d %q", e.Seq, e.Key)
		}
	}
	if got != len(live) {
		t.Fatalf("read %d records never removed, want %d", got, len(live))
	}
}

// startReaders starts n goroutines reading l until the returned stop is
// called: Get of random records of want, and with scans, full scans by one
// of them. Records not in want may be read or not; those in want must read
// back as want says. stop returns the first wrong read.
func startReaders(l *Log, want map[uint64]string, n int, scans bool) (stop func() error) {
	seqs := make([]uint64, 0, len(want))
	for s := range want {
		seqs = append(seqs, s)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	report := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	for r := range n {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 5))
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if scans && r == 0 {
					for e, err := range l.Entries(0) {
						if err != nil {
							report(fmt.Errorf("scan: %w", err))
							return
						}
						if v, ok := want[e.Seq]; ok && string(e.Value) != v {
							report(fmt.Errorf("scan: entry %d holds %.20q, want %.20q", e.Seq, e.Value, v))
							return
						}
					}
					continue
				}
				s := seqs[rng.IntN(len(seqs))]
				e, err := l.Get(s)
				if err != nil || string(e.Value) != want[s] {
					report(fmt.Errorf("Get(%d) = %.20q, %v; want %.20q", s, e.Value, err, want[s]))
					return
				}
			}
		})
	}
	return func() error {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return first
	}
}

// TestTruncationRacesEvictions truncates both ends of a log of many
// segments, with at most 2 files open, while readers read it by Get, by
// full scans and by iterations paused across truncations, and appends
// refill it: files are evicted, reopened and retired under the readers.
// Every entry read is right; the only error is ErrNotFound, for records
// truncated while being read.
func TestTruncationRacesEvictions(t *testing.T) {
	forEachCountedFS(t, minOpenSegments, Options{}, func(t *testing.T, opts Options, cfs *countFS, dir string, scale int) {
		l, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		add := func(n int) {
			for range n {
				seq := l.NextSeq()
				if err := l.AppendAt(seq, Batch{Records: []Record{{Value: []byte(cacheValue(seq))}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		l.AppendAt(1, Batch{Records: []Record{{Value: []byte(cacheValue(1))}}})
		add(100 * scale)
		right := func(e Entry, err error) error {
			if err != nil {
				if errors.Is(err, ErrNotFound) {
					return nil
				}
				return err
			}
			if string(e.Value) != cacheValue(e.Seq) {
				return fmt.Errorf("entry %d holds %.20q", e.Seq, e.Value)
			}
			return nil
		}
		done := make(chan struct{})
		errs := make(chan error, 3)
		reader := func(r int) {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			var next func() (Entry, error, bool)
			var stop func()
			defer func() {
				if stop != nil {
					stop()
				}
			}()
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				switch {
				case r == 0: // iterations paused between steps
					if next == nil {
						next, stop = iter.Pull2(l.Entries(0))
					}
					e, err, ok := next()
					if !ok || err != nil {
						stop()
						next, stop = nil, nil
					}
					if ok {
						if err := right(e, err); err != nil {
							errs <- fmt.Errorf("paused iteration: %w", err)
							return
						}
					}
				case r == 1 && rng.IntN(20) == 0: // full scans
					for e, err := range l.Entries(0) {
						if err := right(e, err); err != nil {
							errs <- fmt.Errorf("scan: %w", err)
							return
						}
					}
				default:
					first, last := l.FirstSeq(), l.LastSeq()
					if last < first {
						continue
					}
					s := first + rng.Uint64N(last-first+1)
					if err := right(l.Get(s)); err != nil {
						errs <- fmt.Errorf("Get(%d): %w", s, err)
						return
					}
				}
			}
		}
		for r := range 3 {
			go reader(r)
		}
		rng := rand.New(rand.NewPCG(3, 3))
		for range 20 {
			first, last := l.FirstSeq(), l.LastSeq()
			if err := l.TruncateFront(first + rng.Uint64N(10*uint64(scale))); err != nil {
				t.Fatal(err)
			}
			if err := l.TruncateBack(last - rng.Uint64N(10*uint64(scale))); err != nil {
				t.Fatal(err)
			}
			add(15 * scale)
		}
		close(done)
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		model := map[uint64]string{}
		for s := l.FirstSeq(); s < l.NextSeq(); s++ {
			model[s] = cacheValue(s)
		}
		if err := checkAgainst(l, model, l.NextSeq()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEvictionWaitsForMappedGet holds a Get between taking a sealed
// segment's mapping and reading it while other Gets, with at most 2 files
// open, open every other segment: the held one is neither unmapped nor
// closed under it (its entry reads back whole), its mapping is released
// once it ends and the cache evicts it, and no more mappings stay than
// files may be open.
func TestEvictionWaitsForMappedGet(t *testing.T) {
	requireMaps(t)
	inGet, release := make(chan struct{}), make(chan struct{})
	var holding atomic.Bool
	opts := Options{Durability: Eventual, SegmentSize: MinSegmentSize, Compression: CompressionNone, MaxOpenSegments: minOpenSegments, Logger: crashQuiet}
	opts.duringMappedGet = func() {
		if holding.CompareAndSwap(false, true) { // the first Get only; the others pass
			close(inGet)
			<-release
		}
	}
	dir := t.TempDir()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for seq := uint64(1); seq <= 400; seq++ {
		if err := l.AppendAt(seq, Batch{Records: []Record{{Value: mappedValue(seq)}}}); err != nil {
			t.Fatal(err)
		}
	}
	const held = 3 // in the first segment
	gets := make(chan error, 1)
	go func() {
		e, err := l.Get(held)
		if err == nil && !bytes.Equal(e.Value, mappedValue(held)) {
			err = fmt.Errorf("value changed under the read")
		}
		gets <- err
	}()
	<-inGet
	segMapped := func() bool {
		for _, ln := range mapsOf(t, dir) {
			if strings.Contains(ln, "00000000000000000001.seg") {
				return true
			}
		}
		return false
	}
	for seq := uint64(400); seq > 20; seq -= 7 { // every other segment, newest first
		if e, err := l.Get(seq); err != nil || !bytes.Equal(e.Value, mappedValue(seq)) {
			t.Fatalf("Get(%d): %v", seq, err)
		}
	}
	if !segMapped() {
		t.Fatal("the segment a Get is reading was unmapped under it")
	}
	close(release)
	if err := <-gets; err != nil {
		t.Fatalf("the held Get: %v", err)
	}
	if _, err := l.Get(200); err != nil { // another sealed segment: evicts the first now
		t.Fatal(err)
	}
	if segMapped() {
		t.Fatal("segment 1 still mapped after its Get ended and other segments were read")
	}
	if n := len(mapsOf(t, dir)); n > minOpenSegments {
		t.Fatalf("%d mappings of the log's files, at most %d files open", n, minOpenSegments)
	}
}
