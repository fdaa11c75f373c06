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
// Open reads of each sealed segment's index file its header alone; the
// frame list is read the first time a read needs that segment, and only
// then, and every entry reads back as written.
func TestOpenReadsASealedIndexListOnlyWhenItsSegmentIsRead(t *testing.T) {
	dir := t.TempDir()
	writeSegments(t, dir, 600)
	idxs, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
	if len(idxs) < 3 {
		t.Fatalf("setup: %d index files, want 3 or more", len(idxs))
	}
	var read atomic.Int64
	l, err := Open(dir, Options{SegmentSize: MinSegmentSize, Logger: crashQuiet, FS: readCountFS{FS: vfs.Default(), read: &read, exts: []string{idxSuffix}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The newest segment's index (of the Close) is read whole: it becomes
	// the one appended to.
	fi, err := os.Stat(idxs[len(idxs)-1])
	if err != nil {
		t.Fatal(err)
	}
	headers := int64(len(idxs)-1) * segment.IndexHeaderSize
	if got, max := read.Load(), headers+fi.Size(); got > max {
		t.Fatalf("Open read %d bytes of index files; want at most %d (%d sealed headers and the newest index)", got, max, len(idxs)-1)
	}
	atOpen := read.Load()
	if _, err := l.Get(l.NextSeq() - 1); err != nil {
		t.Fatal(err)
	}
	if read.Load() != atOpen {
		t.Fatalf("a Get in the newest segment read %d bytes of sealed index files", read.Load()-atOpen)
	}
	first, err := os.Stat(idxs[0])
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if e, err := l.Get(0); err != nil || e.Seq != 0 {
			t.Fatalf("Get(0) = %d, %v", e.Seq, err)
		}
	}
	if got := read.Load() - atOpen; got != first.Size() {
		t.Fatalf("two Gets in the first segment read %d bytes of index files; want its index once, %d bytes", got, first.Size())
	}
	n := uint64(0)
	for e, err := range l.Entries(0) {
		if err != nil || e.Seq != n {
			t.Fatalf("entry %d: seq %d, %v", n, e.Seq, err)
		}
		n++
	}
	if n != 600 {
		t.Fatalf("%d entries read back, want 600", n)
	}
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
	flip := func(name string, off func(size int) int) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b[off(len(b))] ^= 0x40
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flip(idxs[0], func(n int) int { return n - 8 })     // in the frame list
	flip(segs[0], func(n int) int { return n * 2 / 3 }) // in a frame
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
