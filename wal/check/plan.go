package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

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
	// Inferred marks sequence numbers known lost only because the frames
	// kept around unreadable bytes skip them (KeepIntact): Count is how
	// many numbers, at most that many events.
	Inferred bool
}

// RepairPlan says what Repair would do to a log directory. It is computed
// by PlanRepair without modifying anything.
type RepairPlan struct {
	Dir  string
	Mode RepairMode
	// Rewrites (KeepIntact) are the damaged segments rewritten with every
	// frame that verifies; Lost then lists the damaged frames found
	// between the kept ones.
	Rewrites []Rewrite
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
	newID      uint64 // NewSegment's number

	// RemoveBounds, when not "", is the damaged bounds file (a TruncateBack
	// being carried out) that Repair removes: the log then keeps the
	// records that cut would have removed.
	RemoveBounds string

	// Manifest, when not "", says why the manifest disagrees with the
	// directory as a whole (see wal.Inspection.ManifestProblem). Every
	// repair writes the manifest anew from what it leaves
	// (wal.RebuildManifest), which accepts that disagreement as loss.
	Manifest string
}

// Needed reports whether the plan changes anything.
func (p RepairPlan) Needed() bool {
	return p.Cut || len(p.Rewrites) > 0 || len(p.RemoveIndexes) > 0 || p.Manifest != "" || p.RemoveBounds != ""
}

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

// PlanRepair is PlanRepairMode with KeepIntact.
func PlanRepair(dir string, fsys vfs.FS) (RepairPlan, error) {
	return PlanRepairMode(dir, fsys, KeepIntact)
}

// PlanRepairMode works out, without modifying anything or taking the
// lock, what Repair would do to the log in dir: with KeepIntact, rewrite
// each damaged segment with every frame that verifies; with CutAtDamage,
// cut the log at its first damaged frame (see Verify) and remove every
// later segment. Either way it removes any index file that disagrees with
// its segment, a damaged bounds file, and writes the manifest anew. A torn
// tail at the end of the newest segment is not damage (Open cuts it), so a
// log with only that needs no repair. fsys nil means the OS.
func PlanRepairMode(dir string, fsys vfs.FS, mode RepairMode) (RepairPlan, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	cd, err := verifyDir(dir, fsys)
	if err != nil {
		return RepairPlan{}, fmt.Errorf("plan repair: %w", err)
	}
	p := RepairPlan{Dir: dir, Mode: mode, RemoveIndexes: slices.Clone(cd.badIdx), Manifest: cd.manifest, RemoveBounds: cd.bounds}
	if mode == KeepIntact {
		if err := planKeep(fsys, cd, &p); err != nil {
			return RepairPlan{}, err
		}
		return p, nil
	}
	cut := -1
	for i, s := range cd.segs {
		if s.DamageAt >= 0 {
			cut = i
			break
		}
		p.KeptFrames += len(s.Frames)
		p.KeptEntries += s.Entries
		if len(s.Frames) > 0 {
			p.KeptLastSeq = s.Frames[len(s.Frames)-1].Last
		}
		p.NextSeq = max(p.NextSeq, s.Base)
	}
	if p.KeptEntries > 0 {
		p.NextSeq = max(p.NextSeq, p.KeptLastSeq+1)
	}
	if cut < 0 {
		return p, nil
	}
	cs := cd.segs[cut]
	p.Cut, p.CutFile, p.CutOffset = true, cs.File, cs.DamageAt
	for _, d := range cd.damage {
		if d.File == cs.File {
			p.Reason = d.Detail
			break
		}
	}
	p.KeptFrames += len(cs.Frames)
	p.KeptEntries += cs.Entries
	if len(cs.Frames) > 0 {
		p.KeptLastSeq = cs.Frames[len(cs.Frames)-1].Last
		p.NextSeq = max(p.NextSeq, p.KeptLastSeq+1)
	}
	if cs.HeaderOK && p.CutOffset >= segment.FileHeaderSize {
		p.NextSeq = max(p.NextSeq, cs.Base)
	}
	addIdx := func(s *segCheck) {
		if s.idx != "" && !slices.Contains(p.RemoveIndexes, s.idx) {
			p.RemoveIndexes = append(p.RemoveIndexes, s.idx)
		}
	}
	addIdx(cs)
	if err := salvageFile(fsys, cs.File, cs.DamageAt, true, &p); err != nil {
		return RepairPlan{}, err
	}
	for _, s := range cd.segs[cut+1:] {
		p.RemoveSegments = append(p.RemoveSegments, s.File)
		addIdx(s)
		if err := salvageFile(fsys, s.File, 0, false, &p); err != nil {
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
		id := cs.ID + 2
		if p.CutOffset < segment.FileHeaderSize {
			id = cs.ID + 1 // the cut file goes
		}
		p.NewSegment, p.newID = wal.SegmentPath(dir, id), id
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
