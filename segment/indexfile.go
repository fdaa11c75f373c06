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
// does not re-read the segment: it lists every frame of the segment, and
// its header sums them up so that figures about the log (wal.Stat) need
// not read the list.
//
//	0  magic   [8]byte "SEGIDX\x00\x02"
//	8  id      uint64  segment number
//	16 size    uint64  size of the sealed segment file
//	24 frames  uint32  number of frames
//	28 flags   uint32  0 (reserved)
//	32 entries uint64  entries in the frames (sum of their counts)
//	40 first   uint64  first sequence number of the first frame
//	48 last    uint64  last sequence number of the last frame
//	56 crc     uint32  CRC-32C of bytes [0,56)
//	60 frames × {offset uint32, count uint32, first uint64, last uint64}
//	end crc    uint32  CRC-32C of the frame list
//
// Version 1 ("SEGIDX\x00\x01", written before version 2) has a 32-byte
// header: magic, id, size, frames, then the CRC-32C of bytes [0,28); it is
// read too (its summary is computed from the list).
//
// It is valid only for a segment whose size equals the recorded size: a
// segment appended to after sealing no longer matches, and is scanned.
// Being derived from the segment, it is a cache: a missing or damaged one
// is rebuilt by a scan.
const (
	indexMagic   = "SEGIDX\x00\x02"
	indexMagicV1 = "SEGIDX\x00\x01"
	// IndexHeaderSize is the size of an index file's header.
	IndexHeaderSize   = 60
	indexHeaderSizeV1 = 32
	indexEntrySize    = 24
)

// IndexHeader is what an index file's header records.
type IndexHeader struct {
	ID      uint64 // segment number
	SegSize int64  // size of the sealed segment file the index is valid for
	Frames  uint32 // number of frames listed
	// Summary says the header holds the fields below (version 2); a
	// version 1 header does not.
	Summary bool
	IndexSummary
}

// IndexSummary sums up a segment's frames.
type IndexSummary struct {
	Entries uint64 // entries in the frames
	First   uint64 // first sequence number of the first frame (if Entries > 0)
	Last    uint64 // last sequence number of the last frame (if Entries > 0)
}

// Dense reports whether the frames hold every sequence number from First
// to Last (entries' sequence numbers increase, so the count says it).
func (s IndexSummary) Dense() bool { return s.Entries > 0 && s.Entries-1 == s.Last-s.First }

// Summarize sums up frames (in segment order).
func Summarize(frames []FrameInfo) IndexSummary {
	var s IndexSummary
	for i, fr := range frames {
		s.Entries += uint64(fr.Count)
		if i == 0 {
			s.First = fr.First
		}
		s.Last = fr.Last
	}
	return s
}

// ParseIndexHeader decodes the header at the start of an index file's
// bytes b, of either version; ok is false if b is short, or the magic,
// the checksum or the summary is wrong.
func ParseIndexHeader(b []byte) (_ IndexHeader, ok bool) {
	if len(b) < indexHeaderSizeV1 {
		return IndexHeader{}, false
	}
	ih := IndexHeader{
		ID:      binary.LittleEndian.Uint64(b[8:]),
		SegSize: int64(binary.LittleEndian.Uint64(b[16:])),
		Frames:  binary.LittleEndian.Uint32(b[24:]),
	}
	switch string(b[:8]) {
	case indexMagicV1:
		return ih, Checksum(b[:28]) == binary.LittleEndian.Uint32(b[28:])
	case indexMagic:
	default:
		return IndexHeader{}, false
	}
	if len(b) < IndexHeaderSize || Checksum(b[:56]) != binary.LittleEndian.Uint32(b[56:]) {
		return IndexHeader{}, false
	}
	ih.Summary = true
	ih.IndexSummary = IndexSummary{
		Entries: binary.LittleEndian.Uint64(b[32:]),
		First:   binary.LittleEndian.Uint64(b[40:]),
		Last:    binary.LittleEndian.Uint64(b[48:]),
	}
	// Each frame holds at least one entry, and the entries' sequence
	// numbers increase.
	s := ih.IndexSummary
	if binary.LittleEndian.Uint32(b[28:]) != 0 || (ih.Frames == 0) != (s.Entries == 0) || s.Entries < uint64(ih.Frames) ||
		(s.Entries > 0 && (s.Last < s.First || s.Entries-1 > s.Last-s.First)) {
		return IndexHeader{}, false
	}
	return ih, true
}

// headerSize is the size of the header of an index file of ih's version.
func (ih IndexHeader) headerSize() int64 {
	if ih.Summary {
		return IndexHeaderSize
	}
	return indexHeaderSizeV1
}

// putFrameList encodes frames into p, which has room for them and the
// list's checksum after them.
func putFrameList(p []byte, frames []FrameInfo) {
	body := p[:len(frames)*indexEntrySize]
	for _, fr := range frames {
		binary.LittleEndian.PutUint32(p[0:], fr.Offset)
		binary.LittleEndian.PutUint32(p[4:], fr.Count)
		binary.LittleEndian.PutUint64(p[8:], fr.First)
		binary.LittleEndian.PutUint64(p[16:], fr.Last)
		p = p[indexEntrySize:]
	}
	binary.LittleEndian.PutUint32(p, Checksum(body))
}

