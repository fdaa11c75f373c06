package vfstest

// The open file handle and its methods.

import (
	"io"
	"os"
	"slices"
	"syscall"
)

// file is an open handle on an inode, returned by Create, Open and
// OpenReadWrite. ReadAt and WriteAt are positional; WriteAt on a handle from
// Open fails with EBADF, as does Truncate; every method after Close fails
// with os.ErrClosed. Sync is fdatasync: it makes the inode's current data and
// size durable but not its directory entry.
type file struct {
	fs       *FS
	n        *node
	name     string
	writable bool
	closed   bool
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, pathErr("read", f.name, os.ErrClosed)
	}
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	if err := f.fs.check(OpRead); err != nil {
		return 0, pathErr("read", f.name, err)
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.do(OpWrite, f.name, func() error { return f.writeAt(p, off) }); err != nil {
		return 0, pathErr("write", f.name, err)
	}
	return len(p), nil
}

func (f *file) writeAt(p []byte, off int64) error {
	fs := f.fs
	switch {
	case f.closed:
		return os.ErrClosed
	case !f.writable:
		return syscall.EBADF
	case off < 0:
		return syscall.EINVAL
	}
	if err := fs.check(OpWrite); err != nil {
		return err
	}
	if len(p) == 0 {
		return nil
	}
	end := off + int64(len(p))
	if err := fs.grow(f.n, end); err != nil {
		return err
	}
	if end > int64(len(f.n.data)) {
		fs.setData(f.n, resize(f.n.data, end))
	}
	copy(f.n.data[off:], p)
	f.n.addPending(fileOp{off: off, data: slices.Clone(p)})
	return nil
}

func (f *file) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, os.ErrClosed)
	}
	f.closed = true
	f.n.nopen--
	f.fs.maybeFree(f.n)
	return nil
}

func (f *file) Sync() error {
	fs := f.fs
	// A sync covers the operations completed before it began: take them
	// now, let DuringSync's function run while the sync is in flight
	// (writes made meanwhile stay pending), then make them durable.
	fs.mu.Lock()
	upto, err := f.beginSync()
	during := fs.during
	fs.mu.Unlock()
	if err != nil {
		return pathErr("fdatasync", f.name, err)
	}
	if during != nil {
		during(f.name)
	}
	fs.do(OpSync, f.name, func() error {
		f.n.makeDurable(upto)
		return nil
	})
	return nil
}

// beginSync counts a Sync and returns the number below which the file's
// pending operations are covered by it, or why it fails. Called with fs.mu
// held.
func (f *file) beginSync() (uint64, error) {
	if f.closed {
		return 0, os.ErrClosed
	}
	if err := f.fs.check(OpSync); err != nil {
		if f.fs.syncLoss {
			// Linux after a failed fsync: the dirty pages are marked
			// clean, so the data stays readable but is never written
			// back.
			f.n.pending = nil
		}
		return 0, err
	}
	return f.n.nextOp, nil
}

func (f *file) Truncate(size int64) error {
	fs := f.fs
	err := fs.do(OpTruncate, f.name, func() error {
		switch {
		case f.closed:
			return os.ErrClosed
		case !f.writable:
			return syscall.EBADF
		case size < 0:
			return syscall.EINVAL
		}
		if err := fs.check(OpTruncate); err != nil {
			return err
		}
		if err := fs.grow(f.n, size); err != nil {
			return err
		}
		fs.truncate(f.n, size)
		return nil
	})
	if err != nil {
		return pathErr("truncate", f.name, err)
	}
	return nil
}

func (f *file) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, pathErr("stat", f.name, os.ErrClosed)
	}
	return int64(len(f.n.data)), nil
}
