package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/seglog/journal/index"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// seg is one segment file as held by a Log or a View: an open handle and
// the bytes of it that hold frames.
type seg struct {
	id   uint64
	name string
	f    vfs.File
	ref  *fileRef // the Log's hold on f (nil in a View, which owns its files)
	size int64    // end of the frames; for the active segment, see Log.snapshot
	base uint64
}

// closeFile releases the file's read mapping, if any, and closes it.
func (s *seg) closeFile() error {
	if s.ref != nil && s.ref.rm != nil {
		if rm, ok := s.f.(vfs.ReadMapper); ok {
			rm.Unmap(s.ref.rm)
		}
		s.ref.rm = nil
	}
	return s.f.Close()
}

// fileRef counts the reader snapshots that may still read a segment file,
// so a file replaced by a rewrite is closed when the last of them ends.
// Guarded by Log.mu.
type fileRef struct {
	readers int
	retired bool // replaced: close when readers drops to 0
	closed  bool
	// mapReads counts Gets reading the segment's mapping now: added to
	// under Log.mu, done without it; a TruncateBack, a seal or Close waits
	// for it under Log.mu (which keeps new Gets out) before cutting a file
	// or releasing a mapping (touching a mapped page past the end would
	// fault).
	mapReads sync.WaitGroup
	// rm maps a sealed segment's frames for Log.Get, made at the first
	// Get (mapTried), released when the file is closed. Here, not in seg,
	// because several seg values (a snapshot's copy, the one rotation
	// makes) share one file. A Get counted in mapReads reads it without
	// Log.mu.
	rm       []byte
	mapTried bool
}

// loaded is what was found in a log directory.
type loaded struct {
	names   []string // the directory's entries as listed
	segs    []*seg
	idx     *index.Index
	nextSeq uint64
	// torn is set when the last segment ends in a torn write at segs[last].size.
	torn error
	// badLast is set when the last segment's file header is missing or
	// damaged (a crash while creating it): nothing in it was ever written.
	badLast bool
	// lastSynced: in the scanned newest segment, every byte before it was
	// confirmed durable by a successful fsync (the largest durable offset
	// any frame recorded). 0 when the segment was not scanned.
	lastSynced int64
	// lastFileSize is the newest segment's file size (its frames may end
	// before it); lastIndexed says its index file was read and matches it.
	lastFileSize int64
	lastIndexed  bool
}

func (ld *loaded) close() {
	for _, s := range ld.segs {
		s.closeFile()
	}
}

