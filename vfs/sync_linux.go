package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFile is fdatasync(2): the file's data and the metadata needed to
// read it back (its size) reach stable storage before it returns, provided
// the device honours cache flushes (the kernel sends one).
func syncFile(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
		}
		return nil
	}
}
