package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// Opening a log directory: recovery after a crash (cut a torn tail, write
// again what no fsync confirmed, finish a recorded truncation) and the
// compaction state it rebuilds.

// Open opens the log in dir, creating dir and its parents if needed, and
// takes an exclusive lock on it: a second Open of the same directory, from
// this process or another, fails at once with an error wrapping ErrLocked.
// It creates files and directories with Options.FileMode, and warns
// (through Options.Logger) of dir or a file in it more open than that,
// changing no mode.
//
// Recovery: a torn write at the end of the newest segment (a batch in
// flight at a crash) is cut off and the file synced. Damage anywhere else
// fails Open with an error wrapping ErrCorrupt that names the file and
// offset, and nothing is modified. Sealed segments with an intact index
// file are not re-read; their checksums are verified when read.
func Open(dir string, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	fsys := opts.FS
	if err := vfs.MkdirDurable(fsys, dir, vfs.DirMode(opts.FileMode)); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	lock, err := fsys.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	l := &Log{dir: dir, opts: opts, fs: fsys, log: opts.Logger, lock: lock, files: newFileCache(fsys, opts.MaxOpenSegments), tailEvery: defaultTailEvery, repairs: lazyRepairs{log: opts.Logger}}
	l.cond = sync.NewCond(&l.mu)
	if err := l.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) recover() error {
	b, err := readBounds(l.fs, l.dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", l.dir, err)
	}
	mld, err := manifest.Load(l.fs, l.dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", l.dir, err)
	}
	front, ls := logFront(b, mld), listingFor(mld)
	if b.cut != nil {
		// A TruncateBack was made durable: finish it before reading.
		if err := applyCut(l.fs, l.dir, b.cut); err != nil {
			return fmt.Errorf("open %s: finish truncation: %w", l.dir, err)
		}
		if ls.st != nil {
			cutState(ls.st, b.cut, b.front)
		}
	}
	var obs *stateObserver
	if l.opts.CompactionThreshold > 0 {
		// Read first, so that the scan of the newest segment after a
		// crash can feed it the frames it reads (see stateObserver).
		cs, err := readState(l.fs, l.dir, l.log)
		if err != nil {
			return fmt.Errorf("open %s: compaction state: %w", l.dir, err)
		}
		obs = &stateObserver{cs: cs, front: front, onDisk: cs.Through()}
	}
	ld, err := load(l.fs, l.dir, forOpen, front, ls, l.files, obs, &l.repairs)
	if err != nil {
		return fmt.Errorf("open %s: %w", l.dir, err)
	}
	if err := warnLooseModes(l.fs, l.dir, ld.names, l.opts); err != nil {
		ld.close()
		return fmt.Errorf("open %s: %w", l.dir, err)
	}
	keep := ""
	if ld.lastTail {
		keep = filepath.Base(tailName(l.dir, ld.segs[len(ld.segs)-1].id))
	}
	if mld.Found {
		l.mf = mld.Open()
		if len(ld.leftovers) > 0 {
			// The removal that left them may be the manifest's last
			// edit, in the page cache alone after a kill: durable
			// before the files it removed go, or a power cut could keep
			// the deletion and lose the edit.
			if err := l.mf.Sync(); err != nil {
				l.closeManifest()
				ld.close()
				return fmt.Errorf("open %s: %w", l.dir, err)
			}
		}
	}
	if err := l.removeTemps(ld.names, ld.leftovers, keep); err != nil {
		l.closeManifest()
		ld.close()
		return err
	}
	l.cptLeft = obs == nil && slices.Contains(ld.names, checkpointName)
	if obs != nil {
		cs, onDisk := obs.cs, obs.onDisk
		if err := replayState(cs, ld, front); err != nil {
			l.closeManifest()
			ld.close()
			return fmt.Errorf("open %s: compaction state: %w", l.dir, err)
		}
		l.cs = cs
		l.dead = cs.Dead()
		// Only what the checkpoint file covers: segments sealed after it
		// are not rewritten until a new checkpoint covers them.
		l.cptThrough = onDisk
		ld.nextSeq = max(ld.nextSeq, cs.Through())
	}
	l.front = front
	// Numbers a repair removed are never given out again.
	ld.nextSeq = max(ld.nextSeq, afterHoles(mld.State))
	if !mld.Found {
		// A new directory, or one written before logs kept a manifest:
		// start one with what is there, before a segment that names it
		// (see segment.FileTracked) can be created.
		if l.mf, err = manifest.Create(l.fs, l.dir, stateOf(ld, front)); err != nil {
			ld.close()
			return fmt.Errorf("open %s: %w", l.dir, err)
		}
	}
	if err := l.install(ld); err != nil {
		l.mf.Close()
		return err
	}
	// Record what recovery made durable.
	if err := l.record(l.reconcile(l.mf.State())); err != nil {
		return err
	}
	if err := l.finishTruncation(b); err != nil {
		return err
	}
	l.repackDue = len(l.segs) > 1
	if (len(l.sealQ) > 0 || l.repackDue) && !l.opts.Inline {
		// Damaged index files to write again, sealed segments an earlier
		// run left unpacked (under Inline, the next rotation's work or
		// Close writes the index files).
		l.kickBackground()
	}
	return nil
}

