package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MkdirDurable creates dir and its missing parents with perm and syncs the
// parent of each directory it created, so the new entries survive a power
// cut. A dir that exists is left as it is.
func MkdirDurable(fsys FS, dir string, perm os.FileMode) error {
	var created []string
	for d := filepath.Clean(dir); ; {
		if _, err := fsys.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(created) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, perm); err != nil {
		return err
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := fsys.SyncDir(filepath.Dir(created[i])); err != nil {
			return err
		}
	}
	return nil
}

// Within reports whether path is dir or a path below it, compared as
// absolute paths, lexically (a symbolic link is not followed).
func Within(dir, path string) bool {
	a, aerr := filepath.Abs(dir)
	b, berr := filepath.Abs(path)
	if aerr != nil || berr != nil {
		a, b = filepath.Clean(dir), filepath.Clean(path)
	}
	rel, err := filepath.Rel(a, b)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ErrNotEmpty is wrapped by the error CheckNewDir and StageDir return for
// a destination that is a file or a directory holding anything.
var ErrNotEmpty = errors.New("exists and is not an empty directory")

// CheckNewDir returns nil if dir does not exist or is an empty directory:
// a place a new directory may be put whole. A file, or a directory
// holding anything, gives an error wrapping ErrNotEmpty; a failure to
// look, that error.
func CheckNewDir(fsys FS, dir string) error {
	fi, err := fsys.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s %w: it is a file", dir, ErrNotEmpty)
	}
	names, err := fsys.List(dir)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%s %w: it holds %d entries", dir, ErrNotEmpty, len(names))
	}
	return nil
}

// StagedDir is a directory built under a temporary name beside its
// destination and then put in place whole by one rename, so that a crash
// never leaves a half-built directory at the destination.
type StagedDir struct {
	fsys FS
	dst  string
	// Tmp is the directory to fill: the destination's name plus ".tmp-"
	// and a suffix unique to this StagedDir, beside it. It is never
	// reused: one a crash leaves behind is incomplete.
	Tmp string
}

// StageDir checks that dst may be made (see CheckNewDir), creates its
// missing parents durably and an empty temporary directory beside it,
// each with perm, and returns them. Fill Tmp, syncing every file, then
// Commit, or Abort.
func StageDir(fsys FS, dst string, perm os.FileMode) (*StagedDir, error) {
	dst = filepath.Clean(dst)
	if err := CheckNewDir(fsys, dst); err != nil {
		return nil, err
	}
	if err := MkdirDurable(fsys, filepath.Dir(dst), perm); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
	}
	tmp := dst + ".tmp-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := fsys.MkdirAll(tmp, perm); err != nil {
		return nil, fmt.Errorf("create %s: %w", tmp, err)
	}
	return &StagedDir{fsys: fsys, dst: dst, Tmp: tmp}, nil
}

// Commit syncs Tmp and renames it to the destination, replacing the empty
// directory there if there is one, and syncs the parent: after a crash the
// destination is as it was (an empty directory there may be gone) or
// Tmp's whole content, provided each file in Tmp was synced. A
// destination no longer empty gives an error wrapping ErrNotEmpty and
// changes nothing there. On an error Tmp is left for Abort.
func (s *StagedDir) Commit() error {
	if err := s.fsys.SyncDir(s.Tmp); err != nil {
		return fmt.Errorf("sync directory %s: %w", s.Tmp, err)
	}
	if err := CheckNewDir(s.fsys, s.dst); err != nil {
		return err
	}
	// Go's os.Rename refuses to replace a directory, even an empty one:
	// it goes first, and Remove fails if it is no longer empty.
	if err := s.fsys.Remove(s.dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.fsys.Rename(s.Tmp, s.dst); err != nil {
		return err
	}
	s.Tmp = ""
	parent := filepath.Dir(s.dst)
	if err := s.fsys.SyncDir(parent); err != nil {
		return fmt.Errorf("sync directory %s: %w", parent, err)
	}
	return nil
}

// Abort removes Tmp and the files in it, as far as it can (its removal
// need not be durable: what a crash leaves of it is incomplete anyway).
// After Commit renamed it, Abort does nothing.
func (s *StagedDir) Abort() {
	if s.Tmp == "" {
		return
	}
	names, _ := s.fsys.List(s.Tmp)
	for _, n := range names {
		_ = s.fsys.Remove(filepath.Join(s.Tmp, n))
	}
	_ = s.fsys.Remove(s.Tmp)
	s.Tmp = ""
}
