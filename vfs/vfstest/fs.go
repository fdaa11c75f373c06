package vfstest

// The FS type, its node/dirOp/fileOp model of current and durable state,
// and the methods implementing vfs.FS.

import (
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seglog/journal/vfs"
)

var _ vfs.FS = (*FS)(nil)

// FS is an in-memory filesystem implementing [vfs.FS]. It is safe for
// concurrent use; all operations are serialized by one mutex. The zero value
// is not usable: call [New].
type FS struct {
	// Injector counts operations and fails injected ones (its methods are
	// the FS's).
	Injector

	mu       sync.Mutex
	root     *node
	dirs     []*node // every directory ever created, in creation order
	nextID   uint64
	locks    map[string]bool
	capacity int64 // < 0: unlimited
	used     int64 // bytes in live files
	hook     func(Op, string)
	syncLoss bool              // a failed Sync discards the pending operations
	during   func(name string) // called by Sync while it is in flight
}

// node is a file (inode) or a directory.
type node struct {
	id    uint64
	isDir bool

	// Files.
	data    []byte   // current content
	durable []byte   // durable content; never aliases data
	pending []fileOp // not yet made durable by a Sync, in order
	nextOp  uint64   // sequence number of the next pending operation
	nlink   int      // current directory entries
	nopen   int      // open handles
	dead    bool     // no links and no handles: space freed

	// Directories.
	entries    map[string]*node
	durEntries map[string]*node
	dops       []*dirOp // since the last SyncDir, in order
}

type fileOp struct {
	seq      uint64 // order among the file's operations, for Sync's cover
	truncate bool
	off      int64 // write offset, or new size for a truncate
	data     []byte
}

func (op fileOp) apply(buf []byte) []byte {
	if op.truncate {
		return resize(buf, op.off)
	}
	end := op.off + int64(len(op.data))
	if end > int64(len(buf)) {
		buf = resize(buf, end)
	}
	copy(buf[op.off:], op.data)
	return buf
}

func (op fileOp) String() string {
	if op.truncate {
		return fmt.Sprintf("truncate(%d)", op.off)
	}
	return fmt.Sprintf("write[%d,%d)", op.off, op.off+int64(len(op.data)))
}

// resize returns buf cut or zero-extended to size.
func resize(buf []byte, size int64) []byte {
	if size <= int64(len(buf)) {
		return buf[:size]
	}
	return append(buf, make([]byte, size-int64(len(buf)))...)
}

type dirOp struct {
	dir       *node
	changes   []dirChange
	partner   *dirOp // the other half of a cross-directory rename
	committed bool
	desc      string
}

type dirChange struct {
	name   string
	target *node // nil: remove the entry
}

func applyChanges(m map[string]*node, changes []dirChange) {
	for _, ch := range changes {
		if ch.target == nil {
			delete(m, ch.name)
		} else {
			m[ch.name] = ch.target
		}
	}
}

// New returns an empty filesystem holding only the (durable) root directory
// "/", with unlimited capacity.
func New() *FS {
	fs := &FS{locks: map[string]bool{}, capacity: -1}
	fs.root = fs.newDir()
	return fs
}

func (fs *FS) newDir() *node {
	fs.nextID++
	d := &node{id: fs.nextID, isDir: true, entries: map[string]*node{}, durEntries: map[string]*node{}}
	fs.dirs = append(fs.dirs, d)
	return d
}

func (fs *FS) newFile() *node {
	fs.nextID++
	return &node{id: fs.nextID}
}

// clean turns name into an absolute, cleaned path.
func clean(name string) string {
	if !filepath.IsAbs(name) {
		name = string(filepath.Separator) + name
	}
	return filepath.Clean(name)
}

func pathErr(op, name string, err error) error {
	return &os.PathError{Op: op, Path: name, Err: err}
}

// lookup resolves a cleaned path.
func (fs *FS) lookup(p string) (*node, error) {
	n := fs.root
	for _, c := range strings.Split(p, string(filepath.Separator)) {
		if c == "" {
			continue
		}
		if !n.isDir {
			return nil, syscall.ENOTDIR
		}
		next := n.entries[c]
		if next == nil {
			return nil, syscall.ENOENT
		}
		n = next
	}
	return n, nil
}

