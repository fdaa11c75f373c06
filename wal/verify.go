package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// Finding is one problem (or warning) found in a log directory.
type Finding struct {
	// File is the path of the file concerned: a segment, or an index file
	// for an index problem.
	File string
	// Offset is the byte offset in the segment the finding is about: the
	// start of the damaged frame, 0 for a damaged file header. For an index
	// file, the segment offset of the first frame it gets wrong.
	Offset int64
	// Detail says what is wrong, for people.
	Detail string
}

// String renders the finding as "FILE at offset N: DETAIL".
func (f Finding) String() string {
	return fmt.Sprintf("%s at offset %d: %s", f.File, f.Offset, f.Detail)
}

// SegmentReport summarizes one segment file as Verify found it.
type SegmentReport struct {
	File    string // path
	Size    int64  // file size in bytes
	Frames  int    // valid frames (batches) before any damage
	Entries uint64 // entries in those frames
	// First and Last are the sequence numbers of the first and last entry
	// of those frames; valid when Frames > 0.
	First, Last uint64
	// Index is the path of the segment's index file, "" if it has none;
	// IndexChecked says the index was compared with the segment's frames.
	Index        string
	IndexChecked bool
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Dir      string
	Segments []SegmentReport // in id order
	// Damage lists every damaged file, with the offset of its first
	// damaged frame: data Open refuses or that reads of the log would fail
	// on, or an index file that disagrees with its segment.
	Damage []Finding
	// Warnings are conditions Open handles by itself (a torn write at the
	// end of the newest segment, which Open cuts) or that cost nothing but
	// a rescan (a stale or unreadable index file).
	Warnings []Finding
}

// Clean reports whether Verify found no damage (warnings allowed).
func (r VerifyReport) Clean() bool { return len(r.Damage) == 0 }

// Frames is the total of valid frames in all segments.
func (r VerifyReport) Frames() int {
	n := 0
	for _, s := range r.Segments {
		n += s.Frames
	}
	return n
}

// Entries is the total of entries in valid frames of all segments.
func (r VerifyReport) Entries() uint64 {
	var n uint64
	for _, s := range r.Segments {
		n += s.Entries
	}
	return n
}

// segCheck is the verification state of one segment.
type segCheck struct {
	id       uint64
	name     string
	size     int64
	headerOK bool
	base     uint64
	frames   []segment.FrameInfo
	flags    []uint8 // per frame
	entries  uint64
	end      int64 // end of the last valid frame before any damage
	damageAt int64 // offset of the first damage, -1 for none
	torn     bool  // the segment ends in a torn write at end (newest only)
	idx      string
}

// checkedDir is what verifyDir found.
type checkedDir struct {
	segs     []*segCheck
	damage   []Finding
	warnings []Finding
	badIdx   []string // index files that disagree with their segment
}

// Verify checks every segment file of the log in dir: its file header, and
// the framing and both checksums of every frame (a full segment.Scan, the
// index files are not trusted), that sequence numbers increase across
// segments, and that every index file whose recorded segment size matches
// its segment lists exactly the segment's frames.
//
// It takes no lock and modifies nothing, so it works while another process
// has the log open (a batch being written at that moment shows up as a
// torn-tail warning). fsys nil means the OS. The error is for a failure to
// read (or a missing dir, matching fs.ErrNotExist, or a dir holding no
// segment, wrapping ErrNotFound); damage is reported in the VerifyReport.
func Verify(dir string, fsys vfs.FS) (VerifyReport, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	cd, err := verifyDir(dir, fsys)
	if err != nil {
		return VerifyReport{}, err
	}
	r := VerifyReport{Dir: dir, Damage: cd.damage, Warnings: cd.warnings}
	for _, s := range cd.segs {
		sr := SegmentReport{File: s.name, Size: s.size, Frames: len(s.frames), Entries: s.entries, Index: s.idx}
		if len(s.frames) > 0 {
			sr.First, sr.Last = s.frames[0].First, s.frames[len(s.frames)-1].Last
		}
		sr.IndexChecked = s.idx != "" && !slices.Contains(cd.badIdx, s.idx) && !hasWarning(cd.warnings, s.idx)
		r.Segments = append(r.Segments, sr)
	}
	return r, nil
}

