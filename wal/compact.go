package wal

import (
	"errors"
	"fmt"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// Compaction (see package compactor): a tombstone record removes every
// record of its key up to itself. The log applies pending tombstones when
// an append leaves at least Options.CompactionThreshold live records and
// something is removable; that append's frame carries FlagCompact, so the
// removal is exactly as durable as the batch that triggered it, and replay
// after a crash re-applies it. Sealed segments that have become mostly
// dead are rewritten in the background.

// queuedDead is an applied removal not yet visible to readers: under
// Immediate it waits for the fdatasync of the batch that applied it.
type queuedDead struct {
	upto uint64 // visible once visibleSeq >= upto
	dead compactor.DeadSet
}

// droppable is how many of a segment's records a rewrite drops: its
// removed records, but not the tombstones it keeps while an older segment
// holds a removed record (olderDirty; see compactor.CopyLive).
func droppable(c compactor.SegCounts, olderDirty bool) uint64 {
	if olderDirty {
		return c.Reclaimable()
	}
	return c.Dead
}

// rewriteWorthy: a sealed segment is rewritten once at least half of its
// records can be dropped (a wholly removed one is simply deleted).
func rewriteWorthy(c compactor.SegCounts, olderDirty bool) bool {
	d := droppable(c, olderDirty)
	return c.Total > 0 && d > 0 && 2*d >= c.Total
}

// anyDroppable: any sealed segment holding a record a rewrite drops.
func anyDroppable(c compactor.SegCounts, olderDirty bool) bool { return droppable(c, olderDirty) > 0 }

// earlyRotateBytes: under churn the active segment is sealed early once it
// is mostly dead and at least this big, so its space can be reclaimed.
const earlyRotateBytes = 4 << 20

// observe feeds a batch about to be written at first to the compaction
// state and reports whether its append applies compaction. Called with
// l.mu held.
func (l *Log) observe(b Batch, first uint64) bool {
	if l.cs == nil {
		return false
	}
	seg := l.active.ID()
	for i := range b.Records {
		// By pointer: copying each Record first costs measurably on
		// W4b (BENCHMARKS.md).
		r := &b.Records[i]
		l.cs.Observe(seg, first+uint64(i), r.Key, r.Tombstone)
	}
	return l.cs.Pending() && l.cs.Live() >= l.opts.CompactionThreshold
}

// applyCompaction applies pending tombstones; readers see the result once
// sequence numbers below upto are visible. Called with l.mu held.
func (l *Log) applyCompaction(upto uint64) {
	l.cs.Apply()
	l.lastApplyUpto = upto
	l.deadQ = append(l.deadQ, queuedDead{upto: upto, dead: l.cs.Dead()})
	l.publishDead()
	l.kickBackground()
}

// publishDead makes applied removals visible as visibleSeq passes them.
// Called with l.mu held whenever visibleSeq advances.
func (l *Log) publishDead() {
	n := 0
	for n < len(l.deadQ) && l.deadQ[n].upto <= l.visibleSeq.Load() {
		l.dead = l.deadQ[n].dead
		n++
	}
	if n > 0 {
		l.deadQ = append(l.deadQ[:0], l.deadQ[n:]...)
	}
}

// durableDead returns every applied removal, once each batch that applied
// one is durable: records are dropped from disk for good only then, or a
// power cut could lose a removal (and its tombstone) but keep its effect.
// Called with l.mu held, which it releases while syncing; the state it
// returns is the one at its return, with l.mu held.
func (l *Log) durableDead() (compactor.DeadSet, error) {
	for l.lastApplyUpto > l.syncedSeq.Load() {
		if err := l.syncForWork(l.lastApplyUpto); err != nil {
			return compactor.DeadSet{}, err
		}
	}
	return l.cs.Dead(), nil
}

// candidate picks the oldest sealed segment whose counts are worthy of a
// rewrite and that a durable checkpoint covers, and whether an older
// segment holds a removed record a rewrite would drop (its tombstones
// must then stay). Called with l.mu held.
func (l *Log) candidate(worthy func(c compactor.SegCounts, olderDirty bool) bool) (_ *seg, olderDirty, ok bool) {
	l.cptMu.Lock()
	covered := l.cptThrough
	l.cptMu.Unlock()
	for i, s := range l.segs[:len(l.segs)-1] { // never the active segment
		// Only a segment a durable checkpoint covers, so replay after a
		// crash never meets a rewritten segment. (Rewrites keep the
		// tombstones and FlagCompact a replay needs, so this is a second
		// line of defence, not what keeps removals removed.)
		if l.segs[i+1].base > covered || l.sealPending(s.id) {
			break
		}
		c := l.cs.Segment(s.id)
		if worthy(c, olderDirty) {
			return s, olderDirty, true
		}
		olderDirty = olderDirty || c.Reclaimable() > 0
	}
	return nil, false, false
}

// rewritePass rewrites candidate segments until none is left. With all
// set, any sealed segment holding a removed record is a candidate;
// without (the background pass) it stops early when a Backup waits.
// Only the records removed by the visible dead set are dropped, so nothing
// is removed from disk before the batch that removed it is durable.
func (l *Log) rewritePass(all bool) error {
	worthy := rewriteWorthy
	if all {
		worthy = anyDroppable
	}
	if err := l.drainSeals(!all); err != nil {
		return err
	}
	changed := false
	for {
		l.mu.Lock()
		if l.state != stateOpen {
			l.mu.Unlock()
			return ErrClosed
		}
		s, retain, ok := l.candidate(worthy)
		if !ok || !all && l.slotWanted > 0 {
			l.mu.Unlock()
			break
		}
		dead, err := l.durableDead()
		if err != nil {
			l.mu.Unlock()
			return err
		}
		counts := l.cs.Segment(s.id) // consistent with dead: same hold of l.mu
		l.mu.Unlock()
		if err := l.rewriteSegment(s, dead, counts, retain); err != nil {
			return err
		}
		changed = true
	}
	if !changed {
		return nil
	}
	l.mu.Lock()
	l.cs.Forget(l.dirtyFrom())
	l.m.compactions.Add(1)
	l.mu.Unlock()
	// One checkpoint for the pass: until it is written, a crash leaves a
	// checkpoint whose counts overstate what is on disk, which only makes a
	// later pass look at those segments again.
	return l.checkpoint()
}

// dirtyFrom is the first sequence number of the oldest segment still
// holding a removed record. Called with l.mu held.
func (l *Log) dirtyFrom() uint64 {
	for _, s := range l.segs {
		if l.cs.Segment(s.id).Dead > 0 {
			return s.base
		}
	}
	return l.nextSeq.Load()
}

// WaitCompaction waits until no background segment rewrite is running.
func (l *Log) WaitCompaction() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.working {
		l.cond.Wait()
	}
}