// closeManifest closes the manifest recover opened, if it did, on a
// failure before install.
func (l *Log) closeManifest() {
	if l.mf != nil {
		l.mf.Close()
	}
}

// install makes what load found the log's state, with the newest segment
// (cut after its last valid frame) as the active one. Called before l is
// shared, or with l.mu held and every previous file retired.
func (l *Log) install(ld *loaded) error {
	for _, j := range ld.badIndexes {
		// A cache: load scanned the segment instead; write it again.
		l.log.Warn("wal: damaged index file of a sealed segment; the segment was scanned and the index is rewritten", "file", idxName(l.dir, j.id))
		l.sealQ = append(l.sealQ, j)
	}
	l.staleIdx = false
	l.idx = ld.idx
	l.setSeqs(ld.nextSeq)
	if len(ld.segs) == 0 {
		l.setSegs(nil)
		if err := l.createSegment(1); err != nil {
			return err
		}
		return nil
	}
	last := ld.segs[len(ld.segs)-1]
	if ld.badLast {
		// Recreate it: it never held a frame.
		last.closeFile()
		l.setSegs(ld.segs[:len(ld.segs)-1])
		l.log.Warn("wal: recreating segment with damaged header left by a crash", "file", last.name)
		if err := l.createSegment(last.id); err != nil {
			ld.segs = l.segs
			ld.close()
			l.setSegs(nil)
			return err
		}
		return nil
	}
	if ld.torn != nil {
		// The figures of the cut: its bytes, and the sequence numbers of the
		// batch whose write the crash cut short, when its frame header
		// survived.
		attrs := []any{"file", last.name, "offset", last.size, "bytes", ld.lastFileSize - last.size}
		switch h := ld.tornHead; {
		case ld.tornHeadOK && h.Flags&segment.FlagSparse == 0:
			attrs = append(attrs, "first_seq", h.FirstSeq, "last_seq", h.FirstSeq+uint64(h.Count)-1, "records", h.Count)
		case ld.tornHeadOK: // a rewritten frame's sequence numbers have gaps
			attrs = append(attrs, "first_seq", h.FirstSeq, "records", h.Count)
		default:
			attrs = append(attrs, "seqs", "unknown (the batch's frame header is cut or damaged)")
		}
		l.log.Warn("wal: cutting torn write at end of log", append(attrs, "damage", ld.torn)...)
	}
	// Write again what no fsync confirmed and cut a torn write after the
	// last valid frame (see segment.Recover).
	tail := segment.TailClean
	if ld.torn != nil {
		tail = segment.TailTorn
	}
	w, err := segment.Recover(last.ref.f, last.name, last.id, ld.lastSynced, last.size, ld.lastFileSize, l.opts.SegmentSize, tail)
	if err != nil {
		ld.close()
		return err
	}
	// The last segment's index file (written when it was sealed at Close)
	// goes stale with the first append. That is harmless while the segment
	// is the newest (Open rescans it), not once a newer one exists, where a
	// stale index means damage: rotate removes it before creating the next
	// segment, in the same directory sync.
	l.staleIdx = ld.lastHasIndex
	l.staleIdxSize = -1
	if ld.lastIndexed {
		l.staleIdxSize = last.size
	}
	l.setSegs(ld.segs)
	l.setActive(w)
	l.staleTail = ld.lastTail
	return nil
}

// removeTemps deletes the log's own temporary files left by a crash (index
// files, rewritten segments, checkpoints, tail indexes but keep); other
// files in the directory, such as the command ID set's, are not the log's
// to touch. names is the directory listing load made.
func (l *Log) removeTemps(names []string, leftovers []uint64, keep string) error {
	segs := make(map[uint64]bool)
	for _, n := range names {
		if id, ok := parseSegName(n); ok {
			segs[id] = true
		}
	}
	for _, id := range leftovers {
		// A segment the manifest no longer lists, left by a removal it
		// recorded: its index first (see isLeftoverTemp).
		l.log.Warn("wal: deleting a segment the manifest recorded as removed", "file", segName(l.dir, id))
		if err := removeAll(l.fs, idxName(l.dir, id), segName(l.dir, id)); err != nil {
			return fmt.Errorf("remove %s: %w", segName(l.dir, id), err)
		}
		delete(segs, id)
	}
	for _, n := range names {
		if n != keep && isLeftoverTemp(n, segs) {
			if err := l.fs.Remove(filepath.Join(l.dir, n)); err != nil && !isNotExist(err) {
				return fmt.Errorf("remove %s: %w", n, err)
			}
		}
	}
	return nil
}

