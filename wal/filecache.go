package wal

import (
	"fmt"
	"sync"

	"github.com/seglog/journal/vfs"
)

// The Log's segment files, as pebble keeps its tables: a sealed segment's
// file is opened when read and stays open, with its read mapping, until
// more than Options.MaxOpenSegments files are open; then the least
// recently used one that nobody reads is closed (and unmapped). A log of
// any number of segments thus opens, reads and appends with a bounded
// number of descriptors.
//
// Who may close what:
//   - The active segment's file belongs to its writer: never closed by
//     the cache (until the rotation that seals it).
//   - A pinned file (a Get or an iteration reading it now, a rewrite
//     copying it) is not closed. A mapped Get pins its segment until it
//     is done with the mapping, so eviction never unmaps under it.
//   - A file is reopened by name only while it is the file of that name:
//     once retired (replaced by a compaction rewrite, deleted or cut by a
//     truncation) a fileRef is never reopened. A retired file that is
//     open when it is retired stays open (outside the bound) until the
//     last snapshot that may read it ends; one the cache had closed is
//     gone, and a snapshot reaching it gets an error wrapping ErrNotFound.
//     A rewrite pins the file it replaces from before it reads it until
//     it is retired, so a file compaction replaces is always open then.

// DefaultMaxOpenSegments is what Options.MaxOpenSegments 0 means.
const DefaultMaxOpenSegments = 64

// minOpenSegments is the smallest bound: the active segment's file and one
// sealed segment being read.
const minOpenSegments = 2

// fileCache holds a Log's segment files open (see above). Its fields and
// the fileRef fields marked so are guarded by mu, which may be taken with
// Log.mu held, never the other way round.
type fileCache struct {
	fs  vfs.FS
	max int

	mu     sync.Mutex
	open   int                   // files open: in lru, pinned, the writer's, retired ones kept
	refs   map[*fileRef]struct{} // every fileRef with a file open
	lru    fileRef               // sentinel: open files nobody reads, most recently used first
	closed bool                  // the Log is closed: nothing opens again
	// peak is the most files open at once, for tests.
	peak int
}

func newFileCache(fsys vfs.FS, max int) *fileCache {
	c := &fileCache{fs: fsys, max: max, refs: make(map[*fileRef]struct{})}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// adopt registers f, open already, as the file of segment name, pinned
// once for the caller (who unpins it). The active segment's file is never
// closed by the cache.
func (c *fileCache) adopt(name string, f vfs.File, active bool) *fileRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &fileRef{c: c, name: name, f: f, active: active, pins: 1}
	c.refs[r] = struct{}{}
	c.open++
	c.peak = max(c.peak, c.open)
	c.trim(c.max)
	return r
}

// reserve closes files until one more may be opened within the bound:
// before a file is opened outside pin (a new active segment, load's).
func (c *fileCache) reserve() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trim(c.max - 1)
}

// closedRef returns a fileRef for segment name whose file is not open.
func (c *fileCache) closedRef(name string) *fileRef {
	return &fileRef{c: c, name: name}
}

// pin returns r's file, opening it if needed, and keeps it open until the
// matching unpin.
func (c *fileCache) pin(r *fileRef) (vfs.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if r.f == nil {
		if r.gone {
			return nil, fmt.Errorf("%s: %w: the segment was removed or replaced while being read", r.name, ErrNotFound)
		}
		c.trim(c.max - 1)
		f, err := c.fs.Open(r.name)
		if err != nil {
			if isNotExist(err) {
				return nil, fmt.Errorf("%s: %w: the segment was removed while being read (%v)", r.name, ErrNotFound, err)
			}
			return nil, fmt.Errorf("open segment: %w", err)
		}
		r.f = f
		c.refs[r] = struct{}{}
		c.open++
		c.peak = max(c.peak, c.open)
	} else if r.pins == 0 && r.prev != nil {
		r.unlink()
	}
	r.pins++
	return r.f, nil
}

// unpin drops a pin taken by pin or adopt.
func (c *fileCache) unpin(r *fileRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.pins--
	if r.pins > 0 || r.f == nil {
		return
	}
	switch {
	case r.gone:
		c.closeRef(r)
	case !r.active && !r.kept:
		r.pushFront(&c.lru)
		c.trim(c.max)
	}
}

// sealed makes the file of a segment the writer no longer appends to
// evictable (a rotation sealed it).
func (c *fileCache) sealed(r *fileRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.active = false
	if r.f != nil && r.pins == 0 && !r.gone && !r.kept {
		r.pushFront(&c.lru)
		c.trim(c.max)
	}
}

// retire marks r's file as no longer the file of its name: it is never
// opened again. With readers, a file open now is kept open for them (until
// drop); without, or when it is not open, it is closed for good (when the
// last pin ends).
func (c *fileCache) retire(r *fileRef, readers bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if readers && r.f != nil && !r.gone {
		r.kept = true
		if r.prev != nil {
			r.unlink()
		}
		return
	}
	c.dropLocked(r)
}

// drop closes r's file for good (when its last pin ends).
func (c *fileCache) drop(r *fileRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(r)
}

func (c *fileCache) dropLocked(r *fileRef) {
	r.gone = true
	if r.prev != nil {
		r.unlink()
	}
	if r.pins == 0 && r.f != nil {
		c.closeRef(r)
	}
}

// mapping returns the read mapping of the first size bytes of sealed
// segment r, pinned by the caller, making it if needed; nil where the file
// system has none. The caller stops touching it before unpinning r.
func (c *fileCache) mapping(r *fileRef, size int64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !r.mapTried && r.f != nil {
		r.mapTried = true
		if rm, ok := r.f.(vfs.ReadMapper); ok && size > 0 {
			if m, err := rm.MapRead(size); err == nil {
				r.rm = m
			}
		}
	}
	if int64(len(r.rm)) < size {
		return nil
	}
	return r.rm[:size:size]
}

// trim closes the least recently used unpinned files until at most n are
// open or none is left to close.
func (c *fileCache) trim(n int) {
	for c.open > n && c.lru.prev != &c.lru {
		r := c.lru.prev
		r.unlink()
		c.closeRef(r)
	}
}

// closeRef unmaps and closes r's file; it may be opened again unless gone.
func (c *fileCache) closeRef(r *fileRef) error {
	if r.rm != nil {
		if rm, ok := r.f.(vfs.ReadMapper); ok {
			rm.Unmap(r.rm)
		}
		r.rm = nil
	}
	r.mapTried = false
	err := r.f.Close()
	r.f = nil
	delete(c.refs, r)
	c.open--
	return err
}

// closeAll closes every file (Log.Close, after waiting for mapped Gets):
// readers still holding one get ErrClosed from their next read.
func (c *fileCache) closeAll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var err error
	for r := range c.refs {
		r.gone = true
		if r.prev != nil {
			r.unlink()
		}
		if cerr := c.closeRef(r); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// stats returns how many files are open now and the most at once.
func (c *fileCache) stats() (open, peak int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.peak
}

func (r *fileRef) unlink() {
	r.prev.next, r.next.prev = r.next, r.prev
	r.prev, r.next = nil, nil
}

func (r *fileRef) pushFront(head *fileRef) {
	r.prev, r.next = head, head.next
	head.next.prev = r
	head.next = r
}
