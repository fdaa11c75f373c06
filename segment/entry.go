package segment

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// Entry is one record of a frame as stored on disk.
type Entry struct {
	Seq uint64
	// Time is the timestamp of the batch the entry was appended in: the
	// frame header's, or with FlagTimed the entry's own.
	Time int64
	Key  []byte
	// Tombstone marks an entry that removes every entry with the same key
	// and a sequence number up to its own, itself included (applied by the
	// compactor).
	Tombstone bool
	Value     []byte
}

// MaxFrameKeyBytes bounds the sum of the key lengths of one frame's
// entries. A plain frame meets it by construction (its keys are part of a
// payload of at most MaxPayload bytes); a FlagPrefix frame could promise
// far more through shared prefixes, so writers must keep the keys of a
// prefix frame within it and the iterator rejects a frame whose keys add
// up to more as corrupt. It is what bounds the memory the iterator
// allocates for reconstructed keys.
const MaxFrameKeyBytes = MaxPayload

// AppendEntry appends the encoding of one entry of a contiguous frame to
// dst. Use AppendSparseEntry for frames with FlagSparse and
// AppendPrefixEntry for frames with FlagPrefix.
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

// AppendPrefixEntry appends one entry of a contiguous FlagPrefix frame:
// its key is stored as the length it shares with prev, the previous
// entry's key in the frame (nil for the first entry), and the rest. The
// caller keeps the sum of the frame's key lengths within MaxFrameKeyBytes.
func AppendPrefixEntry(dst, prev, key, value []byte, tombstone bool) []byte {
	n := sharedPrefix(prev, key)
	dst = binary.AppendUvarint(dst, uint64(n))
	return AppendEntry(dst, key[n:], value, tombstone)
}

// AppendSparsePrefixEntry appends one entry of a frame with both
// FlagSparse and FlagPrefix: the sequence delta as in AppendSparseEntry
// (omitted for the first entry), then the key as in AppendPrefixEntry
// (prev is nil for the first entry).
func AppendSparsePrefixEntry(dst []byte, first bool, delta uint64, prev, key, value []byte, tombstone bool) []byte {
	if !first {
		dst = binary.AppendUvarint(dst, delta)
	}
	return AppendPrefixEntry(dst, prev, key, value, tombstone)
}

// appendEntries appends entries as those of a frame with flags (any of
// FlagSparse, FlagPrefix and FlagTimed), whose header time is time. The
// caller has checked that the flags fit the entries: ascending sequence
// numbers, contiguous without FlagSparse, all at time without FlagTimed.
func appendEntries(dst []byte, entries []Entry, flags uint8, time int64) []byte {
	for i, en := range entries {
		if flags&FlagTimed != 0 {
			dst = binary.AppendUvarint(dst, zigzag(en.Time-time))
			time = en.Time
		}
		var prev []byte
		if i > 0 {
			prev = entries[i-1].Key
			if flags&FlagSparse != 0 {
				dst = binary.AppendUvarint(dst, en.Seq-entries[i-1].Seq-1)
			}
		}
		if flags&FlagPrefix != 0 {
			dst = AppendPrefixEntry(dst, prev, en.Key, en.Value, en.Tombstone)
		} else {
			dst = AppendEntry(dst, en.Key, en.Value, en.Tombstone)
		}
	}
	return dst
}

// EncodeEntries encodes entries (at least one, with ascending sequence
// numbers) as the plain payload of one frame, uncompressed and without
// prefix keys, and returns the header fields that describe it: FirstSeq,
// Time (the first entry's), Count, and the flags the entries need
// (FlagSparse for gaps between sequence numbers, FlagTimed for more than
// one time). Length and the checksums are left to the caller. It is how a
// cut keeps a frame's surviving entries in the bounds file.
func EncodeEntries(dst []byte, entries []Entry) (FrameHeader, []byte) {
	if len(entries) == 0 {
		return FrameHeader{}, dst
	}
	h := FrameHeader{FirstSeq: entries[0].Seq, Time: entries[0].Time, Count: uint32(len(entries)), Flags: entriesFlags(entries)}
	return h, appendEntries(dst, entries, h.Flags, h.Time)
}

// entriesFlags is FlagSparse if entries' sequence numbers have gaps and
// FlagTimed if their times differ.
func entriesFlags(entries []Entry) uint8 {
	var flags uint8
	if entries[len(entries)-1].Seq-entries[0].Seq != uint64(len(entries)-1) {
		flags |= FlagSparse
	}
	for _, en := range entries[1:] {
		if en.Time != entries[0].Time {
			flags |= FlagTimed
			break
		}
	}
	return flags
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// sharedPrefix is the length of the longest common prefix of a and b: what
// AppendPrefixEntry stores as shared for key b after key a. Writers use it
// to tell whether trying prefix compression is worth it.
func sharedPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < n && a[i] == b[i]; i++ {
	}
	return i
}

