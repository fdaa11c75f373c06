package segment

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compressed payloads
//
// A frame whose codec is not CodecNone stores its payload compressed. The
// stored bytes (what Length counts and the payload CRC covers) are
//
//	uvarint  decoded length, 1 .. MaxPayload
//	[]byte   the codec's data
//
// With CodecS2 the whole is one S2 block, whose format starts with that
// uvarint; with CodecZstd the data is one zstd frame. The decoded bytes are
// the entries, exactly as in a CodecNone frame. Decoding checks the promised
// length against MaxPayload and the frame's entry count before it allocates
// anything, and a result of any other length is corrupt.

// zstdWindow is the window the encoder uses and the most the decoder
// accepts: payloads up to it are one zstd segment, larger ones (up to
// MaxPayload) reference at most this far back.
const zstdWindow = 1 << 20

// Compressor compresses frame payloads with one codec. It is safe for
// concurrent use. The zero value is not usable; call NewCompressor.
type Compressor struct {
	codec uint8
	min   int
	zenc  *zstd.Encoder
}

// NewCompressor returns a compressor for codec (CodecNone, CodecS2 or
// CodecZstd) that compresses payloads of at least minSize bytes. With
// CodecNone it never compresses.
func NewCompressor(codec uint8, minSize int) (*Compressor, error) {
	c := &Compressor{codec: codec, min: max(minSize, 1)}
	switch codec {
	case CodecNone, CodecS2:
	case CodecZstd:
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithEncoderCRC(false), // the frame's CRC covers the bytes
			zstd.WithWindowSize(zstdWindow),
			zstd.WithZeroFrames(true))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd encoder: %v", ErrInvalid, err)
		}
		c.zenc = enc
	default:
		return nil, fmt.Errorf("%w: unknown codec %d", ErrInvalid, codec)
	}
	return c, nil
}

// Codec is the codec the compressor uses.
func (c *Compressor) Codec() uint8 { return c.codec }

// Compress appends the stored form of payload to dst and returns it with
// the codec to record in the frame header. A payload below the minimum
// size, or one that compression would not make smaller, is appended as is
// with CodecNone: a reader never pays for decoding that saved nothing.
// payload must not overlap dst's spare capacity.
func (c *Compressor) Compress(dst, payload []byte) ([]byte, uint8) {
	if c == nil || c.codec == CodecNone || len(payload) < c.min || len(payload) > MaxPayload {
		return append(dst, payload...), CodecNone
	}
	start := len(dst)
	switch c.codec {
	case CodecS2:
		need := s2.MaxEncodedLen(len(payload))
		dst = grow(dst, need)
		enc := s2.Encode(dst[start:start+need], payload)
		dst = dst[:start+len(enc)]
	case CodecZstd:
		dst = binary.AppendUvarint(dst, uint64(len(payload)))
		dst = c.zenc.EncodeAll(payload, dst)
	}
	if len(dst)-start >= len(payload) {
		return append(dst[:start], payload...), CodecNone
	}
	return dst, c.codec
}

// grow makes room for n more bytes after len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// zstdDecoder is the one zstd decoder of the process, created on first
// use. A zstd.Decoder used only through DecodeAll is safe for concurrent
// use and keeps a bounded set of internal decoders (one per CPU): it is a
// cache, not state that changes what any call returns.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxWindow(zstdWindow),
		zstd.WithDecoderMaxMemory(MaxPayload),
		zstd.WithDecodeAllCapLimit(true),
		zstd.IgnoreChecksum(true)) // the frame's CRC covers the bytes
})

// decodedLen returns the length a frame's payload decodes to: Length for
// CodecNone, else the length the stored bytes promise. It checks the
// promise (at most MaxPayload, at least the entry count) without
// allocating; a bad one is an error wrapping ErrCorrupt.
func decodedLen(h FrameHeader, stored []byte) (int, error) {
	if h.Codec == CodecNone {
		return len(stored), nil
	}
	n, k := binary.Uvarint(stored)
	switch {
	case k <= 0:
		return 0, Corruptf("", -1, "bad decoded length of codec %d payload", h.Codec)
	case n > MaxPayload:
		return 0, Corruptf("", -1, "codec %d payload claims %d decoded bytes, over limit", h.Codec, n)
	case n < uint64(h.Count):
		return 0, Corruptf("", -1, "codec %d payload of %d decoded bytes for %d entries", h.Codec, n, h.Count)
	}
	return int(n), nil
}

// DecodePayload returns the entries of a frame whose header is h and whose
// checksummed stored payload is stored. A CodecNone payload is returned as
// is; a compressed one is decoded into dst's storage if it is large enough,
// else into a new slice of exactly the promised length. Bytes that do not
// decode, or decode to another length than promised, give an error
// wrapping ErrCorrupt; memory use is bounded by MaxPayload whatever the
// bytes.
func DecodePayload(dst []byte, h FrameHeader, stored []byte) ([]byte, error) {
	n, err := decodedLen(h, stored)
	if err != nil || h.Codec == CodecNone {
		return stored, err
	}
	var out []byte
	switch h.Codec {
	case CodecS2:
		out, err = s2.Decode(buffer(dst, n)[:n], stored)
	case CodecZstd:
		_, k := binary.Uvarint(stored)
		// A zstd frame that states its size must state the same one,
		// checked before the buffer is made.
		var zh zstd.Header
		if herr := zh.Decode(stored[k:]); herr != nil || zh.HasFCS && zh.FrameContentSize != uint64(n) {
			return nil, Corruptf("", -1, "zstd frame header (%v, size %d) does not promise %d bytes", herr, zh.FrameContentSize, n)
		}
		dec, derr := zstdDecoder()
		if derr != nil {
			return nil, fmt.Errorf("zstd decoder: %w", derr)
		}
		// The decoder is capped at cap(dst): it cannot grow the buffer.
		out, err = dec.DecodeAll(stored[k:], buffer(dst, n)[:0])
	default:
		return nil, Corruptf("", -1, "unknown codec %d", h.Codec)
	}
	if err != nil {
		return nil, Corruptf("", -1, "codec %d payload: %v", h.Codec, err)
	}
	if len(out) != n {
		return nil, Corruptf("", -1, "codec %d payload decoded to %d bytes, want %d", h.Codec, len(out), n)
	}
	return out, nil
}

// buffer returns dst if it can hold n bytes, else a new buffer of exactly
// n: the capacity decoding may use.
func buffer(dst []byte, n int) []byte {
	if cap(dst) >= n {
		return dst[:0:n]
	}
	return make([]byte, 0, n)
}
