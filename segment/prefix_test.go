package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// testEntry is one entry to encode, with its sequence number.
type testEntry struct {
	seq       uint64
	key, val  string
	tombstone bool
}

// prefixKeys exercises every way a key can relate to the previous one:
// sharing nothing, a prefix, all of it (equal keys), being a prefix of it,
// and empty keys.
var prefixKeys = []string{"route-17", "route-170", "route-170", "route-1", "", "route-2", "rout", "x", "route-999", "route-999-extra"}

// encodeFrame builds a frame with the given flags (and codec when comp is
// not nil) holding entries, encoding each entry the way the flags say.
func encodeFrame(t *testing.T, flags uint8, comp *Compressor, entries []testEntry, synced uint32) []byte {
	t.Helper()
	var p []byte
	var prev []byte
	for i, e := range entries {
		var delta uint64
		if i > 0 {
			delta = e.seq - entries[i-1].seq - 1
		}
		key, val := []byte(e.key), []byte(e.val)
		switch flags & (FlagSparse | FlagPrefix) {
		case 0:
			p = AppendEntry(p, key, val, e.tombstone)
		case FlagSparse:
			p = AppendSparseEntry(p, i == 0, delta, key, val, e.tombstone)
		case FlagPrefix:
			p = AppendPrefixEntry(p, prev, key, val, e.tombstone)
		case FlagSparse | FlagPrefix:
			p = AppendSparsePrefixEntry(p, i == 0, delta, prev, key, val, e.tombstone)
		}
		prev = key
	}
	codec := CodecNone
	if comp != nil {
		p, codec = comp.Compress(nil, p)
	}
	buf := make([]byte, FrameHeaderSize, FrameHeaderSize+len(p))
	buf = append(buf, p...)
	PutFrameHeader(buf, FrameHeader{Length: uint32(len(p)), CRC: Checksum(p), Synced: synced, FirstSeq: entries[0].seq, Time: 7, Count: uint32(len(entries)), Codec: codec, Flags: flags})
	return buf
}

// frameEntries makes the entries of one frame from seq on: contiguous
// unless sparse, keys from prefixKeys starting at the i-th.
func frameEntries(seq uint64, i int, sparse bool) []testEntry {
	var out []testEntry
	for k := range len(prefixKeys) {
		out = append(out, testEntry{seq: seq, key: prefixKeys[(i+k)%len(prefixKeys)], val: fmt.Sprintf("v%d", seq), tombstone: seq%4 == 3})
		seq++
		if sparse {
			seq += uint64(k % 3)
		}
	}
	return out
}