// EntryIter decodes the entries of one frame's payload. The Value of each
// entry aliases the payload; so does the Key, except in a FlagPrefix frame,
// where a key that shares a prefix with the previous one is rebuilt in
// memory the iterator owns. Either way every Key and Value it returns stays
// valid and unchanged for as long as the payload does: the iterator never
// reuses that memory, so a caller may keep all the entries of a frame
// (unless it asked for reuse with NewEntryIterScratch).
type EntryIter struct {
	h        FrameHeader
	p        []byte
	off      int
	n        uint32
	prevSeq  uint64
	prevTime int64 // FlagTimed frames: the previous entry's time
	// FlagPrefix frames only.
	prevKey  []byte  // the previous entry's key
	arena    []byte  // spare room for rebuilt keys; full chunks are left to their keys
	scratch  *[]byte // instead of arena: the one buffer rebuilt keys go to, emptied by each call
	keyBytes uint64  // sum of the key lengths so far, at most MaxFrameKeyBytes
}

// arenaChunk bounds the chunks of memory the iterator allocates for
// rebuilt keys (a single longer key gets a chunk of its own).
const arenaChunk = 64 << 10

// NewEntryIter returns an iterator over the entries of a frame whose header
// is h and whose (checksummed, decoded) payload is p.
func NewEntryIter(h FrameHeader, p []byte) EntryIter {
	return EntryIter{h: h, p: p, prevTime: h.Time}
}

// NewEntryIterScratch is NewEntryIter for a caller that uses each entry's
// Key only until the next call to Next (or NextBatch): a key rebuilt from a
// shared prefix is then written over the previous one in *scratch (grown as
// needed, up to the longest key), not into memory of its own. The caller may pass the
// same scratch to the iterators of later frames, so that a scan allocates
// nothing per frame. Values, and keys that need no rebuilding, alias the
// payload as with NewEntryIter; what is valid and what is corrupt is the
// same.
func NewEntryIterScratch(h FrameHeader, p []byte, scratch *[]byte) EntryIter {
	return EntryIter{h: h, p: p, prevTime: h.Time, scratch: scratch}
}

// Next decodes the next entry. It returns ok=false after the last one. A
// payload that does not decode into exactly h.Count entries, a key that
// claims more shared bytes than the previous key has, or keys that add up
// to more than MaxFrameKeyBytes give an error wrapping ErrCorrupt; it never
// panics, whatever the bytes, and the memory it allocates for keys is
// bounded: at most 4/3 of the keys' bytes (so of MaxFrameKeyBytes) plus
// one chunk of 64 KiB.
func (it *EntryIter) Next() (e Entry, ok bool, err error) {
	if it.n == it.h.Count {
		return Entry{}, false, it.end()
	}
	if it.scratch != nil {
		*it.scratch = (*it.scratch)[:0]
	}
	if err := it.next(&e); err != nil {
		return Entry{}, false, err
	}
	return e, true, nil
}

// NextBatch decodes the next entries into dst, as many as fit, and returns
// how many: what len(dst) calls of Next would return, without the cost of
// a call per entry. With a non-empty dst it returns 0 only after the last
// entry. On error (as Next's)
// dst[:n] holds the entries decoded before the damage. With
// NewEntryIterScratch the keys rebuilt from shared prefixes go to *scratch
// one after another, so every key of dst[:n] stays valid until the next
// call: *scratch then grows to at most twice the length of the keys of
// one call and the last key of the call before.
func (it *EntryIter) NextBatch(dst []Entry) (n int, err error) {
	if it.scratch != nil {
		// The keys of this call go after the previous key, moved to the
		// front: a key that is all of it (not rebuilt) shares its bytes,
		// which must stay as they are until the next call.
		b := append((*it.scratch)[:0], it.prevKey...)
		it.prevKey = b[:len(b):len(b)]
		*it.scratch = b
	}
	for n < len(dst) && it.n < it.h.Count {
		if err := it.next(&dst[n]); err != nil {
			return n, err
		}
		n++
	}
	if it.n == it.h.Count {
		err = it.end()
	}
	return n, err
}

// end checks, once every entry is decoded, that nothing follows them.
func (it *EntryIter) end() error {
	if it.off != len(it.p) {
		return Corruptf("", -1, "%d trailing payload bytes", len(it.p)-it.off)
	}
	return nil
}

