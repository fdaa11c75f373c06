//go:build darwin || freebsd || openbsd || netbsd || dragonfly

package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// fsync is fsync(2), retried on EINTR.
func fsync(f *os.File) error {
	for {
		err := unix.Fsync(int(f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fsync", Path: f.Name(), Err: err}
		}
		return nil
	}
}
