package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"

	"github.com/seglog/journal/index"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// seg is one segment file as held by a Log or a View: its file and the
// bytes of it that hold frames.
type seg struct {
	id   uint64
	name string
	// own is a View's (or a check's) handle, open while it lives; nil in a
	// Log, whose files ref holds (see fileCache).
	own  vfs.File
	ref  *fileRef // the Log's hold on the file (nil in a View)
	size int64    // end of the frames; for the active segment, see Log.snapshot
	base uint64
	// packed: written by this Log's repack or compaction, with frames
	// packed as far as they go; not a repack candidate again.
	packed bool
}

// file returns sg's file for reading, opening it if needed; done must be
// called when the caller stops reading it.
func (sg *seg) file() (vfs.File, error) {
	if sg.ref == nil {
		return sg.own, nil
	}
	return sg.ref.c.pin(sg.ref)
}

// done ends a read begun by file.
func (sg *seg) done() {
	if sg.ref != nil {
		sg.ref.c.unpin(sg.ref)
	}
}

// closeFile closes a View's handle, or drops a Log's file for good.
func (sg *seg) closeFile() error {
	if sg.ref != nil {
		sg.ref.c.drop(sg.ref)
		return nil
	}
	if sg.own == nil {
		return nil
	}
	f := sg.own
	sg.own = nil
	return f.Close()
}

// fileRef is one segment file of a Log: the snapshots that may still read
// it (so a file replaced by a rewrite is closed when the last of them
// ends) and, through its fileCache, the open handle and read mapping.
// Several seg values (a snapshot's copy, the one rotation makes) share one.
type fileRef struct {
	// Guarded by Log.mu.
	readers int
	retired bool // replaced: close when readers drops to 0
	// mapReads counts Gets reading the segment's mapping now: added to
	// under Log.mu, done without it; a TruncateBack, a seal or Close waits
	// for it under Log.mu (which keeps new Gets out) before cutting a file
	// or releasing a mapping (touching a mapped page past the end would
	// fault). A mapped Get also pins the file, so the cache does not
	// unmap it meanwhile.
	mapReads sync.WaitGroup

	// Guarded by c.mu.
	c    *fileCache
	name string
	f    vfs.File // nil while not open
	pins int      // reads using f now: f stays open
	// active: the writer's file, never closed by the cache; kept: retired
	// with readers, open until dropped; gone: closed for good, never
	// opened again.
	active, kept, gone bool
	// rm maps a sealed segment's frames for Log.Get, made at the first Get
	// after the file was opened (mapTried), released when it is closed.
	rm       []byte
	mapTried bool
	// prev, next: place in c.lru while open and unpinned (nil otherwise).
	prev, next *fileRef
}

// loaded is what was found in a log directory.
type loaded struct {
	names   []string // the directory's entries as listed
	segs    []*seg
	idx     *index.Index
	nextSeq uint64
	// torn is set when the last segment ends in a torn write at segs[last].size.
	torn error
	// tornHead is the header of the frame the torn write began, when it
	// survived (tornHeadOK): the sequence numbers the cut loses.
	tornHead   segment.FrameHeader
	tornHeadOK bool
	// badLast is set when the last segment's file header is missing or
	// damaged (a crash while creating it): nothing in it was ever written.
	badLast bool
	// lastSynced: in the scanned newest segment, every byte before it was
	// confirmed durable by a successful fsync (the largest durable offset
	// any frame recorded). 0 when the segment was not scanned.
	lastSynced int64
	// lastFileSize is the newest segment's file size (its frames may end
	// before it); lastIndexed says its index file was read and matches it,
	// lastHasIndex that it has one at all (sound or not).
	lastFileSize int64
	lastIndexed  bool
	lastHasIndex bool
	// lastTail: the newest segment's frames were read from its tail index
	// (Open keeps the file: see Log.staleTail).
	lastTail bool
	// check is what a forCheck load found (nil in other modes).
	check *Inspection
	// badIndexes are sealed segments whose index file is damaged, with
	// what to write in its place.
	badIndexes []sealJob
	// leftovers are segment files a removal recorded in the manifest left
	// behind (see matchListing); Open deletes them.
	leftovers []uint64
}

func (ld *loaded) close() {
	for _, s := range ld.segs {
		s.closeFile()
	}
}