// next decodes the next entry into *e, which is left in an unspecified
// state on error. The caller has checked that one is due. It works on
// local copies of the payload and offset: it runs once per entry of every
// read.
func (it *EntryIter) next(e *Entry) error {
	p, off, flags := it.p, it.off, it.h.Flags
	var v uint64
	time := it.prevTime
	if flags&FlagTimed != 0 {
		if v, off = uvarint(p, off); off < 0 {
			return it.badVarint()
		}
		time += unzigzag(v) // wraps on damage: any int64 is a valid time
	}
	seq := it.h.FirstSeq
	if it.n > 0 {
		seq = it.prevSeq + 1
		if flags&FlagSparse != 0 {
			if v, off = uvarint(p, off); off < 0 {
				return it.badVarint()
			}
			if seq+v < seq {
				return Corruptf("", -1, "sequence delta overflows")
			}
			seq += v
		}
	}
	var shared uint64
	if flags&FlagPrefix != 0 {
		if shared, off = uvarint(p, off); off < 0 {
			return it.badVarint()
		}
		if shared > uint64(len(it.prevKey)) {
			return Corruptf("", -1, "entry %d shares %d key bytes with a previous key of %d", it.n, shared, len(it.prevKey))
		}
	}
	kl, off := uvarint(p, off)
	if off < 0 {
		return it.badVarint()
	}
	if kl>>1 > uint64(len(p)-off) {
		return it.pastEnd(kl >> 1)
	}
	end := off + int(kl>>1)
	key := p[off:end:end]
	off = end
	if flags&FlagPrefix != 0 {
		var err error
		if key, err = it.joinKey(int(shared), key); err != nil {
			return err
		}
		it.prevKey = key
	}
	vl, off := uvarint(p, off)
	if off < 0 {
		return it.badVarint()
	}
	if vl > uint64(len(p)-off) {
		return it.pastEnd(vl)
	}
	end = off + int(vl)
	*e = Entry{Seq: seq, Time: time, Key: key, Tombstone: kl&1 != 0, Value: p[off:end:end]}
	it.off = end
	it.n++
	it.prevSeq, it.prevTime = seq, time
	return nil
}

// uvarint decodes the varint at p[off:] as binary.Uvarint does and returns
// it with the offset after it, or -1 if there is none. It runs for every
// length and delta of every entry read, so it is written to be inlined and
// to cost little for the one-byte varints that nearly all of them are.
func uvarint(p []byte, off int) (uint64, int) {
	var x uint64
	for s := uint(0); off < len(p) && s < 64; s += 7 {
		b := p[off]
		off++
		x |= uint64(b&0x7f) << s
		if b < 0x80 {
			if s == 63 && b > 1 {
				return 0, -1 // overflows 64 bits
			}
			return x, off
		}
	}
	return 0, -1
}

func (it *EntryIter) badVarint() error {
	return Corruptf("", -1, "bad varint in entry %d", it.n)
}

func (it *EntryIter) pastEnd(n uint64) error {
	return Corruptf("", -1, "entry %d length %d past payload end", it.n, n)
}

// joinKey returns the key made of the first shared bytes of the previous
// key and suffix, which aliases the payload. It copies only when both parts
// are non-empty, and counts every key against MaxFrameKeyBytes.
func (it *EntryIter) joinKey(shared int, suffix []byte) ([]byte, error) {
	n := shared + len(suffix)
	it.keyBytes += uint64(n)
	if it.keyBytes > MaxFrameKeyBytes {
		return nil, Corruptf("", -1, "keys of entries up to %d add up to more than %d bytes", it.n, MaxFrameKeyBytes)
	}
	switch {
	case shared == 0:
		return suffix, nil
	case len(suffix) == 0:
		return it.prevKey[:shared:shared], nil
	case it.scratch != nil:
		// prevKey may be in *it.scratch, even where the key goes after
		// Next emptied it: copy handles that, and a grown buffer leaves
		// earlier keys where they are.
		b := slices.Grow(*it.scratch, n)
		start := len(b)
		b = b[:start+n]
		copy(b[start:], it.prevKey[:shared])
		copy(b[start+shared:], suffix)
		*it.scratch = b
		return b[start : start+n : start+n], nil
	}
	if cap(it.arena)-len(it.arena) < n {
		size := max(min(2*cap(it.arena), arenaChunk), min(2*len(it.p), arenaChunk))
		if n > size/4 {
			// A long key gets memory of its own, so that no chunk is
			// left more than a quarter empty.
			key := make([]byte, n)
			copy(key[copy(key, it.prevKey[:shared]):], suffix)
			return key, nil
		}
		// Earlier keys keep the old chunk; it is never written again.
		it.arena = make([]byte, 0, size)
	}
	start := len(it.arena)
	it.arena = append(it.arena, it.prevKey[:shared]...)
	it.arena = append(it.arena, suffix...)
	return it.arena[start : start+n : start+n], nil
}