// rewriteSegment replaces (or deletes) one sealed segment, given the dead
// set and the segment's counts when the rewrite began. A segment whose
// records are all removed is deleted without being read.
func (l *Log) rewriteSegment(s *seg, dead compactor.DeadSet, counts compactor.SegCounts, retainTombstones bool) error {
	o := compactor.CopyOptions{Dead: dead, RetainTombstones: retainTombstones, Comp: l.opts.compressor, PackBytes: l.packBytes()}
	copyAny := counts.Dead < counts.Total || retainTombstones
	return l.replaceSegment(s, segment.FileCompacted|segment.FileTracked, o, copyAny, func(res compactor.CopyResult) {
		if res.Empty() {
			l.cs.SegmentGone(s.id)
		} else {
			l.cs.Rewritten(s.id, res.Kept, counts.Dead, res.Retained)
		}
		l.countRewrite(s, res, true)
	})
}

// replaceSegment copies the sealed segment s through compactor.CopyLive
// with o (unless copyAny is false: nothing survives) into a file with
// header flags fileFlags, and puts the copy in its place, or deletes s if
// nothing survived. The file work happens without l.mu; only the swap of
// in-memory state holds it, and calls swapped, with the copy's result.
//
// The old file stays pinned from before it is read until it is retired:
// the cache must not close it and later open, by its name, the new file
// in its place for a snapshot that reads the old one.
func (l *Log) replaceSegment(s *seg, fileFlags uint16, o compactor.CopyOptions, copyAny bool, swapped func(compactor.CopyResult)) error {
	f, err := s.file()
	if err != nil {
		return err
	}
	defer s.done()
	var res compactor.CopyResult
	if copyAny {
		res, err = compactor.CopyLive(l.fs, f, s.size, s.name, segment.FileHeader{ID: s.id, Base: s.base, Flags: fileFlags}, s.name+tmpSuffix, o)
		if err != nil {
			return err
		}
	}
	idxPath := idxName(l.dir, s.id)
	// The manifest first (see listing.go): unlisted before the file is
	// deleted; the new size, with the old one, before the rename.
	e := manifest.Edit{Remove: []uint64{s.id}}
	if !res.Empty() {
		e = manifest.Edit{Set: []manifest.Segment{{ID: s.id, Base: s.base, Durable: res.Size, Sealed: true, Prev: s.size}}}
	}
	if err := l.mf.Apply(e); err != nil {
		l.mu.Lock()
		err = l.fail(err)
		l.mu.Unlock()
		removeAll(l.fs, s.name+tmpSuffix)
		return err
	}
	if res.Empty() {
		err = removeAll(l.fs, s.name+tmpSuffix, idxPath, s.name)
	} else {
		// Old index first: a crash before the new one is in place leaves a
		// segment without index, which Open scans.
		err = removeAll(l.fs, idxPath)
		if err == nil {
			err = l.fs.Rename(s.name+tmpSuffix, s.name)
		}
		if err == nil {
			err = segment.WriteIndexFile(l.fs, idxPath, s.id, res.Size, res.Frames)
		}
	}
	if err == nil {
		err = l.fs.SyncDir(l.dir)
	}
	if err != nil {
		return fmt.Errorf("compact %s: %w", s.name, err)
	}

	l.mu.Lock()
	segs := make([]*seg, 0, len(l.segs))
	for _, other := range l.segs {
		if other != s {
			segs = append(segs, other)
		} else if !res.Empty() {
			// Opened when first read.
			segs = append(segs, &seg{id: s.id, name: s.name, ref: l.files.closedRef(s.name), size: res.Size, base: s.base, packed: o.PackBytes > 0})
		}
	}
	l.setSegs(segs)
	if res.Empty() {
		l.idx.DeleteSegment(s.id)
	} else {
		l.idx.SetSegment(s.id, res.Frames)
	}
	swapped(res)
	l.retire(s)
	l.mu.Unlock()
	return nil
}

