// Package vfstest provides FS, an in-memory implementation of [vfs.FS] that
// can simulate power cuts and inject errors, for proving crash safety in the
// style of ALICE and pebble's crashable memory filesystem.
//
// # Model
//
// The FS is a tree of directories and files. Paths are cleaned with
// path/filepath; relative paths are resolved against the root "/" (there is no
// working directory). Every file and every directory has two views: the
// current state, which all reads see, and the durable state, which is what a
// power cut leaves. [vfs.File.Sync] makes durable the file's data and size
// as they were when it began (fdatasync semantics: writes made while it is
// in flight, see [FS.DuringSync], stay pending); it does not make the file's
// name durable.
// [FS.SyncDir] makes a directory's entries durable. Files are inodes: an open
// File keeps working after its name is renamed or removed, as on Linux.
//
// Since its last Sync a file keeps the ordered list of its pending data
// operations (positional writes and truncates, including the truncation done
// by Create of an existing file). Since its last SyncDir a directory keeps the
// ordered list of its pending entry operations (create, mkdir, rename,
// remove). A rename within one directory is a single operation; a rename
// across directories is a pair of operations, one in each directory, linked
// so that they are durable together and kept or undone together by a crash
// (SyncDir of either directory makes both durable, together with the
// operations before the partner in its own directory).
//
// # Crash states
//
// [FS.CrashClone] returns a new, independent FS holding a state that a power
// cut at that moment could leave, without disturbing the original. With no
// randomness it is the strict state: exactly the durable data and durable
// entries. With a [rand.Rand] it chooses, deterministically from the seed:
//
//   - for each directory, a prefix of its pending entry operations to keep
//     (the first k in order, k uniform in [0, n]), as journaling filesystems
//     commit metadata in order; with [CrashOptions.AnyOrder], each one kept
//     or not independently (1/2 each), for code that must not rely on that
//     order. Linked
//     cross-directory renames are then made consistent by shortening prefixes
//     until each rename is kept in both directories or in neither. A file
//     whose entry is undone is gone (unless it has another durable entry).
//   - for each file, each pending operation in order: a truncate is applied
//     or not (1/2 each); a write is kept whole, dropped, or torn (1/3 each).
//     A torn write keeps or drops independently the part of the write falling
//     in each 512-byte-aligned sector, and independently (1/2) may keep the
//     file-size extension without the data (a zero-filled tail, as some
//     filesystems leave). Dropped bytes read back as whatever the earlier
//     (durable or kept) state held there, zeros beyond its size.
//
// Synced data is always intact. The clone has everything durable, no open
// files, no locks, no injected errors, no capacity limit and no hook.
//
// # Error injection
//
// [FS.InjectError] and [FS.InjectStickyError] make a future operation of a
// kind fail; [FS.SetCapacity] makes growing writes fail with ENOSPC; [FS.Count]
// counts operations; [FS.OnOp] calls a function after each successful
// mutating operation, from which a test may take crash clones. A failed write
// or truncate changes nothing (no partial prefix is written). A failed Sync
// leaves the pending operations pending: they may or may not survive a crash,
// and a later successful Sync makes them durable; [FS.SetSyncErrorLosesData]
// switches to the harsher Linux behaviour where they are never made durable.
// A failed SyncDir makes nothing durable.
package vfstest

import (
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seglog/journal/vfs"
)

// SectorSize is the granularity, in bytes, at which a random crash tears an
// unsynced write: each 512-byte-aligned piece survives or not independently.
const SectorSize = 512

// Op is a kind of filesystem operation, for error injection, counting and
// the [FS.OnOp] hook.
type Op int

// The kinds of operation. OpOpen covers both Open and OpenReadWrite; OpRead
// is File.ReadAt, OpWrite File.WriteAt, OpSync File.Sync, OpTruncate
// File.Truncate; the others are the FS methods of the same names (OpMkdir is
// MkdirAll).
const (
	OpCreate Op = iota + 1
	OpOpen
	OpWrite
	OpSync
	OpSyncDir
	OpRename
	OpRemove
	OpTruncate
	OpRead
	OpList
	OpLock
	OpMkdir
	OpStat
	numOps
)

var opNames = [...]string{
	OpCreate: "create", OpOpen: "open", OpWrite: "write", OpSync: "sync",
	OpSyncDir: "syncdir", OpRename: "rename", OpRemove: "remove",
	OpTruncate: "truncate", OpRead: "read", OpList: "list", OpLock: "lock",
	OpMkdir: "mkdir", OpStat: "stat",
}

