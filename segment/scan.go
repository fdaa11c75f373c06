package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/seglog/journal/vfs"
)

// Tail says how the written data of a scanned segment ends.
type Tail uint8

const (
	// TailClean: the data ends at end of file or is followed only by zeros.
	TailClean Tail = iota
	// TailTorn: the data is followed by damaged bytes that a write in flight
	// at a crash explains. Cutting the file at End loses nothing that was
	// ever durable.
	TailTorn
)

// ScanResult describes a scanned segment.
type ScanResult struct {
	End    int64  // offset just past the last valid frame
	Tail   Tail   // how the data ends
	Frames int    // number of valid frames
	Damage error  // with TailTorn: what was found at End
	First  uint64 // first sequence number (valid if Frames > 0)
	Last   uint64 // last sequence number (valid if Frames > 0)
	// MaxSynced is the largest durable offset any valid frame recorded:
	// everything before it was confirmed on stable storage by an fsync.
	MaxSynced int64
}

// Scan reads every frame of a segment from its first frame, verifying both
// checksums of each, and calls fn (if not nil) for each valid frame in order;
// an error from fn stops the scan and is returned as is.
//
// At the first frame that is not valid, Scan tells a torn tail from damage:
// every frame records in its header the offset up to which its segment was
// durable when it was written. If any valid frame follows the damaged offset
// and claims that offset was durable, the damage is in data that was once on
// stable storage, and Scan returns an error wrapping ErrCorrupt with the
// file and offset. Otherwise the bytes at the damaged offset were never
// synced before the crash, and the result says TailTorn: cut the file at End.
// Zeros after the last frame (preallocated space) are a clean end. A frame
// whose sequence numbers do not increase, or whose checksummed payload does
// not decode, is corrupt too.
//
// Scan does not modify the file.
func Scan(r io.ReaderAt, size int64, name string, fn func(off int64, h FrameHeader, payload []byte) error) (ScanResult, error) {
	return scanFrom(r, size, FileHeaderSize, name, fn)
}

// scanFrom is Scan from the frame at from: the frames before it are known
// (a tail index lists them), and what follows is judged as Scan judges it.
func scanFrom(r io.ReaderAt, size, from int64, name string, fn func(off int64, h FrameHeader, payload []byte) error) (ScanResult, error) {
	var res ScanResult
	rd := NewReader(r, size, name)
	rd.SetOffset(from)
	for {
		off, h, p, err := rd.nextStored()
		if err != nil && err != io.EOF && !errors.Is(err, ErrCorrupt) {
			return res, err // an I/O error, not a verdict on the data
		}
		if err != nil {
			damage := err
			if err == io.EOF {
				damage = nil
			}
			res.End = off
			out, cerr := classifyEnd(r, size, name, res, damage)
			if cerr != nil && errors.Is(cerr, ErrCorrupt) && rd.appeared(off) {
				// A writer appended the frame between our reads (a reader
				// of a live log): what looked damaged was not yet written.
				continue
			}
			return out, cerr
		}
		// A checksummed payload that does not decode was written that way:
		// damage no torn write explains.
		if p, err = rd.decode(off, h, p); err != nil {
			return res, err
		}
		if res.Frames > 0 && h.FirstSeq <= res.Last {
			return res, Corruptf(name, off, "sequence %d does not follow %d", h.FirstSeq, res.Last)
		}
		last, err := LastSeq(h, p)
		if err != nil {
			return res, AtOffset(err, name, off)
		}
		if res.Frames == 0 {
			res.First = h.FirstSeq
		}
		res.MaxSynced = max(res.MaxSynced, int64(h.Synced))
		res.Frames++
		res.Last = last
		if fn != nil {
			if err := fn(off, h, p); err != nil {
				return res, err
			}
		}
	}
}

