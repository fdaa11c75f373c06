package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// permissionsMeanAccess is false: Windows keeps who may read a file in
// its ACL; the permission bits os.Stat reports say only whether it is
// read-only.
const permissionsMeanAccess = false

// openFile opens name with every sharing mode, FILE_SHARE_DELETE
// included, as POSIX programs expect: an open segment can then be renamed
// over (a compaction rewrite) or removed (a truncation) while a reader
// still holds it, which os.OpenFile's handles forbid.
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	access := uint32(windows.GENERIC_READ)
	if flag&(os.O_RDWR|os.O_WRONLY) != 0 {
		access |= windows.GENERIC_WRITE
	}
	var disposition uint32
	switch {
	case flag&os.O_CREATE != 0 && flag&os.O_TRUNC != 0:
		disposition = windows.CREATE_ALWAYS
	case flag&os.O_CREATE != 0:
		disposition = windows.OPEN_ALWAYS
	case flag&os.O_TRUNC != 0:
		disposition = windows.TRUNCATE_EXISTING
	default:
		disposition = windows.OPEN_EXISTING
	}
	attrs := uint32(windows.FILE_ATTRIBUTE_NORMAL)
	if perm&0o200 == 0 && flag&os.O_CREATE != 0 {
		attrs = windows.FILE_ATTRIBUTE_READONLY
	}
	share := uint32(windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE)
	h, err := windows.CreateFile(p, access, share, nil, disposition, attrs, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(h), name), nil
}

// syncFile is FlushFileBuffers (what (*os.File).Sync calls on Windows): it
// writes the file's data and metadata and flushes the drive's cache.
func syncFile(f *os.File) error { return f.Sync() }

// syncDir does nothing: Windows has no way to sync a directory. NTFS
// journals its metadata, so a create, rename or remove is ordered before
// later metadata changes, but the last ones before a power cut may be
// lost. CRASH-SAFETY.md says what that costs.
func syncDir(dir string) error {
	_, err := os.Stat(dir)
	return err
}

// LockFile is the file Lock creates inside a directory on Windows, which
// cannot lock a directory itself.
const LockFile = "LOCK"

type winLock struct{ f *os.File }

func (l winLock) Close() error {
	// Closing the handle releases the lock.
	return l.f.Close()
}

// Lock takes LockFileEx(LOCKFILE_EXCLUSIVE_LOCK|LOCKFILE_FAIL_IMMEDIATELY)
// on name, or on name\LOCK (created, and left in place) when name is a
// directory. The lock belongs to the handle, so a second Lock in the same
// process conflicts just like one from another process, and Windows
// releases it when the process ends, however it ends.
func (o osFS) Lock(name string) (io.Closer, error) {
	target := name
	if fi, err := os.Stat(name); err == nil && fi.IsDir() {
		target = filepath.Join(name, LockFile)
	}
	f, err := openFile(target, os.O_RDWR|os.O_CREATE, o.mode)
	if err != nil {
		return nil, err
	}
	var ol windows.Overlapped
	err = windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if err != nil {
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, fmt.Errorf("%s: %w", name, ErrLocked)
		}
		return nil, fmt.Errorf("LockFileEx %s: %w", target, err)
	}
	return winLock{f}, nil
}

// AllocatedBytes returns false: the allocated size of a file is not part
// of what os.Stat reports on Windows.
func AllocatedBytes(fi os.FileInfo) (int64, bool) { return 0, false }