// load reads the state of the log in dir without modifying anything. In
// readOnly mode the last segment is opened read-only; otherwise read-write,
// so Open can cut a torn tail and append. front is the bounds file's: the
// sequence numbers below it are truncated, so a segment starting at or
// below it may follow a gap.
func load(fsys vfs.FS, dir string, readOnly bool, front uint64) (_ *loaded, err error) {
	names, err := fsys.List(dir)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, n := range names {
		if id, ok := parseSegName(n); ok {
			ids = append(ids, id)
		}
	}
	ld := &loaded{names: names, idx: index.New(), nextSeq: front}
	defer func() {
		if err != nil {
			ld.close()
		}
	}()
	var prevLast uint64
	var havePrev bool
	// Reused from segment to segment: the index copies what it keeps.
	var frames []segment.FrameInfo
	var idxBuf []byte
	var prevDense bool
	var prevEnd, prevID uint64
	for i, id := range ids {
		last := i == len(ids)-1
		name := segName(dir, id)
		var f vfs.File
		if last && !readOnly {
			f, err = fsys.OpenReadWrite(name)
		} else {
			f, err = fsys.Open(name)
		}
		if err != nil {
			return nil, fmt.Errorf("open segment: %w", err)
		}
		s := &seg{id: id, name: name, f: f, ref: &fileRef{}}
		ld.segs = append(ld.segs, s)
		size, err := f.Size()
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", name, err)
		}
		ld.lastFileSize = size
		var hb [segment.FileHeaderSize]byte
		var fh segment.FileHeader
		if size >= segment.FileHeaderSize {
			_, err = f.ReadAt(hb[:], 0)
			if err != nil {
				return nil, fmt.Errorf("read %s header: %w", name, err)
			}
			fh, err = segment.ParseFileHeader(hb[:])
		} else {
			err = fmt.Errorf("%w: file of %d bytes has no header", ErrCorrupt, size)
		}
		if err != nil {
			// The header is written and synced before the directory entry
			// is, and before any frame: a bad header on the newest segment
			// with nothing written after it is a crash during its creation.
			// With anything after it, it is damage.
			if last {
				nz, zerr := segment.FirstNonZero(f, segment.FileHeaderSize, size, name)
				if zerr != nil {
					return nil, zerr
				}
				if nz < 0 {
					ld.badLast = true
					s.size = segment.FileHeaderSize
					s.base = ld.nextSeq
					continue
				}
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if id > maxSegmentID {
			return nil, fmt.Errorf("%s: %w: segment number out of range", name, ErrCorrupt)
		}
		if fh.ID != id {
			return nil, fmt.Errorf("%s: %w: header names segment %d", name, ErrCorrupt, fh.ID)
		}
		s.base = fh.Base
		if havePrev && fh.Base <= prevLast {
			return nil, fmt.Errorf("%s: %w: base sequence %d not after %d", name, ErrCorrupt, fh.Base, prevLast)
		}
		var ok bool
		frames, idxBuf, ok = segment.ReadIndexFileInto(fsys, idxName(dir, id), id, size, frames, idxBuf)
		ld.lastIndexed = ok
		end := size
		ld.lastSynced = size // sealed: synced whole
		if !ok {
			frames = frames[:0]
			res, err := segment.Scan(f, size, name, func(off int64, h segment.FrameHeader, p []byte) error {
				lastSeq, err := segment.LastSeq(h, p)
				if err != nil {
					return segment.AtOffset(err, name, off)
				}
				frames = append(frames, segment.FrameInfo{Offset: uint32(off), Count: h.Count, First: h.FirstSeq, Last: lastSeq})
				return nil
			})
			if err != nil {
				return nil, err
			}
			end = res.End
			ld.lastSynced = res.MaxSynced
			if res.Tail == segment.TailTorn {
				if !last {
					return nil, fmt.Errorf("%w (in sealed segment %s)", res.Damage, name)
				}
				ld.torn = res.Damage
			}
			if !last && end != size {
				// Sealing cuts a segment to its frames before the next one
				// exists, so unwritten space in a sealed one is lost data.
				return nil, segment.Corruptf(name, end, "sealed segment ends in %d bytes of zeros", size-end)
			}
			// (A lock-free reader skips this: a writer may be putting the
			// index or a rewritten segment in place while it reads.)
			if !last && !readOnly && indexExists(fsys, dir, id) {
				// Its index was written at sealing: a size that no longer
				// matches means the segment lost or gained bytes.
				return nil, fmt.Errorf("%s: %w: sealed segment's size %d does not match its index", name, ErrCorrupt, size)
			}
		}
		s.size = end
		// Segments are never rewritten while they follow each other
		// without a gap in their numbers and a dense (never compacted)
		// segment ends where the next begins: a shorter one lost frames.
		// TruncateFront past the end of the log starts the next segment at
		// the new front, after a gap of truncated numbers.
		if prevDense && id == prevID+1 && fh.Base != prevEnd && !(fh.Base > prevEnd && fh.Base <= front) {
			return nil, fmt.Errorf("%s: %w: segment %d ends at sequence %d but this one starts at %d", name, ErrCorrupt, prevID, prevEnd, fh.Base)
		}
		dense, denseEnd := isDense(frames, fh.Base)
		dense = dense && fh.Flags&segment.FileCompacted == 0
		prevDense, prevEnd, prevID = dense, denseEnd, id
		for _, fr := range frames {
			if fr.First < fh.Base || (havePrev && fr.First <= prevLast) {
				return nil, segment.Corruptf(name, int64(fr.Offset), "sequence %d out of order", fr.First)
			}
			prevLast, havePrev = fr.Last, true
		}
		if last {
			for _, fr := range frames {
				ld.idx.Append(uint32(id), fr.First, fr.Last, fr.Offset)
			}
		} else if len(frames) > 0 {
			firsts, offs := make([]uint64, len(frames)), make([]uint32, len(frames))
			for i, fr := range frames {
				firsts[i], offs[i] = fr.First, fr.Offset
			}
			ld.idx.AppendSegment(uint32(id), firsts, offs, frames[len(frames)-1].Last)
		}
		ld.nextSeq = max(ld.nextSeq, fh.Base)
		if havePrev {
			ld.nextSeq = max(ld.nextSeq, prevLast+1)
		}
	}
	return ld, nil
}

// isNotExist reports a missing file or directory.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// isDense reports whether frames are contiguous sequence numbers starting
// at base, as appended (not rewritten by compaction), and the sequence
// number after them.
func isDense(frames []segment.FrameInfo, base uint64) (bool, uint64) {
	next := base
	for _, fr := range frames {
		if fr.First != next || fr.Last-fr.First+1 != uint64(fr.Count) {
			return false, 0
		}
		next = fr.Last + 1
	}
	return true, next
}

func indexExists(fsys vfs.FS, dir string, id uint64) bool {
	_, err := fsys.Stat(idxName(dir, id))
	return err == nil
}
