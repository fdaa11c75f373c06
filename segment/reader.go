package segment

import (
	"errors"
	"fmt"
	"io"
)

const readChunk = 256 << 10

// Reader reads the frames of one segment sequentially, verifying both
// checksums of each. It reads ahead in large chunks, so a scan costs a few
// system calls per megabyte rather than one per frame.
type Reader struct {
	r    io.ReaderAt
	size int64 // bytes of the file that may be read
	name string

	buf    []byte
	bufOff int64  // file offset of buf[0]
	dec    []byte // decoded payload of the last compressed frame
	off    int64  // next frame's offset
}

// NewReader returns a reader over the first size bytes of r, positioned at
// the first frame. name is used in error messages.
func NewReader(r io.ReaderAt, size int64, name string) *Reader {
	return &Reader{r: r, size: size, name: name, off: FileHeaderSize}
}

// SetOffset positions the reader at the frame starting at off.
func (r *Reader) SetOffset(off int64) { r.off = off }

// Offset is the offset of the next frame to read.
func (r *Reader) Offset() int64 { return r.off }

// peek returns the n bytes at off, reading them if not buffered. It returns
// fewer than n bytes only at the end of the readable size.
func (r *Reader) peek(off int64, n int) ([]byte, error) {
	if off >= r.bufOff && off+int64(n) <= r.bufOff+int64(len(r.buf)) {
		s := off - r.bufOff
		return r.buf[s : s+int64(n)], nil
	}
	want := max(n, readChunk)
	if rem := r.size - off; int64(want) > rem {
		want = int(max(rem, 0))
	}
	if cap(r.buf) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	got, err := r.r.ReadAt(r.buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && got == want) {
		if errors.Is(err, io.EOF) {
			// The file shrank under us; treat as the end.
			r.buf = r.buf[:got]
		} else {
			r.buf = r.buf[:0]
			return nil, fmt.Errorf("read %s at %d: %w", r.name, off, err)
		}
	}
	r.bufOff = off
	return r.buf[:min(n, len(r.buf))], nil
}

// errEnd is returned by next at the clean end of written data.
var errEnd = errors.New("end of segment")

// frameAt reads and verifies the frame at off. It returns errEnd when off is
// the end of the readable data or starts a zero header, and an error
// wrapping ErrCorrupt when the frame is damaged or incomplete.
func (r *Reader) frameAt(off int64) (FrameHeader, []byte, error) {
	if off >= r.size {
		return FrameHeader{}, nil, errEnd
	}
	hb, err := r.peek(off, FrameHeaderSize)
	if err != nil {
		return FrameHeader{}, nil, err
	}
	if len(hb) < FrameHeaderSize {
		if isZero(hb) {
			return FrameHeader{}, nil, errEnd
		}
		return FrameHeader{}, nil, Corruptf("", -1, "incomplete frame header")
	}
	h, err := ParseFrameHeader(hb)
	if err == errZeroHeader {
		return FrameHeader{}, nil, errEnd
	}
	if err != nil {
		return h, nil, err
	}
	if off+h.Size() > r.size {
		return h, nil, Corruptf("", -1, "frame of %d bytes runs past end of file", h.Size())
	}
	fb, err := r.peek(off, int(h.Size()))
	if err != nil {
		return h, nil, err
	}
	if int64(len(fb)) < h.Size() {
		return h, nil, Corruptf("", -1, "frame of %d bytes runs past end of file", h.Size())
	}
	p, err := framePayload(h, fb)
	return h, p, err
}

// Next returns the next frame with its decoded payload: the entries, also
// for a compressed frame. The payload aliases an internal buffer valid
// until the next call. At the end of the written data it returns io.EOF. A
// damaged frame, or one whose checksummed payload does not decode, gives an
// error wrapping ErrCorrupt naming the file and offset; Next does not
// decide whether the damage is a torn tail (see Scan).
func (r *Reader) Next() (off int64, h FrameHeader, payload []byte, err error) {
	off, h, payload, err = r.nextStored()
	if err != nil {
		return off, h, nil, err
	}
	if payload, err = r.decode(off, h, payload); err != nil {
		return off, h, nil, err
	}
	return off, h, payload, nil
}

// nextStored is Next without decoding: the payload is the stored bytes.
func (r *Reader) nextStored() (off int64, h FrameHeader, stored []byte, err error) {
	off = r.off
	h, stored, err = r.frameAt(off)
	switch {
	case err == errEnd:
		return off, h, nil, io.EOF
	case err != nil:
		return off, h, nil, AtOffset(err, r.name, off)
	}
	r.off = off + h.Size()
	return off, h, stored, nil
}

// decode decodes the stored payload of the frame at off into the reader's
// decode buffer.
func (r *Reader) decode(off int64, h FrameHeader, stored []byte) ([]byte, error) {
	if h.Codec == CodecNone {
		return stored, nil
	}
	p, err := DecodePayload(r.dec, h, stored)
	if err != nil {
		return nil, AtOffset(err, r.name, off)
	}
	if cap(p) <= maxKeptDecodeBuf {
		r.dec = p[:0]
	}
	return p, nil
}

// maxKeptDecodeBuf bounds the decode buffer a Reader keeps between frames,
// so one rare huge frame does not pin its size.
const maxKeptDecodeBuf = 4 << 20

// ReadFrame reads and verifies the single frame at off of a file of the
// given size. The returned payload is freshly allocated.
func ReadFrame(r io.ReaderAt, size, off int64, name string) (FrameHeader, []byte, error) {
	h, p, _, err := ReadFrameInto(r, size, off, 0, nil, name)
	return h, p, err
}

// appeared re-reads the frame at off, bypassing the buffer, and reports
// whether it is now valid; the next Next then returns it.
func (r *Reader) appeared(off int64) bool {
	r.buf = r.buf[:0]
	_, _, err := r.frameAt(off)
	r.off = off
	return err == nil
}
