package wal

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/vfs"
)

// mappedValue is the value of record seq in these tests: its length and
// bytes vary with seq, compressible or not.
func mappedValue(seq uint64) []byte {
	rng := rand.New(rand.NewPCG(seq, 3))
	v := make([]byte, 20+rng.IntN(300))
	if seq%2 == 0 {
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
	} else {
		copy(v, bytes.Repeat(fmt.Appendf(nil, "seq-%d-", seq), len(v)))
	}
	return v
}

// requireMaps skips t where the operating system's file system maps no
// files (Windows, 32-bit builds): reads there go through pread, and what
// t proves about mappings does not apply.
func requireMaps(t *testing.T) {
	t.Helper()
	f, err := vfs.Default().Create(t.TempDir() + "/probe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4 << 10); err != nil {
		t.Fatal(err)
	}
	rm, ok := f.(vfs.ReadMapper)
	if !ok {
		t.Skip("files are not mapped on this platform")
	}
	m, err := rm.MapRead(4 << 10)
	if err != nil {
		t.Skipf("files are not mapped on this platform: %v", err)
	}
	rm.Unmap(m)
}

// TestGetReadsThroughMappings: on the operating system's file system Get
// reads sealed segments and the active one through memory mappings; every
// record of every segment, compressed or not, reads back exactly, before
// and after a reopen.
func TestGetReadsThroughMappings(t *testing.T) {
	requireMaps(t)
	for _, c := range []Compression{CompressionNone, CompressionS2} {
		t.Run(c.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Durability: Eventual, SegmentSize: 32 << 10, Compression: c, Logger: crashQuiet}
			l, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			seq := uint64(1)
			for b := range 600 {
				var recs []Record
				for range 1 + b%9 {
					recs = append(recs, Record{Value: mappedValue(seq + uint64(len(recs)))})
				}
				if err := l.AppendAt(seq, Batch{Records: recs}); err != nil {
					t.Fatal(err)
				}
				seq += uint64(len(recs))
			}
			check := func(when string) {
				t.Helper()
				mapped := 0
				for _, sg := range l.segs {
					if sg.ref.rm != nil {
						mapped++
					}
				}
				for s := uint64(1); s < seq; s++ {
					e, err := l.Get(s)
					if err != nil || !bytes.Equal(e.Value, mappedValue(s)) {
						t.Fatalf("%s: Get(%d) = %d bytes, %v; want its %d bytes", when, s, len(e.Value), err, len(mappedValue(s)))
					}
				}
				if when == "after reopen" && mapped != 0 {
					t.Fatalf("segments mapped before any Get: %d", mapped)
				}
			}
			if len(l.segs) < 4 {
				t.Fatalf("setup: %d segments, want several", len(l.segs))
			}
			check("while open")
			mapped := 0
			for _, sg := range l.segs[:len(l.segs)-1] {
				if sg.ref.rm != nil {
					mapped++
				}
			}
			if mapped != len(l.segs)-1 {
				t.Fatalf("%d of %d sealed segments mapped after reading them all; want all", mapped, len(l.segs)-1)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if l, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			check("after reopen")
		})
	}
}