func TestFramesOfEveryFlagCombinationReadBackInOneSegment(t *testing.T) {
	combos := []uint8{0, FlagSparse, FlagPrefix, FlagSparse | FlagPrefix, FlagPrefix | FlagCompact, FlagSparse | FlagPrefix | FlagCompact}
	for _, codec := range []uint8{CodecNone, CodecS2, CodecZstd} {
		t.Run(fmt.Sprintf("codec%d", codec), func(t *testing.T) {
			var comp *Compressor
			if codec != CodecNone {
				comp = mustCompressor(t, codec, 1)
			}
			// Plain frames (as written before FlagPrefix existed) and
			// prefix frames follow each other in one segment.
			img := make([]byte, FileHeaderSize)
			PutFileHeader(img, FileHeader{ID: 1})
			var want [][]testEntry
			var seq uint64
			for i, flags := range append(combos, combos...) {
				es := frameEntries(seq, i, flags&FlagSparse != 0)
				want = append(want, es)
				img = append(img, encodeFrame(t, flags, comp, es, uint32(len(img)))...)
				seq = es[len(es)-1].seq + 1
			}
			rd := NewReader(memFile(img), int64(len(img)), "seg")
			var scratch []byte
			for i, es := range want {
				_, h, p, err := rd.Next()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				// Keep every entry of the frame, as a reader that
				// reverses a frame does, and check them afterwards.
				var got []Entry
				it := NewEntryIter(h, p)
				for {
					e, ok, err := it.Next()
					if err != nil {
						t.Fatalf("frame %d (flags %#x) entry %d: %v", i, h.Flags, len(got), err)
					}
					if !ok {
						break
					}
					// Appending to a key must not change the next one.
					_ = append(e.Key, "XXXXXXXXXXXXXXXX"...)
					got = append(got, e)
				}
				if len(got) != len(es) {
					t.Fatalf("frame %d (flags %#x): %d entries, want %d", i, h.Flags, len(got), len(es))
				}
				for k, w := range es {
					g := got[k]
					if g.Seq != w.seq || string(g.Key) != w.key || string(g.Value) != w.val || g.Tombstone != w.tombstone {
						t.Fatalf("frame %d (flags %#x) entry %d: got seq %d key %q value %q tombstone %v, want seq %d key %q value %q tombstone %v",
							i, h.Flags, k, g.Seq, g.Key, g.Value, g.Tombstone, w.seq, w.key, w.val, w.tombstone)
					}
				}
				// The same with one scratch buffer for every frame, each
				// key checked before the next is decoded.
				sit := NewEntryIterScratch(h, p, &scratch)
				for k := 0; ; k++ {
					e, ok, err := sit.Next()
					if err != nil || ok != (k < len(es)) {
						t.Fatalf("frame %d (flags %#x) entry %d with scratch: ok %v, %v; want %d entries", i, h.Flags, k, ok, err, len(es))
					}
					if !ok {
						break
					}
					if w := es[k]; e.Seq != w.seq || string(e.Key) != w.key || string(e.Value) != w.val {
						t.Fatalf("frame %d (flags %#x) entry %d with scratch: got seq %d key %q value %q, want %d %q %q", i, h.Flags, k, e.Seq, e.Key, e.Value, w.seq, w.key, w.val)
					}
				}
				if last, err := LastSeq(h, p); err != nil || last != es[len(es)-1].seq {
					t.Fatalf("frame %d (flags %#x): LastSeq = %d, %v; want %d", i, h.Flags, last, err, es[len(es)-1].seq)
				}
			}
			if res, firsts, err := scan(t, img); err != nil || res.Tail != TailClean || len(firsts) != len(want) {
				t.Fatalf("Scan: %+v, %v, %d frames; want %d clean frames", res, err, len(firsts), len(want))
			}
		})
	}
}

func TestPrefixEncodingShrinksRouteBatches(t *testing.T) {
	var plain, prefixed []byte
	var prev []byte
	for i := range 100 {
		key := fmt.Appendf(nil, "route-%d", i%1000)
		plain = AppendEntry(plain, key, []byte{byte(1 + i%4)}, false)
		prefixed = AppendPrefixEntry(prefixed, prev, key, []byte{byte(1 + i%4)}, false)
		prev = key
	}
	if len(prefixed)*3 > len(plain)*2 {
		t.Fatalf("prefix encoding of 100 route keys took %d bytes, plain %d: want at most two thirds", len(prefixed), len(plain))
	}
}

// iterate runs an iterator to its end or first error.
func iterate(h FrameHeader, p []byte) (n int, err error) {
	it := NewEntryIter(h, p)
	for {
		_, ok, err := it.Next()
		if err != nil || !ok {
			return n, err
		}
		n++
	}
}

// repeatedKeyFrame is a FlagPrefix payload of one key of keyLen bytes
// followed by more entries that each repeat it whole (shared = keyLen, no
// suffix): tiny on disk, while its keys add up to keyLen*(1+more).
func repeatedKeyFrame(keyLen, more int) []byte {
	p := AppendPrefixEntry(nil, nil, bytes.Repeat([]byte{'k'}, keyLen), nil, false)
	for range more {
		p = binary.AppendUvarint(p, uint64(keyLen))
		p = append(p, 0, 0) // no suffix, no value
	}
	return p
}

