package segment

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/seglog/journal/vfs"
)

// FrameInfo locates one frame of a segment and summarizes it.
type FrameInfo struct {
	Offset uint32
	Count  uint32 // entries in the frame
	First  uint64 // first sequence number
	Last   uint64 // last sequence number
}

// An index file is written beside a sealed segment so that opening the log
// does not re-read the segment: it lists every frame of the segment.
//
//	0  magic   [8]byte "SEGIDX\x00\x01"
//	8  id      uint64  segment number
//	16 size    uint64  size of the sealed segment file
//	24 frames  uint32  number of frames
//	28 crc     uint32  CRC-32C of bytes [0,28)
//	32 frames × {offset uint32, count uint32, first uint64, last uint64}
//	end crc    uint32  CRC-32C of the frame list
//
// It is valid only for a segment whose size equals the recorded size: a
// segment appended to after sealing no longer matches, and is scanned.
const (
	indexMagic = "SEGIDX\x00\x01"
	// IndexHeaderSize is the size of an index file's header.
	IndexHeaderSize = 32
	indexEntrySize  = 24
)

// IndexHeader is what an index file's header records.
type IndexHeader struct {
	ID      uint64 // segment number
	SegSize int64  // size of the sealed segment file the index is valid for
	Frames  uint32 // number of frames listed
}

// ParseIndexHeader decodes the header at the start of an index file's
// bytes b; ok is false if b is short or the magic or checksum is wrong.
func ParseIndexHeader(b []byte) (_ IndexHeader, ok bool) {
	if len(b) < IndexHeaderSize || string(b[:8]) != indexMagic || Checksum(b[:28]) != binary.LittleEndian.Uint32(b[28:]) {
		return IndexHeader{}, false
	}
	return IndexHeader{
		ID:      binary.LittleEndian.Uint64(b[8:]),
		SegSize: int64(binary.LittleEndian.Uint64(b[16:])),
		Frames:  binary.LittleEndian.Uint32(b[24:]),
	}, true
}

// WriteIndexFile writes the index of a sealed segment durably: to a
// temporary file, synced, then renamed over name. The caller syncs the
// directory.
func WriteIndexFile(fs vfs.FS, name string, id uint64, segSize int64, frames []FrameInfo) error {
	buf := make([]byte, IndexHeaderSize+len(frames)*indexEntrySize+4)
	copy(buf, indexMagic)
	binary.LittleEndian.PutUint64(buf[8:], id)
	binary.LittleEndian.PutUint64(buf[16:], uint64(segSize))
	binary.LittleEndian.PutUint32(buf[24:], uint32(len(frames)))
	binary.LittleEndian.PutUint32(buf[28:], Checksum(buf[:28]))
	p := buf[IndexHeaderSize:]
	for _, fr := range frames {
		binary.LittleEndian.PutUint32(p[0:], fr.Offset)
		binary.LittleEndian.PutUint32(p[4:], fr.Count)
		binary.LittleEndian.PutUint64(p[8:], fr.First)
		binary.LittleEndian.PutUint64(p[16:], fr.Last)
		p = p[indexEntrySize:]
	}
	body := buf[IndexHeaderSize : len(buf)-4]
	binary.LittleEndian.PutUint32(buf[len(buf)-4:], Checksum(body))

	tmp := name + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if _, err := f.WriteAt(buf, 0); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := fs.Rename(tmp, name); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// IndexStatus is what reading an index file found.
type IndexStatus uint8

const (
	// IndexMissing: there is no index file (or it cannot be opened).
	IndexMissing IndexStatus = iota
	// IndexDamaged: the file fails its checks or names another segment;
	// being derived from the segment, it can be rebuilt by a scan.
	IndexDamaged
	// IndexStale: the file is sound and was written for this segment when
	// the segment had another size: the segment lost or gained bytes since
	// it was sealed.
	IndexStale
	// IndexOK: the frames are the segment's.
	IndexOK
)

// ReadIndexFile reads the index of segment id and checks it against the
// segment's current size. ok is false when the index is missing, damaged,
// or stale (see IndexStatus); the caller then scans the segment instead,
// so a bad index file never loses data.
func ReadIndexFile(fs vfs.FS, name string, id uint64, segSize int64) (frames []FrameInfo, ok bool) {
	frames, _, st := ReadIndexFileInto(fs, name, id, segSize, nil, nil)
	return frames, st == IndexOK
}

// ReadIndexFileInto is ReadIndexFile reusing the storage of frames and of
// buf (scratch for the file's bytes), and returning buf for the next call
// and what it found: Open reads every sealed segment's index this way.
func ReadIndexFileInto(fs vfs.FS, name string, id uint64, segSize int64, frames []FrameInfo, buf []byte) (_ []FrameInfo, _ []byte, _ IndexStatus) {
	f, err := fs.Open(name)
	if err != nil {
		return frames, buf, IndexMissing
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil || size < IndexHeaderSize+4 || size > IndexHeaderSize+4+int64(MaxSegmentSize/FrameHeaderSize)*indexEntrySize {
		return frames, buf, IndexDamaged
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := f.ReadAt(buf, 0); err != nil {
		return frames, buf, IndexDamaged
	}
	ih, ok := ParseIndexHeader(buf)
	switch {
	case !ok || ih.ID != id:
		return frames, buf, IndexDamaged
	case ih.SegSize != segSize:
		return frames, buf, IndexStale
	}
	n := int64(ih.Frames)
	if size != IndexHeaderSize+n*indexEntrySize+4 {
		return frames, buf, IndexDamaged
	}
	body := buf[IndexHeaderSize : size-4]
	if Checksum(body) != binary.LittleEndian.Uint32(buf[size-4:]) {
		return frames, buf, IndexDamaged
	}
	frames = slices.Grow(frames[:0], int(n))[:n]
	prevEnd := int64(FileHeaderSize)
	var prevLast uint64
	for i := range frames {
		fr := parseIndexEntry(body[i*indexEntrySize:])
		// Sanity: frames ascend and lie inside the segment.
		if !fr.plausible(segSize) || int64(fr.Offset) < prevEnd || (i > 0 && fr.First <= prevLast) {
			return frames, buf, IndexDamaged
		}
		prevEnd = int64(fr.Offset) + FrameHeaderSize
		prevLast = fr.Last
		frames[i] = fr
	}
	return frames, buf, IndexOK
}

// parseIndexEntry decodes one frame's entry of an index file.
func parseIndexEntry(p []byte) FrameInfo {
	return FrameInfo{
		Offset: binary.LittleEndian.Uint32(p[0:]),
		Count:  binary.LittleEndian.Uint32(p[4:]),
		First:  binary.LittleEndian.Uint64(p[8:]),
		Last:   binary.LittleEndian.Uint64(p[16:]),
	}
}

// plausible reports whether fr can describe a frame of a segment of
// segSize bytes: after the file header, inside the file, holding entries.
func (fr FrameInfo) plausible(segSize int64) bool {
	return int64(fr.Offset) >= FileHeaderSize && int64(fr.Offset)+FrameHeaderSize <= segSize &&
		fr.Count > 0 && fr.Last >= fr.First
}
