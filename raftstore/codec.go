package raftstore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Value encoding of one raft.Log (its Index is the record's sequence number
// and is not stored):
//
//	uvarint  Term
//	byte     Type
//	byte     flags: bit 0 Extensions present; bits 1-2 the AppendedAt form
//	[time]   AppendedAt, by form:
//	           timeZero  nothing (the zero time.Time)
//	           timeDelta varint: Unix nanoseconds minus the batch time
//	                     (Unix milliseconds) * 1e6; a few bytes when the
//	                     entry was appended in the millisecond the batch
//	                     time names, as every entry of a leader's batch is
//	           timeWide  varint Unix seconds, uvarint nanoseconds (times
//	                     outside the int64 nanosecond range)
//	[ext]    uvarint length, Extensions bytes
//	data     Data: the rest of the value
//
// An entry thus costs 3 bytes plus its time (usually 3-4), its Data and its
// Extensions, with the wal's own framing around it.
const (
	flagExt       = 1 << 0
	timeShift     = 1
	timeMask      = 3 << timeShift
	timeZero      = 0
	timeDelta     = 1
	timeWide      = 2
	knownFlags    = flagExt | timeMask
	maxHeaderSize = binary.MaxVarintLen64 + 2 + 2*binary.MaxVarintLen64 + binary.MaxVarintLen64
)

// batchTime is the wal batch time for a batch whose first entry is l: its
// AppendedAt in Unix milliseconds, or 0.
func batchTime(l *raft.Log) int64 {
	if l.AppendedAt.IsZero() {
		return 0
	}
	if ns, ok := unixNano(l.AppendedAt); ok {
		return floorDiv(ns, 1e6)
	}
	return 0
}

// unixNano is t in Unix nanoseconds, if that fits an int64.
func unixNano(t time.Time) (int64, bool) {
	// UnixNano is undefined outside about 1678..2262; check by round trip.
	ns := t.UnixNano()
	return ns, time.Unix(0, ns).Equal(t)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// encodedSizeBound is an upper bound of len(appendLog(nil, l, _)).
func encodedSizeBound(l *raft.Log) int {
	return maxHeaderSize + len(l.Extensions) + len(l.Data)
}

// appendLog appends the value encoding of l to dst; bt is the batch time
// (Unix ms) the entry is stored under.
func appendLog(dst []byte, l *raft.Log, bt int64) []byte {
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	var flags byte
	if len(l.Extensions) > 0 {
		flags |= flagExt
	}
	form, ns := timeZero, int64(0)
	if !l.AppendedAt.IsZero() {
		var ok bool
		if ns, ok = unixNano(l.AppendedAt); ok {
			form = timeDelta
		} else {
			form = timeWide
		}
	}
	flags |= byte(form) << timeShift
	dst = append(dst, flags)
	switch form {
	case timeDelta:
		// Both terms are in [-2^63, 2^63) and bt*1e6 <= ns for the batch's
		// first entry; for the others the difference may wrap, which the
		// decoder's wrapping addition undoes exactly.
		dst = binary.AppendVarint(dst, ns-bt*1e6)
	case timeWide:
		dst = binary.AppendVarint(dst, l.AppendedAt.Unix())
		dst = binary.AppendUvarint(dst, uint64(l.AppendedAt.Nanosecond()))
	}
	if flags&flagExt != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
		dst = append(dst, l.Extensions...)
	}
	return append(dst, l.Data...)
}

// decodeLog fills out from the value v of the entry with sequence number
// index stored under batch time bt. Data and Extensions alias v (capacity
// limited, so appending to one cannot overwrite the other). Damage gives an
// error wrapping ErrCorrupt; it never panics.
func decodeLog(index uint64, bt int64, v []byte, out *raft.Log) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: raft log %d: %s", ErrCorrupt, index, what)
	}
	term, n := binary.Uvarint(v)
	if n <= 0 {
		return bad("bad term")
	}
	v = v[n:]
	if len(v) < 2 {
		return bad("truncated header")
	}
	typ, flags := raft.LogType(v[0]), v[1]
	v = v[2:]
	if flags&^knownFlags != 0 {
		return bad(fmt.Sprintf("unknown flags %#x", flags))
	}
	var at time.Time
	switch (flags & timeMask) >> timeShift {
	case timeZero:
	case timeDelta:
		d, n := binary.Varint(v)
		if n <= 0 {
			return bad("bad time")
		}
		v = v[n:]
		at = time.Unix(0, int64(uint64(bt)*1e6+uint64(d)))
	case timeWide:
		s, n := binary.Varint(v)
		if n <= 0 {
			return bad("bad time")
		}
		v = v[n:]
		ns, n := binary.Uvarint(v)
		if n <= 0 || ns >= 1e9 {
			return bad("bad time")
		}
		v = v[n:]
		at = time.Unix(s, int64(ns))
	default:
		return bad("unknown time form")
	}
	var ext []byte
	if flags&flagExt != 0 {
		l, n := binary.Uvarint(v)
		if n <= 0 || l == 0 || l > uint64(len(v)-n) {
			return bad("bad extensions length")
		}
		end := n + int(l)
		ext = v[n:end:end]
		v = v[end:]
	}
	var data []byte
	if len(v) > 0 {
		data = v[:len(v):len(v)]
	}
	*out = raft.Log{Index: index, Term: term, Type: typ, Data: data, Extensions: ext, AppendedAt: at}
	return nil
}