// loadMode says who reads a log directory, and so what load may trust
// and what it does with damage.
type loadMode uint8

const (
	// forOpen is Open's: the newest segment is opened read-write, a sealed
	// segment's index file is trusted when it matches, damage is an error.
	forOpen loadMode = iota
	// forView is a lock-free reader's: read-only, and a writer may be
	// putting an index file or a rewritten segment in place meanwhile.
	forView
	// forCheck is Inspect's: read-only and lock-free as forView; every
	// frame is scanned (no index file is trusted), and damage is recorded
	// (the first in each segment) while reading goes on with the next
	// segment.
	forCheck
)

// load reads the state of the log in dir without modifying anything.
// front is the bounds file's: the sequence numbers below it are truncated,
// so a segment starting at or below it may follow a gap. Every check it
// makes is the same in each mode; only what it trusts and what it does
// with damage differ (see loadMode). In forCheck mode, ld.check holds what
// it found; the segments' files are closed, each once read. In forOpen
// mode the files go into files, which keeps a bounded number open; in the
// other modes each segment keeps its own. obs, if not nil (forOpen), is
// fed the frames the scan of the newest segment reads (see
// stateObserver). lazy, if not nil (forOpen), lets sealed segments be
// indexed by their index file's header alone (see lazySealed).
func load(fsys vfs.FS, dir string, mode loadMode, front uint64, ls listing, files *fileCache, obs *stateObserver, lazy *lazyRepairs) (_ *loaded, err error) {
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
	slices.Sort(ids)
	if ls.cut != nil {
		ids = slices.DeleteFunc(ids, func(id uint64) bool { gone, _ := afterCut(ls.cut, id); return gone })
	}
	ld := &loaded{names: names, idx: index.New(), nextSeq: front}
	if mode == forCheck {
		ld.check = &Inspection{Dir: dir, Front: front}
	}
	defer func() {
		if err != nil || mode == forCheck {
			ld.close()
		}
	}()
	if ls.st != nil && mode != forView {
		if ids, err = ld.matchListing(dir, ids, ls.st); err != nil {
			return nil, err
		}
	}
	w := walk{fsys: fsys, dir: dir, mode: mode, front: front, ld: ld, ls: ls, files: files, obs: obs}
	if mode == forOpen {
		w.lazy = lazy
	}
	if ls.st != nil {
		w.newest = ls.st.Newest()
	}
	for i, id := range ids {
		if err := w.segment(id, i == len(ids)-1); err != nil {
			return nil, err
		}
	}
	return ld, nil
}

// walk is load's state from one segment to the next.
type walk struct {
	fsys  vfs.FS
	dir   string
	mode  loadMode
	front uint64
	ld    *loaded
	files *fileCache // forOpen's
	obs   *stateObserver
	lazy  *lazyRepairs // forOpen's, if sealed segments may be lazy

	prevLast  uint64 // last sequence number so far (valid with havePrev)
	havePrev  bool
	prevDense bool   // the previous segment holds its numbers without a gap ...
	prevEnd   uint64 // ... up to this one
	prevID    uint64
	ls        listing
	newest    uint64 // ls.st.Newest(), once: it walks every segment
	// Reused from segment to segment: the index copies what it keeps.
	frames  []segment.FrameInfo
	idxBuf  []byte
	tailBuf []byte // the frame tailFrames verifies
}