func removeAll(fsys vfs.FS, names ...string) error {
	for _, n := range names {
		if err := fsys.Remove(n); err != nil && !isNotExist(err) {
			return err
		}
	}
	return nil
}

// retire closes a replaced segment's file once no snapshot may read it.
// Called with l.mu held.
func (l *Log) retire(s *seg) {
	s.ref.retired = true
	l.files.retire(s.ref, s.ref.readers > 0)
	if s.ref.readers > 0 {
		l.retired = append(l.retired, s)
	}
}

// checkpoint writes the compaction state durably, as of a sequence number
// through which the log is synced first. Called without l.mu.
func (l *Log) checkpoint() error {
	l.mu.Lock()
	if err := l.writable(); err != nil {
		l.mu.Unlock()
		return err
	}
	through := l.nextSeq.Load()
	l.cs.SetThrough(through)
	body := compactor.EncodeCheckpoint(l.cs)
	l.sinceCpt = 0
	err := l.syncForWork(through)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return l.writeCheckpoint(body, through)
}

// cptEvery is how many entries the log takes between checkpoints of the
// compaction state besides those at seals: Open after a crash replays the
// entries after the newest checkpoint, so without them it would replay up
// to a whole segment of small frames.
const cptEvery = 1 << 16

// pendCheckpoint encodes the compaction state as of now, to be written
// once the sync about to start makes the log durable through it
// (checkpointReady): it forces no sync, so a journal whose flusher is off
// syncs nothing more. Called with l.mu held, by a syncer.
func (l *Log) pendCheckpoint() {
	l.cs.SetThrough(l.nextSeq.Load())
	l.cptPend, l.cptPendThrough = compactor.EncodeCheckpoint(l.cs), l.nextSeq.Load()
	l.sinceCpt = 0
}

