package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// TestCorruptErrorSaysWhereAndWhat: damage found by a read is a
// *CorruptError naming the file and the damaged frame's offset, matching
// ErrCorrupt, with a detail that carries no place; the text reads
// "FILE at offset N: corrupt data: DETAIL".
func TestCorruptErrorSaysWhereAndWhat(t *testing.T) {
	img, offs := image(t, []int{2, 3, 1}, true)
	img[offs[1]+FrameHeaderSize+2] ^= 0x40 // a payload byte of the second frame
	_, _, _, err := ReadFrameInto(bytes.NewReader(img), int64(len(img)), offs[1], offs[2], nil, "seg-7")
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadFrameInto of a damaged frame: %v (%T), want a *CorruptError matching ErrCorrupt", err, err)
	}
	if ce.File != "seg-7" || ce.Offset != offs[1] || ce.Detail == "" || bytes.Contains([]byte(ce.Detail), []byte("seg-7")) {
		t.Fatalf("got %+v, want file seg-7, offset %d and a detail without the place", ce, offs[1])
	}
	if want := fmt.Sprintf("seg-7 at offset %d: corrupt data: %s", offs[1], ce.Detail); err.Error() != want {
		t.Fatalf("text %q, want %q", err, want)
	}
}

// TestAtOffsetPlacesOnlyUnplacedDamage: AtOffset gives damage found
// without a file (a header parsed from bytes) its place, and wraps
// anything else (an I/O error, damage placed already) with the place as
// context, keeping what it matches.
func TestAtOffsetPlacesOnlyUnplacedDamage(t *testing.T) {
	_, err := ParseFrameHeader(make([]byte, 3))
	placed := AtOffset(err, "f", 40)
	var ce *CorruptError
	if !errors.As(placed, &ce) || ce != placed || ce.File != "f" || ce.Offset != 40 {
		t.Fatalf("AtOffset(unplaced damage) = %#v, want a *CorruptError at f, 40", placed)
	}
	again := AtOffset(placed, "g", 7)
	if !errors.As(again, &ce) || ce.File != "f" || !errors.Is(again, ErrCorrupt) {
		t.Fatalf("AtOffset(placed damage) = %v, want it wrapped, still at f", again)
	}
	ioErr := AtOffset(io.ErrUnexpectedEOF, "f", 40)
	if errors.Is(ioErr, ErrCorrupt) || !errors.Is(ioErr, io.ErrUnexpectedEOF) || errors.As(ioErr, &ce) {
		t.Fatalf("AtOffset(an I/O error) = %v, want it wrapped and not damage", ioErr)
	}
}

// TestEveryParsedFrameHeaderIsPlausible: the cheap filter salvage runs at
// every offset never rejects a header ParseFrameHeader accepts, whatever
// its fields (seeded random headers with valid checksums, and damaged
// ones).
func TestEveryParsedFrameHeaderIsPlausible(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 0))
	accepted := 0
	for i := range 200_000 {
		h := FrameHeader{
			Length:   uint32(rng.IntN(MaxPayload + 2)),
			CRC:      rng.Uint32(),
			Synced:   rng.Uint32(),
			FirstSeq: rng.Uint64() >> uint(rng.IntN(64)),
			Time:     rng.Int64(),
			Count:    uint32(rng.IntN(1 << uint(rng.IntN(27)))),
			Codec:    uint8(rng.IntN(int(maxCodec) + 2)),
			Flags:    uint8(rng.IntN(int(knownFlags) + 2)),
		}
		b := make([]byte, FrameHeaderSize)
		PutFrameHeader(b, h)
		if rng.IntN(4) == 0 {
			b[rng.IntN(FrameHeaderSize)] ^= byte(1 << uint(rng.IntN(8)))
		}
		if _, err := ParseFrameHeader(b); err == nil {
			accepted++
			if !plausibleFrameHeader(b) {
				t.Fatalf("seed 21, header %d %+v: ParseFrameHeader accepts it, plausibleFrameHeader rejects it", i, h)
			}
		}
	}
	if accepted < 1000 {
		t.Fatalf("only %d of the random headers were valid: the test proves little", accepted)
	}
}
