package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// routeEntries encodes n entries shaped like the journal's route events:
// repetitive keys and values, which compress well.
func routeEntries(first, n int) []byte {
	var p []byte
	for i := first; i < first+n; i++ {
		p = AppendEntry(p, fmt.Appendf(nil, "route-%d", i%1000), []byte{byte(1 + i%4)}, false)
	}
	return p
}

// storedFrame builds a frame of the given codec whose stored payload is
// stored (already in that codec's form).
func storedFrame(first uint64, count uint32, codec uint8, stored []byte, synced uint32) []byte {
	buf := make([]byte, FrameHeaderSize, FrameHeaderSize+len(stored))
	buf = append(buf, stored...)
	PutFrameHeader(buf, FrameHeader{Length: uint32(len(stored)), CRC: Checksum(stored), Synced: synced, FirstSeq: first, Time: 7, Count: count, Codec: codec})
	return buf
}

func mustCompressor(t *testing.T, codec uint8, min int) *Compressor {
	t.Helper()
	c, err := NewCompressor(codec, min)
	if err != nil {
		t.Fatalf("NewCompressor(%d): %v", codec, err)
	}
	return c
}

var compressedCodecs = []struct {
	name  string
	codec uint8
}{{"s2", CodecS2}, {"zstd", CodecZstd}}

func TestCompressedFramesReadBackAsTheirEntries(t *testing.T) {
	for _, tc := range compressedCodecs {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompressor(t, tc.codec, 64)
			// One segment mixing compressed frames (a small one of 12
			// entries too: zstd states no size for it) with an
			// uncompressed one (too small).
			sizes := []int{200, 1, 300, 12}
			img := make([]byte, FileHeaderSize)
			PutFileHeader(img, FileHeader{ID: 1})
			var want [][]byte
			var offs []int64
			var codecs []uint8
			seq := 0
			for _, n := range sizes {
				p := routeEntries(seq, n)
				stored, codec := c.Compress(nil, p)
				want, codecs = append(want, p), append(codecs, codec)
				offs = append(offs, int64(len(img)))
				img = append(img, storedFrame(uint64(seq), uint32(n), codec, stored, uint32(len(img)))...)
				seq += n
			}
			if want := []uint8{tc.codec, CodecNone, tc.codec, tc.codec}; !bytes.Equal(codecs, want) {
				t.Fatalf("codecs %v, want %v: a 1-entry batch stays uncompressed", codecs, want)
			}
			if d := int(binary.LittleEndian.Uint32(img[offs[0]+4:])); d*2 > len(want[0]) {
				t.Fatalf("stored %d bytes for %d of entries, want under half", d, len(want[0]))
			}
			rd := NewReader(memFile(img), int64(len(img)), "seg")
			for i := range sizes {
				off, h, p, err := rd.Next()
				if err != nil || off != offs[i] || !bytes.Equal(p, want[i]) {
					t.Fatalf("Next %d: off %d err %v, equal %v; want off %d with the entries", i, off, err, bytes.Equal(p, want[i]), offs[i])
				}
				_, p2, err := ReadFrame(memFile(img), int64(len(img)), off, "seg")
				if err != nil || !bytes.Equal(p2, want[i]) {
					t.Fatalf("ReadFrame(%d): %v, equal %v; want the entries", off, err, bytes.Equal(p2, want[i]))
				}
				end := int64(len(img))
				if i+1 < len(offs) {
					end = offs[i+1]
				}
				for _, bufCap := range []int{0, int(end - off), 1 << 16} {
					_, p3, _, err := ReadFrameInto(memFile(img), int64(len(img)), off, end, make([]byte, 0, bufCap), "seg")
					if err != nil || !bytes.Equal(p3, want[i]) {
						t.Fatalf("ReadFrameInto(%d, buffer of %d): %v, equal %v; want the entries", off, bufCap, err, bytes.Equal(p3, want[i]))
					}
				}
				it := NewEntryIter(h, p)
				for k := 0; ; k++ {
					e, ok, err := it.Next()
					if err != nil {
						t.Fatalf("frame %d entry %d: %v", i, k, err)
					}
					if ok && e.Seq != h.FirstSeq+uint64(k) {
						t.Fatalf("frame %d entry %d has seq %d, want %d", i, k, e.Seq, h.FirstSeq+uint64(k))
					}
					if !ok {
						if k != sizes[i] {
							t.Fatalf("frame %d has %d entries, want %d", i, k, sizes[i])
						}
						break
					}
				}
			}
			res, firsts, err := scan(t, img)
			if err != nil || res.Tail != TailClean || len(firsts) != len(sizes) || res.Last != uint64(seq-1) {
				t.Fatalf("Scan: %+v, %v, firsts %v; want %d clean frames through %d", res, err, firsts, len(sizes), seq-1)
			}
		})
	}
}

func TestCompressStoresAsIsWhenItSavesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for _, tc := range compressedCodecs {
		for name, p := range map[string][]byte{
			"below the minimum": routeEntries(0, 3),
			"incompressible":    random,
		} {
			c := mustCompressor(t, tc.codec, 128)
			stored, codec := c.Compress([]byte("prefix"), p)
			if codec != CodecNone || !bytes.Equal(stored, append([]byte("prefix"), p...)) {
				t.Errorf("%s %s: codec %d, want CodecNone with the payload appended as is", tc.name, name, codec)
			}
		}
	}
	none := mustCompressor(t, CodecNone, 1)
	if _, codec := none.Compress(nil, routeEntries(0, 500)); codec != CodecNone {
		t.Errorf("CodecNone compressor used codec %d", codec)
	}
	if _, err := NewCompressor(9, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewCompressor(9): %v, want ErrInvalid", err)
	}
}

func TestParseFrameHeaderCountCheckUsesTheCodec(t *testing.T) {
	cases := []struct {
		name string
		h    FrameHeader
		ok   bool
	}{
		{"uncompressed, more entries than bytes", FrameHeader{Length: 2, Count: 3}, false},
		{"s2, more entries than stored bytes", FrameHeader{Length: 20, Count: 500, Codec: CodecS2}, true},
		{"zstd, more entries than stored bytes", FrameHeader{Length: 20, Count: 500, Codec: CodecZstd}, true},
		{"compressed, 1 stored byte", FrameHeader{Length: 1, Count: 1, Codec: CodecS2}, false},
		{"compressed, count over MaxPayload", FrameHeader{Length: 20, Count: MaxPayload + 1, Codec: CodecZstd}, false},
		{"codec past the last known", FrameHeader{Length: 20, Count: 1, Codec: maxCodec + 1}, false},
	}
	for _, tc := range cases {
		var b [FrameHeaderSize]byte
		PutFrameHeader(b[:], tc.h)
		_, err := ParseFrameHeader(b[:])
		if tc.ok && err != nil {
			t.Errorf("%s: %v, want accepted", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func TestBadCompressedPayloadIsCorruptWithFileAndOffset(t *testing.T) {
	entries := routeEntries(0, 100)
	n := len(entries)
	// Frames under 256 bytes that are not one segment carry no size in
	// their own header, so only the decoder's cap stops them.
	small := routeEntries(0, 15)
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false), zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	zstdOf := func(promised int, p []byte) []byte {
		return zenc.EncodeAll(p, binary.AppendUvarint(nil, uint64(promised)))
	}
	if len(small) >= 256 {
		t.Fatalf("small payload of %d bytes, want under 256", len(small))
	}
	s2Block := s2.Encode(nil, entries)
	cases := []struct {
		name   string
		codec  uint8
		count  uint32
		stored []byte
		want   string
	}{
		{"s2 promising more than MaxPayload", CodecS2, 100, binary.AppendUvarint(nil, MaxPayload+1), "over limit"},
		{"zstd promising more than MaxPayload", CodecZstd, 100, append(binary.AppendUvarint(nil, MaxPayload+1), 0, 0), "over limit"},
		{"promising fewer bytes than entries", CodecZstd, 100, zstdOf(50, entries[:50]), "for 100 entries"},
		{"bad length varint", CodecS2, 1, bytes.Repeat([]byte{0xff}, 12), "bad decoded length"},
		{"zstd header stating another size", CodecZstd, 100, zstdOf(n-1, entries), "does not promise"},
		{"zstd decoding to more than promised", CodecZstd, 15, zstdOf(len(small)-1, small), "codec 2 payload"},
		{"zstd decoding to less than promised", CodecZstd, 15, zstdOf(len(small)+1, small), "decoded to"},
		{"zstd garbage", CodecZstd, 100, append(binary.AppendUvarint(nil, uint64(n)), bytes.Repeat([]byte{0xAB}, 40)...), "zstd frame header"},
		{"zstd cut short", CodecZstd, 100, zstdOf(n, entries)[:20], "codec 2 payload"},
		{"s2 cut short", CodecS2, 100, s2Block[:len(s2Block)/2], "codec 1 payload"},
		{"s2 garbage", CodecS2, 100, append(binary.AppendUvarint(nil, uint64(n)), bytes.Repeat([]byte{0xfe}, 40)...), "codec 1 payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := make([]byte, FileHeaderSize)
			PutFileHeader(img, FileHeader{ID: 1})
			img = append(img, frameBytes(t, 0, 2, FileHeaderSize)...)
			off := int64(len(img))
			// The bad frame is the last one and claims nothing durable, so
			// only its valid checksum tells it from a torn write.
			img = append(img, storedFrame(2, tc.count, tc.codec, tc.stored, FileHeaderSize)...)
			check := func(what string, err error) {
				t.Helper()
				at := fmt.Sprintf("seg at offset %d", off)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), at) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v; want ErrCorrupt naming %q and %q", what, err, at, tc.want)
				}
			}
			_, _, err := ReadFrame(memFile(img), int64(len(img)), off, "seg")
			check("ReadFrame", err)
			rd := NewReader(memFile(img), int64(len(img)), "seg")
			rd.SetOffset(off)
			_, _, _, err = rd.Next()
			check("Reader.Next", err)
			_, _, err = scan(t, img)
			check("Scan (not a torn tail)", err)
		})
	}
}