// String returns the lower-case name of the operation kind.
func (op Op) String() string {
	if op > 0 && op < numOps {
		return opNames[op]
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// CrashOptions selects which crash state [FS.CrashClone] produces.
type CrashOptions struct {
	// Rand, if non-nil, chooses which unsynced operations survive (see the
	// package documentation). If nil the clone is the strict state: only
	// what was synced.
	Rand *rand.Rand
	// AnyOrder, with Rand, keeps any subset of each directory's pending
	// entry operations instead of a prefix: a filesystem that commits
	// metadata out of order, as POSIX allows between two directory syncs.
	// Code that needs one entry operation durable before another must sync
	// the directory between them; this model catches code that does not.
	AnyOrder bool
}

var _ vfs.FS = (*FS)(nil)

// FS is an in-memory filesystem implementing [vfs.FS]. It is safe for
// concurrent use; all operations are serialized by one mutex. The zero value
// is not usable: call [New].
type FS struct {
	mu       sync.Mutex
	root     *node
	dirs     []*node // every directory ever created, in creation order
	nextID   uint64
	locks    map[string]bool
	counts   [numOps]int
	inj      []injection
	capacity int64 // < 0: unlimited
	used     int64 // bytes in live files
	hook     func(Op, string)
	syncLoss bool              // a failed Sync discards the pending operations
	during   func(name string) // called by Sync while it is in flight
}

type injection struct {
	op     Op
	at     int // fire when counts[op] reaches at
	err    error
	sticky bool
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

// check counts an operation of kind op and returns the injected error, if
// any, that it must fail with.
func (fs *FS) check(op Op) error {
	fs.counts[op]++
	c := fs.counts[op]
	for i, in := range fs.inj {
		if in.op != op {
			continue
		}
		if in.sticky && c >= in.at {
			return in.err
		}
		if !in.sticky && c == in.at {
			fs.inj = slices.Delete(fs.inj, i, i+1)
			return in.err
		}
	}
	return nil
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

// do runs f with fs.mu held and, if it succeeded, reports op on name to the
// hook once the lock is released. It returns f's error as is.
func (fs *FS) do(op Op, name string, f func() error) error {
	fs.mu.Lock()
	err := f()
	hook := fs.hook
	fs.mu.Unlock()
	if err == nil && hook != nil {
		hook(op, name)
	}
	return err
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

// InjectError makes the n-th (1-based, counted from this call) future
// operation of kind op fail with err, once. The failed operation changes
// nothing (a failed Sync leaves its pending writes pending). Errors are
// returned wrapped in *os.PathError or *os.LinkError, so errors.Is(err, err)
// holds. It panics if n < 1.
func (fs *FS) InjectError(op Op, n int, err error) { fs.inject(op, n, err, false) }

// InjectStickyError is like [FS.InjectError] but the n-th and every later
// operation of kind op fail with err until [FS.ClearErrors].
func (fs *FS) InjectStickyError(op Op, n int, err error) { fs.inject(op, n, err, true) }

func (fs *FS) inject(op Op, n int, err error, sticky bool) {
	if n < 1 {
		panic("vfstest: InjectError with n < 1")
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.inj = append(fs.inj, injection{op: op, at: fs.counts[op] + n, err: err, sticky: sticky})
}

// ClearErrors removes every injected error that has not fired yet and every
// sticky one.
func (fs *FS) ClearErrors() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.inj = nil
}

// SetCapacity limits the total current size of live files (files with a name
// or an open handle) to bytes: a write or truncate that would grow that total
// beyond it fails with ENOSPC and changes nothing. Shrinking writes always
// succeed. A negative value removes the limit (the default).
func (fs *FS) SetCapacity(bytes int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.capacity = bytes
}

// SetSyncErrorLosesData selects what a failed (injected) Sync does to the
// file's pending operations. By default (false) they stay pending: a crash may
// keep or drop them and a later successful Sync makes them durable. With true
// they are discarded as on Linux after a failed fsync ("fsyncgate"): the
// current content still shows them, but they will never become durable (a
// strict crash loses them even after a later successful Sync), so only
// rewriting the data makes it durable again.
func (fs *FS) SetSyncErrorLosesData(on bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.syncLoss = on
}

// Used returns the total current size of live files, the quantity limited
// by [FS.SetCapacity].
func (fs *FS) Used() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.used
}

// Count returns how many operations of kind op have been attempted so far,
// including failed ones (but not those refused before reaching the
// filesystem, such as a write on a closed or read-only file).
func (fs *FS) Count(op Op) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if op <= 0 || op >= numOps {
		return 0
	}
	return fs.counts[op]
}

// OnOp installs fn (nil removes it) to be called after each successful
// mutating operation: OpCreate, OpWrite, OpSync, OpSyncDir, OpRename,
// OpRemove, OpTruncate, OpMkdir and OpLock, with the operation's cleaned path
// (the old name for a rename; the name the file was opened with for file
// operations). fn runs without the FS mutex held, on the goroutine of the
// operation, so it may call any FS method, typically [FS.CrashClone]. With
// concurrent operations the state fn observes may include later operations.
func (fs *FS) OnOp(fn func(op Op, name string)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.hook = fn
}

// DuringSync installs fn (nil removes it) to be called by every successful
// [vfs.File.Sync] while it is in flight: after the sync has taken the
// operations it covers (every write and truncate of the file completed
// before it began) and before it makes them durable, without the FS mutex,
// on the syncing goroutine, with the name the file was opened with. Writes
// made while fn runs are not covered by that sync. A test holds a sync in
// flight here to let other goroutines write and wait meanwhile, and to check
// that nothing claims durability before the sync that covers it completes.
func (fs *FS) DuringSync(fn func(name string)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.during = fn
}

// PendingWrites returns the number of unsynced writes (not counting
// truncates) of the file currently named name, or 0 if there is none.
func (fs *FS) PendingWrites(name string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(clean(name))
	if err != nil || n.isDir {
		return 0
	}
	c := 0
	for _, op := range n.pending {
		if !op.truncate {
			c++
		}
	}
	return c
}

// PendingDirOps returns the number of unsynced entry operations of the
// directory currently named dir, or 0 if there is none.
func (fs *FS) PendingDirOps(dir string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(clean(dir))
	if err != nil || !n.isDir {
		return 0
	}
	return len(n.dops)
}

// ReadFile returns the current content of the file name. It is a test helper:
// it is not counted, not subject to injected errors and calls no hook.
func (fs *FS) ReadFile(name string) ([]byte, error) {
	p := clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(p)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	if n.isDir {
		return nil, pathErr("read", p, syscall.EISDIR)
	}
	return slices.Clone(n.data), nil
}

// WriteFile makes name a file holding data, durably: it creates missing
// parent directories, creates or replaces the file's content in place, syncs
// it, and syncs the directories it changed (which makes all their pending
// entry operations durable). It is a test helper: not counted, not subject to
// injected errors or capacity, and calls no hook.
func (fs *FS) WriteFile(name string, data []byte) error {
	p := clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir, base := filepath.Split(p)
	if base == "" {
		return pathErr("open", p, syscall.EISDIR)
	}
	if err := fs.mkdirAll(dir); err != nil {
		return pathErr("mkdir", dir, err)
	}
	d, err := fs.lookup(dir)
	if err != nil {
		return pathErr("open", p, err)
	}
	n := d.entries[base]
	if n != nil && n.isDir {
		return pathErr("open", p, syscall.EISDIR)
	}
	if n == nil {
		n = fs.newFile()
		fs.record(d, "create "+base, dirChange{base, n})
	}
	fs.setData(n, slices.Clone(data))
	n.durable = slices.Clone(data)
	n.pending = nil
	// Sync every directory on the path that has pending operations.
	for _, dd := range fs.pathDirs(p) {
		if len(dd.dops) > 0 {
			commitThrough(dd, len(dd.dops)-1)
		}
	}
	return nil
}

// pathDirs returns the directories from the root down to the parent of p.
func (fs *FS) pathDirs(p string) []*node {
	ds := []*node{fs.root}
	d := fs.root
	elems := strings.Split(p, string(filepath.Separator))
	for _, c := range elems[:len(elems)-1] {
		if c == "" {
			continue
		}
		d = d.entries[c]
		ds = append(ds, d)
	}
	return ds
}

// CrashClone returns a new, independent FS holding a state a power cut at
// this moment could leave (see the package documentation), without changing
// fs. With a nil opts.Rand the state is the strict one: only synced data and
// synced directory entries. With a Rand the choice is a deterministic
// function of the Rand's state and fs's history. Everything in the clone is
// durable; it has no open files, locks, injected errors, capacity limit, hook
// or counts.
func (fs *FS) CrashClone(opts CrashOptions) *FS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	rng := opts.Rand
	kept := map[*dirOp]bool{}
	if rng != nil {
		for _, d := range fs.dirs {
			if len(d.dops) == 0 {
				continue
			}
			k := len(d.dops)
			if !opts.AnyOrder {
				k = rng.IntN(len(d.dops) + 1)
			}
			for i, op := range d.dops {
				kept[op] = i < k && (!opts.AnyOrder || rng.IntN(2) == 0)
			}
		}
		// Make cross-directory renames all-or-nothing: drop a half whose
		// partner is dropped (in order, with everything after it).
		for changed := true; changed; {
			changed = false
			for _, d := range fs.dirs {
				for i, op := range d.dops {
					if !kept[op] || op.partner == nil || kept[op.partner] {
						continue
					}
					changed = true
					for _, later := range d.dops[i:] {
						kept[later] = kept[later] && opts.AnyOrder && later != op
					}
				}
			}
		}
	}
	c := &cloner{dst: New(), kept: kept, rng: rng, memo: map[*node]*node{}}
	c.memo[fs.root] = c.dst.root
	c.fillDir(fs.root, c.dst.root)
	return c.dst
}

type cloner struct {
	dst  *FS
	kept map[*dirOp]bool // pending entry operations the crash keeps
	rng  *rand.Rand
	memo map[*node]*node
}

func (c *cloner) fillDir(d, nd *node) {
	ents := make(map[string]*node, len(d.durEntries))
	for k, v := range d.durEntries {
		ents[k] = v
	}
	for _, op := range d.dops {
		if c.kept[op] {
			applyChanges(ents, op.changes)
		}
	}
	names := make([]string, 0, len(ents))
	for name := range ents {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		child := ents[name]
		nc := c.memo[child]
		if nc == nil {
			if child.isDir {
				nc = c.dst.newDir()
				c.memo[child] = nc
				c.fillDir(child, nc)
			} else {
				nc = c.dst.newFile()
				c.memo[child] = nc
				nc.data = c.fileState(child)
				nc.durable = slices.Clone(nc.data)
				c.dst.used += int64(len(nc.data))
			}
		}
		if !nc.isDir {
			nc.nlink++
		}
		nd.entries[name] = nc
		nd.durEntries[name] = nc
	}
}

// fileState chooses the crash content of file n.
func (c *cloner) fileState(n *node) []byte {
	buf := slices.Clone(n.durable)
	if c.rng == nil {
		return buf
	}
	for _, op := range n.pending {
		if op.truncate {
			if c.rng.IntN(2) == 0 {
				buf = op.apply(buf)
			}
			continue
		}
		switch c.rng.IntN(3) {
		case 0: // whole
			buf = op.apply(buf)
		case 1: // dropped
		case 2: // torn
			end := op.off + int64(len(op.data))
			for s := op.off; s < end; {
				e := min((s/SectorSize+1)*SectorSize, end)
				if c.rng.IntN(2) == 0 {
					buf = fileOp{off: s, data: op.data[s-op.off : e-op.off]}.apply(buf)
				}
				s = e
			}
			if end > int64(len(buf)) && c.rng.IntN(2) == 0 {
				buf = resize(buf, end)
			}
		}
	}
	return buf
}

// String returns [FS.Dump].
func (fs *FS) String() string { return fs.Dump() }

// Dump describes the tree for failure messages: each current entry with its
// inode number, current and durable size and pending operations, each
// directory's pending entry operations, and entries that are durable but no
// longer current (marked "durable only").
func (fs *FS) Dump() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var b strings.Builder
	seen := map[*node]bool{}
	var walk func(d *node, p string)
	walk = func(d *node, p string) {
		seen[d] = true
		fmt.Fprintf(&b, "%s/ dir#%d", strings.TrimSuffix(p, "/"), d.id)
		if len(d.dops) > 0 {
			b.WriteString(" pending:")
			for _, op := range d.dops {
				fmt.Fprintf(&b, " [%s]", op.desc)
			}
		}
		b.WriteByte('\n')
		names := map[string]bool{}
		for name := range d.entries {
			names[name] = true
		}
		for name := range d.durEntries {
			names[name] = true
		}
		sorted := make([]string, 0, len(names))
		for name := range names {
			sorted = append(sorted, name)
		}
		slices.Sort(sorted)
		for _, name := range sorted {
			cp := filepath.Join(p, name)
			n, cur := d.entries[name], true
			if n == nil {
				n, cur = d.durEntries[name], false
			}
			mark := ""
			if !cur {
				mark = " (durable only)"
			} else if d.durEntries[name] != n {
				mark = " (entry not durable)"
			}
			if n.isDir {
				if seen[n] {
					fmt.Fprintf(&b, "%s/ dir#%d (seen)%s\n", cp, n.id, mark)
					continue
				}
				if mark != "" {
					fmt.Fprintf(&b, "%s%s:\n", cp, mark)
				}
				walk(n, cp)
				continue
			}
			fmt.Fprintf(&b, "%s file#%d size=%d durable=%d%s", cp, n.id, len(n.data), len(n.durable), mark)
			if len(n.pending) > 0 {
				b.WriteString(" pending:")
				for i, op := range n.pending {
					if i == 16 {
						fmt.Fprintf(&b, " ...(%d more)", len(n.pending)-i)
						break
					}
					fmt.Fprintf(&b, " %s", op)
				}
			}
			b.WriteByte('\n')
		}
	}
	walk(fs.root, "/")
	return b.String()
}
