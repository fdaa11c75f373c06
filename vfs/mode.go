package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultFileMode is the permission of the files the operating system's
// filesystem creates unless told otherwise: read and write for their owner
// only. Its directories get DirMode(DefaultFileMode), 0o700. A journal's
// files hold what errors carry (user names, host names, sometimes tokens),
// so nobody else on the machine may read them by default.
const DefaultFileMode os.FileMode = 0o600

// ErrBadFileMode is wrapped by the error CheckFileMode returns.
var ErrBadFileMode = errors.New("bad file mode")

// CheckFileMode returns nil if m may be given to WithFileMode or OS: 0
// (DefaultFileMode) or permission bits (no type, setuid, setgid or sticky
// bits) that include read and write for the owner, who must reopen the
// files. Otherwise it returns an error wrapping ErrBadFileMode.
func CheckFileMode(m os.FileMode) error {
	switch {
	case m == 0:
		return nil
	case m&^os.ModePerm != 0:
		return fmt.Errorf("%w %v: only permission bits may be set", ErrBadFileMode, m)
	case m&0o600 != 0o600:
		return fmt.Errorf("%w %v: the owner must be able to read and write", ErrBadFileMode, m)
	}
	return nil
}

// fileModeOr is m, or DefaultFileMode for 0.
func fileModeOr(m os.FileMode) os.FileMode {
	if m == 0 {
		return DefaultFileMode
	}
	return m.Perm()
}

// DirMode returns the directory permission that goes with file permission
// m (0 meaning DefaultFileMode): m's bits plus the search (execute) bit
// of each class m lets read. 0o600 gives 0o700, 0o640 gives 0o750.
func DirMode(m os.FileMode) os.FileMode {
	m = fileModeOr(m)
	return m | (m&0o444)>>2
}

// FileModer is implemented by a filesystem whose new files' permission
// can be chosen, as the operating system's can.
type FileModer interface {
	// WithFileMode returns the filesystem creating files with permission
	// m and directories with at most DirMode(m) (0 meaning
	// DefaultFileMode), less the process's umask in both cases. m must
	// pass CheckFileMode.
	WithFileMode(m os.FileMode) FS
}

// WithFileMode returns fsys creating files with permission m and
// directories with DirMode(m) (0 meaning DefaultFileMode), through its
// FileModer method. nil means the operating system's filesystem. A
// filesystem that does not implement FileModer (a test's simulation, say)
// is returned as it is: its modes are its own. m must pass CheckFileMode.
func WithFileMode(fsys FS, m os.FileMode) FS {
	if fsys == nil {
		return OS(m)
	}
	if fm, ok := fsys.(FileModer); ok {
		return fm.WithFileMode(m)
	}
	return fsys
}

// LooseMode is a file or directory whose permission goes beyond what its
// filesystem's file mode allows (see LooseModes).
type LooseMode struct {
	Path string
	Mode os.FileMode // its type and permission bits
	Max  os.FileMode // the most it should have (with the same type)
}

func (l LooseMode) String() string {
	return fmt.Sprintf("%s: mode %v is more open than %v", l.Path, l.Mode, l.Max)
}

// LooseModes returns dir and each entry directly in it whose permission
// goes beyond fileMode (0 meaning DefaultFileMode), or DirMode(fileMode)
// for a directory, in name order. It changes nothing; an entry removed
// while it looks is skipped. It looks only where the modes are the
// caller's to choose: on a filesystem implementing FileModer, and not on
// Windows, whose permission bits do not say who may read a file; it
// returns none elsewhere.
func LooseModes(fsys FS, dir string, fileMode os.FileMode) ([]LooseMode, error) {
	if _, ok := fsys.(FileModer); !ok || !permissionsMeanAccess {
		return nil, nil
	}
	names, err := fsys.List(dir)
	if err != nil {
		return nil, err
	}
	return LooseModesIn(fsys, dir, names, fileMode)
}

// LooseModesIn is LooseModes of dir and the entries names, a listing of
// it the caller made (an Open lists its directory anyway).
func LooseModesIn(fsys FS, dir string, names []string, fileMode os.FileMode) ([]LooseMode, error) {
	if _, ok := fsys.(FileModer); !ok || !permissionsMeanAccess {
		return nil, nil
	}
	var out []LooseMode
	for _, p := range append([]string{dir}, joinAll(dir, names)...) {
		fi, err := fsys.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		limit := fileModeOr(fileMode)
		if fi.IsDir() {
			limit = DirMode(fileMode)
		}
		if m := fi.Mode(); m.Perm()&^limit != 0 {
			out = append(out, LooseMode{Path: p, Mode: m.Type() | m.Perm(), Max: m.Type() | limit})
		}
	}
	return out, nil
}

func joinAll(dir string, names []string) []string {
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	return paths
}
