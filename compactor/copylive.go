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

// CopyOptions says what CopyLive drops and how it writes what it keeps.
type CopyOptions struct {
	// Dead is the set of removed entries to drop (the zero DeadSet drops
	// nothing: a plain repack).
	Dead DeadSet
	// RetainTombstones keeps removed tombstones: set it while an older
	// segment may still hold an entry a tombstone removed, so that
	// replaying the segments (after the checkpoint is lost) removes it
	// again.
	RetainTombstones bool
	// Comp, if not nil, compresses the new frames' payloads (each frame
	// records its codec, whatever the source frame's was).
	Comp *segment.Compressor
	// PackBytes, if positive, packs the surviving entries of consecutive
	// source frames into one frame until their encoded size reaches it
	// (each entry keeps its sequence number and its batch's time, in a
	// FlagTimed frame where times differ). Zero writes one frame per
	// source frame that keeps an entry.
	PackBytes int
}

// CopyLive copies the segment src (its first size bytes hold frames; fh is
// its header) into a new file tmpName without the entries that o.Dead
// removes (but for tombstones kept by o.RetainTombstones). Surviving
// entries keep their sequence numbers and batch timestamps; a frame that
// lost entries is written as a sparse frame. A packed frame never reaches
// past a source frame with FlagCompact, and takes the flag from it, so a
// replay applies every tombstone where it did before. The new file is
// synced; nothing is renamed or removed, so a crash during CopyLive leaves
// the log as it was. Every source frame's checksums are verified: damage
// gives an error wrapping ErrCorrupt and no new file is used.
func CopyLive(fs vfs.FS, src vfs.File, size int64, srcName string, fh segment.FileHeader, tmpName string, o CopyOptions) (res CopyResult, err error) {
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
	enc := segment.NewEncoder(o.Comp)
	rd := segment.NewReader(src, size, srcName)
	// run holds the kept entries not yet written: those of the current
	// source frame alias its payload, valid until the next frame is read;
	// with packing, earlier frames' are copied into arena.
	var run []segment.Entry
	var arena []byte
	runBytes, compact := 0, false
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		frame, err := enc.Sparse(run)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", srcName, err)
		}
		if compact {
			frame.SetCompact()
		}
		at, err := w.WriteFrame(&frame)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", srcName, err)
		}
		fi := frame.Info(at)
		res.Frames = append(res.Frames, fi)
		res.Last = fi.Last
		res.Kept += uint64(fi.Count)
		run, arena, runBytes, compact = run[:0], arena[:0], 0, false
		return nil
	}
	for {
		off, h, p, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("rewrite: %w", err)
		}
		if o.PackBytes > 0 && runBytes > 0 && runBytes+len(p) > o.PackBytes {
			if err := flush(); err != nil {
				return res, err
			}
		}
		from, retained := len(run), res.Retained
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				return res, fmt.Errorf("rewrite: %w", segment.AtOffset(err, srcName, off))
			}
			if !ok {
				break
			}
			if o.Dead.IsDead(e.Seq, e.Key) {
				if !e.Tombstone || !o.RetainTombstones {
					res.Purged++
					continue
				}
				res.Retained++
			}
			run = append(run, e)
		}
		// A replay applies the tombstones seen so far at a FlagCompact
		// frame: where the log applied them, or, for a kept tombstone, no
		// later than that (it was applied, being removed).
		compact = compact || len(run) > from && (h.Flags&segment.FlagCompact != 0 || res.Retained > retained)
		if o.PackBytes <= 0 || compact {
			if err := flush(); err != nil {
				return res, err
			}
			continue
		}
		for i := from; i < len(run); i++ { // outlive this frame's payload
			e := &run[i]
			start := len(arena)
			arena = append(append(arena, e.Key...), e.Value...)
			e.Key = arena[start : start+len(e.Key) : start+len(e.Key)]
			e.Value = arena[start+len(e.Key) : len(arena) : len(arena)]
		}
		runBytes += len(p)
	}
	if err := flush(); err != nil {
		return res, err
	}
	if err := w.SyncAll(); err != nil {
		return res, fmt.Errorf("rewrite %s: %w", srcName, err)
	}
	res.Size = w.Offset()
	return res, nil
}
