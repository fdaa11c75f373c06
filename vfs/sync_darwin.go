package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFile is fcntl(F_FULLFSYNC): on macOS a plain fsync(2) hands the data
// to the drive but does not make the drive write its cache, so it does not
// survive a power cut; F_FULLFSYNC does. Filesystems that refuse it (some
// network and FUSE mounts) get fsync(2), which is all they offer.
func syncFile(f *os.File) error {
	for {
		_, err := unix.FcntlInt(f.Fd(), unix.F_FULLFSYNC, 0)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.ENOTSUP, unix.EINVAL, unix.ENOTTY:
			return fsync(f)
		}
		return &os.PathError{Op: "fcntl F_FULLFSYNC", Path: f.Name(), Err: err}
	}
}
