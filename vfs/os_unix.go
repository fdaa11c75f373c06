//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package vfs

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// permissionsMeanAccess: a file's permission bits say who may read it.
const permissionsMeanAccess = true

func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}

// syncDir makes a directory's entries durable: the directory is opened and
// synced like a file (see syncFile for what that means per platform).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := syncFile(f); err != nil {
		f.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return f.Close()
}

type osLock struct{ f *os.File }

func (l osLock) Close() error {
	// Closing the descriptor releases the flock.
	return l.f.Close()
}

// Lock takes flock(LOCK_EX|LOCK_NB). A directory is locked through a
// read-only descriptor of it, so locking a log leaves no file behind; a
// missing name is created as a file with the filesystem's file mode.
// flock locks belong to the open file description, so a second Lock in
// the same process conflicts just like one from another process. The lock
// is advisory and ends with the process, however it ends.
func (o osFS) Lock(name string) (io.Closer, error) {
	f, err := os.Open(name)
	if os.IsNotExist(err) {
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, o.mode)
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("%s: %w", name, ErrLocked)
		}
		return nil, fmt.Errorf("flock %s: %w", name, err)
	}
	return osLock{f}, nil
}

// AllocatedBytes returns the bytes fi's file occupies on disk (its blocks,
// which for a sparse or preallocated file differ from its size), and false
// where fi does not say.
func AllocatedBytes(fi os.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int64(st.Blocks) * 512, true
}
