package segment

import "fmt"

// Record is one entry to encode into a frame: its sequence number is the
// frame's to give (see Encoder.Batch).
type Record struct {
	Key   []byte
	Value []byte
	// Tombstone marks a record that, once compacted, removes every entry
	// with the same key and a sequence number up to its own (itself too).
	Tombstone bool
}

// Frame is one encoded frame, ready for Writer.WriteFrame: room for the
// header, then the stored payload, and every header field the encoding
// decided. It belongs to the Encoder that made it and is valid until the
// Encoder's next use.
type Frame struct {
	buf  []byte      // FrameHeaderSize bytes of room, then the stored payload
	h    FrameHeader // all but Length and Synced, which the writer fills
	last uint64      // sparse frames: the last entry's sequence number
}

// SetFirst gives a frame made by Encoder.Batch its first sequence number;
// its records take the numbers from first on.
func (f *Frame) SetFirst(first uint64) { f.h.FirstSeq = first }

// SetCompact marks the frame's append as applying compaction (FlagCompact).
func (f *Frame) SetCompact() { f.h.Flags |= FlagCompact }

// Size is the frame's size on disk.
func (f *Frame) Size() int64 { return int64(len(f.buf)) }

// Count is the number of entries in the frame.
func (f *Frame) Count() uint32 { return f.h.Count }

// Info describes the frame once written at off.
func (f *Frame) Info(off int64) FrameInfo {
	last := f.h.FirstSeq + uint64(f.h.Count) - 1
	if f.h.Flags&FlagSparse != 0 {
		last = f.last
	}
	return FrameInfo{Offset: uint32(off), Count: f.h.Count, First: f.h.FirstSeq, Last: last}
}

// Encoder turns records into frames. It makes every choice a frame's
// encoding has: keys prefix-compressed or plain, whether and how the
// payload is compressed, and its checksum. It is not safe for concurrent
// use; keep one per goroutine (or pool them) for its buffers.
type Encoder struct {
	comp *Compressor // nil: never compress
	buf  []byte      // header room, then the entries
	cbuf []byte      // header room, then the compressed entries
}

// NewEncoder returns an encoder compressing payloads with comp (nil: none).
func NewEncoder(comp *Compressor) *Encoder { return &Encoder{comp: comp} }

// Cap is the memory the encoder's buffers hold, for a pool that drops an
// encoder a rare huge batch has grown.
func (e *Encoder) Cap() int { return cap(e.buf) + cap(e.cbuf) }

// errBatchSize is Batch's error for records whose encoding would exceed
// MaxPayload.
var errBatchSize = fmt.Errorf("%w: batch over %d bytes", ErrInvalid, MaxPayload)

// Batch encodes records (at least one) as one frame whose entries have
// contiguous sequence numbers, from the one SetFirst gives it. Records of
// two or more whose keys share a prefix (route events of a batch do) are
// stored with FlagPrefix keys when that is smaller than plain keys; a
// single record, or keys that share nothing (the raft store's have none),
// are stored plainly, which costs nothing to decode. Records whose key and
// value bytes, plus two per record, exceed MaxPayload give an error
// wrapping ErrInvalid, whatever their encoding, so that a frame's keys
// stay within MaxFrameKeyBytes; so does a plain encoding over MaxPayload.
func (e *Encoder) Batch(records []Record, time int64) (f Frame, err error) {
	buf := headerRoom(e.buf)
	var flags uint8
	switch len(records) {
	case 0:
		return f, fmt.Errorf("%w: a frame of no records", ErrInvalid)
	case 1: // the route journal's most common batch, kept short
		r := &records[0]
		if buf = AppendEntry(buf, r.Key, r.Value, r.Tombstone); len(buf)-FrameHeaderSize > MaxPayload {
			return f, errBatchSize
		}
	default:
		if buf, flags, err = appendBatch(buf, records); err != nil {
			return f, err
		}
	}
	if cap(buf) != cap(e.buf) {
		e.buf = buf // grown
	}
	f.buf, f.h.Time, f.h.Count, f.h.Flags = buf, time, uint32(len(records)), flags
	if e.comp != nil && e.comp.codec != CodecNone && len(buf)-FrameHeaderSize >= e.comp.min {
		e.compress(&f)
	}
	f.h.CRC = Checksum(f.buf[FrameHeaderSize:])
	return f, nil
}

