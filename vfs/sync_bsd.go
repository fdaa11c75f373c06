//go:build freebsd || openbsd || netbsd || dragonfly

package vfs

import "os"

// syncFile is fsync(2), which on the BSDs flushes the drive's cache
// through the filesystem's barrier.
func syncFile(f *os.File) error { return fsync(f) }
