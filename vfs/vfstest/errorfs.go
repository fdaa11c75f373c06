package vfstest

// ErrorFS: error injection in front of any file system.

import (
	"io"
	"os"

	"github.com/seglog/journal/vfs"
)

// ErrorFS is a [vfs.FS] that passes every operation to another one, after
// counting it and failing it, without passing it on, if an error was
// injected for it (see [Injector]): the memory FS's injection, for any
// file system, the operating system's included. Its files hide the
// wrapped files' memory mappings, so every write and read is an operation
// it sees. A failed operation changes nothing. Errors come wrapped in
// *os.PathError or *os.LinkError, as the memory FS's do.
type ErrorFS struct {
	Injector
	fs vfs.FS
}

var _ vfs.FS = (*ErrorFS)(nil)

// WithErrors returns an ErrorFS in front of fs.
func WithErrors(fs vfs.FS) *ErrorFS { return &ErrorFS{fs: fs} }

func (e *ErrorFS) open(op Op, name string, open func(string) (vfs.File, error)) (vfs.File, error) {
	if err := e.check(op); err != nil {
		return nil, pathErr("open", name, err)
	}
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	return &errorFile{e: e, f: f, name: name}, nil
}

// Create counts as OpCreate.
func (e *ErrorFS) Create(name string) (vfs.File, error) { return e.open(OpCreate, name, e.fs.Create) }

// Open counts as OpOpen.
func (e *ErrorFS) Open(name string) (vfs.File, error) { return e.open(OpOpen, name, e.fs.Open) }

// OpenReadWrite counts as OpOpen.
func (e *ErrorFS) OpenReadWrite(name string) (vfs.File, error) {
	return e.open(OpOpen, name, e.fs.OpenReadWrite)
}

// Rename counts as OpRename.
func (e *ErrorFS) Rename(oldname, newname string) error {
	if err := e.check(OpRename); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return e.fs.Rename(oldname, newname)
}

// Remove counts as OpRemove.
func (e *ErrorFS) Remove(name string) error {
	if err := e.check(OpRemove); err != nil {
		return pathErr("remove", name, err)
	}
	return e.fs.Remove(name)
}

// MkdirAll counts as one OpMkdir.
func (e *ErrorFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := e.check(OpMkdir); err != nil {
		return pathErr("mkdir", dir, err)
	}
	return e.fs.MkdirAll(dir, perm)
}

// List counts as OpList.
func (e *ErrorFS) List(dir string) ([]string, error) {
	if err := e.check(OpList); err != nil {
		return nil, pathErr("open", dir, err)
	}
	return e.fs.List(dir)
}

// Stat counts as OpStat.
func (e *ErrorFS) Stat(name string) (os.FileInfo, error) {
	if err := e.check(OpStat); err != nil {
		return nil, pathErr("stat", name, err)
	}
	return e.fs.Stat(name)
}

// SyncDir counts as OpSyncDir.
func (e *ErrorFS) SyncDir(dir string) error {
	if err := e.check(OpSyncDir); err != nil {
		return pathErr("sync", dir, err)
	}
	return e.fs.SyncDir(dir)
}

// Lock counts as OpLock.
func (e *ErrorFS) Lock(name string) (io.Closer, error) {
	if err := e.check(OpLock); err != nil {
		return nil, pathErr("lock", name, err)
	}
	return e.fs.Lock(name)
}

// errorFile is a file of an ErrorFS.
type errorFile struct {
	e    *ErrorFS
	f    vfs.File
	name string
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.e.check(OpRead); err != nil {
		return 0, pathErr("read", f.name, err)
	}
	return f.f.ReadAt(p, off)
}

func (f *errorFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.e.check(OpWrite); err != nil {
		return 0, pathErr("write", f.name, err)
	}
	return f.f.WriteAt(p, off)
}

func (f *errorFile) Sync() error {
	if err := f.e.check(OpSync); err != nil {
		return pathErr("sync", f.name, err)
	}
	return f.f.Sync()
}

func (f *errorFile) Truncate(size int64) error {
	if err := f.e.check(OpTruncate); err != nil {
		return pathErr("truncate", f.name, err)
	}
	return f.f.Truncate(size)
}

func (f *errorFile) Size() (int64, error) { return f.f.Size() }

func (f *errorFile) Close() error { return f.f.Close() }
