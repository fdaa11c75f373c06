package keyset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sync"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// RepairPlan says what Repair would do to a set's files, found without
// changing anything.
type RepairPlan struct {
	// Damage is what Open refuses ("" when it opens: nothing to do).
	Damage string
	// Keys is the set Repair keeps: every record that verifies.
	Keys map[string]struct{}
	// Gen is the generation of the files Repair writes: newer than any
	// the old files or the mark name.
	Gen uint64
	// Files are the set's files Repair moves aside (renamed with a
	// suffix, never deleted).
	Files []string
}

// Needed reports whether the set needs a repair.
func (p RepairPlan) Needed() bool { return p.Damage != "" }

// PlanRepair works out what Repair would do to the set named name in dir,
// held to mark as Open holds it, without changing anything. fsys nil
// means the operating system's.
func PlanRepair(fsys vfs.FS, dir, name string, mark Mark) (RepairPlan, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	if name == "" {
		name = "keys"
	}
	_, _, err := ReadKeysMarked(fsys, dir, name, mark)
	if err == nil {
		return RepairPlan{}, nil
	}
	if !isCorrupt(err) {
		return RepairPlan{}, err
	}
	p := RepairPlan{Damage: err.Error(), Keys: map[string]struct{}{}}
	snapPath, deltaPath := filepath.Join(dir, name+".snap"), filepath.Join(dir, name+".delta")
	snapGen, haveSnap, err := salvageFile(fsys, snapPath, p.Keys, nil)
	if err != nil {
		return RepairPlan{}, err
	}
	// The delta's operations follow the snapshot's of its generation; a
	// delta older than the snapshot is in it already.
	deltaGen, haveDelta, err := salvageFile(fsys, deltaPath, p.Keys, func(fh segment.FileHeader, ok bool) bool {
		return !haveSnap || !ok || fh.ID >= snapGen
	})
	if err != nil {
		return RepairPlan{}, err
	}
	for path, have := range map[string]bool{snapPath: haveSnap, deltaPath: haveDelta} {
		if have {
			p.Files = append(p.Files, path)
		}
	}
	p.Gen = max(snapGen, deltaGen, mark.Gen) + 1
	return p, nil
}

// salvageFile applies every frame of the file at path whose checksums hold
// (segment.Salvage), in order, to keys: an add, or with a tombstone a
// remove. use, if set, decides from the file header (ok: it is sound)
// whether the file is read. It returns the header's generation (0 when
// damaged) and whether the file exists.
func salvageFile(fsys vfs.FS, path string, keys map[string]struct{}, use func(segment.FileHeader, bool) bool) (uint64, bool, error) {
	f, err := fsys.Open(path)
	if err != nil {
		if isNotExist(err) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("keyset: open %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, true, fmt.Errorf("keyset: size of %s: %w", path, err)
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return 0, true, fmt.Errorf("keyset: read %s: %w", path, err)
	}
	fh, herr := segment.ReadFileHeader(bytes.NewReader(data), size, path)
	if use != nil && !use(fh, herr == nil) {
		return fh.ID, true, nil
	}
	if size <= segment.FileHeaderSize {
		return fh.ID, true, nil
	}
	found, _ := segment.Salvage(data[segment.FileHeaderSize:], segment.FileHeaderSize, false)
	for _, fr := range found {
		h, p, err := segment.ReadFrame(bytes.NewReader(data), size, fr.Offset, path)
		if err != nil {
			continue // Salvage verified it; unreachable
		}
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil || !ok {
				break
			}
			if len(e.Key) == 0 {
				continue
			}
			if e.Tombstone {
				delete(keys, string(e.Key))
			} else {
				keys[string(e.Key)] = struct{}{}
			}
		}
	}
	return fh.ID, true, nil
}

// Repair makes the damaged set named name in dir open again (held to
// mark): it keeps every record that verifies (see PlanRepair), moves the
// set's files aside (renamed with suffix, e.g. ".damaged-1765090000"; Open
// ignores them) and writes the kept set as a new snapshot with an empty
// delta, of a generation newer than the mark, durably. The caller holds
// the directory's lock. A set that opens is left alone.
func Repair(fsys vfs.FS, dir, name string, mark Mark, suffix string) (RepairPlan, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	if name == "" {
		name = "keys"
	}
	p, err := PlanRepair(fsys, dir, name, mark)
	if err != nil || !p.Needed() {
		return p, err
	}
	if suffix == "" {
		return p, fmt.Errorf("keyset: repair: empty suffix: %w", segment.ErrInvalid)
	}
	for _, path := range p.Files {
		if err := fsys.Rename(path, path+suffix); err != nil {
			return p, fmt.Errorf("keyset: repair: %w", err)
		}
	}
	if err := fsys.SyncDir(dir); err != nil {
		return p, fmt.Errorf("keyset: repair: sync directory %s: %w", dir, err)
	}
	s := &Set{
		fs: fsys, dir: dir,
		snapPath: filepath.Join(dir, name+".snap"), deltaPath: filepath.Join(dir, name+".delta"),
		snapTmp: filepath.Join(dir, name+".snap.tmp"), deltaTmp: filepath.Join(dir, name+".delta.tmp"),
		keys: p.Keys, gen: p.Gen - 1, enc: segment.NewEncoder(nil),
	}
	s.cond = sync.NewCond(&s.mu)
	if err := s.writeSnapshot(); err != nil {
		return p, fmt.Errorf("keyset: repair: %w", err)
	}
	w, err := s.newDelta(p.Gen)
	if err != nil {
		return p, fmt.Errorf("keyset: repair: %w", err)
	}
	return p, w.Close()
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func isCorrupt(err error) bool { return errors.Is(err, segment.ErrCorrupt) }
