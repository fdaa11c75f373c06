package segment

import (
	"fmt"
	"io"
)

// ReadFrameInto reads and verifies the frame at off, like ReadFrame, into
// buf (grown if too small) and returns the decoded payload, a slice of the
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
		return FrameHeader{}, nil, buf, Corruptf(name, off, "frame end %d outside the file's %d bytes", end, size)
	}
	n := int(end - off)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	fb := buf[:n]
	if _, err := r.ReadAt(fb, off); err != nil {
		return FrameHeader{}, nil, buf, fmt.Errorf("read %s at %d: %w", name, off, err)
	}
	// A compressed payload decodes into buf after the stored bytes, or
	// into a new slice if that room is too small.
	h, d, _, err := checkFrame(fb, buf[n:cap(buf)], off, name)
	return h, d, buf, err
}

// FrameAt verifies the frame at img[off:end] of a segment image in memory
// (a mapping of a segment) as ReadFrameInto does, without copying it: the
// payload returned aliases img, unless the frame is compressed, in which
// case it is copied into buf (grown if too small) and decoded there, and
// buf is returned for reuse.
func FrameAt(img []byte, off, end int64, buf []byte, name string) (FrameHeader, []byte, []byte, error) {
	if end <= off && off >= 0 && off+FrameHeaderSize <= int64(len(img)) {
		h, err := ParseFrameHeader(img[off : off+FrameHeaderSize])
		if err != nil {
			if err == errZeroHeader {
				err = Corruptf("", -1, "no frame here")
			}
			return h, nil, buf, AtOffset(err, name, off)
		}
		end = off + h.Size()
	}
	if off < 0 || end > int64(len(img)) || end-off < FrameHeaderSize || end-off > FrameHeaderSize+MaxPayload {
		return FrameHeader{}, nil, buf, Corruptf(name, off, "frame end %d outside the file's %d bytes", end, len(img))
	}
	fb := img[off:end]
	if fb[36] != CodecNone {
		// A compressed frame is copied out first, so that no decoder
		// (which may use goroutines of its own) ever touches img.
		n := len(fb)
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		fb = buf[:copy(buf[:n], fb)]
		h, d, _, err := checkFrame(fb, buf[n:cap(buf)], off, name)
		return h, d, buf[:0], err
	}
	h, d, dst, err := checkFrame(fb, buf, off, name)
	return h, d, dst[:0], err
}

// checkFrame verifies the frame fb (header and stored payload) found at
// off, and returns its decoded payload: fb's own bytes when stored as is,
// else decoded into dst (grown if too small), returned too.
func checkFrame(fb, dst []byte, off int64, name string) (FrameHeader, []byte, []byte, error) {
	h, p, err := parseFrame(fb)
	if err != nil {
		return h, nil, dst, AtOffset(err, name, off)
	}
	if h.Codec == CodecNone {
		return h, p, dst, nil
	}
	dn, err := decodedLen(h, p)
	if err != nil {
		return h, nil, dst, AtOffset(err, name, off)
	}
	if cap(dst) < dn {
		dst = make([]byte, dn)
	}
	d, err := DecodePayload(dst[:dn:dn], h, p)
	if err != nil {
		return h, nil, dst, AtOffset(err, name, off)
	}
	return h, d, dst, nil
}

// readHeader reads and parses the frame header at off.
func readHeader(r io.ReaderAt, size, off int64, name string) (FrameHeader, error) {
	if off+FrameHeaderSize > size {
		return FrameHeader{}, Corruptf(name, off, "no frame header before the end at %d", size)
	}
	var hb [FrameHeaderSize]byte
	if _, err := r.ReadAt(hb[:], off); err != nil {
		return FrameHeader{}, fmt.Errorf("read %s at %d: %w", name, off, err)
	}
	h, err := ParseFrameHeader(hb[:])
	if err != nil {
		if err == errZeroHeader {
			err = Corruptf("", -1, "no frame here")
		}
		return h, AtOffset(err, name, off)
	}
	return h, nil
}

// parseFrame verifies fb as exactly one frame: its header (see
// ParseFrameHeader; zeros are "no frame here") and its payload checksum.
// It returns the header and the stored payload, aliasing fb. Errors carry
// no place; callers add it.
func parseFrame(fb []byte) (FrameHeader, []byte, error) {
	h, err := ParseFrameHeader(fb)
	if err == errZeroHeader {
		err = Corruptf("", -1, "no frame here")
	}
	if err != nil {
		return h, nil, err
	}
	if h.Size() != int64(len(fb)) {
		return h, nil, Corruptf("", -1, "frame of %d bytes where the index has %d", h.Size(), len(fb))
	}
	p, err := framePayload(h, fb)
	return h, p, err
}

// framePayload checks the payload of fb, a frame of the size its header h
// says, against the header's checksum, and returns it.
func framePayload(h FrameHeader, fb []byte) ([]byte, error) {
	p := fb[FrameHeaderSize:]
	if got := Checksum(p); got != h.CRC {
		return nil, Corruptf("", -1, "payload checksum %08x, want %08x", got, h.CRC)
	}
	return p, nil
}
