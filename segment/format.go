package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Sentinel errors. Errors returned by this package wrap one of them, with the
// file and offset as context.
var (
	// ErrCorrupt means bytes on disk fail their checksum or framing in a way
	// a torn write cannot explain.
	ErrCorrupt = errors.New("corrupt data")
	// ErrInvalid means the caller asked for something malformed.
	ErrInvalid = errors.New("invalid argument")
)

// Sizes and limits of the format.
const (
	FileHeaderSize  = 32
	FrameHeaderSize = 40
	// MaxPayload bounds one frame's payload; a header claiming more is
	// corrupt, so a damaged length never causes a huge allocation.
	MaxPayload = 64 << 20
	// MaxSegmentSize bounds a segment so offsets fit the header's uint32
	// fields.
	MaxSegmentSize = 1 << 31
	// sectorSize is the granularity at which the tail scan looks for
	// unwritten (zero) space.
	sectorSize = 512
)

// Codecs for the frame payload. Every frame records its own, so one
// segment may hold frames of each.
const (
	CodecNone uint8 = 0 // the entries as they are
	CodecS2   uint8 = 1 // one S2 block (github.com/klauspost/compress/s2)
	CodecZstd uint8 = 2 // uvarint decoded length, then one zstd frame
	// maxCodec is the highest codec this version reads.
	maxCodec = CodecZstd
)

// Frame flags.
const (
	// FlagSparse marks a frame whose entries carry sequence deltas, as
	// written by the compactor after removing entries.
	FlagSparse uint8 = 1 << 0
	// FlagCompact marks a frame whose append applied compaction: every
	// tombstone up to the frame's last entry takes effect with it.
	FlagCompact uint8 = 1 << 1
	// FlagPrefix marks a frame whose entries store their keys
	// prefix-compressed against the previous entry's key in the frame.
	// Appended batches of two or more records and compactor rewrites are
	// written with it; frames written before it existed have it clear.
	FlagPrefix uint8 = 1 << 2
	// FlagTimed marks a frame whose entries carry their own timestamps, as
	// the entries of several batches packed into one frame (Encoder.Sparse,
	// for a rewrite) do: each entry stores its time as a delta from the
	// previous entry's, the first entry's from the header's time.
	FlagTimed uint8 = 1 << 3
)

const knownFlags = FlagSparse | FlagCompact | FlagPrefix | FlagTimed

const fileMagic = "SEGLOG\x00\x01"

const formatVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C of p.
func Checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// FrameHeader is the decoded header of one frame.
type FrameHeader struct {
	Length   uint32 // payload length
	CRC      uint32 // payload CRC-32C
	Synced   uint32 // durable offset in the segment when written
	FirstSeq uint64
	Time     int64
	Count    uint32
	Codec    uint8
	Flags    uint8
}

// Size is the frame's total size on disk.
func (h FrameHeader) Size() int64 { return FrameHeaderSize + int64(h.Length) }

// PutFrameHeader encodes h into dst[:FrameHeaderSize], computing the header
// checksum. Writer.WriteFrame is its one caller in the engine; it is
// exported for tests that build damaged frames.
func PutFrameHeader(dst []byte, h FrameHeader) {
	_ = dst[FrameHeaderSize-1]
	binary.LittleEndian.PutUint32(dst[4:], h.Length)
	binary.LittleEndian.PutUint32(dst[8:], h.CRC)
	binary.LittleEndian.PutUint32(dst[12:], h.Synced)
	binary.LittleEndian.PutUint64(dst[16:], h.FirstSeq)
	binary.LittleEndian.PutUint64(dst[24:], uint64(h.Time))
	binary.LittleEndian.PutUint32(dst[32:], h.Count)
	dst[36] = h.Codec
	dst[37] = h.Flags
	dst[38], dst[39] = 0, 0
	binary.LittleEndian.PutUint32(dst[0:], Checksum(dst[4:FrameHeaderSize]))
}

// errZeroHeader reports a header of zeros: the end of written data.
var errZeroHeader = errors.New("zero header")

// ParseFrameHeader decodes and validates a frame header. It returns
// errZeroHeader for an all-zero header and an error wrapping ErrCorrupt for
// any header that fails its checksum or carries impossible values.
func ParseFrameHeader(src []byte) (FrameHeader, error) {
	if len(src) < FrameHeaderSize {
		return FrameHeader{}, Corruptf("", -1, "short frame header")
	}
	src = src[:FrameHeaderSize]
	if isZero(src) {
		return FrameHeader{}, errZeroHeader
	}
	if got, want := Checksum(src[4:]), binary.LittleEndian.Uint32(src); got != want {
		return FrameHeader{}, Corruptf("", -1, "frame header checksum %08x, want %08x", got, want)
	}
	h := FrameHeader{
		Length:   binary.LittleEndian.Uint32(src[4:]),
		CRC:      binary.LittleEndian.Uint32(src[8:]),
		Synced:   binary.LittleEndian.Uint32(src[12:]),
		FirstSeq: binary.LittleEndian.Uint64(src[16:]),
		Time:     int64(binary.LittleEndian.Uint64(src[24:])),
		Count:    binary.LittleEndian.Uint32(src[32:]),
		Codec:    src[36],
		Flags:    src[37],
	}
	switch {
	case h.Length > MaxPayload:
		return h, Corruptf("", -1, "frame length %d over limit", h.Length)
	case h.Codec > maxCodec:
		return h, Corruptf("", -1, "unknown codec %d", h.Codec)
	case h.Count == 0 || h.Count > h.Length && h.Codec == CodecNone:
		// Every entry takes at least one byte. A compressed payload may
		// hold more entries than stored bytes; decodedLen checks the count
		// against the decoded length instead.
		return h, Corruptf("", -1, "frame entry count %d for length %d", h.Count, h.Length)
	case h.Codec != CodecNone && (h.Length < 2 || h.Count > MaxPayload):
		return h, Corruptf("", -1, "codec %d frame of %d stored bytes with %d entries", h.Codec, h.Length, h.Count)
	case h.Flags&^knownFlags != 0 || src[38] != 0 || src[39] != 0:
		return h, Corruptf("", -1, "unknown frame flags")
	case h.FirstSeq+uint64(h.Count) < h.FirstSeq:
		return h, Corruptf("", -1, "frame sequence overflows")
	}
	return h, nil
}

