//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package vfs

import (
	"errors"
	"math"
	"strconv"

	"golang.org/x/sys/unix"
)

// errNoMap is returned by Map and MapRead where mapping is not worth it;
// callers then read and write through ReadAt and WriteAt.
var errNoMap = errors.New("vfs: memory mapping not used on this platform")

// canMap reports whether a mapping of length bytes should be made: never
// in a 32-bit address space, where segments mapped side by side would
// exhaust it.
func canMap(length int64) bool {
	return strconv.IntSize == 64 && length > 0 && length <= math.MaxInt
}

func (o osFile) Map(length int64) ([]byte, error) {
	if !canMap(length) {
		return nil, errNoMap
	}
	return unix.Mmap(int(o.f.Fd()), 0, int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func (o osFile) MapRead(length int64) ([]byte, error) {
	if !canMap(length) {
		return nil, errNoMap
	}
	return unix.Mmap(int(o.f.Fd()), 0, int(length), unix.PROT_READ, unix.MAP_SHARED)
}

func (o osFile) Unmap(m []byte) error { return unix.Munmap(m) }
