package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// Stats describes a log directory as Stat found it.
type Stats struct {
	Dir string

	// Segments is the number of segment files, SegmentBytes their total
	// apparent size (file sizes as listed).
	Segments     int
	SegmentBytes int64
	// IndexFiles is the number of index (.idx) files, IndexBytes their
	// total apparent size.
	IndexFiles int
	IndexBytes int64

	// Entries is the number of live entries: those a reader sees, without
	// the ones removed by compaction (so possibly fewer than
	// LastSeq-FirstSeq+1).
	Entries uint64
	// FirstSeq and LastSeq are the sequence numbers of the oldest and the
	// newest entry; valid only when Entries > 0.
	FirstSeq uint64
	LastSeq  uint64
	// NextSeq is the sequence number the next appended entry will get.
	NextSeq uint64

	// ApparentBytes is the total size of the log's files (segments and
	// indexes) as their lengths say. AllocatedBytes is the disk space they
	// occupy (st_blocks*512), which includes space preallocated for the
	// active segment of an open log; it is -1 when the filesystem does not
	// report it.
	ApparentBytes  int64
	AllocatedBytes int64

	// Compaction figures, from the compaction state as Open builds it (the
	// checkpoint plus a replay of the records after it).
	//
	// PendingRemovable is the number of live entries (counted in Entries)
	// that tombstones not applied yet will remove, the tombstones included.
	PendingRemovable uint64
	// DeadOnDisk is the number of entries already removed (not counted in
	// Entries) whose records are still in segment files, until a segment
	// rewrite drops them.
	DeadOnDisk uint64
	// LastCheckpoint is the modification time of the compaction checkpoint
	// file, written at every compaction and whenever a segment is sealed;
	// zero when there is none.
	LastCheckpoint time.Time
}

// Removable is the number of entries a compaction would remove now or
// reclaim from disk: PendingRemovable plus DeadOnDisk.
func (s Stats) Removable() uint64 { return s.PendingRemovable + s.DeadOnDisk }

// AllocatedBytesPerEntry is AllocatedBytes divided by Entries, or 0 when
// either is unknown or zero.
func (s Stats) AllocatedBytesPerEntry() float64 {
	if s.Entries == 0 || s.AllocatedBytes < 0 {
		return 0
	}
	return float64(s.AllocatedBytes) / float64(s.Entries)
}

// ApparentBytesPerEntry is ApparentBytes divided by Entries, or 0 when
// there are no entries.
func (s Stats) ApparentBytesPerEntry() float64 {
	if s.Entries == 0 {
		return 0
	}
	return float64(s.ApparentBytes) / float64(s.Entries)
}

// Stat describes the log in dir without modifying anything and without the
// lock, so it works while another process has the log open and appends
// (it then sees the complete batches present when it ran). fsys nil means
// the OS. Entries removed by compaction are not counted as entries. The
// figures are those a reader of every entry (a View) would count.
//
// A missing dir gives an error matching fs.ErrNotExist, a dir holding no
// segment an error wrapping ErrNotFound, and damage to what it reads that
// would make Open fail an error wrapping ErrCorrupt.
//
// What it reads: the bounds file, the manifest, each segment's file header
// and its index file's header, which sums up the segment's frames. It reads
// frames only where those do not answer: a segment without a sound index
// file (the active segment of an open log, a damaged or missing index) is
// scanned as Open would; a segment cut by a truncation and the oldest or
// newest frames that hold entries removed by compaction are decoded to
// find the first and last entries; the records after the compaction
// checkpoint are replayed to build the compaction figures, as Open does
// (with compaction on, those of the active segment; a log that has no
// checkpoint, as one written with compaction off, has every record
// replayed). So it does not verify the checksums of sealed segments' frames:
// Inspect and `journal verify` do.
func Stat(dir string, fsys vfs.FS) (Stats, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	st, err := statRetry(dir, fsys)
	if err != nil {
		return Stats{}, fmt.Errorf("stat: %w", err)
	}
	if err := statFiles(fsys, dir, &st); err != nil {
		return Stats{}, err
	}
	return st, nil
}