// segment reads segment id, the newest if last.
func (w *walk) segment(id uint64, last bool) error {
	ld, name := w.ld, segName(w.dir, id)
	var f vfs.File
	var err error
	if w.mode == forOpen {
		w.files.reserve()
	}
	if last && w.mode == forOpen {
		f, err = w.fsys.OpenReadWrite(name)
	} else {
		f, err = w.fsys.Open(name)
	}
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	s := &seg{id: id, name: name}
	if w.mode == forOpen {
		// Read now, then left to the cache (the newest stays open: it
		// becomes the active segment).
		s.ref = w.files.adopt(name, f, last)
		defer w.files.unpin(s.ref)
	} else {
		s.own = f
		if w.mode == forCheck {
			defer s.closeFile() // nothing reads it after load
		}
	}
	ld.segs = append(ld.segs, s)
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	_, cutSize := afterCut(w.ls.cut, id)
	if cutSize >= 0 {
		// What the recorded cut leaves of the file; its index file goes.
		size = min(size, cutSize)
	}
	ld.lastFileSize = size
	st := &SegmentState{ID: id, File: name, Size: size, DamageAt: -1, End: segment.FileHeaderSize}
	if ld.check != nil {
		ld.check.Segments = append(ld.check.Segments, st)
	}
	// damage reports what is wrong at off: Open's error; when checking,
	// nil, with the segment's first damage recorded (done).
	done := false
	damage := func(off int64, err error) error {
		if ld.check == nil {
			return err
		}
		if !done {
			done, st.DamageAt = true, off
			ld.check.Damage = append(ld.check.Damage, Finding{File: name, Offset: off, Detail: damageDetail(err, name, off)})
		}
		return nil
	}

	ent, listed := manifest.Segment{}, false
	if w.ls.st != nil && w.mode != forView {
		ent, listed = w.ls.st.Segments[id]
		st.Durable = ent.Durable
	}
	fh, err := segment.ReadFileHeader(f, size, name)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return err
	}
	if err != nil {
		// The header is written and synced before the directory entry
		// is, and before any frame: a bad header on the newest segment
		// with nothing written after it is a crash during its creation.
		// With anything after it, it is damage; so it is when the
		// manifest lists the segment (it does once the header is
		// durable), or, without a manifest, when an index file says the
		// segment was sealed (by a Close) with its frames.
		halfMade := !listed
		if w.ls.st == nil {
			halfMade = !indexExists(w.fsys, w.dir, id)
		}
		if last && halfMade {
			nz, zerr := segment.FirstNonZero(f, segment.FileHeaderSize, size, name)
			if zerr != nil {
				return zerr
			}
			if nz < 0 {
				ld.badLast = true
				s.size = segment.FileHeaderSize
				s.base = ld.nextSeq
				if ld.check != nil {
					ld.check.Warnings = append(ld.check.Warnings, Finding{File: name,
						Detail: fmt.Sprintf("newest segment has a damaged file header and nothing after it (%s); Open recreates it", damageDetail(err, name, 0))})
				}
				return nil
			}
		}
		return damage(0, err)
	}
	switch {
	case id > maxSegmentID:
		return damage(0, segment.Corruptf(name, 0, "segment number out of range"))
	case fh.ID != id:
		return damage(0, segment.Corruptf(name, 0, "file header names segment %d", fh.ID))
	case w.havePrev && fh.Base <= w.prevLast:
		return damage(0, segment.Corruptf(name, 0, "base sequence %d not after %d", fh.Base, w.prevLast))
	// Segments are never rewritten while they follow each other without a
	// gap in their numbers and a dense (never compacted) segment ends where
	// the next begins: a shorter one lost frames. TruncateFront past the
	// end of the log starts the next segment at the new front, after a gap
	// of truncated numbers.
	case w.prevDense && id == w.prevID+1 && fh.Base != w.prevEnd && !(fh.Base > w.prevEnd && fh.Base <= w.front):
		return damage(0, segment.Corruptf(name, 0, "segment %d ends at sequence %d but this one starts at %d", w.prevID, w.prevEnd, fh.Base))
	}
	if fh.Flags&segment.FileTracked != 0 && w.ls.missing {
		if err := ld.manifestDamage(segment.Corruptf(filepath.Join(w.dir, manifest.Name), -1,
			"missing, but segment %s was written by a log that keeps one", filepath.Base(name))); err != nil {
			return err
		}
		w.ls.missing = false // reported once
	}
	if listed && ent.Base != fh.Base {
		return damage(0, segment.Corruptf(name, 0, "file header says the segment starts at sequence %d, the manifest %d", fh.Base, ent.Base))
	}
	if !listed && w.ls.st != nil && w.mode != forView && !last {
		// Only the newest segment can be missing from the manifest: one
		// whose rotation did not record it before a crash.
		return damage(0, segment.Corruptf(name, 0, "segment is not in the manifest"))
	}
	s.base, st.HeaderOK, st.Base = fh.Base, true, fh.Base
	if w.lazy != nil && cutSize < 0 {
		ok, err := w.lazySealed(s, f, fh, size, last, func(end int64) error {
			if w.ls.st == nil {
				return nil
			}
			return w.checkListed(name, ent, listed, last, size, end, damage)
		})
		if ok || err != nil {
			return err
		}
	}

	idx := segment.IndexMissing
	if (w.mode != forCheck || last) && cutSize < 0 {
		w.frames, w.idxBuf, idx = segment.ReadIndexFileInto(w.fsys, idxName(w.dir, id), id, size, w.frames, w.idxBuf)
	}
	ok := idx == segment.IndexOK && w.mode != forCheck
	ld.lastIndexed, ld.lastHasIndex = ok, idx != segment.IndexMissing
	end := size
	ld.lastSynced = size // sealed: synced whole
	var res segment.ScanResult
	var scanErr error // checking only: damage in the middle of the data
	if !ok {
		// Open after a crash: the frames the tail index lists are
		// durable and need no scan.
		from := int64(segment.FileHeaderSize)
		w.frames = w.frames[:0]
		var each func(int64, segment.FrameHeader, []byte) error
		if last && w.mode == forOpen {
			w.frames, from = w.tailFrames(f, id, size, w.frames)
			ld.lastTail = len(w.frames) > 0
			each = w.obs.feed(id, name, fh.Base, w.frames)
			if n := int64(len(w.frames)); n > 0 {
				// Room for the frames the scan may find, at the listed
				// ones' mean size, rather than growth by doubling.
				mean := max((from-segment.FileHeaderSize)/n, segment.FrameHeaderSize)
				w.frames = slices.Grow(w.frames, int((size-from)/mean))
			}
		}
		w.frames, end, res, scanErr = segment.ScanFramesFrom(f, size, from, name, w.frames, each)
		if scanErr != nil && (ld.check == nil || !errors.Is(scanErr, ErrCorrupt)) {
			return scanErr
		}
		if scanErr == nil {
			end = res.End
		}
		ld.lastSynced = max(res.MaxSynced, from)
	}
	// Frames in order; damage keeps the frames before it.
	frames := w.frames
	for i, fr := range frames {
		if fr.First < fh.Base || (w.havePrev && fr.First <= w.prevLast) {
			if err := damage(int64(fr.Offset), segment.Corruptf(name, int64(fr.Offset), "sequence %d out of order", fr.First)); err != nil {
				return err
			}
			frames, end = frames[:i], int64(fr.Offset)
			break
		}
		w.prevLast, w.havePrev = fr.Last, true
	}
	if scanErr != nil {
		off := end
		if ce, isCE := scanErr.(*segment.CorruptError); isCE && ce.File == name && ce.Offset >= 0 {
			off = ce.Offset
		}
		damage(off, scanErr)
	}
	// The newest segment's index file, written when Close sealed it,
	// records how far its frames then reached: they were durable, and a
	// log only grows after a reopen, so frames ending before that were
	// lost, not torn.
	if last && !done && idx == segment.IndexStale {
		if ih, hok := segment.ParseIndexHeader(w.idxBuf); hok && end < ih.SegSize {
			if err := damage(end, segment.Corruptf(name, end, "frames end at %d, before the %d bytes the segment had when Close sealed it (its index file)", end, ih.SegSize)); err != nil {
				return err
			}
		}
	}
	if !done && w.ls.st != nil && w.mode != forView {
		if err := w.checkListed(name, ent, listed, last, size, end, damage); err != nil {
			return err
		}
	}
	if !ok && !done && res.Tail == segment.TailTorn {
		if !last {
			if err := damage(res.End, fmt.Errorf("%w (in sealed segment %s)", res.Damage, name)); err != nil {
				return err
			}
		} else {
			ld.torn = res.Damage
			ld.tornHead, ld.tornHeadOK = frameHeaderAt(f, res.End, size)
			st.Torn = true
			if ld.check != nil {
				ld.check.Warnings = append(ld.check.Warnings, Finding{File: name, Offset: res.End,
					Detail: fmt.Sprintf("torn tail at offset %d, will be cut on next Open: %d bytes%s (%s)",
						res.End, size-res.End, tornBatch(f, res.End, size), damageDetail(res.Damage, name, res.End))})
			}
		}
	}
	if !ok && !done && !last && end != size {
		// Sealing cuts a segment to its frames before the next one
		// exists, so unwritten space in a sealed one is lost data.
		if err := damage(end, segment.Corruptf(name, end, "sealed segment ends in %d bytes of zeros", size-end)); err != nil {
			return err
		}
	}
	// (A lock-free reader skips these: a writer may be putting the index
	// or a rewritten segment in place while it reads.)
	if !last && w.mode == forOpen {
		switch idx {
		case segment.IndexStale:
			// Its index was written at sealing: a size that no longer
			// matches means the segment lost or gained bytes.
			return segment.Corruptf(name, -1, "sealed segment's size %d is not the size its index recorded when it was sealed", size)
		case segment.IndexDamaged:
			// A cache: the scan above replaces it, and Open writes it again.
			ld.badIndexes = append(ld.badIndexes, sealJob{id: id, size: end, frames: slices.Clone(w.frames)})
		}
	}
	s.size = end
	// (Where a damaged segment ended is unknown: the next one is not
	// held to it.)
	dense, denseEnd := isDense(frames, fh.Base)
	w.passed(id, fh, dense && !done, denseEnd)
	if ld.check != nil {
		st.Frames, st.End = slices.Clone(frames), end
		for _, fr := range frames {
			st.Entries += uint64(fr.Count)
		}
		return nil
	}
	if last {
		ld.idx.AppendFrames(id, frames)
	} else {
		ld.idx.AppendSegment(id, frames)
	}
	w.raiseNext(fh)
	return nil
}

