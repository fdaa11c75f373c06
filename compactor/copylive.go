package compactor

import (
	"fmt"
	"io"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// CopyResult describes a segment copied without its removed entries.
type CopyResult struct {
	Frames []segment.FrameInfo // the new file's frames
	Size   int64               // the new file's size
	Last   uint64              // last sequence number in the new file (if any frame)
	Kept   uint64              // entries kept
	Purged uint64              // removed entries dropped
	// Retained counts the removed tombstones kept (of Kept), with
	// retainTombstones.
	Retained uint64
}

// Empty reports whether nothing survived: the segment can be deleted
// instead of replaced.
func (r CopyResult) Empty() bool { return len(r.Frames) == 0 }

const writeChunk = 1 << 20

// CopyLive copies the segment src (its first size bytes hold frames; fh is
// its header) into a new file tmpName without the entries that dead
// removes, except, with retainTombstones, tombstones: set it while an
// older segment may still hold an entry a tombstone removed, so that
// replaying the segments (after the checkpoint is lost) removes it again. Surviving entries keep their sequence numbers and batch
// timestamps; a frame that lost entries is written as a sparse frame. The
// new file is synced; nothing is renamed or removed, so a crash during
// CopyLive leaves the log as it was. Every source frame's checksums are
// verified: damage gives an error wrapping ErrCorrupt and no new file is
// used. comp, if not nil, compresses the new frames' payloads (each frame
// records its codec, whatever the source frame's was).
func CopyLive(fs vfs.FS, src vfs.File, size int64, srcName string, fh segment.FileHeader, dead DeadSet, retainTombstones bool, tmpName string, comp *segment.Compressor) (res CopyResult, err error) {
	w, err := segment.CreateBuffered(fs, tmpName, fh, writeChunk)
	if err != nil {
		return res, fmt.Errorf("rewrite %s: %w", srcName, err)
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("rewrite %s: %w", srcName, cerr)
		}
		if err != nil {
			fs.Remove(tmpName)
		}
	}()
	enc := segment.NewEncoder(comp)
	rd := segment.NewReader(src, size, srcName)
	var kept []segment.Entry
	for {
		off, h, p, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("rewrite: %w", err)
		}
		// The kept entries' keys and values stay valid until the next
		// frame is read.
		kept = kept[:0]
		retained := res.Retained
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				return res, fmt.Errorf("rewrite: %w", segment.AtOffset(err, srcName, off))
			}
			if !ok {
				break
			}
			if dead.IsDead(e.Seq, e.Key) {
				if !e.Tombstone || !retainTombstones {
					res.Purged++
					continue
				}
				res.Retained++
			}
			kept = append(kept, e)
		}
		if len(kept) == 0 {
			continue
		}
		frame, err := enc.Sparse(kept, h.Time)
		if err != nil {
			return res, fmt.Errorf("rewrite %s at %d: %w", srcName, off, err)
		}
		if h.Flags&segment.FlagCompact != 0 || res.Retained > retained {
			// A replay applies the tombstones seen so far here: where the
			// log applied them, or, for a kept tombstone, no later than
			// that (it was applied, being removed).
			frame.SetCompact()
		}
		at, err := w.WriteFrame(&frame)
		if err != nil {
			return res, fmt.Errorf("rewrite %s: %w", srcName, err)
		}
		fi := frame.Info(at)
		res.Frames = append(res.Frames, fi)
		res.Last = fi.Last
		res.Kept += uint64(fi.Count)
	}
	if err := w.SyncAll(); err != nil {
		return res, fmt.Errorf("rewrite %s: %w", srcName, err)
	}
	res.Size = w.Offset()
	return res, nil
}
