package wal

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/seglog/journal/index"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// Sealed segments indexed lazily. Open reads of a sealed segment's index
// file only its header, whose checksummed summary (frames, first and last
// sequence numbers, entries) is all Open's checks and the log's bounds
// need; the frame list is read when a read first needs the segment (see
// index.AppendLazySegment). A list found damaged then is a cache lost: the
// segment is scanned instead, and the index file written again, as Open
// does with an index damaged in its header.

// lazyRepairs holds the index files that lazy loads found damaged, to be
// written again by the log's seal jobs.
type lazyRepairs struct {
	log *slog.Logger
	// mu guards jobs. Loads run with Log.mu held (Get) or without it
	// (snapshots); mu is taken after Log.mu, never before.
	mu   sync.Mutex
	jobs []lazyRepair
}

// lazyRepair is an index file to write again, valid while the segment's
// file is still ref (a rewrite since replaced it, and its index).
type lazyRepair struct {
	job sealJob
	ref *fileRef
}

// lazySealed indexes sealed segment s (file header fh, size bytes) by its
// index file's header alone, when that is sound, of version 2 (with a
// summary) and agrees with the segments before it and with the manifest
// (check, given where the frames end): ok reports that it did. Otherwise
// nothing is changed and the caller reads the index or the segment as
// before, which finds and reports what is wrong. The newest segment is
// sealed so after a Close: the log appends to it after these frames.
func (w *walk) lazySealed(s *seg, f vfs.File, fh segment.FileHeader, size int64, last bool, check func(end int64) error) (ok bool, err error) {
	var ih segment.IndexHeader
	var st segment.IndexStatus
	lz := index.Lazy{}
	if last {
		// Its last frame too, checked against the segment: reads go to
		// the newest entries, and need not load the rest for them.
		var tip segment.FrameInfo
		var tipOK bool
		ih, tip, tipOK, st = segment.ReadIndexTip(w.fsys, idxName(w.dir, s.id), s.id, size)
		if tipOK && lastFrameIs(f, size, tip) {
			lz.Tip = tip
		}
	} else {
		ih, st = segment.ReadIndexHeader(w.fsys, idxName(w.dir, s.id), s.id, size)
	}
	sum := ih.IndexSummary
	if st != segment.IndexOK || !ih.Summary || ih.Frames == 0 || sum.First < fh.Base || (w.havePrev && sum.First <= w.prevLast) {
		return false, nil
	}
	if err := check(size); err != nil {
		return false, err
	}
	ld := w.ld
	ld.lastIndexed, ld.lastHasIndex, ld.lastSynced = true, true, size
	s.size = size
	w.prevLast, w.havePrev = sum.Last, true
	w.passed(s.id, fh, sum.Dense() && sum.First == fh.Base, sum.Last+1)
	lz.Frames, lz.First, lz.Last = int(ih.Frames), sum.First, sum.Last
	ld.idx.AppendLazySegment(s.id, lz, w.lazy.loader(w, s, ih, !last))
	w.raiseNext(fh)
	return true, nil
}

// lastFrameIs reports whether fr is the last frame of the sealed segment
// f of size bytes: a frame header that parses, with fr's sequence numbers,
// at fr's offset, and ending the segment.
func lastFrameIs(f vfs.File, size int64, fr segment.FrameInfo) bool {
	h, ok := frameHeaderAt(f, int64(fr.Offset), size)
	return ok && h.FirstSeq == fr.First && h.Count == fr.Count && int64(fr.Offset)+h.Size() == size
}

// loader returns the load of sealed segment s's frames, whose index file
// header Open read as ih: the list, if it matches the header; else a scan
// of the segment, which must hold exactly what the header summed up. With
// repair, a damaged list is written again; not the newest segment's,
// which grows past the size it records (its seal writes a new one).
func (r *lazyRepairs) loader(w *walk, s *seg, ih segment.IndexHeader, repair bool) func() ([]segment.FrameInfo, error) {
	fsys, name, size := w.fsys, idxName(w.dir, s.id), ih.SegSize
	return func() ([]segment.FrameInfo, error) {
		frames, _, st := segment.ReadIndexFileInto(fsys, name, s.id, size, nil, nil)
		if st == segment.IndexOK && len(frames) == int(ih.Frames) && segment.Summarize(frames) == ih.IndexSummary {
			return frames, nil
		}
		// Damaged since Open read its header, or gone with the segment
		// (a truncation deleted both; a snapshot still reads it).
		f, err := s.file()
		if err != nil {
			return nil, err
		}
		defer s.done()
		frames, _, res, err := segment.ScanFramesFrom(f, size, segment.FileHeaderSize, s.name, nil, nil)
		switch {
		case err != nil:
			return nil, err
		case res.Tail == segment.TailTorn:
			return nil, fmt.Errorf("%w (in sealed segment %s)", res.Damage, s.name)
		case res.End != size:
			return nil, segment.Corruptf(s.name, res.End, "sealed segment ends in %d bytes of zeros", size-res.End)
		case len(frames) != int(ih.Frames) || segment.Summarize(frames) != ih.IndexSummary:
			return nil, segment.Corruptf(s.name, -1, "its %d frames (%+v) are not the %d its index file's header sums up (%+v)",
				len(frames), segment.Summarize(frames), ih.Frames, ih.IndexSummary)
		}
		if st == segment.IndexDamaged && repair {
			r.log.Warn("wal: damaged index file of a sealed segment; the segment was scanned and the index is rewritten", "file", name)
			r.mu.Lock()
			r.jobs = append(r.jobs, lazyRepair{job: sealJob{id: s.id, size: size, frames: frames}, ref: s.ref})
			r.mu.Unlock()
		}
		return frames, nil
	}
}

// takeRepairs queues the index files lazy loads found damaged as seal
// jobs, dropping those of segments a rewrite replaced since. Called with
// l.mu held while no work runs (a rewrite in progress may be replacing
// the segment).
func (l *Log) takeRepairs() {
	r := &l.repairs
	r.mu.Lock()
	jobs := r.jobs
	r.jobs = nil
	r.mu.Unlock()
	for _, j := range jobs {
		if sg := findSeg(l.segs, j.job.id); sg != nil && sg.ref == j.ref && !l.sealPending(j.job.id) {
			l.sealQ = append(l.sealQ, j.job)
		}
	}
}