// ScanFrames is Scan listing the frames it finds, each with its last
// sequence number, into frames[:0]: what an index file would hold. end is
// where the last frame that verified ends (FileHeaderSize if none), also
// when err is set; without an error it is the same as res.End.
func ScanFrames(r io.ReaderAt, size int64, name string, frames []FrameInfo) (_ []FrameInfo, end int64, res ScanResult, err error) {
	return ScanFramesFrom(r, size, FileHeaderSize, name, frames[:0], nil)
}

// ScanFramesFrom is ScanFrames from the frame at offset from, appending
// to frames (which list the frames before from, ending there): what Open
// does after a tail index (ReadTailIndex). end is from if no frame
// verifies. res describes only the frames scanned, except MaxSynced,
// which the caller raises to from when the frames before it are durable.
// each, if not nil, sees every frame that verifies, in order, with its
// decoded payload (valid until it returns), before it is listed; an error
// from it stops the scan and is returned as is.
func ScanFramesFrom(r io.ReaderAt, size, from int64, name string, frames []FrameInfo, each func(off int64, h FrameHeader, payload []byte) error) (_ []FrameInfo, end int64, res ScanResult, err error) {
	end = from
	res, err = scanFrom(r, size, from, name, func(off int64, h FrameHeader, p []byte) error {
		last, err := LastSeq(h, p)
		if err != nil {
			return AtOffset(err, name, off)
		}
		if each != nil {
			if err := each(off, h, p); err != nil {
				return err
			}
		}
		frames = append(frames, FrameInfo{Offset: uint32(off), Count: h.Count, First: h.FirstSeq, Last: last})
		end = off + h.Size()
		return nil
	})
	return frames, end, res, err
}

// ScanEntries is Scan for a reader of entries: it calls fn for every entry
// of every valid frame, in order, with the frame's offset. A checksummed
// payload that does not decode is damage at the frame's offset; an error
// from fn stops the scan and is returned as is.
func ScanEntries(r io.ReaderAt, size int64, name string, fn func(off int64, e Entry) error) (ScanResult, error) {
	return Scan(r, size, name, func(off int64, h FrameHeader, p []byte) error {
		it := NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				return AtOffset(err, name, off)
			}
			if !ok {
				return nil
			}
			if err := fn(off, e); err != nil {
				return err
			}
		}
	})
}

// LastSeq returns the sequence number of a frame's last entry, decoding the
// payload only for sparse frames.
func LastSeq(h FrameHeader, p []byte) (uint64, error) {
	if h.Flags&FlagSparse == 0 {
		return h.FirstSeq + uint64(h.Count) - 1, nil
	}
	var scratch []byte // the keys are not used
	it := NewEntryIterScratch(h, p, &scratch)
	var last uint64
	for {
		e, ok, err := it.Next()
		if err != nil {
			return 0, err
		}
		if !ok {
			return last, nil
		}
		last = e.Seq
	}
}

// classifyEnd decides what the bytes from res.End on are: zeros (clean), a
// torn write, or damage to durable data.
func classifyEnd(r io.ReaderAt, size int64, name string, res ScanResult, damage error) (ScanResult, error) {
	cause := damage
	if cause == nil {
		// A zero header: clean only if nothing but zeros follows.
		nz, err := FirstNonZero(r, res.End, size, name)
		if err != nil {
			return res, err
		}
		if nz < 0 {
			res.Tail = TailClean
			return res, nil
		}
		cause = Corruptf(name, res.End, "zero frame header followed by data at offset %d", nz)
	}
	claimed, at, err := durableClaimAfter(r, size, name, res.End)
	if err != nil {
		return res, err
	}
	if claimed {
		why := fmt.Sprintf("(a valid frame at offset %d records offset %d as durable)", at, res.End)
		if ce, ok := cause.(*CorruptError); ok {
			return res, &CorruptError{File: ce.File, Offset: ce.Offset, Detail: ce.Detail + " " + why}
		}
		return res, fmt.Errorf("%w %s", cause, why)
	}
	res.Tail = TailTorn
	res.Damage = cause
	return res, nil
}