// plausibleFrameHeader reports whether b could start a frame header,
// without computing its checksum: a cheap filter that rejects most other
// bytes when salvage looks for frames at every offset. Every header
// ParseFrameHeader accepts is plausible.
func plausibleFrameHeader(b []byte) bool {
	if len(b) < FrameHeaderSize {
		return false
	}
	length := binary.LittleEndian.Uint32(b[4:])
	count := binary.LittleEndian.Uint32(b[32:])
	codec := b[36]
	return length > 0 && length <= MaxPayload && count > 0 && (count <= length || codec != CodecNone) && codec <= maxCodec && b[38] == 0 && b[39] == 0
}

// FileHeader is the decoded header of a segment file.
type FileHeader struct {
	ID    uint64 // segment number
	Base  uint64 // next sequence number when the segment was created
	Flags uint16
}

// FileCompacted marks a segment written by the compactor: records were
// dropped from it, so its sequence numbers may have gaps and need not
// reach the next segment's base.
const FileCompacted uint16 = 1

// FileTracked marks a segment created by a log that keeps a manifest of
// its segments: a directory holding one and no manifest lost its manifest.
const FileTracked uint16 = 2

// knownFileFlags are the file header flags this version reads.
const knownFileFlags = FileCompacted | FileTracked

// PutFileHeader encodes a segment file header.
func PutFileHeader(dst []byte, fh FileHeader) {
	_ = dst[FileHeaderSize-1]
	clear(dst[:FileHeaderSize])
	copy(dst, fileMagic)
	binary.LittleEndian.PutUint16(dst[8:], formatVersion)
	binary.LittleEndian.PutUint16(dst[10:], fh.Flags)
	binary.LittleEndian.PutUint64(dst[16:], fh.ID)
	binary.LittleEndian.PutUint64(dst[24:], fh.Base)
	binary.LittleEndian.PutUint32(dst[12:], Checksum(dst[:FileHeaderSize]))
}

// ParseFileHeader validates a segment file header.
func ParseFileHeader(src []byte) (FileHeader, error) {
	if len(src) < FileHeaderSize {
		return FileHeader{}, Corruptf("", -1, "short file header")
	}
	if string(src[:8]) != fileMagic {
		return FileHeader{}, Corruptf("", -1, "not a segment file (bad magic)")
	}
	var tmp [FileHeaderSize]byte
	copy(tmp[:], src)
	clear(tmp[12:16])
	if got, want := Checksum(tmp[:]), binary.LittleEndian.Uint32(src[12:]); got != want {
		return FileHeader{}, Corruptf("", -1, "file header checksum %08x, want %08x", got, want)
	}
	if v := binary.LittleEndian.Uint16(src[8:]); v != formatVersion {
		return FileHeader{}, Corruptf("", -1, "unsupported segment version %d", v)
	}
	fh := FileHeader{ID: binary.LittleEndian.Uint64(src[16:]), Base: binary.LittleEndian.Uint64(src[24:]), Flags: binary.LittleEndian.Uint16(src[10:])}
	if fh.Flags&^knownFileFlags != 0 {
		return FileHeader{}, Corruptf("", -1, "unknown segment flags %#x", fh.Flags)
	}
	return fh, nil
}

// ReadFileHeader reads and validates the file header of a segment file r
// of size bytes (name for errors). A file too short for one, or a header
// that fails its checks, is a *CorruptError at offset 0 of name; a failure
// to read is returned as it is, with context.
func ReadFileHeader(r io.ReaderAt, size int64, name string) (FileHeader, error) {
	if size < FileHeaderSize {
		return FileHeader{}, Corruptf(name, 0, "file of %d bytes has no header", size)
	}
	var hb [FileHeaderSize]byte
	if _, err := r.ReadAt(hb[:], 0); err != nil {
		return FileHeader{}, fmt.Errorf("read %s header: %w", name, err)
	}
	fh, err := ParseFileHeader(hb[:])
	if err != nil {
		return FileHeader{}, AtOffset(err, name, 0)
	}
	return fh, nil
}

func isZero(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p) != 0 {
			return false
		}
		p = p[8:]
	}
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}