// passed records segment id (file header fh) as read, for the checks of
// the next: dense says its frames hold every number from its base to
// denseEnd-1, so that a next segment numbered right after it must start
// there.
func (w *walk) passed(id uint64, fh segment.FileHeader, dense bool, denseEnd uint64) {
	w.prevDense, w.prevEnd, w.prevID = dense && fh.Flags&segment.FileCompacted == 0, denseEnd, id
}

// raiseNext makes the log's next sequence number follow the segment just
// read (file header fh, last number w.prevLast).
func (w *walk) raiseNext(fh segment.FileHeader) {
	ld := w.ld
	ld.nextSeq = max(ld.nextSeq, fh.Base)
	if w.havePrev {
		ld.nextSeq = max(ld.nextSeq, w.prevLast+1)
	}
}

// tailFrames returns the frames the tail index of segment id (the newest,
// of size bytes, open as f) lists, appended to frames, and where they end:
// nothing and FileHeaderSize unless the last frame it lists is in the
// segment as listed, whole and verified (see segment.TailIndex).
func (w *walk) tailFrames(f vfs.File, id uint64, size int64, frames []segment.FrameInfo) ([]segment.FrameInfo, int64) {
	name := segName(w.dir, id)
	frames, end := segment.ReadTailIndex(w.fsys, tailName(w.dir, id), id, size, frames)
	if len(frames) == 0 {
		return frames, segment.FileHeaderSize
	}
	fr := frames[len(frames)-1]
	h, p, buf, err := segment.ReadFrameInto(f, size, int64(fr.Offset), end, w.tailBuf, name)
	w.tailBuf = buf
	if err != nil || h.FirstSeq != fr.First || h.Count != fr.Count {
		return frames[:0], segment.FileHeaderSize
	}
	if last, err := segment.LastSeq(h, p); err != nil || last != fr.Last {
		return frames[:0], segment.FileHeaderSize
	}
	return frames, end
}

