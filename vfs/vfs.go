package vfs

import (
	"errors"
	"io"
	"os"
)

// ErrLocked is returned by [FS.Lock] when another holder (this process or
// another one) already has the lock.
var ErrLocked = errors.New("locked by another open handle or process")

// File is an open file. Positional reads and writes make concurrent use
// possible: a File may be read from several goroutines while one writes.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer

	// Sync makes the file's data (and the metadata needed to read it back,
	// such as its size) durable: fdatasync on Linux, F_FULLFSYNC on macOS,
	// fsync on the BSDs, FlushFileBuffers on Windows. An error means
	// nothing written since the last successful Sync may be assumed
	// durable.
	Sync() error
	// Truncate changes the file's size; growing it reads back as zeros.
	Truncate(size int64) error
	// Size returns the current size of the file in bytes.
	Size() (int64, error)
}

// FS is a filesystem. Names are paths as understood by package os.
type FS interface {
	// Create creates name for reading and writing, truncating it if it
	// exists. A new file gets the filesystem's file mode (see
	// FileModer; the operating system's is private by default). The new
	// directory entry is not durable until SyncDir.
	Create(name string) (File, error)
	// Open opens name read-only.
	Open(name string) (File, error)
	// OpenReadWrite opens an existing file for reading and writing.
	OpenReadWrite(name string) (File, error)
	// Rename renames oldname to newname, replacing newname atomically if it
	// exists. It is not durable until SyncDir of the directory.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// MkdirAll creates a directory and any missing parents, with at most
	// perm: a filesystem may give less (the operating system's gives at
	// most the directory mode that goes with its file mode, see
	// FileModer, less the umask).
	MkdirAll(dir string, perm os.FileMode) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// Stat describes a file.
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes the directory's entries (creates, renames, removes)
	// durable. On Windows, which cannot sync a directory, it only checks
	// that dir exists (see CRASH-SAFETY.md).
	SyncDir(dir string) error
	// Lock takes an exclusive lock on name: an existing file or directory,
	// or else a file it creates. (Windows cannot lock a directory: there
	// the lock is on a file named LOCK inside it, left in place.)
	// It never waits: if another holder has the lock it returns an error
	// wrapping ErrLocked. Closing the returned Closer releases the lock.
	Lock(name string) (io.Closer, error)
}

// ReadMapper is implemented by files that can be mapped into memory for
// reading. Touching a mapped byte past the file's current end, or one the
// device fails to read, is a memory fault, not an error.
type ReadMapper interface {
	// MapRead maps the first length bytes of the file, shared, read-only.
	MapRead(length int64) ([]byte, error)
	// Unmap releases a mapping returned by MapRead.
	Unmap(m []byte) error
}

// Mapper is implemented by files that can be mapped into memory for
// writing. Bytes copied into the mapping are in the page cache, as after a
// write; Sync makes them durable. Only bytes below the file's size may be
// touched.
type Mapper interface {
	// Map maps the first length bytes of the file, shared and writable.
	Map(length int64) ([]byte, error)
	// Unmap releases a mapping returned by Map.
	Unmap(m []byte) error
}
