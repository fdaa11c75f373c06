package segment

import (
	"fmt"
	"io"
)

// ReadFrameInto reads and verifies the frame at off, like ReadFrame, into
// buf (grown if too small) and returns the payload, a slice of the
// returned buffer. When end > off, the caller knows the frame ends at end
// (the next frame's offset) and it is read with one system call; a frame
// of another size is ErrCorrupt.
func ReadFrameInto(r io.ReaderAt, size, off, end int64, buf []byte, name string) (FrameHeader, []byte, []byte, error) {
	if end <= off {
		h, err := readHeader(r, size, off, name)
		if err != nil {
			return h, nil, buf, err
		}
		end = off + h.Size()
	}
	if end > size || end-off < FrameHeaderSize || end-off > FrameHeaderSize+MaxPayload {
		return FrameHeader{}, nil, buf, fmt.Errorf("%s at offset %d: %w: frame end %d outside the file's %d bytes", name, off, ErrCorrupt, end, size)
	}
	n := int(end - off)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	fb := buf[:n]
	if _, err := r.ReadAt(fb, off); err != nil {
		return FrameHeader{}, nil, buf, fmt.Errorf("read %s at %d: %w", name, off, err)
	}
	h, err := ParseFrameHeader(fb[:FrameHeaderSize])
	if err != nil {
		if err == errZeroHeader {
			err = fmt.Errorf("%w: no frame here", ErrCorrupt)
		}
		return h, nil, buf, fmt.Errorf("%s at offset %d: %w", name, off, err)
	}
	if h.Size() != int64(n) {
		return h, nil, buf, fmt.Errorf("%s at offset %d: %w: frame of %d bytes where the index has %d", name, off, ErrCorrupt, h.Size(), n)
	}
	p := fb[FrameHeaderSize:]
	if got := Checksum(p); got != h.CRC {
		return h, nil, buf, fmt.Errorf("%s at offset %d: %w: payload checksum %08x, want %08x", name, off, ErrCorrupt, got, h.CRC)
	}
	return h, p, buf, nil
}

// readHeader reads and parses the frame header at off.
func readHeader(r io.ReaderAt, size, off int64, name string) (FrameHeader, error) {
	if off+FrameHeaderSize > size {
		return FrameHeader{}, fmt.Errorf("%s at offset %d: %w: no frame header before the end at %d", name, off, ErrCorrupt, size)
	}
	var hb [FrameHeaderSize]byte
	if _, err := r.ReadAt(hb[:], off); err != nil {
		return FrameHeader{}, fmt.Errorf("read %s at %d: %w", name, off, err)
	}
	h, err := ParseFrameHeader(hb[:])
	if err != nil {
		if err == errZeroHeader {
			err = fmt.Errorf("%w: no frame here", ErrCorrupt)
		}
		return h, fmt.Errorf("%s at offset %d: %w", name, off, err)
	}
	return h, nil
}
