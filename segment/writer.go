package segment

import (
	"fmt"

	"github.com/seglog/journal/vfs"
)

// Writer appends frames to one segment file. It is not safe for concurrent
// use; the log above it serializes writes and may run Sync on the file from
// another goroutine (fdatasync is safe to run beside positional writes).
type Writer struct {
	f      vfs.File
	name   string
	id     uint64
	off    int64 // end of written data
	synced int64 // data in [0, synced) is durable
}

// Create creates a new segment file with the given header, writes it and
// syncs it. The caller must sync the directory before acknowledging
// anything written to it, so the file itself survives a power cut.
// reserve, if positive, preallocates that many bytes of disk.
func Create(fs vfs.FS, name string, fh FileHeader, reserve int64) (*Writer, error) {
	f, err := fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if reserve > 0 {
		if err := f.Preallocate(0, reserve); err != nil {
			f.Close()
			return nil, fmt.Errorf("preallocate %s: %w", name, err)
		}
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
	return &Writer{f: f, name: name, id: fh.ID, off: FileHeaderSize, synced: FileHeaderSize}, nil
}

// Resume returns a writer appending at end to an existing segment file f
// whose bytes before end are known to be valid and durable (the caller
// scanned, cut and synced them).
func Resume(f vfs.File, name string, id uint64, end int64) *Writer {
	return &Writer{f: f, name: name, id: id, off: end, synced: end}
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
	if _, err := w.f.WriteAt(frame, off); err != nil {
		return 0, fmt.Errorf("write %s at %d: %w", w.name, off, err)
	}
	w.off += int64(len(frame))
	return off, nil
}

// Close closes the file without syncing or truncating it.
func (w *Writer) Close() error { return w.f.Close() }
