package segment

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/seglog/journal/vfs"
)

// A tail index lists the frames of a segment that is still being written,
// a chunk at a time, each chunk appended once the frames it lists are
// durable: Open after a crash reads the chunks and scans only the frames
// after the last one, instead of the whole segment. It is a cache that is
// never synced: a chunk lost, torn or damaged (a power cut) ends the list
// there, and the frames after it are scanned.
//
//	header:
//	0  magic  [8]byte "SEGTIX\x00\x01"
//	8  id     uint64  segment number
//	16 crc    uint32  CRC-32C of bytes [0,16)
//	chunks, each:
//	0  len    uint32  bytes of the frame list
//	4  end    uint64  offset where the chunk's last frame ends
//	12 frames uint32  frames listed
//	16 list   [len]byte, per frame (uvarints):
//	          offset: from the previous frame's (the chunk's first: from
//	                  where the previous chunk ends, or the file header)
//	          count
//	          first:  the chunk's first frame its sequence number; later
//	                  ones the gap after the previous frame's last
//	          last - first - (count - 1)  (0 unless the frame is sparse)
//	16+len crc uint32  CRC-32C of the chunk's bytes before it
//
// A chunk's frames follow each other without a gap from where the chunk
// begins, so the first frame after the list is at end. The reader checks
// every chunk against its neighbours and the segment's size; the caller
// proves the last frame against the segment (ReadFrameInto) before it
// trusts the list, since a segment cut back and written again may have
// outlived a removal of its tail index that was never synced.
const (
	tailMagic      = "SEGTIX\x00\x01"
	tailHeaderSize = 20
	tailChunkHead  = 16
	// tailFrameMax bounds one frame's encoding in the list.
	tailFrameMax = 4 * binary.MaxVarintLen64
)

// TailIndex appends chunks to the tail index file of one segment. It is
// not safe for concurrent use.
type TailIndex struct {
	f    vfs.File
	name string
	off  int64  // end of the file's chunks
	end  int64  // where the frames listed end in the segment
	last uint64 // last sequence number listed
	buf  []byte
}

// CreateTailIndex creates (or empties) the tail index file name of
// segment id and writes its header, without syncing it.
func CreateTailIndex(fs vfs.FS, name string, id uint64) (*TailIndex, error) {
	f, err := fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("create tail index: %w", err)
	}
	var hdr [tailHeaderSize]byte
	copy(hdr[:], tailMagic)
	binary.LittleEndian.PutUint64(hdr[8:], id)
	binary.LittleEndian.PutUint32(hdr[16:], Checksum(hdr[:16]))
	if _, err := f.WriteAt(hdr[:], 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	return &TailIndex{f: f, name: name, off: tailHeaderSize, end: FileHeaderSize}, nil
}

// End is the segment offset where the frames listed so far end: the
// first frame the next Append lists starts there.
func (t *TailIndex) End() int64 { return t.end }

// Append writes a chunk listing frames, which follow each other from End
// without a gap, the last one ending at end. The caller appends only
// frames that are durable. An error leaves the file as it was or with a
// torn chunk, which a reader ignores; the writer should then be dropped.
func (t *TailIndex) Append(frames []FrameInfo, end int64) error {
	if len(frames) == 0 {
		return nil
	}
	b := t.buf[:0]
	b = append(b, make([]byte, tailChunkHead)...)
	prevOff, prevLast := t.end, t.last
	for i, fr := range frames {
		b = binary.AppendUvarint(b, uint64(int64(fr.Offset)-prevOff))
		b = binary.AppendUvarint(b, uint64(fr.Count))
		if i == 0 {
			b = binary.AppendUvarint(b, fr.First)
		} else {
			b = binary.AppendUvarint(b, fr.First-prevLast-1)
		}
		b = binary.AppendUvarint(b, fr.Last-fr.First-uint64(fr.Count-1))
		prevOff, prevLast = int64(fr.Offset), fr.Last
	}
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)-tailChunkHead))
	binary.LittleEndian.PutUint64(b[4:], uint64(end))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(frames)))
	b = binary.LittleEndian.AppendUint32(b, Checksum(b))
	t.buf = b
	if _, err := t.f.WriteAt(b, t.off); err != nil {
		return fmt.Errorf("write %s at %d: %w", t.name, t.off, err)
	}
	t.off += int64(len(b))
	t.end, t.last = end, prevLast
	return nil
}

