package wal

import (
	"fmt"
	"slices"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// AppendAt appends b so that its first record gets sequence number first,
// for callers that own the numbering (a consensus log's indexes). first
// must be NextSeq(), or, when the log holds no records (it is new, or
// truncation removed them all), any value: the log then continues from
// there, as if TruncateFront or TruncateBack had moved NextSeq to first.
// Any other first gives an error wrapping ErrInvalid and writes nothing.
// An empty batch writes nothing. Durability, atomicity and failure are as
// for Append. Moving an empty log's next sequence number needs truncation,
// which a log with compaction on refuses (ErrInvalid), but for moving it
// forward while the log holds no frame at all (a new log, say): such a
// log may start anywhere.
func (l *Log) AppendAt(first uint64, b Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	_, err := l.append(b, true, first)
	return err
}

// FirstSeq returns the sequence number of the first record in the log, 0
// when it holds none. A record counts once it is visible to readers
// (durable, with Immediate durability).
func (l *Log) FirstSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	first, _, _ := l.liveBounds(l.visibleSeq.Load())
	return first
}

// LastSeq returns the sequence number of the last record in the log, 0
// when it holds none (see FirstSeq).
func (l *Log) LastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, last, _ := l.liveBounds(l.visibleSeq.Load())
	return last
}

// liveBounds returns the first and last record below upto that are not
// truncated. Records at or after the front are contiguous, so the bounds
// are the index's clamped to the front. Called with l.mu held.
func (l *Log) liveBounds(upto uint64) (first, last uint64, ok bool) {
	first, last, ok = l.idx.Bounds()
	if !ok || upto == 0 {
		return 0, 0, false
	}
	first, last = max(first, l.front), min(last, upto-1)
	if first > last {
		return 0, 0, false
	}
	return first, last, true
}

// TruncateFront removes every record with a sequence number below seq:
// retention, or a consensus log's compaction after a snapshot. If seq is
// past NextSeq, NextSeq becomes seq. It returns once the removal is
// durable, and it is atomic: after a crash the records are either all
// there or all gone. It costs one small file replaced durably plus the
// deletion of every segment holding only removed records; a segment
// holding both keeps the removed ones on disk, invisible, until it is
// deleted in turn. A log with compaction on refuses it (ErrInvalid).
func (l *Log) TruncateFront(seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.truncatable(); err != nil {
		return err
	}
	if seq <= l.front {
		return nil
	}
	if err := l.quiesce(); err != nil {
		return err
	}
	return l.truncFront(seq)
}

// TruncateBack removes every record with a sequence number above seq, and
// the log continues at seq+1 (sequence numbers removed are reused): a
// consensus log's conflict resolution. It returns once the removal is
// durable, and it is atomic: Open finishes a truncation a crash
// interrupted. Segments after the cut are deleted; the segment holding it
// is cut at a frame boundary, and the records of the cut frame that stay
// are written again as a new frame. Readers iterating over removed records
// meanwhile may get an error. A log with compaction on refuses it
// (ErrInvalid).
func (l *Log) TruncateBack(seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.truncatable(); err != nil {
		return err
	}
	if seq == ^uint64(0) || seq+1 >= l.nextSeq.Load() {
		return nil
	}
	if err := l.quiesce(); err != nil {
		return err
	}
	defer l.wakeFollowers() // they end: what they yielded may be gone
	return l.truncBack(seq + 1)
}

// truncatable reports why truncation is refused now, if it is. Called with
// l.mu held.
func (l *Log) truncatable() error {
	if err := l.writable(); err != nil {
		return err
	}
	if l.cs != nil {
		return fmt.Errorf("%w: truncation on a log with compaction on", ErrInvalid)
	}
	return nil
}

