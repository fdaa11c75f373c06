package check

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

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
	Damage []wal.Finding
	// Warnings are conditions Open handles by itself (a torn write at the
	// end of the newest segment, which Open cuts) or that cost nothing but
	// a rescan (a stale or unreadable index file).
	Warnings []wal.Finding
	// Holes are the sequence numbers a repair removed on purpose: known
	// losses, not damage.
	Holes []wal.Hole
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
	*wal.SegmentState
	idx  string // its index file, if any
	last bool   // the newest segment
}

// checkedDir is what verifyDir found.
type checkedDir struct {
	segs     []*segCheck
	damage   []wal.Finding
	warnings []wal.Finding
	badIdx   []string // index files that disagree with their segment
	manifest string   // wal.Inspection.ManifestProblem
	bounds   string   // wal.Inspection.DamagedBounds
	holes    []wal.Hole
}

// Verify checks every segment file of the log in dir as Open reads it
// (see Inspect: its file header, the framing and both checksums of every
// frame, that sequence numbers increase across segments and that
// segments follow each other without lost frames), and that every index
// file whose recorded segment size matches its segment lists exactly the
// segment's frames.
//
// It takes no lock and modifies nothing, so it works while another process
// has the log open (a batch being written at that moment shows up as a
// torn-tail warning). fsys nil means the OS. The error is for a failure to
// read (or a missing dir, matching fs.ErrNotExist, or a dir holding no
// segment, wrapping wal.ErrNotFound); damage is reported in the VerifyReport.
func Verify(dir string, fsys vfs.FS) (VerifyReport, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	cd, err := verifyDir(dir, fsys)
	if err != nil {
		return VerifyReport{}, err
	}
	r := VerifyReport{Dir: dir, Damage: cd.damage, Warnings: cd.warnings, Holes: cd.holes}
	for _, s := range cd.segs {
		sr := SegmentReport{File: s.File, Size: s.Size, Frames: len(s.Frames), Entries: s.Entries, Index: s.idx}
		if len(s.Frames) > 0 {
			sr.First, sr.Last = s.Frames[0].First, s.Frames[len(s.Frames)-1].Last
		}
		sr.IndexChecked = s.idx != "" && !slices.Contains(cd.badIdx, s.idx) && !hasWarning(cd.warnings, s.idx)
		r.Segments = append(r.Segments, sr)
	}
	return r, nil
}

func hasWarning(ws []wal.Finding, file string) bool {
	for _, w := range ws {
		if w.File == file {
			return true
		}
	}
	return false
}

func verifyDir(dir string, fsys vfs.FS) (*checkedDir, error) {
	in, err := wal.Inspect(dir, fsys)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	cd := &checkedDir{damage: in.Damage, warnings: in.Warnings, manifest: in.ManifestProblem, bounds: in.DamagedBounds, holes: in.Holes}
	for i, st := range in.Segments {
		s := &segCheck{SegmentState: st, last: i == len(in.Segments)-1}
		cd.segs = append(cd.segs, s)
		if idx, ok := in.Indexes[st.ID]; ok {
			s.idx = idx
			delete(in.Indexes, st.ID)
			if err := checkIndex(fsys, s, cd); err != nil {
				return nil, err
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(in.Indexes)) {
		cd.warnings = append(cd.warnings, wal.Finding{File: in.Indexes[id], Detail: "index file without a segment (ignored by Open)"})
	}
	// In the order Open meets them: by file (numbered names sort as the
	// segments do), then offset.
	slices.SortStableFunc(cd.damage, func(a, b wal.Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Offset, b.Offset))
	})
	return cd, nil
}

// checkIndex compares the index file of s with its scanned frames, and
// judges it as Open does (segment.ReadIndexFileInto): a damaged one is
// scanned around and written again, a sound one recording another size
// for a sealed segment means the segment lost or gained bytes, and a
// sound one Open trusts must list the segment's frames.
func checkIndex(fsys vfs.FS, s *segCheck, cd *checkedDir) error {
	warn := func(detail string) {
		cd.warnings = append(cd.warnings, wal.Finding{File: s.idx, Detail: detail})
	}
	bad := func(off int64, detail string) {
		cd.badIdx = append(cd.badIdx, s.idx)
		cd.damage = append(cd.damage, wal.Finding{File: s.idx, Offset: off, Detail: detail})
	}
	frames, buf, st := segment.ReadIndexFileInto(fsys, s.idx, s.ID, s.Size, nil, nil)
	switch st {
	case segment.IndexMissing:
		s.idx = ""
		return nil
	case segment.IndexDamaged:
		warn("index file is damaged; Open scans the segment instead and writes the index again")
		return nil
	case segment.IndexStale:
		ih, _ := segment.ParseIndexHeader(buf)
		if s.last {
			warn(fmt.Sprintf("stale index file of the newest segment (records size %d, segment has %d); Open rescans the segment", ih.SegSize, s.Size))
			return nil
		}
		// Open refuses, naming the segment. The index goes in a repair; what
		// the segment lost shows where the next segment does not follow it.
		cd.badIdx = append(cd.badIdx, s.idx)
		cd.damage = append(cd.damage, wal.Finding{File: s.File, Offset: min(ih.SegSize, s.Size),
			Detail: fmt.Sprintf("%v: sealed segment has %d bytes; its index recorded %d when it was sealed", wal.ErrCorrupt, s.Size, ih.SegSize)})
		return nil
	}
	if s.DamageAt >= 0 || !s.HeaderOK {
		// The segment itself is damaged; compare what it has.
		if len(frames) > len(s.Frames) {
			frames = frames[:len(s.Frames)]
		}
	}
	for i := range max(len(frames), len(s.Frames)) {
		switch {
		case i >= len(frames):
			if s.DamageAt < 0 {
				bad(int64(s.Frames[i].Offset), fmt.Sprintf("index file lists %d frames, segment has %d", len(frames), len(s.Frames)))
			}
			return nil
		case i >= len(s.Frames):
			bad(int64(frames[i].Offset), fmt.Sprintf("index file lists a frame at offset %d the segment does not have", frames[i].Offset))
			return nil
		}
		a, b := frames[i], s.Frames[i]
		// Count, and Last but for the final frame, are not compared: the
		// writer records each frame as spanning up to the next frame's first
		// sequence number, which differs for sparse (compacted) frames.
		if a.Offset != b.Offset || a.First != b.First || (i == len(frames)-1 && s.DamageAt < 0 && a.Last != b.Last) {
			off := min(a.Offset, b.Offset)
			bad(int64(off), fmt.Sprintf("index file lists frame %d at offset %d with sequences %d..%d, segment has it at offset %d with %d..%d",
				i, a.Offset, a.First, a.Last, b.Offset, b.First, b.Last))
			return nil
		}
	}
	return nil
}