func TestPrefixEntryIterRejectsBadPayloads(t *testing.T) {
	u := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	first := AppendPrefixEntry(nil, nil, []byte("route-1"), []byte("v"), false)
	cases := []struct {
		name    string
		flags   uint8
		count   uint32
		payload []byte
	}{
		{"first entry shares a prefix", FlagPrefix, 1, append(u(1, 2), 'a', 0)},
		{"shared longer than the previous key", FlagPrefix, 2, append(append([]byte{}, first...), append(u(8, 2), 'x', 0)...)},
		{"huge shared count", FlagPrefix, 2, append(append([]byte{}, first...), append(u(1<<62, 2), 'x', 0)...)},
		{"shared varint cut off", FlagPrefix, 2, append(append([]byte{}, first...), 0x80)},
		{"suffix past end", FlagPrefix, 2, append(append([]byte{}, first...), u(3, 200)...)},
		{"value past end", FlagPrefix, 2, append(append([]byte{}, first...), append(u(3, 2), 'x', 9)...)},
		{"sparse: shared longer than the previous key", FlagSparse | FlagPrefix, 2, append(append([]byte{}, first...), append(u(0, 8, 2), 'x', 0)...)},
		{"sparse: first entry shares a prefix", FlagSparse | FlagPrefix, 1, append(u(3, 2), 'a', 0)},
		{"keys add up to more than MaxFrameKeyBytes", FlagPrefix, MaxFrameKeyBytes/(64<<10) + 1, repeatedKeyFrame(64<<10, MaxFrameKeyBytes/(64<<10))},
		{"trailing bytes", FlagPrefix, 1, append(append([]byte{}, first...), 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := iterate(FrameHeader{Count: c.count, Flags: c.flags}, c.payload); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestPrefixFrameKeysMayAddUpToMaxFrameKeyBytes(t *testing.T) {
	// 1024 keys of 64 KiB: exactly MaxFrameKeyBytes, from a payload of
	// 68 KiB. Repeating a whole key needs no copy.
	const keyLen = 64 << 10
	n, err := iterate(FrameHeader{Count: MaxFrameKeyBytes / keyLen, Flags: FlagPrefix}, repeatedKeyFrame(keyLen, MaxFrameKeyBytes/keyLen-1))
	if err != nil || n != MaxFrameKeyBytes/keyLen {
		t.Fatalf("got %d entries, %v; want all %d: keys totalling MaxFrameKeyBytes are valid", n, err, MaxFrameKeyBytes/keyLen)
	}
}

func TestPrefixFrameOfLongKeysAllocatesAboutTheirSize(t *testing.T) {
	// Keys that share all but their last byte are each rebuilt: memory
	// for them is about their total size, never per-entry chunks that
	// would multiply it.
	const keyLen, n = 3000, 200
	var p, prev []byte
	for i := range n {
		key := append(bytes.Repeat([]byte{'k'}, keyLen-1), byte(i))
		p = AppendPrefixEntry(p, prev, key, nil, false)
		prev = key
	}
	h := FrameHeader{Count: n, Flags: FlagPrefix}
	var before, after runtimeMem
	before.read()
	if got, err := iterate(h, p); err != nil || got != n {
		t.Fatalf("got %d entries, %v; want %d", got, err, n)
	}
	after.read()
	if alloc := after.total - before.total; alloc > keyLen*n*4/3+2*arenaChunk {
		t.Fatalf("rebuilding %d bytes of keys allocated %d bytes, want at most 4/3 of them plus two chunks", keyLen*n, alloc)
	}
}

// runtimeMem reads the bytes allocated so far by the process.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}

func TestSharedPrefixCountsCommonLeadingBytesAcrossWords(t *testing.T) {
	long := "0123456789abcdefghijklmnopqrstuvwxyz"
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "route-1", 0},
		{"route-1", "route-1", 7},
		{"route-1", "route-10", 7},
		{"route-10", "route-1", 7},
		{"route-1", "route-2", 6},
		{"xroute", "route", 0},
		{long, long, len(long)},
		{long[:8], long, 8},
		{long[:8] + "X", long, 8},
		{long[:7] + "X", long, 7},
		{long[:16] + "X" + long[17:], long, 16},
		{long[:23] + "X", long, 23},
	}
	for _, c := range cases {
		if got := sharedPrefix([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("sharedPrefix(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestNextBatchYieldsWhatNextYields decodes frames of every flag
// combination, whole, cut short at every byte and with a trailing byte,
// both entry by entry and in batches of several sizes sharing one scratch
// buffer: the batches hold the same entries, every key of a batch intact
// until the next call, and end with the same error after the same entries.
func TestNextBatchYieldsWhatNextYields(t *testing.T) {
	for _, flags := range []uint8{0, FlagPrefix, FlagSparse | FlagPrefix, FlagPrefix | FlagTimed, FlagSparse | FlagPrefix | FlagTimed, FlagSparse | FlagTimed} {
		sparse := flags&FlagSparse != 0
		var es []Entry
		for i, te := range append(frameEntries(40, 3, sparse), frameEntries(80, 5, sparse)...) {
			if !sparse {
				te.seq = 40 + uint64(i)
			}
			es = append(es, Entry{Seq: te.seq, Time: 1000 + int64(i%3), Key: []byte(te.key), Value: []byte(te.val), Tombstone: te.tombstone})
		}
		// Long keys each repeated (a key that is all of the previous one
		// is not rebuilt but shares its bytes), so that the first keys of
		// a batch share those of the previous batch's last one, followed
		// by keys that are rebuilt.
		for i := range 40 {
			seq := es[len(es)-1].Seq + 1
			if sparse {
				seq += uint64(i % 2)
			}
			key := fmt.Sprintf("a-long-shared-route-prefix-%d", i/(2+i%3))
			es = append(es, Entry{Seq: seq, Time: es[len(es)-1].Time + int64(i%2), Key: []byte(key), Value: []byte{byte(i)}})
		}
		if flags&FlagTimed == 0 {
			for i := range es {
				es[i].Time = es[0].Time
			}
		}
		payload := appendEntries(nil, es, flags, es[0].Time)
		h := FrameHeader{FirstSeq: es[0].Seq, Time: es[0].Time, Count: uint32(len(es)), Flags: flags}
		variants := [][]byte{payload, append(payload[:len(payload):len(payload)], 0)}
		for cut := range len(payload) {
			variants = append(variants, payload[:cut])
		}
		for _, p := range variants {
			var want []Entry
			var wantErr error
			it := NewEntryIter(h, p)
			for {
				e, ok, err := it.Next()
				if err != nil || !ok {
					wantErr = err
					break
				}
				want = append(want, e)
			}
			if len(p) == len(payload) && (wantErr != nil || len(want) != len(es)) {
				t.Fatalf("flags %#x: Next gave %d entries, %v; want %d", flags, len(want), wantErr, len(es))
			}
			for _, size := range []int{1, 2, 3, 4, 5, 7, 256} {
				var scratch []byte
				bit := NewEntryIterScratch(h, p, &scratch)
				buf := make([]Entry, size)
				var got []Entry
				var gotErr error
				for {
					n, err := bit.NextBatch(buf)
					for _, e := range buf[:n] {
						// Copied only once the whole batch is decoded:
						// every key must still hold.
						e.Key = bytes.Clone(e.Key)
						got = append(got, e)
					}
					if err != nil || n == 0 {
						gotErr = err
						break
					}
				}
				if len(got) != len(want) || (gotErr == nil) != (wantErr == nil) || gotErr != nil && !errors.Is(gotErr, ErrCorrupt) {
					t.Fatalf("flags %#x, %d of %d payload bytes, batches of %d: %d entries, error %v; Next gave %d, %v",
						flags, len(p), len(payload), size, len(got), gotErr, len(want), wantErr)
				}
				for k := range want {
					g, w := got[k], want[k]
					if g.Seq != w.Seq || g.Time != w.Time || !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || g.Tombstone != w.Tombstone {
						t.Fatalf("flags %#x, %d payload bytes, batches of %d, entry %d: got %+v, want %+v", flags, len(p), size, k, g, w)
					}
				}
			}
		}
	}
}