// statFiles adds the figures of the directory listing to st.
func statFiles(fsys vfs.FS, dir string, st *Stats) error {
	names, err := fsys.List(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	for _, n := range names {
		_, isSeg := parseSegName(n)
		_, isIdx := parseIdxName(n)
		if !isSeg && !isIdx {
			continue
		}
		fi, err := fsys.Stat(filepath.Join(dir, n))
		if err != nil {
			if isNotExist(err) {
				continue // removed since listed
			}
			return fmt.Errorf("stat %s: %w", n, err)
		}
		if isSeg {
			st.Segments++
			st.SegmentBytes += fi.Size()
		} else {
			st.IndexFiles++
			st.IndexBytes += fi.Size()
		}
		st.ApparentBytes += fi.Size()
		if st.AllocatedBytes >= 0 {
			if n, ok := vfs.AllocatedBytes(fi); ok {
				st.AllocatedBytes += n
			} else {
				st.AllocatedBytes = -1
			}
		}
	}
	return nil
}

// statRetry is statLog retried, as OpenCompactedView retries, while a
// writer's rotation or compaction changes the files under it: the
// compaction state is taken only with a checkpoint that did not change
// while the segments were read.
func statRetry(dir string, fsys vfs.FS) (Stats, error) {
	return readStable(fsys, dir, func() (Stats, error) { return statLog(dir, fsys) }, func(Stats) {})
}

// statSeg is one segment file as Stat found it.
type statSeg struct {
	id   uint64
	name string
	size int64 // of the file
	end  int64 // end of its frames
	base uint64
	last bool                 // the newest segment
	sum  segment.IndexSummary // its frames summed up
	// frames, once read (from the index file or a scan); nil before.
	frames []segment.FrameInfo
}

// statWalk is Stat's reading of one log directory.
type statWalk struct {
	fsys    vfs.FS
	dir     string
	front   uint64 // entries below it are truncated
	visible uint64 // entries at or above it are not part of the log
	segs    []*statSeg
	// f is the file of segment fid, open for reading (see file).
	f   vfs.File
	fid uint64
}

// statLog computes the figures of the log in dir that need reading its
// files, once (see Stat).
func statLog(dir string, fsys vfs.FS) (Stats, error) {
	b, err := readBounds(fsys, dir)
	if err != nil {
		return Stats{}, fmt.Errorf("read %s: %w", dir, err)
	}
	mld, err := manifest.Load(fsys, dir)
	if err != nil {
		return Stats{}, fmt.Errorf("read %s: %w", dir, err)
	}
	w := &statWalk{fsys: fsys, dir: dir, front: logFront(b, mld)}
	defer w.closeFile()
	next, err := w.readSegments()
	if err != nil {
		return Stats{}, fmt.Errorf("read %s: %w", dir, err)
	}
	w.visible = next
	if b.cut != nil {
		// A TruncateBack is under way: what it removes is gone already.
		w.visible = min(w.visible, b.cut.next)
	}
	cs, err := w.compactionState()
	if err != nil {
		return Stats{}, fmt.Errorf("read %s: %w", dir, err)
	}
	st := Stats{
		Dir:              dir,
		NextSeq:          w.visible,
		PendingRemovable: cs.PendingRemovable(),
		DeadOnDisk:       cs.DeadOnDisk(),
	}
	if fi, err := fsys.Stat(filepath.Join(dir, checkpointName)); err == nil {
		st.LastCheckpoint = fi.ModTime()
	}
	if err := w.count(&st, cs); err != nil {
		return Stats{}, fmt.Errorf("stat %s: %w", dir, err)
	}
	return st, nil
}

// readSegments reads each segment's file header and summary, checks them
// as load does, and returns the sequence number after the log's entries.
func (w *statWalk) readSegments() (uint64, error) {
	names, err := w.fsys.List(w.dir)
	if err != nil {
		return 0, err
	}
	var ids []uint64
	for _, n := range names {
		if id, ok := parseSegName(n); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("no log segments: %w", ErrNotFound)
	}
	slices.Sort(ids)
	next := w.front
	var (
		prevLast            uint64
		havePrev, prevDense bool
		prevEnd, prevID     uint64
	)
	for i, id := range ids {
		s, fh, err := w.readSegment(id, i == len(ids)-1, next)
		if err != nil {
			return 0, err
		}
		w.segs = append(w.segs, s)
		if fh == nil {
			continue // the newest, half made: nothing in it
		}
		name := s.name
		switch {
		case id > maxSegmentID:
			return 0, segment.Corruptf(name, 0, "segment number out of range")
		case fh.ID != id:
			return 0, segment.Corruptf(name, 0, "file header names segment %d", fh.ID)
		case havePrev && fh.Base <= prevLast:
			return 0, segment.Corruptf(name, 0, "base sequence %d not after %d", fh.Base, prevLast)
		case prevDense && id == prevID+1 && fh.Base != prevEnd && !(fh.Base > prevEnd && fh.Base <= w.front):
			return 0, segment.Corruptf(name, 0, "segment %d ends at sequence %d but this one starts at %d", prevID, prevEnd, fh.Base)
		}
		if s.sum.Entries > 0 && (s.sum.First < fh.Base || (havePrev && s.sum.First <= prevLast)) {
			return 0, segment.Corruptf(name, -1, "sequence %d out of order", s.sum.First)
		}
		dense, denseEnd := true, fh.Base
		if s.sum.Entries > 0 {
			prevLast, havePrev = s.sum.Last, true
			dense, denseEnd = s.sum.Dense() && s.sum.First == fh.Base, s.sum.Last+1
		}
		prevDense, prevEnd, prevID = dense && fh.Flags&segment.FileCompacted == 0, denseEnd, id
		next = max(next, fh.Base)
		if havePrev {
			next = max(next, prevLast+1)
		}
	}
	return next, nil
}

// readSegment reads segment id's file header and the summary of its
// frames: from its index file when sound, else from a scan (whose frames
// it keeps). fh is nil for the newest segment (last) when its header was
// never made (a crash while creating it); it then holds nothing and its
// base is next.
func (w *statWalk) readSegment(id uint64, last bool, next uint64) (_ *statSeg, fh *segment.FileHeader, err error) {
	name := segName(w.dir, id)
	f, err := w.fsys.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, nil, fmt.Errorf("stat %s: %w", name, err)
	}
	s := &statSeg{id: id, name: name, size: size, end: size, last: last}
	h, err := segment.ReadFileHeader(f, size, name)
	if err != nil {
		if last && errors.Is(err, ErrCorrupt) && !indexExists(w.fsys, w.dir, id) {
			nz, zerr := segment.FirstNonZero(f, segment.FileHeaderSize, size, name)
			if zerr != nil {
				return nil, nil, zerr
			}
			if nz < 0 {
				s.base, s.end, s.frames = next, segment.FileHeaderSize, []segment.FrameInfo{}
				return s, nil, nil
			}
		}
		return nil, nil, err
	}
	s.base = h.Base
	sum, ist := segment.ReadIndexSummary(w.fsys, idxName(w.dir, id), id, size)
	if ist == segment.IndexOK {
		s.sum = sum
		return s, &h, nil
	}
	if err := s.scan(f, last); err != nil {
		return nil, nil, err
	}
	if last && ist == segment.IndexStale {
		// As load: the index Close wrote records how far the frames
		// reached; ending before that is lost data, not a torn write.
		b, _ := readFileBytes(w.fsys, idxName(w.dir, id))
		if ih, ok := segment.ParseIndexHeader(b); ok && s.end < ih.SegSize {
			return nil, nil, segment.Corruptf(name, s.end, "frames end at %d, before the %d bytes the segment had when Close sealed it (its index file)", s.end, ih.SegSize)
		}
	}
	return s, &h, nil
}

