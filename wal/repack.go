package wal

import (
	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
)

// Repacking: a route journal appends mostly one event per batch, and a
// frame of one event costs its 40-byte header and a 12-byte index entry
// (on disk and in memory) for some 15 bytes of payload. Once a segment of
// such frames is sealed, the background worker rewrites it with the
// entries of consecutive frames packed into frames of about RepackBytes
// (compactor.CopyLive with PackBytes): each entry keeps its sequence
// number and its batch's time (FlagTimed), and a packed frame never
// reaches past a frame that applied compaction (FlagCompact), so a replay
// sees every tombstone where it did. Nothing is dropped, so unlike a
// compaction rewrite a repack needs no checkpoint to cover the segment.
// The file work is a compaction rewrite's (replaceSegment): the manifest
// records the new size beside the old before the rename, so a crash at
// any point leaves the old file or the new one, each whole.

const (
	// RepackBytes is the decoded payload size a repack packs frames into:
	// small enough that a Get decodes little more than it did, large
	// enough that the header, the index entry and a compressor's framing
	// cost a fraction of a byte per event.
	RepackBytes = 4 << 10
	// RepackFrameBytes: a sealed segment whose frames average fewer bytes
	// (header included) is repacked. Single route events take about 55,
	// realistic ones with error texts about 95; compressed batches of a
	// hundred events (about 260) and a raft store's entries of a few
	// hundred bytes are left as written.
	RepackFrameBytes = 128
	// repackMinFrames: a segment of fewer frames is not worth a rewrite.
	repackMinFrames = 64
	// RepackRotateFrames: the active segment is sealed once it holds this
	// many frames averaging under RepackFrameBytes, so that the repack
	// reaches all but the newest ~14 MiB of a log of small batches however
	// large its segments may grow (Kafka likewise rolls a segment when its
	// offset index is full). Not fewer: sealing syncs the segment's data
	// in the appending goroutine, which an Eventual append must not pay
	// often. Close seals and repacks the rest.
	RepackRotateFrames = 1 << 18
)

// packRotate reports whether the active segment, whose frames end at off,
// is to be sealed for the repack before the next frame. Called with l.mu
// held.
func (l *Log) packRotate(off int64) bool {
	if l.opts.NoRepack || off < RepackRotateFrames*16 {
		return false // no frame is under 16 bytes: too few frames yet
	}
	n := l.idx.NewestFrames(l.active.ID())
	return n >= RepackRotateFrames && repackWorthy(n, off)
}

// packAtClose reports whether Close is to seal the active segment and
// start an empty one, so that the repack at Close reaches the frames
// appended last too. Called with l.mu held.
func (l *Log) packAtClose() bool {
	if l.opts.NoRepack || l.active == nil {
		return false
	}
	off := l.active.Offset()
	return repackWorthy(l.idx.NewestFrames(l.active.ID()), off)
}

// packBytes is what rewrites pack frames into: RepackBytes, or 0 (one
// frame per source frame) with Options.NoRepack.
func (l *Log) packBytes() int {
	if l.opts.NoRepack {
		return 0
	}
	return RepackBytes
}

// repackWorthy reports whether a sealed segment of size bytes holding
// frames frames is worth repacking.
func repackWorthy(frames int, size int64) bool {
	return frames >= repackMinFrames && size-segment.FileHeaderSize < int64(frames)*RepackFrameBytes
}

// repackCandidates lists the sealed segments worth repacking, oldest
// first, but for those a repack or compaction of this Log wrote. Called
// with l.mu held.
func (l *Log) repackCandidates() []*seg {
	counts := l.idx.FrameCounts()
	var out []*seg
	for _, s := range l.segs[:len(l.segs)-1] { // never the active segment
		if l.sealPending(s.id) {
			// Its seal job would write the index of the file as sealed
			// over the repacked one's: after drainSeals.
			l.repackDue = true
			continue
		}
		if !s.packed && repackWorthy(counts[s.id], s.size) {
			out = append(out, s)
		}
	}
	return out
}

// repackPass repacks the sealed segments worth it, once each: a segment
// that stays worthy (its frames all applied compaction, say) is not tried
// again by this Log. It stops at Close, which repacks what is left.
// Called without l.mu, with l.working set.
func (l *Log) repackPass() error {
	l.mu.Lock()
	if l.state != stateOpen {
		l.mu.Unlock()
		return ErrClosed
	}
	var todo []*seg
	due := l.repackDue && !l.opts.NoRepack
	l.repackDue = false
	if due {
		todo = l.repackCandidates() // may set it again
	}
	l.mu.Unlock()
	return l.repackSegments(todo, stateOpen)
}

// repackAtClose repacks the sealed segments the worker left, so that a
// closed log is packed (Close first seals the active segment if it is
// worth it; see packAtClose). A failure is only
// logged: the segments stay as they were, correct. Called with l.mu held
// by Close, after the worker stopped; releases it meanwhile.
func (l *Log) repackAtClose() {
	if l.opts.NoRepack {
		return
	}
	todo := l.repackCandidates()
	if len(todo) == 0 {
		return
	}
	l.working = true
	l.mu.Unlock()
	err := l.repackSegments(todo, stateClosing)
	l.mu.Lock()
	l.working = false
	if err != nil {
		l.log.Warn("wal: repack at close failed; the segments stay as written", "dir", l.dir, "err", err)
	}
}

// repackSegments repacks each segment of todo that is still the log's,
// while the log's state is want. Called without l.mu, with l.working set.
func (l *Log) repackSegments(todo []*seg, want lifecycle) error {
	for _, s := range todo {
		l.mu.Lock()
		ok, current := l.state == want && l.failed == nil, l.holds(s)
		if ok && want == stateOpen && l.slotWanted > 0 {
			l.repackDue = true // after the Backup
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		if !ok {
			return ErrClosed
		}
		if !current { // rewritten or removed meanwhile
			continue
		}
		if err := l.repackSegment(s); err != nil {
			return err
		}
	}
	return nil
}

// holds reports whether s is one of the log's segments. Called with l.mu
// held.
func (l *Log) holds(s *seg) bool {
	for _, o := range l.segs {
		if o == s {
			return true
		}
	}
	return false
}

// repackSegment rewrites the sealed segment s with its frames packed,
// dropping nothing; its file keeps its header flags (FileTracked added).
func (l *Log) repackSegment(s *seg) error {
	fh, err := l.segmentHeader(s)
	if err != nil {
		return err
	}
	o := compactor.CopyOptions{Comp: l.opts.compressor, PackBytes: RepackBytes}
	return l.replaceSegment(s, fh.Flags|segment.FileTracked, o, true, func(res compactor.CopyResult) {
		l.countRewrite(s, res, false)
	})
}

// segmentHeader reads and checks the file header of the sealed segment s.
func (l *Log) segmentHeader(s *seg) (segment.FileHeader, error) {
	f, err := s.file()
	if err != nil {
		return segment.FileHeader{}, err
	}
	defer s.done()
	var b [segment.FileHeaderSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return segment.FileHeader{}, err
	}
	fh, err := segment.ParseFileHeader(b[:])
	if err != nil {
		return fh, segment.AtOffset(err, s.name, 0)
	}
	return fh, nil
}