// WriteIndexFile writes the index of a sealed segment durably: to a
// temporary file, synced, then renamed over name. The caller syncs the
// directory.
func WriteIndexFile(fs vfs.FS, name string, id uint64, segSize int64, frames []FrameInfo) error {
	buf := make([]byte, IndexHeaderSize+len(frames)*indexEntrySize+4)
	sum := Summarize(frames)
	copy(buf, indexMagic)
	binary.LittleEndian.PutUint64(buf[8:], id)
	binary.LittleEndian.PutUint64(buf[16:], uint64(segSize))
	binary.LittleEndian.PutUint32(buf[24:], uint32(len(frames)))
	binary.LittleEndian.PutUint64(buf[32:], sum.Entries)
	binary.LittleEndian.PutUint64(buf[40:], sum.First)
	binary.LittleEndian.PutUint64(buf[48:], sum.Last)
	binary.LittleEndian.PutUint32(buf[56:], Checksum(buf[:56]))
	putFrameList(buf[IndexHeaderSize:], frames)

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
	if err != nil || size < indexHeaderSizeV1+4 || size > IndexHeaderSize+4+int64(MaxSegmentSize/FrameHeaderSize)*indexEntrySize {
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
	n, hs := int64(ih.Frames), ih.headerSize()
	if size != hs+n*indexEntrySize+4 {
		return frames, buf, IndexDamaged
	}
	body := buf[hs : size-4]
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
	if ih.Summary && Summarize(frames) != ih.IndexSummary {
		return frames, buf, IndexDamaged
	}
	return frames, buf, IndexOK
}

// ReadIndexHeader reads the header of segment id's index file and checks
// it against the segment's current size as ReadIndexFile does, without
// reading the frame list: IndexOK says the header is sound, names id,
// records segSize, and counts as many frames as the file's size holds and
// the segment can. The list itself is checked when read
// (ReadIndexFileInto); Open reads only this of a sealed segment's index
// until the segment is read.
func ReadIndexHeader(fs vfs.FS, name string, id uint64, segSize int64) (IndexHeader, IndexStatus) {
	f, err := fs.Open(name)
	if err != nil {
		return IndexHeader{}, IndexMissing
	}
	defer f.Close()
	ih, _, st := readIndexHeader(f, id, segSize)
	return ih, st
}

// ReadIndexTip is ReadIndexHeader that also returns the last frame the
// list holds (tip, valid if ok), read alone: the list's checksum covers it
// only when the list is read whole, so the caller checks it against the
// segment, whose last frame it must be. Open reads the newest segment's
// index so after a Close: a log's reads go to its newest entries.
func ReadIndexTip(fs vfs.FS, name string, id uint64, segSize int64) (_ IndexHeader, tip FrameInfo, ok bool, _ IndexStatus) {
	f, err := fs.Open(name)
	if err != nil {
		return IndexHeader{}, FrameInfo{}, false, IndexMissing
	}
	defer f.Close()
	ih, size, st := readIndexHeader(f, id, segSize)
	if st != IndexOK || ih.Frames == 0 {
		return ih, FrameInfo{}, false, st
	}
	var b [indexEntrySize]byte
	if _, err := f.ReadAt(b[:], size-4-indexEntrySize); err != nil {
		return ih, FrameInfo{}, false, st
	}
	tip = parseIndexEntry(b[:])
	return ih, tip, tip.plausible(segSize) && tip.Last == ih.Last, st
}

// readIndexHeader is ReadIndexHeader of the open index file f, also
// returning its size.
func readIndexHeader(f vfs.File, id uint64, segSize int64) (IndexHeader, int64, IndexStatus) {
	size, err := f.Size()
	if err != nil || size < indexHeaderSizeV1+4 {
		return IndexHeader{}, size, IndexDamaged
	}
	var b [IndexHeaderSize]byte
	n, err := f.ReadAt(b[:min(size, IndexHeaderSize)], 0)
	if err != nil {
		return IndexHeader{}, size, IndexDamaged
	}
	ih, ok := ParseIndexHeader(b[:n])
	switch {
	case !ok || ih.ID != id || size != ih.headerSize()+int64(ih.Frames)*indexEntrySize+4:
		return IndexHeader{}, size, IndexDamaged
	case ih.SegSize != segSize:
		return IndexHeader{}, size, IndexStale
	case ih.Frames > 0 && (segSize < FileHeaderSize+int64(ih.Frames)*FrameHeaderSize):
		return IndexHeader{}, size, IndexDamaged
	}
	return ih, size, IndexOK
}

// ReadIndexSummary reads the summary of segment id's frames from its index
// file, checked against the segment's current size as ReadIndexFile does.
// Of a version 2 file it reads only the header (whose checksum covers the
// summary); of a version 1 file it reads and checks the whole list. With a
// status other than IndexOK the summary is zero: the caller reads the
// segment instead.
func ReadIndexSummary(fs vfs.FS, name string, id uint64, segSize int64) (IndexSummary, IndexStatus) {
	ih, st := ReadIndexHeader(fs, name, id, segSize)
	switch {
	case st != IndexOK:
		return IndexSummary{}, st
	case !ih.Summary:
		return readSummaryV1(fs, name, id, segSize)
	}
	return ih.IndexSummary, IndexOK
}

// readSummaryV1 is ReadIndexSummary of an index file without a summary
// (or too short to hold one).
func readSummaryV1(fs vfs.FS, name string, id uint64, segSize int64) (IndexSummary, IndexStatus) {
	frames, _, st := ReadIndexFileInto(fs, name, id, segSize, nil, nil)
	if st != IndexOK {
		return IndexSummary{}, st
	}
	return Summarize(frames), IndexOK
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
