package vfs

import (
	"errors"
	"fmt"
	"os"
)

// Linker is implemented by file systems that can give a file a second name
// (a hard link): both names then refer to the same file, and writing
// through either changes what both read.
type Linker interface {
	// Link makes newname a new name of the existing file oldname, as
	// link(2). newname must not exist. The new directory entry is not
	// durable until SyncDir of its directory.
	Link(oldname, newname string) error
}

// ErrNoLink is returned by [Link] when fs cannot make hard links at all.
var ErrNoLink = errors.New("hard links not supported")

// Link makes newname a hard link to oldname if fs implements [Linker];
// otherwise it returns an error wrapping ErrNoLink. Callers that only want
// a copy's content treat any error (ErrNoLink, EXDEV across file systems,
// EPERM on file systems without links) as "copy instead".
func Link(fs FS, oldname, newname string) error {
	l, ok := fs.(Linker)
	if !ok {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: fmt.Errorf("%T: %w", fs, ErrNoLink)}
	}
	return l.Link(oldname, newname)
}

func (osFS) Link(oldname, newname string) error { return os.Link(oldname, newname) }