// FirstNonZero returns the offset of the first non-zero byte in [from,
// size) of r, or -1 when there is none. A long range of a file that maps
// (vfs.ReadMapper) is compared in place, without copying it out: after a
// crash, the zeros a segment grew ahead in (up to 16 MiB) are most of what
// Open reads.
func FirstNonZero(r io.ReaderAt, from, size int64, name string) (int64, error) {
	if m, ok := r.(vfs.ReadMapper); ok && size-from > readChunk {
		if nz, ok := firstNonZeroMapped(m, from, size); ok {
			return nz, nil
		}
	}
	buf := make([]byte, min(readChunk, max(size-from, 0)))
	for off := from; off < size; {
		n := int(min(int64(len(buf)), size-off))
		if _, err := r.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read %s at %d: %w", name, off, err)
		}
		if nz := firstNonZeroIn(buf[:n], off); nz >= 0 {
			return nz, nil
		}
		off += int64(n)
	}
	return -1, nil
}

// firstNonZeroMapped is FirstNonZero through a read-only mapping of the
// file; ok is false when the file does not map or touching the mapping
// faulted (a device read error, the file cut meanwhile): the caller reads
// instead, and gets the error if there is one.
func firstNonZeroMapped(rm vfs.ReadMapper, from, size int64) (nz int64, ok bool) {
	m, err := rm.MapRead(size)
	if err != nil {
		return 0, false
	}
	defer rm.Unmap(m)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return firstNonZeroIn(m[from:], from), true
}

// firstNonZeroIn returns the offset of the first non-zero byte of p, which
// starts at offset base, or -1: whole blocks compared with zeros
// (memequal, vectorised) first.
func firstNonZeroIn(p []byte, base int64) int64 {
	for at := base; len(p) > 0; {
		k := min(len(p), len(zeros))
		if !bytes.Equal(p[:k], zeros[:k]) {
			for i, b := range p[:k] {
				if b != 0 {
					return at + int64(i)
				}
			}
		}
		p, at = p[k:], at+int64(k)
	}
	return -1
}

// durableClaimAfter looks at every offset after from for a valid frame
// whose header says the segment was durable beyond from. Such a frame proves
// the bytes at from were synced before it was written, so damage there is
// real. The search is byte by byte (damage may have shifted anything), with
// cheap rejections first; it only runs when a segment does not end cleanly.
func durableClaimAfter(r io.ReaderAt, size int64, name string, from int64) (bool, int64, error) {
	const overlap = FrameHeaderSize
	buf := make([]byte, readChunk+overlap)
	for base := from + 1; base+FrameHeaderSize <= size; base += readChunk {
		n := int(min(int64(len(buf)), size-base))
		if _, err := r.ReadAt(buf[:n], base); err != nil && !errors.Is(err, io.EOF) {
			return false, 0, fmt.Errorf("read %s at %d: %w", name, base, err)
		}
		for i := 0; i < readChunk && i+FrameHeaderSize <= n; i++ {
			hb := buf[i : i+FrameHeaderSize]
			length := binary.LittleEndian.Uint32(hb[4:])
			if length == 0 || length > MaxPayload || base+int64(i)+FrameHeaderSize+int64(length) > size {
				continue
			}
			if binary.LittleEndian.Uint32(hb[12:]) <= uint32(from) {
				continue // claims nothing about from; no need to verify it
			}
			h, err := ParseFrameHeader(hb)
			if err != nil {
				continue
			}
			off := base + int64(i)
			p := make([]byte, h.Length)
			if _, err := r.ReadAt(p, off+FrameHeaderSize); err != nil && !errors.Is(err, io.EOF) {
				return false, 0, fmt.Errorf("read %s at %d: %w", name, off, err)
			}
			if Checksum(p) == h.CRC {
				return true, off, nil
			}
		}
	}
	return false, 0, nil
}
