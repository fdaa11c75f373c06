package check

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
	"github.com/seglog/journal/wal/manifest"
)

// RepairReport says what Repair did.
type RepairReport struct {
	Plan RepairPlan
	// SidePath is the side file holding every byte removed ("" when the
	// plan needed nothing), SideBytes its size.
	SidePath  string
	SideBytes int64
}

// Repair makes a damaged log open again. It takes the directory lock (an
// error wrapping wal.ErrLocked if the log is open elsewhere), then carries out
// the plan PlanRepair makes; see RepairLocked.
func Repair(dir string, fsys vfs.FS, sidePath string) (RepairReport, error) {
	return RepairWith(dir, fsys, sidePath, KeepIntact)
}

// RepairWith is Repair with the given mode (see PlanRepairMode).
func RepairWith(dir string, fsys vfs.FS, sidePath string, mode RepairMode) (RepairReport, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	lock, err := fsys.Lock(dir)
	if err != nil {
		return RepairReport{}, fmt.Errorf("repair %s: %w", dir, err)
	}
	defer lock.Close()
	return RepairLockedMode(dir, fsys, sidePath, mode)
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
	return RepairLockedMode(dir, fsys, sidePath, KeepIntact)
}

// RepairLockedMode is RepairLocked with the given mode: with KeepIntact
// the damaged segments are rewritten (temporary file, sync, rename) with
// every frame that verifies, each saved whole in the side file first.
func RepairLockedMode(dir string, fsys vfs.FS, sidePath string, mode RepairMode) (RepairReport, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	p, err := PlanRepairMode(dir, fsys, mode)
	if err != nil {
		return RepairReport{}, err
	}
	rep := RepairReport{Plan: p}
	if !p.Needed() {
		return rep, nil
	}
	if _, err := fsys.Stat(sidePath); err == nil {
		return rep, fmt.Errorf("repair: side file %s already exists", sidePath)
	} else if !errors.Is(err, fs.ErrNotExist) {
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
	for _, rw := range p.Rewrites {
		pieces = append(pieces, piece{rw.File, 0})
	}
	for _, s := range p.RemoveIndexes {
		pieces = append(pieces, piece{s, 0})
	}
	if p.RemoveBounds != "" {
		pieces = append(pieces, piece{p.RemoveBounds, 0})
	}
	if mf := filepath.Join(dir, manifest.Name); p.Manifest != "" {
		if _, err := fsys.Stat(mf); err == nil {
			pieces = append(pieces, piece{mf, 0}) // rewritten below
		}
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

	for _, rw := range p.Rewrites {
		if err := rewriteKept(fsys, rw); err != nil {
			return rep, fmt.Errorf("repair: rewrite %s: %w", rw.File, err)
		}
	}
	for _, n := range append(slices.Clip(p.RemoveIndexes), p.RemoveBounds) {
		if n == "" {
			continue
		}
		if err := fsys.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("repair: %w", err)
		}
	}
	for _, n := range slices.Backward(p.RemoveSegments) {
		if err := fsys.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("repair: %w", err)
		}
	}
	if p.Cut {
		if p.CutOffset < segment.FileHeaderSize {
			if err := fsys.Remove(p.CutFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
		sw, err := segment.Create(fsys, p.NewSegment, segment.FileHeader{ID: p.newID, Base: p.NextSeq}, 0)
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
	// The directory as repaired is now the record of what exists, and
	// the sequence numbers it lost are holes.
	var holes []wal.Hole
	for _, r := range p.LostSeqs() {
		holes = append(holes, wal.Hole{First: r.First, Last: r.Last})
	}
	if err := wal.RebuildManifest(dir, fsys, holes...); err != nil {
		return rep, fmt.Errorf("repair: %w", err)
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