// tornBatch says which batch a torn tail at off held, when its frame
// header survived: the sequence numbers Open's cut loses.
func tornBatch(f vfs.File, off, size int64) string {
	h, ok := frameHeaderAt(f, off, size)
	if !ok {
		return ""
	}
	return fmt.Sprintf(", the start of a batch of %d records from sequence %d", h.Count, h.FirstSeq)
}

// frameHeaderAt reads the header of the frame at off (the one a torn tail
// begins, the last of a sealed segment), if it is whole and parses.
func frameHeaderAt(f vfs.File, off, size int64) (segment.FrameHeader, bool) {
	var hb [segment.FrameHeaderSize]byte
	if off+int64(len(hb)) > size {
		return segment.FrameHeader{}, false
	}
	if _, err := f.ReadAt(hb[:], off); err != nil {
		return segment.FrameHeader{}, false
	}
	h, err := segment.ParseFrameHeader(hb[:])
	if err != nil || h.Count == 0 {
		return segment.FrameHeader{}, false
	}
	return h, true
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

// listing is what load holds the directory to: the manifest's state.
type listing struct {
	st *manifest.State // nil: no manifest to check against
	// missing: the directory has no manifest, so a segment written by a
	// log that keeps one means it was lost.
	missing bool
	// cut, for the read-only modes: a TruncateBack the bounds file
	// records and the next Open carries out (applyCut) before it reads.
	// load reads the files as the cut leaves them (st, if any, must be
	// cut too: cutState), so that what a crash part way through the cut
	// left is judged as Open will judge it.
	cut *cut
}

// afterCut reports whether the cut c (nil: none) removes segment id
// whole, and the size it leaves id's file (-1: not cut): the rule applyCut
// carries out and the read-only modes read the files by.
func afterCut(c *cut, id uint64) (gone bool, size int64) {
	switch {
	case c == nil || id < c.seg:
		return false, -1
	case id > c.seg || c.off <= segment.FileHeaderSize && c.keptHeader.Count == 0:
		return true, -1
	}
	return false, max(c.off, segment.FileHeaderSize)
}

// manifestDamage records damage of the manifest or of what it lists as a
// whole (not of one segment's bytes): Open's error; when checking, nil,
// with the finding recorded.
func (ld *loaded) manifestDamage(err error) error {
	if ld.check == nil {
		return err
	}
	file, off := "", int64(-1)
	if ce, ok := err.(*segment.CorruptError); ok {
		file, off = ce.File, ce.Offset
	}
	ld.check.Damage = append(ld.check.Damage, Finding{File: file, Offset: off, Detail: damageDetail(err, file, off)})
	if ld.check.ManifestProblem == "" {
		ld.check.ManifestProblem = err.Error()
	}
	return nil
}

// matchListing holds the segment files found, ids (ascending), to the
// manifest st and returns those to read. A listed segment that is missing
// is damage. An unlisted one older than the newest listed is what a
// removal the manifest recorded left behind (ld.leftovers: Open deletes
// it); an unlisted newer one is read, and the walk decides.
func (ld *loaded) matchListing(dir string, ids []uint64, st *manifest.State) ([]uint64, error) {
	for _, id := range st.IDs() {
		if _, found := slices.BinarySearch(ids, id); !found {
			ent := st.Segments[id]
			err := segment.Corruptf(segName(dir, id), -1, "missing: the manifest lists it from sequence %d with %d durable bytes", ent.Base, ent.Durable)
			if err := ld.manifestDamage(err); err != nil {
				return nil, err
			}
		}
	}
	newest := st.Newest()
	read := ids[:0:0]
	for _, id := range ids {
		if _, listed := st.Segments[id]; !listed && id < newest {
			ld.leftovers = append(ld.leftovers, id)
			if ld.check != nil {
				ld.check.Warnings = append(ld.check.Warnings, Finding{File: segName(dir, id), Offset: -1,
					Detail: "not in the manifest: left by a removal it recorded; Open deletes it"})
			}
			continue
		}
		read = append(read, id)
	}
	return read, nil
}

// checkListed holds a segment read up to end (of a file of size bytes) to
// what the manifest says of it (ent, if listed), reporting through damage.
func (w *walk) checkListed(name string, ent manifest.Segment, listed, last bool, size, end int64, damage func(int64, error) error) error {
	durable := ent.Durable
	if ent.Prev != 0 && size == ent.Prev {
		durable = ent.Prev // a compaction's rewrite, not renamed into place
	}
	switch {
	case !listed:
		// The newest, missing from the manifest: a rotation's new segment
		// whose edit a crash kept out. Frames are appended only after the
		// edit is durable.
		if end > segment.FileHeaderSize {
			return damage(segment.FileHeaderSize, segment.Corruptf(name, segment.FileHeaderSize, "segment is not in the manifest but holds frames"))
		}
	case !last && ent.Sealed && ent.ID != w.newest && size != durable:
		// (The newest listed segment, sealed by Close, grows again after
		// a reopen: a later segment exists only once a rotation recorded
		// its final size.)
		off := min(size, durable)
		return damage(off, segment.Corruptf(name, off, "sealed segment has %d bytes; the manifest records %d", size, durable))
	case end < durable:
		// Only bytes past the recorded durable boundary can be a torn
		// write.
		return damage(end, segment.Corruptf(name, end, "frames end at %d, before the %d bytes the manifest records as durable", end, durable))
	}
	return nil
}
