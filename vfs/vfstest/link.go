package vfstest

// Hard links: FS.Link and ErrorFS.Link.

import (
	"os"
	"syscall"

	"github.com/seglog/journal/vfs"
)

var (
	_ vfs.Linker = (*FS)(nil)
	_ vfs.Linker = (*ErrorFS)(nil)
)

// Link makes newname a second name of the file oldname, as link(2): both
// names refer to one node, so a write through either shows in both, and
// the file's content and durable state are shared (a crash clone keeps
// them one file). The new entry is a pending entry operation of its
// directory until SyncDir. It fails with EEXIST if newname exists and
// EPERM if oldname is a directory. Counted as OpLink.
func (fs *FS) Link(oldname, newname string) error {
	po, pn := clean(oldname), clean(newname)
	if err := fs.do(OpLink, pn, func() error { return fs.link(po, pn) }); err != nil {
		return &os.LinkError{Op: "link", Old: po, New: pn, Err: err}
	}
	return nil
}

func (fs *FS) link(po, pn string) error {
	if err := fs.check(OpLink); err != nil {
		return err
	}
	n, err := fs.lookup(po)
	if err != nil {
		return err
	}
	if n.isDir {
		return syscall.EPERM
	}
	d, base, err := fs.parent(pn)
	if err != nil {
		return err
	}
	if d.entries[base] != nil {
		return syscall.EEXIST
	}
	fs.record(d, "link "+po+" -> "+pn, dirChange{base, n})
	return nil
}

// Link counts as OpLink; a file system without links gives an error
// wrapping vfs.ErrNoLink.
func (e *ErrorFS) Link(oldname, newname string) error {
	if err := e.check(OpLink); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	return vfs.Link(e.fs, oldname, newname)
}