// scan reads s's frames from f, verifying them, as load does without a
// sound index file: a torn tail is cut off the newest segment and is
// damage in a sealed one.
func (s *statSeg) scan(f vfs.File, last bool) error {
	// Non-nil even when empty: framesOf takes s.frames != nil as scanned.
	frames, _, res, err := segment.ScanFrames(f, s.size, s.name, []segment.FrameInfo{})
	if err != nil {
		return err
	}
	if !last && res.Tail == segment.TailTorn {
		return fmt.Errorf("%w (in sealed segment %s)", res.Damage, s.name)
	}
	if !last && res.End != s.size {
		return segment.Corruptf(s.name, res.End, "sealed segment ends in %d bytes of zeros", s.size-res.End)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].First <= frames[i-1].Last {
			return segment.Corruptf(s.name, int64(frames[i].Offset), "sequence %d out of order", frames[i].First)
		}
	}
	s.end, s.frames, s.sum = res.End, frames, segment.Summarize(frames)
	return nil
}

// framesOf returns s's frames: kept from a scan, or read from its index
// file (the summary came from it), or, if the list is damaged, scanned.
func (w *statWalk) framesOf(s *statSeg) ([]segment.FrameInfo, error) {
	if s.frames != nil {
		return s.frames, nil
	}
	frames, ok := segment.ReadIndexFile(w.fsys, idxName(w.dir, s.id), s.id, s.size)
	if ok && segment.Summarize(frames) == s.sum {
		s.frames = frames
		return frames, nil
	}
	f, err := w.file(s)
	if err != nil {
		return nil, err
	}
	sum := s.sum
	if err := s.scan(f, s.last); err != nil {
		return nil, err
	}
	if s.sum != sum {
		// Rewritten meanwhile by a writer's compaction (the retry
		// decides), or the index header lies.
		return nil, segment.Corruptf(idxName(w.dir, s.id), -1, "index file sums up %d entries %d..%d, the segment holds %d entries %d..%d",
			sum.Entries, sum.First, sum.Last, s.sum.Entries, s.sum.First, s.sum.Last)
	}
	return s.frames, nil
}

