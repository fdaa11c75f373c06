package wal

import (
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

var boundsMagic = [8]byte{'S', 'G', 'L', 'B', 'N', 'D', 'S', '1'}

// bounds is the content of the bounds file.
type bounds struct {
	// front: records with a sequence number below it are removed, wherever
	// they still sit on disk, and the log's next sequence number is at
	// least front.
	front uint64
	// cut, when set, is a TruncateBack made durable but maybe not yet
	// carried out; Open finishes it before anything else.
	cut *cut
}

// cut removes every record with a sequence number >= next: the segments
// after seg are deleted, seg is cut at off (deleted whole when off is at
// its file header), and kept, the records of the frame at off below next,
// are appended again as one frame.
type cut struct {
	next uint64
	seg  uint64
	off  int64
	// kept is the frame re-appended after the cut (Count 0: none): the
	// header's FirstSeq, Time and Count, and the encoded entries.
	keptHeader segment.FrameHeader
	kept       []byte
}

// boundsFixed is the size of the bounds file without kept entries:
// magic, front, flag, next, seg, off, kept first, time, count, length, crc.
// The flag is 0 without a cut, 1 with one whose kept entries are a
// contiguous frame's, 2 with one whose kept entries are a sparse frame's
// (cut inside a frame compaction rewrote: each keeps its own number), 3
// and 4 as 1 and 2 for entries with their own times (a FlagTimed frame's,
// cut inside a frame a rewrite packed from several batches).
const boundsFixed = 8 + 8 + 1 + 8 + 8 + 8 + 8 + 8 + 4 + 4 + 4

func encodeBounds(b bounds) []byte {
	out := make([]byte, 0, boundsFixed)
	out = append(out, boundsMagic[:]...)
	out = binary.LittleEndian.AppendUint64(out, b.front)
	if b.cut == nil {
		out = append(out, 0)
		out = append(out, make([]byte, boundsFixed-8-8-1-4)...)
	} else {
		c := b.cut
		kind := byte(1)
		if c.keptHeader.Flags&segment.FlagSparse != 0 {
			kind = 2 // kept entries are a sparse frame's
		}
		if c.keptHeader.Flags&segment.FlagTimed != 0 {
			kind += 2
		}
		out = append(out, kind)
		out = binary.LittleEndian.AppendUint64(out, c.next)
		out = binary.LittleEndian.AppendUint64(out, c.seg)
		out = binary.LittleEndian.AppendUint64(out, uint64(c.off))
		out = binary.LittleEndian.AppendUint64(out, c.keptHeader.FirstSeq)
		out = binary.LittleEndian.AppendUint64(out, uint64(c.keptHeader.Time))
		out = binary.LittleEndian.AppendUint32(out, c.keptHeader.Count)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(c.kept)))
		out = append(out, c.kept...)
	}
	return binary.LittleEndian.AppendUint32(out, segment.Checksum(out))
}

// decodeBounds parses a bounds file; anything malformed is ErrCorrupt.
func decodeBounds(p []byte, name string) (bounds, error) {
	bad := func(why string) (bounds, error) {
		return bounds{}, segment.Corruptf(name, 0, "bounds file: %s", why)
	}
	if len(p) < boundsFixed {
		return bad(fmt.Sprintf("%d bytes, want at least %d", len(p), boundsFixed))
	}
	body, sum := p[:len(p)-4], binary.LittleEndian.Uint32(p[len(p)-4:])
	if segment.Checksum(body) != sum {
		return bad("checksum mismatch")
	}
	if [8]byte(body[:8]) != boundsMagic {
		return bad("not a bounds file")
	}
	u64 := func(at int) uint64 { return binary.LittleEndian.Uint64(body[at:]) }
	b := bounds{front: u64(8)}
	switch body[16] {
	case 0:
		if len(p) != boundsFixed {
			return bad("trailing bytes")
		}
		return b, nil
	case 1, 2, 3, 4:
	default:
		return bad(fmt.Sprintf("unknown flag %d", body[16]))
	}
	c := &cut{next: u64(17), seg: u64(25), off: int64(u64(33))}
	c.keptHeader = segment.FrameHeader{FirstSeq: u64(41), Time: int64(u64(49)), Count: binary.LittleEndian.Uint32(body[57:])}
	if body[16]%2 == 0 {
		c.keptHeader.Flags = segment.FlagSparse
	}
	if body[16] > 2 {
		c.keptHeader.Flags |= segment.FlagTimed
	}
	n := binary.LittleEndian.Uint32(body[61:])
	if int(n) != len(body)-65 {
		return bad(fmt.Sprintf("kept entries length %d for %d bytes", n, len(body)-65))
	}
	if c.off < segment.FileHeaderSize || c.off > segment.MaxSegmentSize || c.seg > maxSegmentID {
		return bad(fmt.Sprintf("cut at segment %d offset %d out of range", c.seg, c.off))
	}
	if (c.keptHeader.Count == 0) != (n == 0) || c.keptHeader.Count > n {
		return bad(fmt.Sprintf("%d kept entries in %d bytes", c.keptHeader.Count, n))
	}
	c.kept = append([]byte(nil), body[65:]...)
	if c.keptHeader.Count > 0 {
		last, err := segment.LastSeq(c.keptHeader, c.kept)
		if err != nil {
			return bad(err.Error())
		}
		if c.keptHeader.FirstSeq < b.front || last >= c.next {
			return bad(fmt.Sprintf("kept entries %d..%d outside [%d, %d)", c.keptHeader.FirstSeq, last, b.front, c.next))
		}
	}
	b.cut = c
	return b, nil
}

// readBounds reads the bounds file of dir; a missing one is the zero
// bounds.
func readBounds(fsys vfs.FS, dir string) (bounds, error) {
	name := filepath.Join(dir, boundsName)
	f, err := fsys.Open(name)
	if err != nil {
		if isNotExist(err) {
			return bounds{}, nil
		}
		return bounds{}, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return bounds{}, fmt.Errorf("stat %s: %w", name, err)
	}
	if size > boundsFixed+segment.MaxPayload {
		return bounds{}, segment.Corruptf(name, 0, "bounds file of %d bytes", size)
	}
	p := make([]byte, size)
	if _, err := f.ReadAt(p, 0); err != nil && err != io.EOF {
		return bounds{}, fmt.Errorf("read %s: %w", name, err)
	}
	return decodeBounds(p, name)
}

// writeBounds replaces the bounds file durably.
func writeBounds(fsys vfs.FS, dir string, b bounds) error {
	name := filepath.Join(dir, boundsName)
	if err := vfs.ReplaceFile(fsys, name, encodeBounds(b)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
