package segment

import (
	"fmt"

	"github.com/seglog/journal/vfs"
)

// Writer appends frames to one segment file. It is not safe for concurrent
// use; the log above it serializes writes and may run Sync on the file from
// another goroutine (fdatasync is safe to run beside positional writes).
//
// The file grows ahead of the data in steps of zeros that are written, not
// just reserved: an fdatasync then has only data to flush, not the block
// allocation and size change that appending to the end of a file costs on
// every commit. The steps grow with the file (1 to 16 MiB), so a large
// segment takes few of the size changes that slow the fdatasync after
// them. Where the file system allows it, frames are copied into a
// shared memory map of the file instead of written with a system call:
// either way they are in the operating system's page cache when WriteFrame
// returns, so a killed process loses nothing.
type Writer struct {
	f      vfs.File
	name   string
	id     uint64
	off    int64  // end of written data
	synced int64  // data in [0, synced) is durable
	size   int64  // file size; [off, size) holds zeros written ahead
	ahead  int64  // expected segment size: grow ahead of the data up to it (0: do not)
	m      []byte // shared mapping of the file's first len(m) bytes, or nil
}

// The file is extended with zeros in steps that grow with it, from
// minGrowStep to maxGrowStep: each extension changes the file's size,
// which the next fdatasync must commit to the file system's journal (a
// latency spike), so a large segment takes few of them while a small
// journal stays small.
const (
	minGrowStep = 1 << 20
	maxGrowStep = 16 << 20
)

// growStep is how far a file of the given size is extended at once.
func growStep(size int64) int64 { return min(max(size, minGrowStep), maxGrowStep) }

// zeros is a read-only source of zero bytes for growing files.
var zeros [64 << 10]byte

// Create creates a new segment file with the given header, writes it and
// syncs it. The caller must sync the directory before acknowledging
// anything written to it, so the file itself survives a power cut.
// reserve, if positive, is the expected size of the segment: the file then
// grows ahead of its data, up to it, and may be memory-mapped. Disk space
// is taken as the file grows, not reserved up front, so a small journal
// stays small. With reserve 0 frames are plainly appended.
func Create(fs vfs.FS, name string, fh FileHeader, reserve int64) (*Writer, error) {
	f, err := fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	var hdr [FileHeaderSize]byte
	PutFileHeader(hdr[:], fh)
	if _, err := f.WriteAt(hdr[:], 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s header: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync %s: %w", name, err)
	}
	w := &Writer{f: f, name: name, id: fh.ID, off: FileHeaderSize, synced: FileHeaderSize, size: FileHeaderSize, ahead: reserve}
	w.mapFile(reserve)
	return w, nil
}

// Resume returns a writer appending at end to an existing segment file f
// of size end whose bytes are known to be valid and durable (the caller
// scanned, cut and synced them). reserve is the expected segment size.
func Resume(f vfs.File, name string, id uint64, end, reserve int64) *Writer {
	w := &Writer{f: f, name: name, id: id, off: end, synced: end, size: end, ahead: reserve}
	w.mapFile(reserve)
	return w
}

// mapFile maps the file for writing if its file system supports it. A
// failure to map is not an error: writes then go through WriteAt.
func (w *Writer) mapFile(length int64) {
	if mp, ok := w.f.(vfs.Mapper); ok && length > 0 {
		if m, err := mp.Map(min(length, MaxSegmentSize)); err == nil {
			w.m = m
		}
	}
}

// Mapped returns the writer's mapping of the file's first end bytes, for
// reading frames already written (they never change while the writer
// lives), or nil if there is none or it is shorter. The caller must stop
// using it before Unmap.
func (w *Writer) Mapped(end int64) []byte {
	if end > int64(len(w.m)) || end > w.size {
		return nil
	}
	return w.m[:end:end]
}

// Unmap releases the writer's memory map, if any; later frames are written
// with WriteAt. Call it before truncating or closing the file.
func (w *Writer) Unmap() error {
	if w.m == nil {
		return nil
	}
	m := w.m
	w.m = nil
	return w.f.(vfs.Mapper).Unmap(m)
}

// grow extends the file with zeros so that it holds at least end bytes.
func (w *Writer) grow(end int64) error {
	if end <= w.size || w.ahead == 0 {
		return nil
	}
	target := max(end, min(w.size+growStep(w.size), w.ahead))
	for off := w.size; off < target; {
		n := min(int64(len(zeros)), target-off)
		if _, err := w.f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("grow %s to %d: %w", w.name, target, err)
		}
		off += n
		w.size = off
	}
	return nil
}

// ID is the segment number.
func (w *Writer) ID() uint64 { return w.id }

// Name is the file's path.
func (w *Writer) Name() string { return w.name }

// File is the underlying file, for readers and for syncing.
func (w *Writer) File() vfs.File { return w.f }

// Offset is the end of the written data: the size the file will have once
// sealed.
func (w *Writer) Offset() int64 { return w.off }

// Synced is the offset through which data is known durable.
func (w *Writer) Synced() int64 { return w.synced }

// MarkSynced records that a Sync started when the data ended at off has
// completed.
func (w *Writer) MarkSynced(off int64) {
	if off > w.synced {
		w.synced = off
	}
}

// WriteFrame writes one frame at the end of the segment. frame holds
// FrameHeaderSize bytes of space for the header followed by the payload;
// WriteFrame fills the header from h (Length from the payload, Synced from
// the writer). h.CRC must already be the payload's checksum. It returns
// the frame's offset. On error the frame may be partly written: the caller
// must stop writing to this segment (recovery cuts the partial frame).
func (w *Writer) WriteFrame(frame []byte, h FrameHeader) (int64, error) {
	if len(frame) <= FrameHeaderSize || len(frame)-FrameHeaderSize > MaxPayload {
		return 0, fmt.Errorf("%w: frame payload of %d bytes", ErrInvalid, len(frame)-FrameHeaderSize)
	}
	if w.off+int64(len(frame)) > MaxSegmentSize {
		return 0, fmt.Errorf("%w: %s would grow past %d bytes", ErrInvalid, w.name, MaxSegmentSize)
	}
	h.Length = uint32(len(frame) - FrameHeaderSize)
	h.Synced = uint32(w.synced)
	PutFrameHeader(frame, h)
	off := w.off
	end := off + int64(len(frame))
	if err := w.grow(end); err != nil {
		return 0, err
	}
	if end <= int64(len(w.m)) && end <= w.size {
		copy(w.m[off:end], frame)
	} else if _, err := w.f.WriteAt(frame, off); err != nil {
		return 0, fmt.Errorf("write %s at %d: %w", w.name, off, err)
	}
	w.off = end
	return off, nil
}

// Close unmaps and closes the file without syncing or truncating it.
func (w *Writer) Close() error {
	uerr := w.Unmap()
	if err := w.f.Close(); err != nil {
		return err
	}
	return uerr
}

// RewriteUnconfirmed writes bytes [from, to) of f back where they are.
// Recovery uses it on the bytes after the last offset an fsync confirmed:
// after a failed fsync Linux may have dropped those pages while still
// serving them from memory, and a later fsync would not write them. The
// caller syncs f.
func RewriteUnconfirmed(f vfs.File, from, to int64) error {
	buf := make([]byte, min(to-from, 1<<20))
	for off := from; off < to; {
		n := int(min(int64(len(buf)), to-off))
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return err
		}
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}