// file returns s's file, open for reading: one at a time stays open.
func (w *statWalk) file(s *statSeg) (vfs.File, error) {
	if w.f != nil && w.fid == s.id {
		return w.f, nil
	}
	w.closeFile()
	f, err := w.fsys.Open(s.name)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	w.f, w.fid = f, s.id
	return f, nil
}

func (w *statWalk) closeFile() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// eachEntry calls fn for each entry of frame fr of s, in order, until fn
// returns false.
func (w *statWalk) eachEntry(s *statSeg, fr segment.FrameInfo, fn func(e segment.Entry) bool) error {
	f, err := w.file(s)
	if err != nil {
		return err
	}
	h, p, err := segment.ReadFrame(f, s.end, int64(fr.Offset), s.name)
	if err == nil && h.FirstSeq != fr.First {
		err = segment.Corruptf(s.name, int64(fr.Offset), "frame holds sequence %d, index says %d", h.FirstSeq, fr.First)
	}
	if err != nil {
		return err
	}
	it := segment.NewEntryIter(h, p)
	for {
		e, ok, err := it.Next()
		if err != nil {
			return segment.AtOffset(err, s.name, int64(fr.Offset))
		}
		if !ok || !fn(e) {
			return nil
		}
	}
}

// compactionState builds the compaction state as Open does (buildState):
// the checkpoint, then the records after it and at or after the front
// replayed.
func (w *statWalk) compactionState() (*compactor.State, error) {
	cs, err := readState(w.fsys, w.dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	through := cs.Through()
	var scratch []byte // rebuilt keys; Observe copies what it keeps
	for _, s := range w.segs {
		if s.sum.Entries == 0 || s.sum.Last < through {
			continue
		}
		frames, err := w.framesOf(s)
		if err != nil {
			return nil, err
		}
		i, _ := slices.BinarySearchFunc(frames, through, func(fr segment.FrameInfo, seq uint64) int {
			return cmpSeq(fr.First, seq)
		})
		if i == len(frames) {
			continue
		}
		f, err := w.file(s)
		if err != nil {
			return nil, err
		}
		rd := segment.NewReader(f, s.end, s.name)
		rd.SetOffset(int64(frames[i].Offset))
		for _, fr := range frames[i:] {
			off, h, p, err := rd.Next()
			if err == nil && (off != int64(fr.Offset) || h.FirstSeq != fr.First) {
				err = segment.Corruptf(s.name, off, "frame holds sequence %d, index says %d at offset %d", h.FirstSeq, fr.First, fr.Offset)
			}
			if err != nil {
				return nil, err
			}
			if err := observeFrame(cs, s.id, w.front, h, p, &scratch, nil); err != nil {
				return nil, segment.AtOffset(err, s.name, off)
			}
		}
	}
	ids := make([]uint64, len(w.segs))
	for i, s := range w.segs {
		ids[i] = s.id
	}
	segmentsGone(cs, ids)
	return cs, nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// count sets st's entry figures: how many entries a reader sees (those in
// [front, visible) not removed by compaction), the first and the last.
func (w *statWalk) count(st *Stats, cs *compactor.State) error {
	dead := cs.Dead()
	lo, hi := w.front, w.visible
	var total uint64
	clipped := false // some entry on disk is outside [lo, hi)
	for _, s := range w.segs {
		switch {
		case s.sum.Entries == 0:
		case s.sum.Last < lo || s.sum.First >= hi:
			clipped = true
		case s.sum.First >= lo && s.sum.Last < hi:
			total += s.sum.Entries
		default:
			clipped = true
			n, err := w.countIn(s, dead, true)
			if err != nil {
				return err
			}
			total += n
		}
	}
	switch {
	case dead.Empty():
		st.Entries = total
	case !clipped && w.describes(cs):
		// Every removed entry on disk is one a reader would see but for
		// its removal: the compaction state counts them per segment.
		st.Entries = total - cs.DeadOnDisk()
	default:
		// Removed entries, and a truncated log (a log truncated, then
		// opened with compaction on: the state counts no record below the
		// front) or a compaction state that does not count each segment's
		// entries (a checkpoint that a truncation with compaction off
		// left stale, before truncation removed it): which entries are
		// removed takes reading them.
		total = 0
		for _, s := range w.segs {
			n, err := w.countIn(s, dead, false)
			if err != nil {
				return err
			}
			total += n
		}
		st.Entries = total
	}
	if st.Entries == 0 {
		return nil
	}
	var err error
	if st.FirstSeq, err = w.edge(dead, true); err != nil {
		return err
	}
	st.LastSeq, err = w.edge(dead, false)
	return err
}

// describes reports whether cs counts exactly the entries each segment
// holds, so that its count of removed ones is theirs.
func (w *statWalk) describes(cs *compactor.State) bool {
	if len(cs.SegmentIDs()) > len(w.segs) {
		return false
	}
	var total uint64
	for _, s := range w.segs {
		c := cs.Segment(s.id)
		if c.Total != s.sum.Entries || c.Dead > c.Total {
			return false
		}
		total += c.Total
	}
	return cs.DeadOnDisk() <= total
}

// inRange reports whether seq is one a reader sees, removal aside.
func (w *statWalk) inRange(seq uint64) bool { return seq >= w.front && seq < w.visible }

// countIn counts the entries of s in [front, visible) that dead does not
// remove; with summed, the whole frames inside the range are counted from
// their info, and only frames the range cuts are decoded (dead is then
// not consulted: the caller subtracts the removed).
func (w *statWalk) countIn(s *statSeg, dead compactor.DeadSet, summed bool) (uint64, error) {
	if s.sum.Entries == 0 || s.sum.Last < w.front || s.sum.First >= w.visible {
		return 0, nil
	}
	frames, err := w.framesOf(s)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, fr := range frames {
		switch {
		case fr.Last < w.front || fr.First >= w.visible:
		case summed && fr.First >= w.front && fr.Last < w.visible:
			n += uint64(fr.Count)
		default:
			err := w.eachEntry(s, fr, func(e segment.Entry) bool {
				if w.inRange(e.Seq) && (summed || !dead.IsDead(e.Seq, e.Key)) {
					n++
				}
				return true
			})
			if err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// edge finds the first (oldest) or else the last entry a reader sees:
// from the summaries when nothing is removed and the range does not cut
// the segment or frame, else by decoding frames from that end until an
// entry that is in range and not removed.
func (w *statWalk) edge(dead compactor.DeadSet, oldest bool) (uint64, error) {
	lo, hi := w.front, w.visible
	for i := range w.segs {
		s := w.segs[i]
		if !oldest {
			s = w.segs[len(w.segs)-1-i]
		}
		if s.sum.Entries == 0 || s.sum.Last < lo || s.sum.First >= hi {
			continue
		}
		if dead.Empty() && s.sum.First >= lo && s.sum.Last < hi {
			if oldest {
				return s.sum.First, nil
			}
			return s.sum.Last, nil
		}
		frames, err := w.framesOf(s)
		if err != nil {
			return 0, err
		}
		for j := range frames {
			fr := frames[j]
			if !oldest {
				fr = frames[len(frames)-1-j]
			}
			if fr.Last < lo || fr.First >= hi {
				continue
			}
			if dead.Empty() && fr.Last-fr.First+1 == uint64(fr.Count) {
				if oldest {
					return max(fr.First, lo), nil
				}
				return min(fr.Last, hi-1), nil
			}
			var seq uint64
			found := false
			err := w.eachEntry(s, fr, func(e segment.Entry) bool {
				if w.inRange(e.Seq) && !dead.IsDead(e.Seq, e.Key) {
					seq, found = e.Seq, true
					return !oldest // the oldest: stop at the first
				}
				return true
			})
			if err != nil {
				return 0, err
			}
			if found {
				return seq, nil
			}
		}
	}
	return 0, segment.Corruptf(w.dir, -1, "entries counted but none found")
}
