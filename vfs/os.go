package vfs

import (
	"os"
	"slices"
)

// Default returns the operating system's filesystem, creating files with
// DefaultFileMode (0o600) and directories with 0o700: OS(0). What its
// Sync, SyncDir and Lock do differs by platform; each platform's file says
// what it promises (sync_*.go, lock_*.go, os_windows.go), and
// CRASH-SAFETY.md has the table.
func Default() FS { return OS(0) }

// OS returns the operating system's filesystem creating files with
// permission m and directories with at most DirMode(m), 0 meaning
// DefaultFileMode. The mode is given to open and mkdir, so the process's
// umask still takes bits away; nothing is chmodded. A file is created
// with its final mode, a temporary one included (see ReplaceFile). m must
// pass CheckFileMode; bits beyond the permission bits are ignored. It
// implements FileModer.
func OS(m os.FileMode) FS { return osFS{mode: fileModeOr(m)} }

// osFS is the operating system's filesystem; mode is the permission of
// the files it creates (never 0: see OS).
type osFS struct{ mode os.FileMode }

func (osFS) WithFileMode(m os.FileMode) FS { return OS(m) }

func (o osFS) Create(name string) (File, error) {
	f, err := openFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, o.mode)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := openFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) OpenReadWrite(name string) (File, error) {
	f, err := openFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) Remove(name string) error             { return os.Remove(name) }

// MkdirAll creates the missing directories with perm, less what
// DirMode of the filesystem's file mode leaves out (and the umask).
func (o osFS) MkdirAll(dir string, perm os.FileMode) error {
	return os.MkdirAll(dir, perm&DirMode(o.mode))
}
func (osFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

func (osFS) List(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

func (osFS) SyncDir(dir string) error { return syncDir(dir) }

type osFile struct{ f *os.File }

func (o osFile) ReadAt(p []byte, off int64) (int, error)  { return o.f.ReadAt(p, off) }
func (o osFile) WriteAt(p []byte, off int64) (int, error) { return o.f.WriteAt(p, off) }
func (o osFile) Close() error                             { return o.f.Close() }
func (o osFile) Truncate(size int64) error                { return o.f.Truncate(size) }
func (o osFile) Sync() error                              { return syncFile(o.f) }

func (o osFile) Size() (int64, error) {
	fi, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