// headerRoom returns buf emptied but for room for a frame header, whose
// bytes the writer fills in.
func headerRoom(buf []byte) []byte {
	if cap(buf) < FrameHeaderSize {
		return make([]byte, FrameHeaderSize, 4096)
	}
	return buf[:FrameHeaderSize]
}

// appendBatch appends the entries of records to buf and returns it with
// the frame flags of that encoding.
func appendBatch(buf []byte, records []Record) ([]byte, uint8, error) {
	start := len(buf)
	// Unless the first two keys share more than the byte that storing the
	// shared length takes, encode plainly without trying.
	if len(records) > 1 && sharedPrefix(records[0].Key, records[1].Key) > 1 {
		plain := 0
		var prev []byte
		for _, r := range records {
			// Each length takes at least a byte: plain is at most
			// what the plain encoding takes.
			if plain += len(r.Key) + len(r.Value) + 2; plain > MaxPayload {
				return buf[:start], 0, errBatchSize
			}
			buf = AppendPrefixEntry(buf, prev, r.Key, r.Value, r.Tombstone)
			prev = r.Key
		}
		if len(buf)-start < plain {
			return buf, FlagPrefix, nil
		}
		buf = buf[:start] // it saved nothing: plain after all
	}
	for _, r := range records {
		buf = AppendEntry(buf, r.Key, r.Value, r.Tombstone)
		if len(buf)-start > MaxPayload {
			return buf[:start], 0, errBatchSize
		}
	}
	return buf, 0, nil
}

// Sparse encodes entries (at least one, with strictly ascending sequence
// numbers that may leave gaps, from one batch or several) as one frame, as
// the compactor writes what survives of frames: each entry keeps its
// sequence number and its time. Sequence gaps make the frame FlagSparse,
// differing times FlagTimed (the header's time is the first entry's). Keys
// are prefix-compressed when that is smaller; both ways are tried, as the
// compactor runs off the append path. Entries that do not fit one frame
// give an error wrapping ErrInvalid.
func (e *Encoder) Sparse(entries []Entry) (Frame, error) {
	if len(entries) == 0 {
		return Frame{}, fmt.Errorf("%w: a frame of no entries", ErrInvalid)
	}
	keys := 0
	for i, en := range entries {
		if i > 0 && en.Seq <= entries[i-1].Seq {
			return Frame{}, fmt.Errorf("%w: sparse entries out of order (%d after %d)", ErrInvalid, en.Seq, entries[i-1].Seq)
		}
		keys += len(en.Key)
	}
	flags, time := entriesFlags(entries), entries[0].Time
	buf := headerRoom(e.buf)
	start := len(buf)
	buf = appendEntries(buf, entries, flags|FlagPrefix, time)
	mid := len(buf)
	buf = appendEntries(buf, entries, flags, time)
	e.buf = buf
	if mid-start < len(buf)-mid && keys <= MaxFrameKeyBytes {
		buf = buf[:mid]
		flags |= FlagPrefix
	} else {
		buf = buf[:start+copy(buf[start:], buf[mid:])]
	}
	if len(buf)-start > MaxPayload {
		return Frame{}, fmt.Errorf("%w: %d entries over %d bytes", ErrInvalid, len(entries), MaxPayload)
	}
	f := Frame{buf: buf, h: FrameHeader{FirstSeq: entries[0].Seq, Time: time, Count: uint32(len(entries)), Flags: flags}, last: entries[len(entries)-1].Seq}
	if e.comp != nil && e.comp.codec != CodecNone && len(buf)-FrameHeaderSize >= e.comp.min {
		e.compress(&f)
	}
	f.h.CRC = Checksum(f.buf[FrameHeaderSize:])
	return f, nil
}

// compress replaces f's entries with their compressed form if that makes
// them smaller. Callers skip it for a payload below the compressor's
// minimum.
func (e *Encoder) compress(f *Frame) {
	out, codec := e.comp.Compress(headerRoom(e.cbuf), f.buf[FrameHeaderSize:])
	e.cbuf = out
	if codec != CodecNone {
		f.buf, f.h.Codec = out, codec
	}
}