// parent resolves the directory holding cleaned path p and p's last element.
func (fs *FS) parent(p string) (*node, string, error) {
	dir, base := filepath.Split(p)
	if base == "" {
		return nil, "", syscall.EINVAL // the root
	}
	d, err := fs.lookup(dir)
	if err != nil {
		return nil, "", err
	}
	if !d.isDir {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, nil
}

// record appends a pending entry operation to directory d and applies it to
// the current entries.
func (fs *FS) record(d *node, desc string, changes ...dirChange) *dirOp {
	op := &dirOp{dir: d, changes: changes, desc: desc}
	d.dops = append(d.dops, op)
	var unlinked []*node
	for _, ch := range changes {
		if old := d.entries[ch.name]; old != nil && !old.isDir {
			unlinked = append(unlinked, old)
		}
		if ch.target == nil {
			delete(d.entries, ch.name)
		} else {
			d.entries[ch.name] = ch.target
			ch.target.nlink++
		}
	}
	for _, n := range unlinked {
		n.nlink--
		fs.maybeFree(n)
	}
	return op
}

func (fs *FS) maybeFree(n *node) {
	if !n.isDir && !n.dead && n.nlink <= 0 && n.nopen <= 0 {
		n.dead = true
		fs.used -= int64(len(n.data))
	}
}

// commitThrough makes the pending operations of d up to and including index
// i durable, together with the partners of any cross-directory renames among
// them.
func commitThrough(d *node, i int) {
	ops := d.dops[:i+1]
	d.dops = slices.Clone(d.dops[i+1:])
	for _, op := range ops {
		op.committed = true
		applyChanges(d.durEntries, op.changes)
	}
	for _, op := range ops {
		if p := op.partner; p != nil && !p.committed {
			commitThrough(p.dir, slices.Index(p.dir.dops, p))
		}
	}
}

// grow checks that n may grow to size bytes within the capacity.
func (fs *FS) grow(n *node, size int64) error {
	if d := size - int64(len(n.data)); d > 0 && fs.capacity >= 0 && fs.used+d > fs.capacity {
		return syscall.ENOSPC
	}
	return nil
}

// setData replaces n's current content, keeping the space accounting.
func (fs *FS) setData(n *node, data []byte) {
	if !n.dead {
		fs.used += int64(len(data)) - int64(len(n.data))
	}
	n.data = data
}

func (fs *FS) truncate(n *node, size int64) {
	fs.setData(n, resize(n.data, size))
	n.addPending(fileOp{truncate: true, off: size})
}

// addPending records a data operation of n that no Sync has covered yet.
func (n *node) addPending(op fileOp) {
	op.seq = n.nextOp
	n.nextOp++
	n.pending = append(n.pending, op)
}

// makeDurable applies to the durable content the pending operations numbered
// below upto: those a Sync that began when nextOp was upto covers.
func (n *node) makeDurable(upto uint64) {
	i := 0
	for ; i < len(n.pending) && n.pending[i].seq < upto; i++ {
		n.durable = n.pending[i].apply(n.durable)
	}
	n.pending = slices.Delete(n.pending, 0, i)
}

func (fs *FS) open(p string, writable bool, n *node) *file {
	n.nopen++
	return &file{fs: fs, n: n, name: p, writable: writable}
}

// Create creates name (after cleaning) for reading and writing. If it exists
// it is truncated to zero in place (same inode; the truncation is a pending
// data operation); otherwise a new file is made and its entry is pending in
// the parent directory until SyncDir. Counted as OpCreate.
func (fs *FS) Create(name string) (vfs.File, error) {
	p := clean(name)
	var f *file
	if err := fs.do(OpCreate, p, func() (err error) { f, err = fs.create(p); return err }); err != nil {
		return nil, err
	}
	return f, nil
}

func (fs *FS) create(p string) (*file, error) {
	if err := fs.check(OpCreate); err != nil {
		return nil, pathErr("open", p, err)
	}
	d, base, err := fs.parent(p)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	n := d.entries[base]
	switch {
	case n == nil:
		n = fs.newFile()
		fs.record(d, "create "+base, dirChange{base, n})
	case n.isDir:
		return nil, pathErr("open", p, syscall.EISDIR)
	default:
		fs.truncate(n, 0)
	}
	return fs.open(p, true, n), nil
}

// Open opens the existing file name read-only; writes through it fail with
// EBADF. Opening a directory fails with EISDIR. Counted as OpOpen.
func (fs *FS) Open(name string) (vfs.File, error) { return fs.openExisting(name, false) }

// OpenReadWrite opens the existing file name for reading and writing.
// Counted as OpOpen.
func (fs *FS) OpenReadWrite(name string) (vfs.File, error) { return fs.openExisting(name, true) }

func (fs *FS) openExisting(name string, writable bool) (vfs.File, error) {
	p := clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.check(OpOpen); err != nil {
		return nil, pathErr("open", p, err)
	}
	n, err := fs.lookup(p)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	if n.isDir {
		return nil, pathErr("open", p, syscall.EISDIR)
	}
	return fs.open(p, writable, n), nil
}

// Rename renames oldname to newname, atomically replacing newname if it
// exists (a file may replace a file, a directory an empty directory), as
// rename(2). Within one directory it is one pending entry operation; across
// directories it is a linked pair (see the package documentation). Renaming
// a name to itself does nothing. Counted as OpRename.
func (fs *FS) Rename(oldname, newname string) error {
	po, pn := clean(oldname), clean(newname)
	if err := fs.do(OpRename, po, func() error { return fs.rename(po, pn) }); err != nil {
		return &os.LinkError{Op: "rename", Old: po, New: pn, Err: err}
	}
	return nil
}

func (fs *FS) rename(po, pn string) error {
	if err := fs.check(OpRename); err != nil {
		return err
	}
	od, obase, err := fs.parent(po)
	if err != nil {
		return err
	}
	nd, nbase, err := fs.parent(pn)
	if err != nil {
		return err
	}
	n := od.entries[obase]
	if n == nil {
		return syscall.ENOENT
	}
	if po == pn {
		return nil
	}
	if n.isDir && strings.HasPrefix(pn, po+string(filepath.Separator)) {
		return syscall.EINVAL
	}
	if old := nd.entries[nbase]; old != nil {
		switch {
		case n.isDir && !old.isDir:
			return syscall.ENOTDIR
		case !n.isDir && old.isDir:
			return syscall.EISDIR
		case old.isDir && len(old.entries) > 0:
			return syscall.ENOTEMPTY
		}
	}
	desc := fmt.Sprintf("rename %s -> %s", po, pn)
	if od == nd {
		fs.record(od, desc, dirChange{obase, nil}, dirChange{nbase, n})
		return nil
	}
	in := fs.record(nd, desc+" (in)", dirChange{nbase, n})
	out := fs.record(od, desc+" (out)", dirChange{obase, nil})
	in.partner, out.partner = out, in
	return nil
}

// Remove removes a file or an empty directory; the removal is a pending entry
// operation of the parent until SyncDir. Open handles of a removed file keep
// working. Counted as OpRemove.
func (fs *FS) Remove(name string) error {
	p := clean(name)
	if err := fs.do(OpRemove, p, func() error { return fs.remove(p) }); err != nil {
		return pathErr("remove", p, err)
	}
	return nil
}

func (fs *FS) remove(p string) error {
	if err := fs.check(OpRemove); err != nil {
		return err
	}
	d, base, err := fs.parent(p)
	if err != nil {
		return err
	}
	n := d.entries[base]
	if n == nil {
		return syscall.ENOENT
	}
	if n.isDir && len(n.entries) > 0 {
		return syscall.ENOTEMPTY
	}
	fs.record(d, "remove "+base, dirChange{base, nil})
	return nil
}

// MkdirAll creates dir and any missing parents (perm is ignored); each new
// directory is a pending entry operation of its parent until SyncDir of the
// parent. It fails with ENOTDIR if a path element is a file. Counted once as
// OpMkdir.
func (fs *FS) MkdirAll(dir string, perm os.FileMode) error {
	p := clean(dir)
	err := fs.do(OpMkdir, p, func() error {
		if err := fs.check(OpMkdir); err != nil {
			return err
		}
		return fs.mkdirAll(p)
	})
	if err != nil {
		return pathErr("mkdir", p, err)
	}
	return nil
}

func (fs *FS) mkdirAll(p string) error {
	d := fs.root
	for _, c := range strings.Split(p, string(filepath.Separator)) {
		if c == "" {
			continue
		}
		next := d.entries[c]
		if next == nil {
			next = fs.newDir()
			fs.record(d, "mkdir "+c, dirChange{c, next})
		} else if !next.isDir {
			return syscall.ENOTDIR
		}
		d = next
	}
	return nil
}

// List returns the sorted names of the current entries of dir. Counted as
// OpList.
func (fs *FS) List(dir string) ([]string, error) {
	p := clean(dir)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.check(OpList); err != nil {
		return nil, pathErr("open", p, err)
	}
	d, err := fs.lookup(p)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	if !d.isDir {
		return nil, pathErr("readdirent", p, syscall.ENOTDIR)
	}
	names := make([]string, 0, len(d.entries))
	for name := range d.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Stat describes the current state of name: base name, size, a mode of
// 0o644 for files and ModeDir|0o755 for directories, and a zero ModTime.
// Counted as OpStat.
func (fs *FS) Stat(name string) (os.FileInfo, error) {
	p := clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.check(OpStat); err != nil {
		return nil, pathErr("stat", p, err)
	}
	n, err := fs.lookup(p)
	if err != nil {
		return nil, pathErr("stat", p, err)
	}
	return fileInfo{name: filepath.Base(p), size: int64(len(n.data)), dir: n.isDir}, nil
}

type fileInfo struct {
	name string
	size int64
	dir  bool
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) ModTime() time.Time { return time.Time{} }
func (fi fileInfo) IsDir() bool        { return fi.dir }
func (fi fileInfo) Sys() any           { return nil }
func (fi fileInfo) Mode() iofs.FileMode {
	if fi.dir {
		return iofs.ModeDir | 0o755
	}
	return 0o644
}

// SyncDir makes every pending entry operation of dir durable, together with
// the other halves of cross-directory renames among them (and, to keep each
// directory's durable state a prefix of its history, the operations before
// those halves in their directories). Counted as OpSyncDir; an injected
// failure makes nothing durable.
func (fs *FS) SyncDir(dir string) error {
	p := clean(dir)
	err := fs.do(OpSyncDir, p, func() error {
		if err := fs.check(OpSyncDir); err != nil {
			return err
		}
		d, err := fs.lookup(p)
		if err == nil && !d.isDir {
			err = syscall.ENOTDIR
		}
		if err == nil && len(d.dops) > 0 {
			commitThrough(d, len(d.dops)-1)
		}
		return err
	})
	if err != nil {
		return pathErr("fsync", p, err)
	}
	return nil
}

// Lock takes an exclusive in-memory lock on name: an existing file or
// directory, or else a file it creates (a pending entry operation of the
// parent; an existing file is not truncated). While the returned Closer is not closed, another Lock of the same
// cleaned path fails with an error wrapping [vfs.ErrLocked]. Locks are not
// carried into crash clones. Counted as OpLock.
func (fs *FS) Lock(name string) (io.Closer, error) {
	p := clean(name)
	var l io.Closer
	if err := fs.do(OpLock, p, func() (err error) { l, err = fs.lock(p); return err }); err != nil {
		return nil, err
	}
	return l, nil
}

func (fs *FS) lock(p string) (io.Closer, error) {
	if err := fs.check(OpLock); err != nil {
		return nil, pathErr("open", p, err)
	}
	if fs.locks[p] {
		return nil, fmt.Errorf("%s: %w", p, vfs.ErrLocked)
	}
	if p == string(filepath.Separator) { // the root directory
		fs.locks[p] = true
		return &lockHandle{fs: fs, path: p}, nil
	}
	d, base, err := fs.parent(p)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	n := d.entries[base]
	if n == nil {
		fs.record(d, "create "+base, dirChange{base, fs.newFile()})
	}
	fs.locks[p] = true
	return &lockHandle{fs: fs, path: p}, nil
}

type lockHandle struct {
	fs     *FS
	path   string
	closed bool
}

// Close releases the lock; closing twice returns an error.
func (l *lockHandle) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.closed {
		return pathErr("close", l.path, os.ErrClosed)
	}
	l.closed = true
	delete(l.fs.locks, l.path)
	return nil
}
