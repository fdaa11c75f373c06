package segment

import (
	"encoding/binary"
	"fmt"
)

// Entry is one record of a frame as stored on disk.
type Entry struct {
	Seq uint64
	Key []byte
	// Tombstone marks an entry that removes every entry with the same key
	// and a sequence number up to its own, itself included (applied by the
	// compactor).
	Tombstone bool
	Value     []byte
}

// AppendEntry appends the encoding of one entry of a contiguous frame to
// dst. Use AppendSparseEntry for frames with FlagSparse.
func AppendEntry(dst, key, value []byte, tombstone bool) []byte {
	kl := uint64(len(key)) << 1
	if tombstone {
		kl |= 1
	}
	dst = binary.AppendUvarint(dst, kl)
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// AppendSparseEntry appends one entry of a FlagSparse frame: delta is the
// gap to the previous entry (seq - prev - 1) and is omitted for the first.
func AppendSparseEntry(dst []byte, first bool, delta uint64, key, value []byte, tombstone bool) []byte {
	if !first {
		dst = binary.AppendUvarint(dst, delta)
	}
	return AppendEntry(dst, key, value, tombstone)
}

// EntryIter decodes the entries of one frame's payload. The Key and Value
// of each entry alias the payload.
type EntryIter struct {
	h       FrameHeader
	p       []byte
	off     int
	n       uint32
	prevSeq uint64
}

// NewEntryIter returns an iterator over the entries of a frame whose header
// is h and whose (checksummed) payload is p.
func NewEntryIter(h FrameHeader, p []byte) EntryIter {
	return EntryIter{h: h, p: p}
}

// Next decodes the next entry. It returns ok=false after the last one. A
// payload that does not decode into exactly h.Count entries gives an error
// wrapping ErrCorrupt; it never panics, whatever the bytes.
func (it *EntryIter) Next() (e Entry, ok bool, err error) {
	if it.n == it.h.Count {
		if it.off != len(it.p) {
			return Entry{}, false, fmt.Errorf("%w: %d trailing payload bytes", ErrCorrupt, len(it.p)-it.off)
		}
		return Entry{}, false, nil
	}
	seq := it.h.FirstSeq
	if it.n > 0 {
		seq = it.prevSeq + 1
		if it.h.Flags&FlagSparse != 0 {
			d, err := it.uvarint()
			if err != nil {
				return Entry{}, false, err
			}
			if seq+d < seq {
				return Entry{}, false, fmt.Errorf("%w: sequence delta overflows", ErrCorrupt)
			}
			seq += d
		}
	}
	kl, err := it.uvarint()
	if err != nil {
		return Entry{}, false, err
	}
	key, err := it.bytes(kl >> 1)
	if err != nil {
		return Entry{}, false, err
	}
	vl, err := it.uvarint()
	if err != nil {
		return Entry{}, false, err
	}
	val, err := it.bytes(vl)
	if err != nil {
		return Entry{}, false, err
	}
	it.n++
	it.prevSeq = seq
	return Entry{Seq: seq, Key: key, Tombstone: kl&1 != 0, Value: val}, true, nil
}

func (it *EntryIter) uvarint() (uint64, error) {
	v, n := binary.Uvarint(it.p[it.off:])
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad varint in entry %d", ErrCorrupt, it.n)
	}
	it.off += n
	return v, nil
}

func (it *EntryIter) bytes(n uint64) ([]byte, error) {
	if n > uint64(len(it.p)-it.off) {
		return nil, fmt.Errorf("%w: entry %d length %d past payload end", ErrCorrupt, it.n, n)
	}
	b := it.p[it.off : it.off+int(n) : it.off+int(n)]
	it.off += int(n)
	return b, nil
}
