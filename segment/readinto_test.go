package segment

import (
	"bytes"
	"errors"
	"testing"
)

func TestReadFrameIntoChecksTheFrameAgainstItsEnd(t *testing.T) {
	img := make([]byte, FileHeaderSize)
	PutFileHeader(img, FileHeader{ID: 1})
	first := frameBytes(t, 5, 2, FileHeaderSize)
	img = append(img, first...)
	second := int64(len(img))
	img = append(img, frameBytes(t, 7, 1, uint32(len(img)))...)
	size := int64(len(img))
	r := bytes.NewReader(img)
	cases := []struct {
		name      string
		off, end  int64
		size      int64
		wantFirst uint64
		wantErr   error
	}{
		{"end known", FileHeaderSize, second, size, 5, nil},
		{"end unknown", FileHeaderSize, 0, size, 5, nil},
		{"last frame, end unknown", second, 0, size, 7, nil},
		{"end of the file as end", second, size, size, 7, nil},
		{"end one byte short", FileHeaderSize, second - 1, size, 0, ErrCorrupt},
		{"end one byte long", FileHeaderSize, second + 1, size, 0, ErrCorrupt},
		{"end past the readable size", second, size, size - 1, 0, ErrCorrupt},
		{"offset inside a frame", FileHeaderSize + 3, second, size, 0, ErrCorrupt},
		{"offset at the end", size, 0, size, 0, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, p, buf, err := ReadFrameInto(r, c.size, c.off, c.end, make([]byte, 0, 8), "seg")
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("ReadFrameInto(off %d, end %d): %v, want %v", c.off, c.end, err, c.wantErr)
			}
			if err != nil {
				return
			}
			if h.FirstSeq != c.wantFirst || int64(len(p))+FrameHeaderSize != h.Size() {
				t.Fatalf("got frame from %d with %d payload bytes (header %+v), want the frame from %d", h.FirstSeq, len(p), h, c.wantFirst)
			}
			if cap(buf) < int(h.Size()) {
				t.Fatalf("returned buffer of capacity %d holds no %d-byte frame", cap(buf), h.Size())
			}
		})
	}
}

// TestRandomReadsVerifyThePayloadChecksum: a payload byte flipped where
// the entries still decode (inside a value) is ErrCorrupt from both random
// read paths, ReadFrameInto (pread) and FrameAt (a mapping), never the
// altered value.
func TestRandomReadsVerifyThePayloadChecksum(t *testing.T) {
	img := make([]byte, FileHeaderSize)
	PutFileHeader(img, FileHeader{ID: 1})
	img = append(img, frameBytes(t, 5, 2, FileHeaderSize)...)
	end := int64(len(img))
	if _, _, _, err := FrameAt(img, FileHeaderSize, end, nil, "seg"); err != nil {
		t.Fatalf("undamaged frame: %v", err)
	}
	// The first entry's value "value" ends 6 bytes before the second
	// entry's key; flip its last byte.
	i := bytes.Index(img[FileHeaderSize+FrameHeaderSize:], []byte("value")) + FileHeaderSize + FrameHeaderSize + 4
	img[i] ^= 0x20
	if _, _, _, err := ReadFrameInto(bytes.NewReader(img), end, FileHeaderSize, end, nil, "seg"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadFrameInto of a frame with a flipped payload byte: %v, want ErrCorrupt", err)
	}
	if _, _, _, err := FrameAt(img, FileHeaderSize, end, nil, "seg"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("FrameAt of a frame with a flipped payload byte: %v, want ErrCorrupt", err)
	}
}
