package wal

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// Inspection is a log directory as Open reads it, found without modifying
// anything or taking the lock: Open and the checks (package wal/check)
// read segments with the same code, so they agree on what is damage.
type Inspection struct {
	Dir string
	// Front is the bounds file's: sequence numbers below it are truncated.
	Front uint64
	// Segments in order of their numbers.
	Segments []*SegmentState
	// Damage is what makes Open refuse the directory: the first damage
	// in each segment, in order.
	Damage []Finding
	// Warnings are what Open repairs by itself: a torn tail of the newest
	// segment (cut), a newest segment whose header a crash left unwritten
	// (recreated).
	Warnings []Finding
	// Indexes are the index files found, by segment number.
	Indexes map[uint64]string
	// ManifestProblem, when not "", says why the manifest (the record of
	// the segments that must exist) and the directory disagree beyond
	// one segment's bytes: the manifest damaged or lost, or a segment it
	// lists missing. Repair writes the manifest anew, accepting the loss.
	ManifestProblem string
	// DamagedBounds is the path of the bounds file (a TruncateBack being
	// carried out) when it is damaged, else "".
	DamagedBounds string
	// Holes are the sequence numbers a repair removed on purpose, as the
	// manifest records them: known losses, not damage.
	Holes []Hole
}

// SegmentState is one segment file as Inspect read it: every frame scanned
// and both checksums of each verified (index files are not trusted).
type SegmentState struct {
	ID   uint64
	File string // path
	Size int64  // file size
	// HeaderOK says the file header is sound and fits the segments before
	// it; Base is then the next sequence number when it was created.
	HeaderOK bool
	Base     uint64
	// Frames are the valid frames before any damage, Entries their
	// entries, End where they end.
	Frames  []segment.FrameInfo
	Entries uint64
	End     int64
	// DamageAt is the offset of the segment's first damage (0 for its
	// header), -1 for none.
	DamageAt int64
	// Torn says the newest segment ends in a torn write at End, which Open
	// cuts.
	Torn bool
	// Durable is how far the manifest records the segment as durable (0
	// when it does not list it): bytes before it held frames.
	Durable int64
}

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

// Inspect reads every segment of the log in dir as Open does (see
// Inspection), and lists its index files. It takes no lock and modifies
// nothing, so it works while another process has the log open (a batch
// being written at that moment shows up as a torn tail). fsys nil means
// the OS. The error is for a failure to read (a missing dir matches
// fs.ErrNotExist; a dir holding no segment wraps ErrNotFound); damage is
// in the Inspection.
func Inspect(dir string, fsys vfs.FS) (*Inspection, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	b, berr := readBounds(fsys, dir)
	if berr != nil && !errors.Is(berr, ErrCorrupt) {
		return nil, fmt.Errorf("inspect %s: %w", dir, berr)
	}
	mld, merr := manifest.Load(fsys, dir)
	if merr != nil && !errors.Is(merr, ErrCorrupt) {
		return nil, fmt.Errorf("inspect %s: %w", dir, merr)
	}
	front, ls := b.front, listing{} // a damaged manifest holds nothing to check against
	if merr == nil {
		front, ls = logFront(b, mld), listingFor(mld)
	}
	if b.cut != nil {
		// A TruncateBack Open will finish: the files as it leaves them.
		if ls.st != nil {
			cutState(ls.st, b.cut, b.front)
		}
		ls.cut = b.cut
	}
	ld, err := load(fsys, dir, forCheck, front, ls, nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", dir, err)
	}
	in := ld.check
	if merr != nil {
		ld.manifestDamage(merr)
	} else {
		in.Holes = mld.State.Holes
	}
	if berr != nil {
		// Whether it records a TruncateBack to finish is unknown: Open
		// refuses; repair removes it (the cut is then not made).
		in.DamagedBounds = filepath.Join(dir, boundsName)
		in.Damage = append(in.Damage, Finding{File: in.DamagedBounds, Detail: damageDetail(berr, in.DamagedBounds, 0)})
	}
	if _, err := compactor.ReadCheckpoint(fsys, dir); errors.Is(err, ErrCorrupt) {
		// A cache: Open rebuilds the state from the segments.
		in.Warnings = append(in.Warnings, Finding{File: filepath.Join(dir, checkpointName), Offset: -1,
			Detail: fmt.Sprintf("%v; Open rebuilds the compaction state from the segments", err)})
	}
	if len(in.Segments) == 0 && merr == nil && !mld.Found {
		return nil, fmt.Errorf("inspect %s: no log segments: %w", dir, ErrNotFound)
	}
	in.Indexes = map[uint64]string{}
	for _, n := range ld.names {
		if id, ok := parseIdxName(n); ok {
			in.Indexes[id] = idxName(dir, id)
		}
	}
	return in, nil
}

// SegmentPath is the path of segment id's file in the log directory dir.
func SegmentPath(dir string, id uint64) string { return segName(dir, id) }

// damageDetail is what err says is wrong, for a Finding that names file
// and off itself: without the place when err is damage found there.
func damageDetail(err error, file string, off int64) string {
	if ce, ok := err.(*segment.CorruptError); ok && ce.File == file && (ce.Offset == off || ce.Offset < 0) {
		return fmt.Sprintf("%v: %s", ErrCorrupt, ce.Detail)
	}
	return err.Error()
}
