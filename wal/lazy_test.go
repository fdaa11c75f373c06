package wal

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// TestOpenReadsASealedIndexListOnlyWhenItsSegmentIsRead: after a Close,
// Open reads of each index file its header alone (and of the newest
// segment's its last frame's entry, which the last entries read from); a
// segment's frame list is read the first time a read needs that segment
// elsewhere, and only then. Appends continue the newest segment after
// the frames it has not read, every entry reads back as written, and the
// Close after the appends indexes the newest segment whole.
func TestOpenReadsASealedIndexListOnlyWhenItsSegmentIsRead(t *testing.T) {
	dir := t.TempDir()
	writeSegments(t, dir, 600)
	idxs, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
	if len(idxs) < 3 {
		t.Fatalf("setup: %d index files, want 3 or more", len(idxs))
	}
	var read atomic.Int64
	open := func() *Log {
		t.Helper()
		l, err := Open(dir, Options{SegmentSize: MinSegmentSize, NoRepack: true, Logger: crashQuiet, FS: readCountFS{FS: vfs.Default(), read: &read, exts: []string{idxSuffix}}})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	// The headers, and the newest segment's last frame.
	if got, max := read.Load(), int64(len(idxs))*segment.IndexHeaderSize+24; got > max {
		t.Fatalf("Open read %d bytes of index files; want at most %d (%d headers and a frame's entry)", got, max, len(idxs))
	}
	newest := l.segs[len(l.segs)-1].base
	for _, c := range []struct {
		seq uint64
		idx string // the index file read once, "" for none
	}{{0, idxs[0]}, {599, ""}, {newest, idxs[len(idxs)-1]}} {
		before := read.Load()
		for range 2 {
			if e, err := l.Get(c.seq); err != nil || e.Seq != c.seq {
				t.Fatalf("Get(%d) = %d, %v", c.seq, e.Seq, err)
			}
		}
		want := int64(0)
		if c.idx != "" {
			fi, err := os.Stat(c.idx)
			if err != nil {
				t.Fatal(err)
			}
			want = fi.Size()
		}
		if got := read.Load() - before; got != want {
			t.Fatalf("two Gets of %d read %d bytes of index files; want %d (%q once)", c.seq, got, want, filepath.Base(c.idx))
		}
	}
	for i := range 50 {
		if _, err := l.Append(Batch{Records: []Record{{Key: []byte{byte(i)}, Value: make([]byte, 10)}}}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(l *Log, want uint64) {
		t.Helper()
		n := uint64(0)
		for e, err := range l.Entries(0) {
			if err != nil || e.Seq != n {
				t.Fatalf("entry %d: seq %d, %v", n, e.Seq, err)
			}
			n++
		}
		if n != want {
			t.Fatalf("%d entries read back, want %d", n, want)
		}
	}
	check(l, 650)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open()
	defer l.Close()
	check(l, 650)
}

// writeSegments appends n single-record batches of 100 bytes to a new log
// in dir, in small segments and without repacking (so that several sealed
// segments of many frames remain), and closes it.
func writeSegments(t *testing.T, dir string, n int) {
	t.Helper()
	l, err := Open(dir, Options{SegmentSize: MinSegmentSize, NoRepack: true, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(Batch{Records: []Record{{Key: []byte{byte(i)}, Value: make([]byte, 100)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSealedSegmentDamagedWithItsIndexListFailsItsReads: a sealed segment
// whose index file's list and data are both damaged (its header intact)
// is found out when it is first read, not at Open: reads of it fail with
// ErrCorrupt naming the segment, and reads of the others go on.
func TestSealedSegmentDamagedWithItsIndexListFailsItsReads(t *testing.T) {
	dir := t.TempDir()
	writeSegments(t, dir, 600)
	idxs, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	flipBits(t, idxs[0], func(n int) int { return n - 8 }, 0x40)     // in the frame list
	flipBits(t, segs[0], func(n int) int { return n * 2 / 3 }, 0x40) // in a frame
	l, err := Open(dir, Options{SegmentSize: MinSegmentSize, Logger: crashQuiet})
	if err != nil {
		t.Fatalf("Open: %v; want the damage found when the segment is read", err)
	}
	defer l.Close()
	_, err = l.Get(0)
	var ce *segment.CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.File != segs[0] {
		t.Fatalf("Get in the damaged segment: %v; want ErrCorrupt naming %s", err, segs[0])
	}
	if _, err := l.Get(l.NextSeq() - 1); err != nil {
		t.Fatalf("Get in the newest segment: %v", err)
	}
	var last error
	for _, err := range l.Entries(0) {
		last = err
	}
	if !errors.Is(last, ErrCorrupt) {
		t.Fatalf("Entries over the damaged segment ended with %v; want ErrCorrupt", last)
	}
}

// TestDamagedTipOfTheNewestIndexIsNotTrusted: the newest segment's last
// frame, read alone from its index file at Open, is checked against the
// segment; damaged (its offset off by a bit), it is not used, and the
// last entry reads back from the scan that replaces the damaged list.
func TestDamagedTipOfTheNewestIndexIsNotTrusted(t *testing.T) {
	for _, bit := range []byte{0x01, 0x08, 0x80} {
		dir := t.TempDir()
		writeSegments(t, dir, 600)
		idxs, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
		name := idxs[len(idxs)-1]
		flipBits(t, name, func(n int) int { return n - 4 - 24 }, bit) // the low byte of the last entry's offset
		l, err := Open(dir, Options{SegmentSize: MinSegmentSize, NoRepack: true, Logger: crashQuiet})
		if err != nil {
			t.Fatalf("bit %#x: Open: %v", bit, err)
		}
		if e, err := l.Get(599); err != nil || e.Seq != 599 || e.Key[0] != byte(599%256) {
			t.Fatalf("bit %#x: Get(599) = seq %d key %v, %v", bit, e.Seq, e.Key, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDamagedListOfTheNewestSegmentIsNotRewritten: the newest segment's
// index file (from the last Close) records the size it had then; once
// appended to, an index written again from it would be stale, and if a
// busy worker wrote it after the segment's seal, the next Open would
// refuse the log. A damaged list found when the newest segment is read is
// scanned around, and queued for no rewrite; its seal writes a new index.
func TestDamagedListOfTheNewestSegmentIsNotRewritten(t *testing.T) {
	dir := t.TempDir()
	writeSegments(t, dir, 600)
	idxs, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
	name := idxs[len(idxs)-1]
	flipBits(t, name, func(n int) int { return n / 2 }, 0x10) // in the frame list
	l, err := Open(dir, Options{SegmentSize: MinSegmentSize, NoRepack: true, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	newest := l.segs[len(l.segs)-1].base
	if e, err := l.Get(newest); err != nil || e.Seq != newest {
		t.Fatalf("Get(%d) = %d, %v", newest, e.Seq, err)
	}
	l.repairs.mu.Lock()
	queued := len(l.repairs.jobs)
	l.repairs.mu.Unlock()
	if queued != 0 {
		t.Fatalf("%d index rewrites queued for the newest segment; want none", queued)
	}
	for i := range 60 { // past a rotation: the newest is sealed
		if _, err := l.Append(Batch{Records: []Record{{Key: []byte{byte(i)}, Value: make([]byte, 100)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(dir, Options{SegmentSize: MinSegmentSize, NoRepack: true, Logger: crashQuiet})
	if err != nil {
		t.Fatalf("Open after the newest segment was sealed: %v", err)
	}
	defer l.Close()
	countEntries(t, l, 660)
}

// flipBits flips bits in the byte at off(size) of file name.
func flipBits(t *testing.T, name string, off func(size int) int, bits byte) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[off(len(b))] ^= bits
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
