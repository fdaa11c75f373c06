package check

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

// Side files. Before Repair removes anything, it saves every byte it will
// remove in one side file, synced, in this format (integers little-endian):
//
//	magic "SEGCUT\x00\x01"
//	then pieces back to back until the end of the file, each:
//	  nameLen uint16
//	  name    [nameLen]byte  base name of the source file in the log dir
//	  offset  uint64         offset in the source file of the first byte
//	  length  uint64         number of bytes
//	  crc     uint32         CRC-32C of the bytes
//	  data    [length]byte
//
// The pieces are: the cut segment from the cut offset to its end, then
// every removed segment whole (offset 0), then every removed index file
// whole. Appending a piece's bytes at its offset to its file (or putting
// back a whole file) restores the log as it was before the repair.
const sideMagic = "SEGCUT\x00\x01"

// SidePiece is one piece of a side file written by Repair.
type SidePiece struct {
	Name   string // base name of the source file
	Offset int64  // offset in the source file of Data[0]
	Data   []byte
}

// ReadSideFile reads back a side file written by Repair, verifying each
// piece's checksum. fsys nil means the OS.
func ReadSideFile(path string, fsys vfs.FS) ([]SidePiece, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if !bytes.HasPrefix(buf, []byte(sideMagic)) {
		return nil, fmt.Errorf("%s: %w: not a side file", path, wal.ErrCorrupt)
	}
	buf = buf[len(sideMagic):]
	var out []SidePiece
	for len(buf) > 0 {
		if len(buf) < 2 {
			return nil, fmt.Errorf("%s: %w: truncated piece", path, wal.ErrCorrupt)
		}
		nl := int(binary.LittleEndian.Uint16(buf))
		if len(buf) < 2+nl+20 {
			return nil, fmt.Errorf("%s: %w: truncated piece", path, wal.ErrCorrupt)
		}
		name := string(buf[2 : 2+nl])
		buf = buf[2+nl:]
		off := binary.LittleEndian.Uint64(buf)
		n := binary.LittleEndian.Uint64(buf[8:])
		crc := binary.LittleEndian.Uint32(buf[16:])
		buf = buf[20:]
		if n > uint64(len(buf)) {
			return nil, fmt.Errorf("%s: %w: truncated piece %s", path, wal.ErrCorrupt, name)
		}
		data := buf[:n:n]
		if segment.Checksum(data) != crc {
			return nil, fmt.Errorf("%s: %w: checksum of piece %s", path, wal.ErrCorrupt, name)
		}
		out = append(out, SidePiece{Name: name, Offset: int64(off), Data: data})
		buf = buf[n:]
	}
	return out, nil
}

type offWriter struct {
	f   vfs.File
	off int64
	err error
}

// Write writes p at the current offset and advances it.
func (w *offWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	w.err = err
	return n, err
}

// copyPiece appends the piece of file path from off to its end to w.
func copyPiece(fsys vfs.FS, w *offWriter, path string, off int64) error {
	f, err := fsys.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return err
	}
	n := max(size-off, 0)
	data := make([]byte, n)
	if _, err := f.ReadAt(data, off); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	name := filepath.Base(path)
	hdr := make([]byte, 0, 2+len(name)+20)
	hdr = binary.LittleEndian.AppendUint16(hdr, uint16(len(name)))
	hdr = append(hdr, name...)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(off))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(n))
	hdr = binary.LittleEndian.AppendUint32(hdr, segment.Checksum(data))
	w.Write(hdr)
	w.Write(data)
	return w.err
}
