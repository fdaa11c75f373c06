package wal

import (
	"fmt"
	"slices"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal/manifest"
)

// Segments' lifecycle: creating the active segment, sealing it (synced,
// cut to its data, indexed, checkpointed) and rotating to the next.

// sealJob is what remains to write for a sealed segment: its index file
// and the checkpoint as of its end. Both only speed up Open, so a rotation
// leaves them to the background worker.
type sealJob struct {
	id      uint64
	size    int64
	frames  []segment.FrameInfo
	cpt     []byte // nil with compaction off
	through uint64
}

// maxSegmentID bounds segment numbers: a log numbering 4 billion segments
// is beyond any real use, so a number past it in a name or header is
// damage.
const maxSegmentID = 1<<32 - 1

// setActive makes w the active segment's writer (nil: none, during a
// truncation), counting its fdatasyncs with those of the writers before
// it (Metrics). Under Immediate each commit is synced on its own, so
// frames are written with system calls rather than into the mapping (see
// segment.Writer.WriteWithSyscalls). Called with l.mu held (or before l
// is shared), before w is used.
func (l *Log) setActive(w *segment.Writer) {
	if w != nil {
		if l.opts.Durability == Immediate {
			w.WriteWithSyscalls()
		}
		w.CountSyncsIn(&l.m.syncs)
	}
	l.active = w
	l.m.active.Store(w)
}

// createSegment creates segment id as the new active segment, with the
// directory synced so the file survives a power cut before anything in it
// is acknowledged. Called with l.mu held (or before l is shared).
func (l *Log) createSegment(id uint64) error {
	if id > maxSegmentID {
		return fmt.Errorf("%w: segment number %d out of range", ErrInvalid, id)
	}
	name := segName(l.dir, id)
	l.files.reserve()
	create := segment.Create
	if l.opts.Durability == Immediate {
		create = segment.CreateGrown
	}
	w, err := create(l.fs, name, segment.FileHeader{ID: id, Base: l.nextSeq.Load(), Flags: segment.FileTracked}, l.opts.SegmentSize)
	if err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		w.Close()
		return fmt.Errorf("sync directory %s: %w", l.dir, err)
	}
	l.setActive(w)
	ref := l.files.adopt(name, w.File(), true)
	l.files.unpin(ref)
	l.setSegs(append(slices.Clip(l.segs), &seg{id: id, name: name, ref: ref, base: l.nextSeq.Load(), size: segment.FileHeaderSize}))
	return nil
}

// seal makes the active segment durable and final: synced, cut to its
// data (returning reserved space) and indexed. Called with l.mu held.
func (l *Log) seal() error {
	if err := l.sealData(); err != nil {
		return err
	}
	j, err := l.sealJob()
	if err != nil {
		return err
	}
	return l.writeSealMeta(j)
}

// sealData makes the active segment's data durable and cuts the file to
// it. Called with l.mu held.
func (l *Log) sealData() error {
	l.waitMapReads(l.segs[len(l.segs)-1:]) // Gets reading the writer's mapping
	if err := l.active.Seal(); err != nil {
		return err
	}
	// Its index file replaces the tail index (removed in writeSealMeta).
	if err := l.dropTail(false); err != nil {
		l.log.Warn("wal: close tail index", "err", err)
	}
	l.staleTail = false
	l.setSeqs(l.nextSeq.Load())
	l.publishDead()
	l.wakeFollowers()
	return nil
}

// sealJob captures the sealed active segment's job; its error is that of
// loading the segment's frames from before Open (see lazy.go). Called
// with l.mu held after sealData.
func (l *Log) sealJob() (sealJob, error) {
	frames, err := l.idx.NewestFramesFrom(nil, l.active.ID(), 0)
	if err != nil {
		return sealJob{}, err
	}
	j := sealJob{id: l.active.ID(), size: l.active.Offset(), frames: frames, through: l.nextSeq.Load()}
	if l.cs != nil {
		l.cs.SetThrough(l.nextSeq.Load())
		j.cpt = compactor.EncodeCheckpoint(l.cs)
		// The seal's checkpoint is newer than any pending one.
		l.sinceCpt, l.cptPend, l.cptDue = 0, nil, false
	}
	return j, nil
}

// writeSealMeta writes a sealed segment's index file and checkpoint. The
// segment's data is durable already.
func (l *Log) writeSealMeta(j sealJob) error {
	if err := segment.WriteIndexFile(l.fs, idxName(l.dir, j.id), j.id, j.size, j.frames); err != nil {
		return err
	}
	// The tail index, replaced by the index file, goes in the same
	// directory sync: a later segment of the same number (after a
	// TruncateBack) must not meet it.
	if err := l.fs.Remove(tailName(l.dir, j.id)); err != nil && !isNotExist(err) {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return err
	}
	if j.cpt != nil {
		// A checkpoint at every seal keeps Open's replay to the segments
		// written since.
		return l.writeCheckpoint(j.cpt, j.through)
	}
	return nil
}

// sealPending reports whether the seal job of segment id is queued, its
// index file not written yet: no rewrite may replace the segment before
// (the job would write the index of the file as sealed over the new
// one's). Called with l.mu held.
func (l *Log) sealPending(id uint64) bool {
	for _, j := range l.sealQ {
		if j.id == id {
			return true
		}
	}
	return false
}

// drainSeals writes the queued seal jobs. With yield it stops early, the
// rest queued, when a Backup waits for the work slot: under a stream of
// rotations the queue may never empty. Called without l.mu.
func (l *Log) drainSeals(yield bool) error {
	for {
		l.mu.Lock()
		if len(l.sealQ) == 0 || yield && l.slotWanted > 0 {
			l.mu.Unlock()
			return nil
		}
		j := l.sealQ[0]
		l.mu.Unlock()
		if err := l.writeSealMeta(j); err != nil {
			return err
		}
		l.mu.Lock()
		l.sealQ = l.sealQ[1:]
		l.mu.Unlock()
	}
}

// rotate seals the active segment and starts the next. Called with l.mu
// held. Every sequence number so far is durable afterwards.
func (l *Log) rotate() error {
	if err := l.sealData(); err != nil {
		return err
	}
	j, err := l.sealJob()
	if err != nil {
		return err
	}
	l.sealQ = append(l.sealQ, j)
	l.repackDue = true
	old := l.active
	segs := slices.Clone(l.segs)
	prev := segs[len(segs)-1]
	segs[len(segs)-1] = &seg{id: old.ID(), name: old.Name(), ref: prev.ref, base: prev.base, size: old.Offset()}
	l.setSegs(segs)
	l.cond.Broadcast()
	if l.staleIdx {
		// Its index from an earlier Close must not outlive its turn as
		// the newest segment; createSegment's directory sync makes the
		// removal durable no later than the new segment.
		if err := removeAll(l.fs, idxName(l.dir, old.ID())); err != nil {
			return fmt.Errorf("remove stale index of %s: %w", old.Name(), err)
		}
		l.staleIdx = false
	}
	sealed := manifest.Segment{ID: old.ID(), Base: prev.base, Durable: old.Offset(), Sealed: true}
	if err := l.createSegment(old.ID() + 1); err != nil {
		return err
	}
	// The old writer is done with its file: the cache may close it.
	l.files.sealed(prev.ref)
	// Listed before any frame goes into it (see listing.go).
	next := manifest.Segment{ID: old.ID() + 1, Base: l.nextSeq.Load(), Durable: segment.FileHeaderSize}
	if err := l.record(manifest.Edit{Set: []manifest.Segment{sealed, next}}); err != nil {
		return err
	}
	l.kickBackground()
	return nil
}