func hasWarning(ws []Finding, file string) bool {
	for _, w := range ws {
		if w.File == file {
			return true
		}
	}
	return false
}

// errStopScan stops a scan at a frame that is valid on its own but out of
// sequence.
var errStopScan = errors.New("stop")

func verifyDir(dir string, fsys vfs.FS) (*checkedDir, error) {
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	var ids []uint64
	idxs := map[uint64]bool{}
	for _, n := range names {
		if id, ok := parseSegName(n); ok {
			ids = append(ids, id)
		} else if id, ok := parseIdxName(n); ok {
			idxs[id] = true
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("verify %s: no log segments: %w", dir, ErrNotFound)
	}
	cd := &checkedDir{}
	var prevLast uint64
	var havePrev bool
	for i, id := range ids {
		s, err := checkSegment(fsys, dir, id, i == len(ids)-1, prevLast, havePrev, cd)
		if err != nil {
			return nil, err
		}
		cd.segs = append(cd.segs, s)
		if len(s.frames) > 0 {
			prevLast, havePrev = s.frames[len(s.frames)-1].Last, true
		}
		if idxs[id] {
			s.idx = idxName(dir, id)
			delete(idxs, id)
			if err := checkIndex(fsys, s, cd); err != nil {
				return nil, err
			}
		}
	}
	for _, id := range slices.Sorted(mapKeys(idxs)) {
		cd.warnings = append(cd.warnings, Finding{File: idxName(dir, id), Detail: "index file without a segment (ignored by Open)"})
	}
	return cd, nil
}

func mapKeys(m map[uint64]bool) func(func(uint64) bool) {
	return func(yield func(uint64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkSegment verifies one segment file, adding its findings to cd.
func checkSegment(fsys vfs.FS, dir string, id uint64, last bool, prevLast uint64, havePrev bool, cd *checkedDir) (*segCheck, error) {
	name := segName(dir, id)
	s := &segCheck{id: id, name: name, damageAt: -1, end: segment.FileHeaderSize}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("verify: open segment: %w", err)
	}
	defer f.Close()
	if s.size, err = f.Size(); err != nil {
		return nil, fmt.Errorf("verify: stat %s: %w", name, err)
	}
	damage := func(off int64, detail string) {
		if s.damageAt < 0 {
			s.damageAt = off
		}
		cd.damage = append(cd.damage, Finding{File: name, Offset: off, Detail: detail})
	}

	var fh segment.FileHeader
	var herr error
	if s.size >= segment.FileHeaderSize {
		var hb [segment.FileHeaderSize]byte
		if _, err := f.ReadAt(hb[:], 0); err != nil {
			return nil, fmt.Errorf("verify: read %s header: %w", name, err)
		}
		fh, herr = segment.ParseFileHeader(hb[:])
	} else {
		herr = fmt.Errorf("%w: file of %d bytes has no header", ErrCorrupt, s.size)
	}
	if herr != nil {
		// Open takes a bad header on the newest segment for a crash while
		// creating it and recreates the file: harmless only if no frame
		// was ever written to it.
		res, _ := segment.Scan(f, s.size, name, nil)
		if last && res.Frames == 0 {
			cd.warnings = append(cd.warnings, Finding{File: name, Detail: fmt.Sprintf("newest segment has a damaged file header and no frames (%v); Open recreates it", herr)})
		} else {
			damage(0, fmt.Sprintf("damaged file header: %v", herr))
		}
		return s, nil
	}
	if fh.ID != id {
		damage(0, fmt.Sprintf("%v: file header names segment %d", ErrCorrupt, fh.ID))
		return s, nil
	}
	if havePrev && fh.Base <= prevLast {
		damage(0, fmt.Sprintf("%v: base sequence %d not after %d", ErrCorrupt, fh.Base, prevLast))
		return s, nil
	}
	s.headerOK, s.base = true, fh.Base

	var stopDetail string
	res, err := segment.Scan(f, s.size, name, func(off int64, h segment.FrameHeader, p []byte) error {
		lastSeq, err := segment.LastSeq(h, p)
		if err != nil {
			return err // Scan checked it already; cannot happen
		}
		if h.FirstSeq < fh.Base || (havePrev && h.FirstSeq <= prevLast) {
			stopDetail = fmt.Sprintf("%v: sequence %d out of order (segment base %d)", ErrCorrupt, h.FirstSeq, fh.Base)
			return errStopScan
		}
		s.frames = append(s.frames, segment.FrameInfo{Offset: uint32(off), Count: h.Count, First: h.FirstSeq, Last: lastSeq})
		s.flags = append(s.flags, h.Flags)
		s.entries += uint64(h.Count)
		s.end = off + h.Size()
		prevLast, havePrev = lastSeq, true
		return nil
	})
	switch {
	case errors.Is(err, errStopScan):
		damage(s.end, stopDetail)
	case errors.Is(err, ErrCorrupt):
		damage(s.end, damageDetail(err, name, s.end))
	case err != nil:
		return nil, fmt.Errorf("verify: %w", err)
	case res.Tail == segment.TailTorn && last:
		s.torn = true
		cd.warnings = append(cd.warnings, Finding{File: name, Offset: res.End,
			Detail: fmt.Sprintf("torn tail at offset %d, will be cut on next Open (%s)", res.End, damageDetail(res.Damage, name, res.End))})
	case res.Tail == segment.TailTorn:
		damage(res.End, damageDetail(res.Damage, name, res.End)+" (in a sealed segment)")
	}
	return s, nil
}

// damageDetail is what err says is wrong, for a Finding that names file
// and off itself: without the place when err is damage found there.
func damageDetail(err error, file string, off int64) string {
	if ce, ok := err.(*segment.CorruptError); ok && ce.File == file && ce.Offset == off {
		return fmt.Sprintf("%v: %s", ErrCorrupt, ce.Detail)
	}
	return err.Error()
}

// checkIndex compares the index file of s with its scanned frames.
func checkIndex(fsys vfs.FS, s *segCheck, cd *checkedDir) error {
	f, err := fsys.Open(s.idx)
	if err != nil {
		if isNotExist(err) {
			s.idx = ""
			return nil
		}
		return fmt.Errorf("verify: open %s: %w", s.idx, err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return fmt.Errorf("verify: stat %s: %w", s.idx, err)
	}
	var hb [segment.IndexHeaderSize]byte
	n, rerr := f.ReadAt(hb[:], 0)
	f.Close()
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		return fmt.Errorf("verify: read %s: %w", s.idx, rerr)
	}
	warn := func(detail string) {
		cd.warnings = append(cd.warnings, Finding{File: s.idx, Detail: detail})
	}
	bad := func(off int64, detail string) {
		cd.badIdx = append(cd.badIdx, s.idx)
		cd.damage = append(cd.damage, Finding{File: s.idx, Offset: off, Detail: detail})
	}
	ih, ok := segment.ParseIndexHeader(hb[:n])
	if !ok {
		warn(fmt.Sprintf("index file of %d bytes is unreadable; Open rescans the segment", size))
		return nil
	}
	if ih.ID != s.id {
		bad(0, fmt.Sprintf("index file names segment %d", ih.ID))
		return nil
	}
	if ih.SegSize != s.size {
		warn(fmt.Sprintf("stale index file (records segment size %d, segment has %d); Open rescans the segment", ih.SegSize, s.size))
		return nil
	}
	// Open trusts an index whose recorded size matches: it must be right.
	frames, ok := segment.ReadIndexFile(fsys, s.idx, s.id, s.size)
	if !ok {
		bad(0, "index file matches the segment's size but is damaged")
		return nil
	}
	if s.damageAt >= 0 || !s.headerOK {
		// The segment itself is damaged; compare what it has.
		if len(frames) > len(s.frames) {
			frames = frames[:len(s.frames)]
		}
	}
	for i := range max(len(frames), len(s.frames)) {
		switch {
		case i >= len(frames):
			if s.damageAt < 0 {
				bad(int64(s.frames[i].Offset), fmt.Sprintf("index file lists %d frames, segment has %d", len(frames), len(s.frames)))
			}
			return nil
		case i >= len(s.frames):
			bad(int64(frames[i].Offset), fmt.Sprintf("index file lists a frame at offset %d the segment does not have", frames[i].Offset))
			return nil
		}
		a, b := frames[i], s.frames[i]
		// Count, and Last but for the final frame, are not compared: the
		// writer records each frame as spanning up to the next frame's first
		// sequence number, which differs for sparse (compacted) frames.
		if a.Offset != b.Offset || a.First != b.First || (i == len(frames)-1 && s.damageAt < 0 && a.Last != b.Last) {
			off := min(a.Offset, b.Offset)
			bad(int64(off), fmt.Sprintf("index file lists frame %d at offset %d with sequences %d..%d, segment has it at offset %d with %d..%d",
				i, a.Offset, a.First, a.Last, b.Offset, b.First, b.Last))
			return nil
		}
	}
	return nil
}

// SeqRange is an inclusive range of sequence numbers.
type SeqRange struct{ First, Last uint64 }

// String renders the range as "A..B", or "A" for a single number.
func (r SeqRange) String() string {
	if r.First == r.Last {
		return fmt.Sprint(r.First)
	}
	return fmt.Sprintf("%d..%d", r.First, r.Last)
}

// LostFrame is a frame (batch) found in data a repair cuts off.
type LostFrame struct {
	File   string // segment path
	Offset int64  // offset of the frame in it
	Count  uint32 // entries in it
	// First and Last are its entries' sequence numbers.
	First, Last uint64
	// Damaged marks the damaged frame at the cut point whose header is
	// intact but whose payload fails its checksum: its sequence numbers
	// come from the header, its events are unreadable.
	Damaged bool
}

// RepairPlan says what Repair would do to a log directory. It is computed
// by PlanRepair without modifying anything.
type RepairPlan struct {
	Dir string
	// Cut says data is cut: CutFile is truncated at CutOffset (the start of
	// its first damaged frame) and RemoveSegments (every later segment) are
	// removed. When CutOffset is below the file header size, the header is
	// damaged and CutFile is removed too. Reason describes the damage.
	Cut       bool
	CutFile   string
	CutOffset int64
	Reason    string
	// RemoveSegments lists the segment files removed whole, oldest first.
	RemoveSegments []string
	// RemoveIndexes lists the index files removed: those of the cut and
	// removed segments and any index file that disagrees with its segment.
	RemoveIndexes []string
	// CutBytes is how many bytes of segment data are cut (all of them are
	// saved in the side file first).
	CutBytes int64

	// KeptFrames and KeptEntries count what stays; KeptLastSeq is the last
	// sequence number kept (valid when KeptEntries > 0).
	KeptFrames  int
	KeptEntries uint64
	KeptLastSeq uint64

	// Lost lists the frames found in the cut data: the damaged frame if its
	// header is readable, and every valid frame after it, found by
	// searching the cut bytes for frames whose checksums hold.
	Lost []LostFrame
	// Undecoded is the number of non-zero bytes in the cut data that belong
	// to no frame found: if not 0, the sequence numbers they held (if any)
	// cannot be determined and Lost is a lower bound.
	Undecoded int64

	// NextSeq is the sequence number the repaired log continues at: after
	// every kept and every lost sequence number known, so none is reused.
	// NewSegment, if set, is the empty segment Repair creates with NextSeq
	// as its base to make the log continue there.
	NextSeq    uint64
	NewSegment string
}

// Needed reports whether the plan changes anything.
func (p RepairPlan) Needed() bool { return p.Cut || len(p.RemoveIndexes) > 0 }

// LostFrames is the number of frames (batches) found in the cut data.
func (p RepairPlan) LostFrames() int { return len(p.Lost) }

// LostEntries is the number of entries (events) in the frames found in the
// cut data.
func (p RepairPlan) LostEntries() uint64 {
	var n uint64
	for _, f := range p.Lost {
		n += uint64(f.Count)
	}
	return n
}

// SeqsKnown reports whether every cut byte was accounted for, so that
// LostSeqs is exactly the set of sequence numbers lost.
func (p RepairPlan) SeqsKnown() bool { return p.Undecoded == 0 }

// LostSeqs returns the sequence numbers of the lost frames as merged
// ascending ranges.
func (p RepairPlan) LostSeqs() []SeqRange {
	var rs []SeqRange
	for _, f := range p.Lost {
		rs = append(rs, SeqRange{f.First, f.Last})
	}
	slices.SortFunc(rs, func(a, b SeqRange) int {
		switch {
		case a.First < b.First:
			return -1
		case a.First > b.First:
			return 1
		}
		return 0
	})
	var out []SeqRange
	for _, r := range rs {
		if n := len(out); n > 0 && r.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// SeqGaps returns the ranges of sequence numbers between the last kept one
// and the newest lost one that no found frame holds: with undecoded bytes,
// the sequence numbers those bytes most likely held.
func (p RepairPlan) SeqGaps() []SeqRange {
	lost := p.LostSeqs()
	if len(lost) == 0 {
		return nil
	}
	next := uint64(0)
	if p.KeptEntries > 0 {
		next = p.KeptLastSeq + 1
	}
	var gaps []SeqRange
	for _, r := range lost {
		if r.First > next {
			gaps = append(gaps, SeqRange{next, r.First - 1})
		}
		next = r.Last + 1
	}
	return gaps
}

// PlanRepair works out, without modifying anything or taking the lock,
// what Repair would do to the log in dir: cut it at its first damaged
// frame (see Verify), remove every later segment and any index file that
// disagrees with its segment. A torn tail at the end of the newest segment
// is not damage (Open cuts it), so a log with only that needs no repair.
// fsys nil means the OS.
func PlanRepair(dir string, fsys vfs.FS) (RepairPlan, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	cd, err := verifyDir(dir, fsys)
	if err != nil {
		return RepairPlan{}, fmt.Errorf("plan repair: %w", err)
	}
	p := RepairPlan{Dir: dir, RemoveIndexes: slices.Clone(cd.badIdx)}
	cut := -1
	for i, s := range cd.segs {
		if s.damageAt >= 0 {
			cut = i
			break
		}
		p.KeptFrames += len(s.frames)
		p.KeptEntries += s.entries
		if len(s.frames) > 0 {
			p.KeptLastSeq = s.frames[len(s.frames)-1].Last
		}
		p.NextSeq = max(p.NextSeq, s.base)
	}
	if p.KeptEntries > 0 {
		p.NextSeq = max(p.NextSeq, p.KeptLastSeq+1)
	}
	if cut < 0 {
		return p, nil
	}
	cs := cd.segs[cut]
	p.Cut, p.CutFile, p.CutOffset = true, cs.name, cs.damageAt
	for _, d := range cd.damage {
		if d.File == cs.name {
			p.Reason = d.Detail
			break
		}
	}
	p.KeptFrames += len(cs.frames)
	p.KeptEntries += cs.entries
	if len(cs.frames) > 0 {
		p.KeptLastSeq = cs.frames[len(cs.frames)-1].Last
		p.NextSeq = max(p.NextSeq, p.KeptLastSeq+1)
	}
	if cs.headerOK && p.CutOffset >= segment.FileHeaderSize {
		p.NextSeq = max(p.NextSeq, cs.base)
	}
	addIdx := func(s *segCheck) {
		if s.idx != "" && !slices.Contains(p.RemoveIndexes, s.idx) {
			p.RemoveIndexes = append(p.RemoveIndexes, s.idx)
		}
	}
	addIdx(cs)
	if err := salvageFile(fsys, cs.name, cs.damageAt, true, &p); err != nil {
		return RepairPlan{}, err
	}
	for _, s := range cd.segs[cut+1:] {
		p.RemoveSegments = append(p.RemoveSegments, s.name)
		addIdx(s)
		if err := salvageFile(fsys, s.name, 0, false, &p); err != nil {
			return RepairPlan{}, err
		}
	}
	lostNext := p.NextSeq
	for _, r := range p.LostSeqs() {
		lostNext = max(lostNext, r.Last+1)
	}
	if lostNext > p.NextSeq {
		// Without a segment whose base says so, Open would hand the lost
		// sequence numbers out again.
		p.NextSeq = lostNext
		// Skip a segment number: Open takes adjacent numbers with a gap
		// in sequence numbers for lost frames, and this gap is deliberate.
		id := cs.id + 2
		if p.CutOffset < segment.FileHeaderSize {
			id = cs.id + 1 // the cut file goes
		}
		p.NewSegment = segName(dir, id)
	}
	return p, nil
}

// salvageFile searches the bytes of name from off on for frames, adding
// them, the byte count and the undecodable bytes to p.
func salvageFile(fsys vfs.FS, name string, off int64, atDamage bool, p *RepairPlan) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("plan repair: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("plan repair: stat %s: %w", name, err)
	}
	if off >= size {
		return nil
	}
	data := make([]byte, size-off)
	if _, err := f.ReadAt(data, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("plan repair: read %s: %w", name, err)
	}
	p.CutBytes += int64(len(data))
	start := 0
	if off < segment.FileHeaderSize {
		// The file header is no frame; a damaged one counts as undecoded.
		start = int(segment.FileHeaderSize - off)
		if start > len(data) {
			start = len(data)
		}
		if _, err := segment.ParseFileHeader(data[:start]); err != nil || off > 0 {
			p.Undecoded += nonZero(data[:start])
		}
	}
	found, undecoded := segment.Salvage(data[start:], off+int64(start), atDamage)
	for _, fr := range found {
		p.Lost = append(p.Lost, LostFrame{File: name, Offset: fr.Offset, Count: fr.Count, First: fr.First, Last: fr.Last, Damaged: fr.Damaged})
	}
	p.Undecoded += undecoded
	return nil
}

func nonZero(b []byte) int64 {
	return int64(len(b) - bytes.Count(b, []byte{0}))
}

// RepairReport says what Repair did.
type RepairReport struct {
	Plan RepairPlan
	// SidePath is the side file holding every byte removed ("" when the
	// plan needed nothing), SideBytes its size.
	SidePath  string
	SideBytes int64
}

// Repair makes a damaged log open again. It takes the directory lock (an
// error wrapping ErrLocked if the log is open elsewhere), then carries out
// the plan PlanRepair makes; see RepairLocked.
func Repair(dir string, fsys vfs.FS, sidePath string) (RepairReport, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	lock, err := fsys.Lock(dir)
	if err != nil {
		return RepairReport{}, fmt.Errorf("repair %s: %w", dir, err)
	}
	defer lock.Close()
	return RepairLocked(dir, fsys, sidePath)
}

// Side files. Before Repair removes anything, it saves every byte it will
// remove in one side file, synced, in this format (integers little-endian):
//
//	magic "SEGCUT\x00\x01"
//	then pieces back to back until the end of the file, each:
//	  nameLen uint16
//	  name    [nameLen]byte  base name of the source file in the log dir
//	  offset  uint64         offset in the source file of the first byte
//	  length  uint64         number of bytes
//	  crc     uint32         CRC-32C of the bytes
//	  data    [length]byte
//
// The pieces are: the cut segment from the cut offset to its end, then
// every removed segment whole (offset 0), then every removed index file
// whole. Appending a piece's bytes at its offset to its file (or putting
// back a whole file) restores the log as it was before the repair.
const sideMagic = "SEGCUT\x00\x01"

// SidePiece is one piece of a side file written by Repair.
type SidePiece struct {
	Name   string // base name of the source file
	Offset int64  // offset in the source file of Data[0]
	Data   []byte
}

// ReadSideFile reads back a side file written by Repair, verifying each
// piece's checksum. fsys nil means the OS.
func ReadSideFile(path string, fsys vfs.FS) ([]SidePiece, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if !bytes.HasPrefix(buf, []byte(sideMagic)) {
		return nil, fmt.Errorf("%s: %w: not a side file", path, ErrCorrupt)
	}
	buf = buf[len(sideMagic):]
	var out []SidePiece
	for len(buf) > 0 {
		if len(buf) < 2 {
			return nil, fmt.Errorf("%s: %w: truncated piece", path, ErrCorrupt)
		}
		nl := int(binary.LittleEndian.Uint16(buf))
		if len(buf) < 2+nl+20 {
			return nil, fmt.Errorf("%s: %w: truncated piece", path, ErrCorrupt)
		}
		name := string(buf[2 : 2+nl])
		buf = buf[2+nl:]
		off := binary.LittleEndian.Uint64(buf)
		n := binary.LittleEndian.Uint64(buf[8:])
		crc := binary.LittleEndian.Uint32(buf[16:])
		buf = buf[20:]
		if n > uint64(len(buf)) {
			return nil, fmt.Errorf("%s: %w: truncated piece %s", path, ErrCorrupt, name)
		}
		data := buf[:n:n]
		if segment.Checksum(data) != crc {
			return nil, fmt.Errorf("%s: %w: checksum of piece %s", path, ErrCorrupt, name)
		}
		out = append(out, SidePiece{Name: name, Offset: int64(off), Data: data})
		buf = buf[n:]
	}
	return out, nil
}

// RepairLocked is Repair for a caller that already holds the directory
// lock (taken with fsys.Lock(dir)), so it can show the plan and ask for
// confirmation before repairing with nothing changing in between.
//
// It plans afresh (PlanRepair) and, if anything is needed: writes every
// byte it will remove to sidePath (which must not exist; see the side file
// format above) and syncs it; removes the index files listed; removes the
// later segments, newest first; truncates the cut segment at the damage
// (or removes it if its header is damaged); creates the plan's NewSegment,
// if any, so no lost sequence number is reused; and syncs the directory.
// A crash part way leaves a log that Open (or another Repair) handles,
// with everything removed already in the side file. When nothing is
// needed it writes no side file and changes nothing.
func RepairLocked(dir string, fsys vfs.FS, sidePath string) (RepairReport, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	p, err := PlanRepair(dir, fsys)
	if err != nil {
		return RepairReport{}, err
	}
	rep := RepairReport{Plan: p}
	if !p.Needed() {
		return rep, nil
	}
	if _, err := fsys.Stat(sidePath); err == nil {
		return rep, fmt.Errorf("repair: side file %s already exists", sidePath)
	} else if !isNotExist(err) {
		return rep, fmt.Errorf("repair: %w", err)
	}
	type piece struct {
		path string
		off  int64
	}
	var pieces []piece
	if p.Cut {
		pieces = append(pieces, piece{p.CutFile, p.CutOffset})
	}
	for _, s := range p.RemoveSegments {
		pieces = append(pieces, piece{s, 0})
	}
	for _, s := range p.RemoveIndexes {
		pieces = append(pieces, piece{s, 0})
	}
	sf, err := fsys.Create(sidePath)
	if err != nil {
		return rep, fmt.Errorf("repair: create side file: %w", err)
	}
	w := &offWriter{f: sf}
	w.Write([]byte(sideMagic))
	for _, pc := range pieces {
		if err := copyPiece(fsys, w, pc.path, pc.off); err != nil {
			sf.Close()
			return rep, fmt.Errorf("repair: save %s: %w", pc.path, err)
		}
	}
	if w.err == nil {
		w.err = sf.Sync()
	}
	if cerr := sf.Close(); w.err == nil {
		w.err = cerr
	}
	if w.err != nil {
		return rep, fmt.Errorf("repair: write side file %s: %w", sidePath, w.err)
	}
	if err := fsys.SyncDir(filepath.Dir(sidePath)); err != nil {
		return rep, fmt.Errorf("repair: sync directory: %w", err)
	}
	rep.SidePath, rep.SideBytes = sidePath, w.off

	for _, n := range p.RemoveIndexes {
		if err := fsys.Remove(n); err != nil && !isNotExist(err) {
			return rep, fmt.Errorf("repair: %w", err)
		}
	}
	for _, n := range slices.Backward(p.RemoveSegments) {
		if err := fsys.Remove(n); err != nil && !isNotExist(err) {
			return rep, fmt.Errorf("repair: %w", err)
		}
	}
	if p.Cut {
		if p.CutOffset < segment.FileHeaderSize {
			if err := fsys.Remove(p.CutFile); err != nil && !isNotExist(err) {
				return rep, fmt.Errorf("repair: %w", err)
			}
		} else if err := truncateSync(fsys, p.CutFile, p.CutOffset); err != nil {
			return rep, fmt.Errorf("repair: %w", err)
		}
	}
	if err := fsys.SyncDir(dir); err != nil {
		return rep, fmt.Errorf("repair: sync directory %s: %w", dir, err)
	}
	if p.NewSegment != "" {
		id, _ := parseSegName(filepath.Base(p.NewSegment))
		sw, err := segment.Create(fsys, p.NewSegment, segment.FileHeader{ID: id, Base: p.NextSeq}, 0)
		if err != nil {
			return rep, fmt.Errorf("repair: %w", err)
		}
		if err := sw.Close(); err != nil {
			return rep, fmt.Errorf("repair: close %s: %w", p.NewSegment, err)
		}
		if err := fsys.SyncDir(dir); err != nil {
			return rep, fmt.Errorf("repair: sync directory %s: %w", dir, err)
		}
	}
	return rep, nil
}

func truncateSync(fsys vfs.FS, name string, size int64) error {
	f, err := fsys.OpenReadWrite(name)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("truncate %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	return f.Close()
}

// offWriter writes sequentially through WriteAt, keeping the first error.
type offWriter struct {
	f   vfs.File
	off int64
	err error
}

// Write writes p at the current offset and advances it.
func (w *offWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	w.err = err
	return n, err
}

// copyPiece appends the piece of file path from off to its end to w.
func copyPiece(fsys vfs.FS, w *offWriter, path string, off int64) error {
	f, err := fsys.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return err
	}
	n := max(size-off, 0)
	data := make([]byte, n)
	if _, err := f.ReadAt(data, off); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	name := filepath.Base(path)
	hdr := make([]byte, 0, 2+len(name)+20)
	hdr = binary.LittleEndian.AppendUint16(hdr, uint16(len(name)))
	hdr = append(hdr, name...)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(off))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(n))
	hdr = binary.LittleEndian.AppendUint32(hdr, segment.Checksum(data))
	w.Write(hdr)
	w.Write(data)
	return w.err
}
