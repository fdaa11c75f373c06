package segment

import (
	"fmt"

	"github.com/seglog/journal/vfs"
)

// IndexTail reads the frame list of an index file a chunk at a time, so
// that a reader after a segment's newest frames (a newest-first listing)
// reads a few of its entries instead of the whole file.
//
// The file's checksum covers the whole frame list, which IndexTail does
// not read: an entry is only plausible (inside the segment, holding
// entries). The caller proves each entry it uses against the segment, as
// a newest-first reader does by reading each frame with the end the next
// entry gives it (ReadFrameInto: a frame of another size is ErrCorrupt)
// and holding the newest frame's end to the sealed segment's size and the
// oldest's start to the file header. Whatever fails, the index being a
// cache, the segment can be scanned instead.
type IndexTail struct {
	f       vfs.File
	name    string
	segSize int64
	hdr     int64 // header size of the file's version
	n       int
	buf     []byte
	lo, hi  int // buf holds the entries [lo, hi)
}

// indexTailChunk is how many entries IndexTail reads at a time (6 KiB).
const indexTailChunk = 256

// OpenIndexTail opens the index file name of segment id and checks its
// header against the segment's current size, as ReadIndexFileInto does
// (without reading the frame list): st is IndexOK when the file is the
// segment's, and the IndexTail is nil otherwise. The caller closes it.
func OpenIndexTail(fs vfs.FS, name string, id uint64, segSize int64) (_ *IndexTail, st IndexStatus) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, IndexMissing
	}
	defer func() {
		if st != IndexOK {
			f.Close()
		}
	}()
	size, err := f.Size()
	if err != nil || size < indexHeaderSizeV1+4 || size > IndexHeaderSize+4+int64(MaxSegmentSize/FrameHeaderSize)*indexEntrySize {
		return nil, IndexDamaged
	}
	hb := make([]byte, min(size, IndexHeaderSize))
	if _, err := f.ReadAt(hb, 0); err != nil {
		return nil, IndexDamaged
	}
	ih, ok := ParseIndexHeader(hb)
	switch {
	case !ok || ih.ID != id:
		return nil, IndexDamaged
	case ih.SegSize != segSize:
		return nil, IndexStale
	case size != ih.headerSize()+int64(ih.Frames)*indexEntrySize+4:
		return nil, IndexDamaged
	}
	return &IndexTail{f: f, name: name, segSize: segSize, hdr: ih.headerSize(), n: int(ih.Frames)}, IndexOK
}

// Len is the number of frames the index lists.
func (t *IndexTail) Len() int { return t.n }

// Frame returns the entry of frame i (0 <= i < Len). An entry that cannot
// describe a frame of the segment, or a failed read, is an error wrapping
// ErrCorrupt naming the index file. Reading backwards from Len()-1 reads
// the file once.
func (t *IndexTail) Frame(i int) (FrameInfo, error) {
	if i < 0 || i >= t.n {
		return FrameInfo{}, Corruptf(t.name, -1, "frame %d of %d", i, t.n)
	}
	if i < t.lo || i >= t.hi {
		lo := max(0, i-indexTailChunk+1)
		hi := min(t.n, lo+indexTailChunk)
		n := (hi - lo) * indexEntrySize
		if cap(t.buf) < n {
			t.buf = make([]byte, n)
		}
		t.buf = t.buf[:n]
		off := t.hdr + int64(lo*indexEntrySize)
		if _, err := t.f.ReadAt(t.buf, off); err != nil {
			t.lo, t.hi = 0, 0
			return FrameInfo{}, Corruptf(t.name, off, "read: %v", err)
		}
		t.lo, t.hi = lo, hi
	}
	fr := parseIndexEntry(t.buf[(i-t.lo)*indexEntrySize:])
	if !fr.plausible(t.segSize) {
		return FrameInfo{}, Corruptf(t.name, t.hdr+int64(i*indexEntrySize), "entry of frame %d does not fit the segment", i)
	}
	return fr, nil
}

// Close closes the index file.
func (t *IndexTail) Close() error {
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", t.name, err)
	}
	return nil
}
