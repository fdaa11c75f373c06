package wal

import (
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/seglog/journal/vfs"
)

// readCountFS counts the bytes read from the files whose extension is
// one of exts (".seg", ".idx"), whether opened read-only or read-write.
type readCountFS struct {
	vfs.FS
	read *atomic.Int64
	exts []string
}

func (c readCountFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !slices.Contains(c.exts, filepath.Ext(name)) {
		return f, err
	}
	return readCountFile{File: f, read: c.read}, nil
}

func (c readCountFS) Open(name string) (vfs.File, error) {
	f, err := c.FS.Open(name)
	return c.wrap(name, f, err)
}

func (c readCountFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := c.FS.OpenReadWrite(name)
	return c.wrap(name, f, err)
}

type readCountFile struct {
	vfs.File
	read *atomic.Int64
}

func (c readCountFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	c.read.Add(int64(n))
	return n, err
}