// moveNext makes want the next sequence number of a log that holds no
// records, for AppendAt. Called with l.mu held.
func (l *Log) moveNext(want uint64) error {
	for want != l.nextSeq.Load() {
		if _, _, ok := l.liveBounds(l.nextSeq.Load()); ok {
			return fmt.Errorf("%w: append at sequence %d: the log continues at %d", ErrInvalid, want, l.nextSeq.Load())
		}
		if err := l.truncatable(); err != nil && !l.startable(want) {
			return fmt.Errorf("append at sequence %d, log continuing at %d: %w", want, l.nextSeq.Load(), err)
		}
		if err := l.quiesce(); err != nil {
			return err
		}
		// quiesce may have let other appends in: look again.
		if _, _, ok := l.liveBounds(l.nextSeq.Load()); ok || want == l.nextSeq.Load() {
			continue
		}
		var err error
		if want > l.nextSeq.Load() {
			err = l.truncFront(want)
		} else {
			err = l.truncBack(want)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// startable reports whether NextSeq may move forward to want on a log
// with compaction on, which refuses truncation: only while it holds no
// frame at all in its one segment, so that moving its front deletes and
// cuts no file and drops no record compaction counts. An import keeping
// another system's sequence numbers starts so. Called with l.mu held.
func (l *Log) startable(want uint64) bool {
	_, _, any := l.idx.Bounds()
	return want > l.nextSeq.Load() && !any && len(l.segs) == 1 && l.writable() == nil
}

// quiesce waits until no sync and no background work runs, and writes any
// seal job left queued, so truncation can delete and cut files. It returns
// with l.mu held, which it releases while waiting.
func (l *Log) quiesce() error {
	for l.working || l.syncing > 0 {
		l.cond.Wait()
	}
	if err := l.writable(); err != nil {
		return err
	}
	for len(l.sealQ) > 0 {
		if err := l.writeSealMeta(l.sealQ[0]); err != nil {
			return err
		}
		l.sealQ = l.sealQ[1:]
	}
	return nil
}

// dropCheckpoint deletes the compaction checkpoint an earlier session with
// compaction on left, before a truncation changes the records it counts:
// it would count records the truncation removes (whose numbers
// TruncateBack gives out again) and, as live, those below the new front,
// so an Open with compaction on would hide new records under removals
// made before the cut and miss their tombstones. Without it that Open
// rebuilds the state from the segments. A log with compaction on keeps
// its checkpoint: it truncates only while it holds no record (see
// startable), which the checkpoint describes; a log that found none at
// Open has none to remove (with compaction off nothing writes one), and
// makes no system call. Called with l.mu held.
func (l *Log) dropCheckpoint() error {
	if l.cs != nil || !l.cptLeft {
		return nil
	}
	if err := compactor.RemoveCheckpoint(l.fs, l.dir); err != nil {
		return l.fail(err)
	}
	l.cptLeft = false
	return nil
}

// truncFront moves the front to seq (> l.front). Called with l.mu held,
// quiesced.
func (l *Log) truncFront(seq uint64) error {
	if err := l.dropCheckpoint(); err != nil {
		return err
	}
	l.front = seq
	if seq > l.nextSeq.Load() {
		// Nothing lies between: every number below seq is as durable as
		// it will ever need to be.
		l.nextSeq.Store(seq)
		l.visibleSeq.Store(max(l.visibleSeq.Load(), seq))
		l.syncedSeq.Store(max(l.syncedSeq.Load(), seq))
		l.cond.Broadcast()
	}
	return l.dropBelowFront(manifest.Edit{Front: seq, SetFront: true})
}

// dropBelowFront records e in the manifest together with the removal of
// the sealed segments holding only truncated records, then deletes those,
// oldest first. The active segment stays. Called with l.mu held, quiesced
// (or before l is shared).
func (l *Log) dropBelowFront(e manifest.Edit) error {
	n := 0
	for _, sg := range l.segs[:len(l.segs)-1] {
		if last, ok := l.idx.Last(sg.id); ok && last >= l.front {
			break
		}
		e.Remove = append(e.Remove, sg.id)
		n++
	}
	// Unlisted first: a crash before the files are gone leaves files Open
	// deletes, never a listed segment missing.
	if err := l.record(e); err != nil {
		return err
	}
	for i, sg := range l.segs[:n] {
		// The index first: a segment without one is scanned at Open.
		if err := removeAll(l.fs, idxName(l.dir, sg.id), sg.name); err != nil {
			// The manifest no longer lists it: stop until reopened
			// (Open deletes it).
			return l.dropped(i, l.fail(fmt.Errorf("remove truncated segment %s: %w", sg.name, err)))
		}
	}
	if n == 0 {
		return nil
	}
	return l.dropped(n, nil)
}

// dropped forgets the first n segments, whose files are deleted, syncs the
// directory and returns err.
func (l *Log) dropped(n int, err error) error {
	for _, sg := range l.segs[:n] {
		l.idx.DeleteSegment(sg.id)
		l.retire(sg)
	}
	l.setSegs(slices.Clone(l.segs[n:]))
	if serr := l.fs.SyncDir(l.dir); serr != nil && err == nil {
		err = fmt.Errorf("sync directory %s: %w", l.dir, serr)
	}
	return err
}

// truncBack removes every record with a sequence number >= next (<
// l.nextSeq). Called with l.mu held, quiesced.
//
// The cut is made durable in the bounds file before any file is touched,
// so it happens whole: Open carries out a cut it finds there.
func (l *Log) truncBack(next uint64) error {
	if err := l.dropCheckpoint(); err != nil {
		return err
	}
	if err := l.active.SyncAll(); err != nil {
		return l.fail(err)
	}
	// The tail index would list frames the cut removes, and a segment
	// written again after it may put others where they were: it goes,
	// durably with the bounds file's directory sync below.
	if err := l.dropTail(true); err != nil {
		return l.fail(fmt.Errorf("remove tail index: %w", err))
	}
	l.setSeqs(l.nextSeq.Load())
	c, err := l.findCut(next)
	if err != nil {
		return err
	}
	if act := l.segs[len(l.segs)-1]; c == nil && act.base > next {
		// The active segment holds nothing (nothing at or after next is
		// on disk) but its header says it starts after next: replace it.
		c = &cut{next: next, seg: act.id, off: segment.FileHeaderSize}
	}
	nb := bounds{front: min(l.front, next), cut: c}
	if err := writeBounds(l.fs, l.dir, nb); err != nil {
		return l.fail(err)
	}
	if c == nil {
		// Nothing at or after next is on disk: only the numbering moves
		// (and the front, in the manifest, if the cut goes below it).
		if nb.front != l.front {
			if err := l.record(manifest.Edit{Front: nb.front, SetFront: true}); err != nil {
				return err
			}
		}
		l.front = nb.front
		l.setSeqs(next)
		return nil
	}
	// From here on the cut is decided; a failure leaves it to Open. Reads
	// that fail in files cut under them report the records gone. No Get
	// may touch a mapping of a file being cut (a page past the new end
	// would fault) or the writer's, about to be released.
	l.cuts.Add(1)
	l.waitMapReads(l.segs)
	l.waitMapReads(l.retired)
	if err := l.active.Unmap(); err != nil {
		return l.fail(fmt.Errorf("unmap %s: %w", l.active.Name(), err))
	}
	for _, sg := range l.segs {
		l.retire(sg)
	}
	l.setActive(nil)
	l.setSegs(nil)
	l.staleIdx = false
	if err := applyCut(l.fs, l.dir, c); err != nil {
		return l.fail(err)
	}
	st := l.mf.State()
	cutState(&st, c, nb.front)
	ld, err := load(l.fs, l.dir, forOpen, nb.front, listing{st: &st}, l.files, nil, &l.repairs)
	if err != nil {
		return l.fail(err)
	}
	l.front = nb.front
	if err := l.install(ld); err != nil {
		return l.fail(err)
	}
	if err := l.record(l.reconcile(l.mf.State())); err != nil {
		return err
	}
	if err := l.finishTruncation(nb); err != nil {
		return l.fail(err)
	}
	return nil
}

// findCut locates the first frame holding a record >= next and the records
// of it that stay (those below next, not truncated at the front). nil when
// no such frame exists. Called with l.mu held.
func (l *Log) findCut(next uint64) (*cut, error) {
	var c *cut
	var ferr error
	err := l.idx.Ascend(next, func(id uint64, first uint64, off uint32) bool {
		sg := findSeg(l.segs, id)
		if sg == nil {
			ferr = fmt.Errorf("%w: index names missing segment %d", ErrCorrupt, id)
			return false
		}
		size := sg.size
		if sg.id == l.active.ID() {
			size = l.active.Offset()
		}
		f, err := sg.file()
		if err != nil {
			ferr = err
			return false
		}
		h, p, err := segment.ReadFrame(f, size, int64(off), sg.name)
		sg.done()
		if err != nil {
			ferr = err
			return false
		}
		var stay []segment.Entry
		reached := false
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				ferr = segment.AtOffset(err, sg.name, int64(off))
				return false
			}
			if !ok {
				break
			}
			if e.Seq >= next {
				reached = true
				break
			}
			if e.Seq >= l.front {
				stay = append(stay, e)
			}
		}
		if !reached {
			return true // the frame lies wholly below next
		}
		keptHeader, kept := keepEntries(stay)
		c = &cut{next: next, seg: sg.id, off: int64(off), keptHeader: keptHeader, kept: kept}
		return false
	})
	if err != nil {
		return nil, err
	}
	return c, ferr
}

// applyCut carries out the file part of c: the segments after c.seg and
// every index file from c.seg on are deleted (newest first), and c.seg is
// cut at c.off, or deleted when nothing precedes c.off and nothing is
// kept. Kept records are written back by finishTruncation once the log is
// loaded, into c.seg, so running the cut again after a crash at any point
// (even after they were written back) gives the same files.
func applyCut(fsys vfs.FS, dir string, c *cut) error {
	names, err := fsys.List(dir)
	if err != nil {
		return err
	}
	var later []uint64
	for _, n := range names {
		if id, ok := parseSegName(n); ok && id != c.seg {
			if gone, _ := afterCut(c, id); gone {
				later = append(later, id)
			}
		}
	}
	slices.Sort(later)
	for _, id := range slices.Backward(later) {
		if err := removeAll(fsys, idxName(dir, id), segName(dir, id)); err != nil {
			return fmt.Errorf("remove segment %d: %w", id, err)
		}
	}
	name := segName(dir, c.seg)
	if err := removeAll(fsys, idxName(dir, c.seg)); err != nil {
		return fmt.Errorf("remove index of %s: %w", name, err)
	}
	// (Kept records go back into c.seg, emptied if the cut is at its
	// start, not into the one before it: a second run of the cut must
	// remove them again.)
	if gone, size := afterCut(c, c.seg); gone {
		if err := removeAll(fsys, name); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	} else if err := cutFile(fsys, name, size); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// keepEntries encodes the entries of a cut frame that stay, for the bounds
// file, as the payload of a frame whose header segment.EncodeEntries gives:
// each entry keeps its own sequence number and time.
func keepEntries(stay []segment.Entry) (segment.FrameHeader, []byte) {
	return segment.EncodeEntries(nil, stay)
}

// keptFrame decodes the entries a cut keeps, stored in the bounds file as
// those of a frame with header h (contiguous, sparse or timed), and encodes them
// again as one frame holding each under its own sequence number.
func keptFrame(enc *segment.Encoder, h segment.FrameHeader, kept []byte) (segment.Frame, error) {
	entries := make([]segment.Entry, 0, h.Count)
	it := segment.NewEntryIter(h, kept)
	for {
		e, ok, err := it.Next()
		if err != nil {
			return segment.Frame{}, fmt.Errorf("bounds file's kept records: %w", err)
		}
		if !ok {
			break
		}
		entries = append(entries, e)
	}
	if len(entries) != int(h.Count) || len(entries) == 0 {
		return segment.Frame{}, segment.Corruptf("", -1, "bounds file keeps %d records, says %d", len(entries), h.Count)
	}
	if h.Flags&(segment.FlagSparse|segment.FlagTimed) != 0 {
		return enc.Sparse(entries)
	}
	recs := make([]segment.Record, len(entries))
	for i, e := range entries {
		recs[i] = segment.Record{Key: e.Key, Value: e.Value, Tombstone: e.Tombstone}
	}
	frame, err := enc.Batch(recs, h.Time)
	frame.SetFirst(h.FirstSeq)
	return frame, err
}

// finishTruncation completes a TruncateBack once the cut files are loaded:
// the kept records are appended again and synced, and the cut is cleared
// from the bounds file. Then (and at every Open) segments holding only
// truncated records are deleted. Called with l.mu held (or before l is
// shared), with the log installed.
func (l *Log) finishTruncation(b bounds) error {
	if c := b.cut; c != nil {
		if h := c.keptHeader; h.Count > 0 {
			// The kept records may start after the log's end: compaction
			// removed the records between (a gap, as in any sparse frame).
			if l.nextSeq.Load() > h.FirstSeq {
				return fmt.Errorf("%w: finishing truncation: log continues at %d, kept records start at %d", ErrCorrupt, l.nextSeq.Load(), h.FirstSeq)
			}
			frame, err := keptFrame(segment.NewEncoder(l.opts.compressor), h, c.kept)
			if err != nil {
				return err
			}
			off, err := l.active.WriteFrame(&frame)
			if err != nil {
				return err
			}
			fi := frame.Info(off)
			l.idx.Append(l.active.ID(), fi)
		}
		if err := l.active.SyncAll(); err != nil {
			return err
		}
		l.setSeqs(c.next)
		if err := writeBounds(l.fs, l.dir, bounds{front: b.front}); err != nil {
			return err
		}
	}
	if len(l.segs) == 0 {
		return nil
	}
	return l.dropBelowFront(manifest.Edit{})
}

// cutFile cuts the file name to size, if longer, and syncs it.
func cutFile(fsys vfs.FS, name string, size int64) error {
	f, err := fsys.OpenReadWrite(name)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	cur, err := f.Size()
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if cur < size {
		return fmt.Errorf("%s: %w: %d bytes, truncation cuts at %d", name, ErrCorrupt, cur, size)
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	return nil
}