// Close closes the file.
func (t *TailIndex) Close() error { return t.f.Close() }

// ReadTailIndex reads the tail index file name of segment id, whose
// segment file has segSize bytes, and returns the frames its sound chunks
// list (appended to frames[:0]) and the offset where they end
// (FileHeaderSize if none). It stops at the first chunk that is torn,
// damaged or does not fit its neighbours or the segment; a missing or
// foreign file lists nothing. The caller verifies the last frame against
// the segment before using the list (see the format above).
func ReadTailIndex(fs vfs.FS, name string, id uint64, segSize int64, frames []FrameInfo) ([]FrameInfo, int64) {
	frames = frames[:0]
	f, err := fs.Open(name)
	if err != nil {
		return frames, FileHeaderSize
	}
	defer f.Close()
	size, err := f.Size()
	// The list takes at least 4 bytes per frame, and frames at least
	// FrameHeaderSize bytes of the segment.
	if err != nil || size < tailHeaderSize || size > tailHeaderSize+segSize {
		return frames, FileHeaderSize
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return frames, FileHeaderSize
	}
	// Room for as many frames as the file can list, at once: growing a
	// list of a few hundred thousand frames by doubling costs more than
	// reading it.
	frames = slices.Grow(frames, int(size-tailHeaderSize)/4)
	if string(b[:8]) != tailMagic || binary.LittleEndian.Uint64(b[8:]) != id ||
		Checksum(b[:16]) != binary.LittleEndian.Uint32(b[16:]) {
		return frames, FileHeaderSize
	}
	end := int64(FileHeaderSize)
	var last uint64
	for p := b[tailHeaderSize:]; len(p) >= tailChunkHead+4; {
		n := int64(binary.LittleEndian.Uint32(p[0:]))
		if n > int64(len(p))-tailChunkHead-4 {
			break
		}
		chunk := p[:tailChunkHead+n]
		if Checksum(chunk) != binary.LittleEndian.Uint32(p[tailChunkHead+n:]) {
			break
		}
		got, cend, clast, ok := parseTailChunk(chunk, frames, end, last, segSize)
		if !ok {
			break
		}
		frames, end, last = got, cend, clast
		p = p[tailChunkHead+n+4:]
	}
	return frames, end
}

// parseTailChunk appends the frames of a checksummed chunk to frames,
// checking that they follow each other from start (and sequence number
// prev) and end at the chunk's end, within segSize bytes.
func parseTailChunk(chunk []byte, frames []FrameInfo, start int64, prev uint64, segSize int64) (_ []FrameInfo, end int64, last uint64, ok bool) {
	end = int64(binary.LittleEndian.Uint64(chunk[4:]))
	n := int(binary.LittleEndian.Uint32(chunk[12:]))
	list := chunk[tailChunkHead:]
	if end > segSize || end <= start || n == 0 || n > len(list)/4 {
		return frames, 0, 0, false
	}
	keep := len(frames)
	off := start
	next := func() (uint64, bool) {
		v, k := binary.Uvarint(list)
		if k <= 0 {
			return 0, false
		}
		list = list[k:]
		return v, true
	}
	for i := range n {
		dOff, ok1 := next()
		count, ok2 := next()
		first, ok3 := next()
		extra, ok4 := next()
		if !(ok1 && ok2 && ok3 && ok4) || dOff > uint64(end) || count == 0 || count > MaxPayload {
			return frames[:keep], 0, 0, false
		}
		if i > 0 {
			first += prev + 1 // the gap after the previous frame
			if first <= prev {
				return frames[:keep], 0, 0, false
			}
		} else if prev != 0 && first <= prev {
			// A chunk's first frame gives its sequence number whole; it
			// must still follow the previous chunk's.
			return frames[:keep], 0, 0, false
		}
		frameOff := off + int64(dOff)
		if (i > 0 && dOff < FrameHeaderSize) || frameOff+FrameHeaderSize > end || frameOff > int64(^uint32(0)) {
			return frames[:keep], 0, 0, false
		}
		lastSeq := first + (count - 1) + extra
		if lastSeq < first {
			return frames[:keep], 0, 0, false
		}
		frames = append(frames, FrameInfo{Offset: uint32(frameOff), Count: uint32(count), First: first, Last: lastSeq})
		off, prev = frameOff, lastSeq
	}
	if len(list) != 0 || frames[keep].Offset != uint32(start) {
		return frames[:keep], 0, 0, false
	}
	return frames, end, prev, true
}
