package wal

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// Durability says when an append counts as done (segment.Durability, the
// one type the engine's layers share).
type Durability = segment.Durability

const (
	// Immediate: Append returns after the batch is on stable storage
	// (fdatasync). Concurrent appends share one fdatasync.
	Immediate = segment.Immediate
	// Eventual: Append returns after the batch is handed to the operating
	// system (written to the file, no fdatasync): it survives the process
	// being killed, not a power cut. Sync makes it durable.
	Eventual = segment.Eventual
)

// Defaults and limits for Options.
const (
	DefaultSegmentSize = 64 << 20
	MinSegmentSize     = 4 << 10
	// MaxSegmentSize is 1 GiB, or 256 MiB in a 32-bit address space
	// (where repair holds a damaged segment in memory whole).
	MaxSegmentSize = 1 << (28 + 2*(strconv.IntSize/64))
	// MaxBatchBytes bounds the size of one batch: its encoded entries,
	// and its keys and values with two bytes per record for their
	// lengths, whatever key prefix compression saves.
	MaxBatchBytes = segment.MaxPayload
)

// Compression says how the payloads of new frames are stored. Every frame
// records its codec, so a log may hold frames of every kind and the setting
// may change from one Open to the next: it affects only what is written.
type Compression uint8

const (
	// CompressionDefault is DefaultCompression.
	CompressionDefault Compression = iota
	// CompressionNone stores entries as they are (keys of a batch still
	// prefix-compressed, which alone halves route events on disk).
	CompressionNone
	// CompressionS2 compresses a batch of at least MinCompressBytes with
	// S2: fast to write and to read, several times smaller for route
	// events in batches, at about the cost of CompressionNone
	// (BENCHMARKS.md has the figures).
	CompressionS2
	// CompressionZstd compresses a batch of at least MinCompressBytes with
	// zstd (fastest level): less disk than S2, but compressing and
	// decoding a batch costs several times its CPU (BENCHMARKS.md has the
	// figures).
	CompressionZstd
)

// DefaultCompression is what CompressionDefault means; BENCHMARKS.md
// (issue 8) has the measurements behind the choice.
const DefaultCompression = CompressionS2

// MinCompressBytes is the smallest encoded batch that is compressed.
// Smaller ones (a single event, say) are stored as they are: with the
// 40-byte frame header, compressing 5 route events (64 bytes) makes the
// frame only 1.15-1.26x smaller, 10 events (128 bytes) 1.55x with either
// codec (BENCHMARKS.md, issue 8; measured on plain entries, before keys
// were prefix-compressed: 128 bytes now hold about 20 route events).
const MinCompressBytes = 128

// name is the text of c, or "" for an unknown value.
func (c Compression) name() string {
	switch c {
	case CompressionDefault:
		return "default"
	case CompressionNone:
		return "none"
	case CompressionS2:
		return "s2"
	case CompressionZstd:
		return "zstd"
	}
	return ""
}