// TestGetDuringCutsRotationsAndCloseOnDisk runs Gets in goroutines while
// the log rotates, is cut at both ends and is finally closed, on the
// operating system's file system where Gets read through mappings: every
// Get returns the record's value or ErrNotFound (or ErrClosed at the end),
// and nothing faults.
func TestGetDuringCutsRotationsAndCloseOnDisk(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Eventual, SegmentSize: 32 << 10, Compression: CompressionNone, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	// values[s] is what record s holds; a TruncateBack followed by new
	// appends gives s another value, so readers accept either generation.
	var mu sync.Mutex
	gens := map[uint64][][]byte{}
	next := uint64(1)
	appendN := func(n int, gen int) {
		var recs []Record
		for i := range n {
			v := append(mappedValue(next+uint64(i)), byte(gen))
			recs = append(recs, Record{Value: v})
		}
		mu.Lock()
		for i, r := range recs {
			gens[next+uint64(i)] = append(gens[next+uint64(i)], r.Value)
		}
		mu.Unlock()
		if err := l.AppendAt(next, Batch{Records: recs}); err != nil {
			t.Error(err)
		}
		next += uint64(n)
	}
	for range 200 {
		appendN(8, 0)
	}
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := 1 + rng.Uint64N(3000)
				e, err := l.Get(s)
				switch {
				case errors.Is(err, ErrNotFound), errors.Is(err, ErrClosed):
				case err != nil:
					errs <- fmt.Errorf("Get(%d): %v", s, err)
					return
				default:
					mu.Lock()
					ok := false
					for _, v := range gens[s] {
						ok = ok || bytes.Equal(v, e.Value)
					}
					mu.Unlock()
					if !ok {
						errs <- fmt.Errorf("Get(%d) returned a value never stored there", s)
						return
					}
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 60 {
		switch rng.IntN(3) {
		case 0:
			first, last := l.FirstSeq(), l.LastSeq()
			if last > first+100 {
				keep := first + 50 + rng.Uint64N(last-first-50)
				if err := l.TruncateBack(keep); err != nil {
					t.Fatal(err)
				}
				next = keep + 1
			}
		case 1:
			if first := l.FirstSeq(); first > 0 && rng.IntN(3) == 0 {
				if err := l.TruncateFront(first + 20); err != nil {
					t.Fatal(err)
				}
			}
		}
		for range 10 {
			appendN(1+rng.IntN(12), i+1)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// TestGetMappedFaultIsAnError touches a mapped page past the end of a
// file cut under the mapping, the fault a device read error also raises:
// the read returns an error instead of crashing the process.
func TestGetMappedFaultIsAnError(t *testing.T) {
	requireMaps(t)
	name := t.TempDir() + "/f"
	fsys := vfs.Default()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 64<<10), 0); err != nil {
		t.Fatal(err)
	}
	rm := f.(vfs.ReadMapper) // requireMaps saw it is one
	m, err := rm.MapRead(64 << 10)
	if err != nil {
		t.Skipf("no read mapping here: %v", err)
	}
	defer rm.Unmap(m)
	if err := f.Truncate(4 << 10); err != nil {
		t.Fatal(err)
	}
	_, _, err = getMapped(m, 32<<10, 0, nil, name, 1, compactor.DeadSet{})
	if err == nil || !strings.Contains(err.Error(), "faulted") {
		t.Fatalf("reading a mapped page past the file's end: %v; want an error saying it faulted", err)
	}
}

// mapsOf returns the lines of /proc/self/maps naming files in dir.
func mapsOf(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	var out []string
	for _, ln := range strings.Split(string(b), "\n") {
		if strings.Contains(ln, dir) {
			out = append(out, ln)
		}
	}
	return out
}

// TestMappingOfRetiredSegmentIsReleased: a segment mapped by a Get while a
// snapshot (Entries) still held an older copy of its description is
// unmapped once both are done with it and it is deleted, not kept (with
// its disk space) until the process exits.
func TestMappingOfRetiredSegmentIsReleased(t *testing.T) {
	requireMaps(t)
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Immediate, SegmentSize: MinSegmentSize, Compression: CompressionNone, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	add := func() {
		if _, err := l.Append(Batch{Records: []Record{{Value: make([]byte, 200)}}}); err != nil {
			t.Fatal(err)
		}
	}
	add()
	next, stop := iter.Pull2(l.Entries(0)) // holds segment 1 while it is active
	if _, err, ok := next(); !ok || err != nil {
		t.Fatalf("Entries: %v", err)
	}
	for len(l.segs) < 3 {
		add()
	}
	if _, err := l.Get(1); err != nil { // maps segment 1, sealed now
		t.Fatal(err)
	}
	if err := l.TruncateFront(l.NextSeq()); err != nil { // deletes segments 1 and 2
		t.Fatal(err)
	}
	stop()
	for _, ln := range mapsOf(t, dir) {
		if strings.Contains(ln, "00000000000000000001.seg") {
			t.Errorf("deleted segment still mapped after its last reader ended: %s", ln)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ln := range mapsOf(t, dir) {
		t.Errorf("still mapped after Close: %s", ln)
	}
}

// TestCutAndCloseWaitForMappedGets holds a Get between taking a segment's
// mapping and reading it, then runs Close, or a TruncateBack that cuts
// the segment being read. Neither may change the file or release the
// mapping under the Get: each returns only after the Get is let go, and
// the Get returns its entry.
func TestCutAndCloseWaitForMappedGets(t *testing.T) {
	requireMaps(t)
	for _, op := range []string{"Close", "TruncateBack"} {
		t.Run(op, func(t *testing.T) {
			inGet, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			opts := Options{Durability: Eventual, SegmentSize: 32 << 10, Logger: crashQuiet}
			opts.duringMappedGet = func() {
				once.Do(func() {
					close(inGet)
					<-release
				})
			}
			l, err := Open(t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			for seq := uint64(1); seq <= 400; seq++ {
				if err := l.AppendAt(seq, Batch{Records: []Record{{Value: mappedValue(seq)}}}); err != nil {
					t.Fatal(err)
				}
			}
			if len(l.segs) < 2 {
				t.Fatalf("want sealed segments, have %d segment(s)", len(l.segs))
			}
			const seq = 3 // in the first, sealed segment
			type got struct {
				e   Entry
				err error
			}
			gets := make(chan got, 1)
			go func() {
				e, err := l.Get(seq)
				gets <- got{e, err}
			}()
			<-inGet
			done := make(chan error, 1)
			go func() {
				if op == "Close" {
					done <- l.Close()
				} else {
					done <- l.TruncateBack(2)
				}
			}()
			select {
			case err := <-done:
				close(release)
				t.Fatalf("%s returned (%v) while a Get was reading a mapping of the file", op, err)
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			g := <-gets
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			if g.err != nil || !bytes.Equal(g.e.Value, mappedValue(seq)) {
				t.Fatalf("the held Get: %v (value intact %v)", g.err, bytes.Equal(g.e.Value, mappedValue(seq)))
			}
			if op != "Close" {
				l.Close()
			}
		})
	}
}