// checkpointReady hands the pending checkpoint to the background worker
// once the log is durable through it. Called with l.mu held, after a sync.
func (l *Log) checkpointReady() {
	if l.cptPend != nil && !l.cptDue && l.syncedSeq.Load() >= l.cptPendThrough {
		l.cptDue = true
		l.kickBackground()
	}
}

// checkpointDue writes the checkpoint checkpointReady handed over. Called
// without l.mu, from the background worker.
func (l *Log) checkpointDue() error {
	l.mu.Lock()
	if !l.cptDue {
		l.mu.Unlock()
		return nil
	}
	body, through := l.cptPend, l.cptPendThrough
	l.cptPend, l.cptDue = nil, false
	l.mu.Unlock()
	return l.writeCheckpoint(body, through)
}

// writeCheckpoint replaces the checkpoint unless a newer one is in place.
// The log must be durable through `through`.
func (l *Log) writeCheckpoint(body []byte, through uint64) error {
	l.cptMu.Lock()
	defer l.cptMu.Unlock()
	if through < l.cptThrough {
		return nil
	}
	if err := compactor.WriteCheckpoint(l.fs, l.dir, body); err != nil {
		return err
	}
	l.cptThrough = through
	return nil
}

// Compact applies every pending tombstone now, makes the result durable,
// and rewrites every sealed segment holding removed records. It returns
// once the result is durable. It gives an error wrapping ErrInvalid on a
// log opened without compaction.
func (l *Log) Compact() error {
	l.mu.Lock()
	if err := l.writable(); err != nil {
		l.mu.Unlock()
		return err
	}
	if l.cs == nil {
		l.mu.Unlock()
		return fmt.Errorf("%w: compaction is off for this log", ErrInvalid)
	}
	for l.working {
		l.cond.Wait()
	}
	if err := l.writable(); err != nil {
		l.mu.Unlock()
		return err
	}
	l.working = true // keep the background rewriter out
	if l.cs.Pending() {
		l.cs.Apply()
	}
	// Sealing makes the active segment's removed records reclaimable and
	// writes a checkpoint holding the applied state.
	var err error
	if l.cs.Segment(l.active.ID()).Dead > 0 {
		err = l.rotate()
	} else {
		err = l.syncForWork(l.nextSeq.Load())
	}
	if err == nil {
		// Visible to readers once every batch before it is (a batch that
		// applied compaction while this waited may not be durable yet);
		// durable once the checkpoint below is.
		l.deadQ = append(l.deadQ, queuedDead{upto: l.nextSeq.Load(), dead: l.cs.Dead()})
		l.publishDead()
	} else if !errors.Is(err, ErrClosed) {
		err = l.fail(err)
	}
	l.mu.Unlock()
	if err == nil {
		err = l.checkpoint()
	}
	if err == nil {
		err = l.rewritePass(true)
	}
	l.mu.Lock()
	l.working = false
	l.cond.Broadcast()
	l.mu.Unlock()
	return err
}