// String returns "default", "none", "s2" or "zstd", or "Compression(N)"
// for an unknown value.
func (c Compression) String() string {
	if n := c.name(); n != "" {
		return n
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

// MarshalText implements encoding.TextMarshaler, so JSON and config
// files show "default", "none", "s2" or "zstd" rather than a number. An
// unknown value returns an error wrapping ErrInvalid.
func (c Compression) MarshalText() ([]byte, error) {
	if n := c.name(); n != "" {
		return []byte(n), nil
	}
	return nil, fmt.Errorf("%w: unknown compression %d", ErrInvalid, uint8(c))
}

// UnmarshalText implements encoding.TextUnmarshaler: it accepts what
// MarshalText returns, ignoring letter case ("S2" too). Any other text
// returns an error wrapping ErrInvalid and leaves c unchanged.
func (c *Compression) UnmarshalText(text []byte) error {
	for v := CompressionDefault; v <= CompressionZstd; v++ {
		if strings.EqualFold(string(text), v.name()) {
			*c = v
			return nil
		}
	}
	return fmt.Errorf("%w: unknown compression %q (want default, none, s2 or zstd)", ErrInvalid, text)
}

// codec is the frame codec of c (after defaults).
func (c Compression) codec() uint8 {
	switch c {
	case CompressionS2:
		return segment.CodecS2
	case CompressionZstd:
		return segment.CodecZstd
	}
	return segment.CodecNone
}

// Options configure a Log. The zero value is the sensible default.
type Options struct {
	Durability Durability
	// SegmentSize: rotate the active segment once it holds about this many
	// bytes. 0 means DefaultSegmentSize; other values are clamped to
	// [MinSegmentSize, MaxSegmentSize].
	SegmentSize int64
	// Compression of new batches; see Compression. Batches under
	// MinCompressBytes are never compressed.
	Compression Compression
	// CompactionThreshold turns on compaction of tombstoned records (see
	// Compact): pending tombstones are applied when an append leaves at
	// least this many live records. 0 means compaction is off.
	CompactionThreshold uint64
	// FS is the filesystem; nil means the operating system's.
	FS vfs.FS
	// FileMode is the permission of every file the log creates; its
	// directories get vfs.DirMode(FileMode) (a read bit brings the search
	// bit: 0o640 gives 0o750). 0 means vfs.DefaultFileMode, 0o600: owner
	// only. It is given to open and mkdir, so the umask still applies. It
	// must include 0o600 and nothing but permission bits (ErrInvalid
	// otherwise). It applies to FS too when FS implements vfs.FileModer,
	// as the operating system's does. Open warns (through Logger) of the
	// directory and each file in it more open than this; it changes no
	// mode.
	FileMode os.FileMode
	// Logger receives warnings about recovery; nil means slog.Default().
	Logger *slog.Logger
	// Inline runs the work otherwise done by a background goroutine (index
	// files and checkpoints of sealed segments, compaction rewrites) in the
	// appending goroutine, at the end of the Append that made it due. Appends
	// get slower; the sequence of file operations becomes deterministic, which
	// crash-exploration tests need to replay a crash point.
	Inline bool
	// MaxOpenSegments bounds the segment files the Log keeps open, the
	// active segment's included, with their read mappings: a sealed
	// segment is opened when read and the least recently used are closed
	// beyond it, so a log of any number of segments needs no more
	// descriptors than this (plus its manifest, lock and the file being
	// written at the moment). Files being read are never closed: with more
	// concurrent readers than the bound (each reads one file at a time),
	// or a file that compaction or truncation replaced while a snapshot
	// (Entries) may still read it, more stay open until those end. 0 means
	// DefaultMaxOpenSegments; values below 2 mean 2. It does not bound a
	// View, which holds every segment file it reads.
	MaxOpenSegments int
	// NoRepack turns off the repacking of sealed segments of small frames
	// (see repack.go): without it, a sealed segment whose frames average
	// under RepackFrameBytes is rewritten in the background with the
	// entries of consecutive frames packed into frames of about
	// RepackBytes (each entry keeping its sequence number and its batch's
	// time), which shrinks single-event batches several times on disk and
	// in memory.
	NoRepack bool

	// compressor encodes new frames (set by withDefaults).
	compressor *segment.Compressor
	// duringMappedGet, if set, runs in Get between taking a segment's
	// mapping and reading it, without the log's lock: tests hold a Get
	// there.
	duringMappedGet func()
}

// sized is option v (what) after defaults: def for 0, clamped to
// [lo, hi]; negative is invalid.
func sized[T int | int64](what string, v, def, lo, hi T) (T, error) {
	switch {
	case v < 0:
		return v, fmt.Errorf("%w: negative %s %d", ErrInvalid, what, v)
	case v == 0:
		return def, nil
	}
	return min(max(v, lo), hi), nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Durability > Eventual {
		return o, fmt.Errorf("%w: unknown durability %d", ErrInvalid, o.Durability)
	}
	var err error
	if o.SegmentSize, err = sized("segment size", o.SegmentSize, DefaultSegmentSize, MinSegmentSize, MaxSegmentSize); err != nil {
		return o, err
	}
	if o.MaxOpenSegments, err = sized("MaxOpenSegments", o.MaxOpenSegments, DefaultMaxOpenSegments, minOpenSegments, math.MaxInt); err != nil {
		return o, err
	}
	if o.Compression > CompressionZstd {
		return o, fmt.Errorf("%w: unknown compression %d", ErrInvalid, o.Compression)
	}
	if o.Compression == CompressionDefault {
		o.Compression = DefaultCompression
	}
	c, err := segment.NewCompressor(o.Compression.codec(), MinCompressBytes)
	if err != nil {
		return o, err
	}
	o.compressor = c
	if err := vfs.CheckFileMode(o.FileMode); err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	o.FS = vfs.WithFileMode(o.FS, o.FileMode)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}