// warnLooseModes logs a warning for dir and each of its files (names, the
// listing load made) more open than opts.FileMode allows (see
// vfs.LooseModes), leaving their modes as they are: an operator may have
// opened them on purpose.
func warnLooseModes(fsys vfs.FS, dir string, names []string, opts Options) error {
	loose, err := vfs.LooseModesIn(fsys, dir, names, opts.FileMode)
	if err != nil {
		return fmt.Errorf("check file modes: %w", err)
	}
	for _, lm := range loose {
		opts.Logger.Warn("wal: more open than Options.FileMode allows (left as it is): others may read what the log holds",
			"path", lm.Path, "mode", lm.Mode, "max", lm.Max)
	}
	return nil
}

// segmentsGone tells cs of the segments it counts that are not among ids
// (those on disk): deleted by a compaction whose checkpoint was not
// written.
func segmentsGone(cs *compactor.State, ids []uint64) {
	present := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		present[id] = true
	}
	for _, id := range cs.SegmentIDs() {
		if !present[id] {
			cs.SegmentGone(id)
		}
	}
}

// buildState loads the checkpoint in dir and replays the records after it
// from the segments in ld, giving the compaction state of the whole log
// from front on (records below it are truncated: not live, and their
// tombstones remove only truncated records).
// The checkpoint is a cache: without one, or with a damaged one (logged
// through log), every segment is replayed, and compaction kept every
// tombstone an older segment may still need (see CopyLive), so the state
// removes what it removed.
//
// The returned state's Through is the log's next sequence number; onDisk is
// what the checkpoint file itself covers (0 without one), which is all a
// rewrite may rely on after a crash.
func buildState(fsys vfs.FS, dir string, ld *loaded, front uint64, log *slog.Logger) (_ *compactor.State, onDisk uint64, _ error) {
	cs, err := readState(fsys, dir, log)
	if err != nil {
		return nil, 0, err
	}
	onDisk = cs.Through()
	if err := replayState(cs, ld, front); err != nil {
		return nil, 0, err
	}
	return cs, onDisk, nil
}

// readState loads the checkpoint in dir: the compaction state through its
// Through, or an empty state without a sound checkpoint (see buildState).
func readState(fsys vfs.FS, dir string, log *slog.Logger) (*compactor.State, error) {
	cs, err := compactor.ReadCheckpoint(fsys, dir)
	if errors.Is(err, ErrCorrupt) {
		log.Warn("wal: damaged compaction checkpoint; the compaction state is rebuilt from the segments", "dir", dir, "err", err)
		err = compactor.ErrNoCheckpoint
	}
	if errors.Is(err, compactor.ErrNoCheckpoint) {
		cs, err = compactor.NewState(), nil
	}
	return cs, err
}

// observeFrame feeds the records of a frame of segment id at or after
// front to cs as the log did when it appended them, and applies
// compaction where the frame says its append did. each, if not nil, sees
// every entry observed (aliasing p and *scratch) after cs.
func observeFrame(cs *compactor.State, id uint64, front uint64, h segment.FrameHeader, p []byte, scratch *[]byte, each func(segment.Entry)) error {
	it := segment.NewEntryIterScratch(h, p, scratch)
	for {
		e, ok, err := it.Next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if e.Seq < front {
			continue // truncated (TruncateFront with compaction off)
		}
		cs.Observe(id, e.Seq, e.Key, e.Tombstone)
		if each != nil {
			each(e)
		}
	}
	if h.Flags&segment.FlagCompact != 0 {
		cs.Apply()
	}
	return nil
}

// replayState brings cs up to date with the records of ld after its
// Through and at or after front (ld need hold only the frames from there
// on).
func replayState(cs *compactor.State, ld *loaded, front uint64) error {
	s := &snapshot{idx: ld.idx, segs: ld.segs, visible: ld.nextSeq}
	var ferr error
	var scratch []byte // rebuilt keys; Observe copies what it keeps
	err := s.frames(cs.Through(), func(sg *seg, off int64, h segment.FrameHeader, p []byte) bool {
		if h.FirstSeq < cs.Through() {
			return true // covered by the checkpoint
		}
		if err := observeFrame(cs, sg.id, front, h, p, &scratch, nil); err != nil {
			ferr = segment.AtOffset(err, sg.name, off)
			return false
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	ids := make([]uint64, len(ld.segs))
	for i, sg := range ld.segs {
		ids[i] = sg.id
	}
	segmentsGone(cs, ids)
	cs.SetThrough(ld.nextSeq)
	return nil
}
