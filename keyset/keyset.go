package keyset

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// Durability says when Add and Remove return relative to stable storage.
type Durability = segment.Durability

const (
	// Immediate: Add and Remove return only after the operation is on
	// stable storage (fdatasync of the delta). Concurrent operations share
	// fsyncs (group commit). After a crash the set is exactly the one
	// after the last operation that returned without error (an operation
	// in flight at the crash may or may not be there).
	Immediate = segment.Immediate
	// Eventual: Add and Remove return once the operation is written to the
	// operating system, without fsync. A process crash loses nothing; a
	// power cut or kernel crash may lose operations since the last Sync,
	// rewrite or Close, but always a suffix: the set after recovery is the
	// one after some prefix of the operations. Damage to data written since
	// the last sync cannot be told from a torn write and is cut on Open.
	Eventual = segment.Eventual
)

// ErrClosed is returned by Add, Remove, Sync and Close once the set is
// closed.
var ErrClosed = errors.New("keyset: closed")

// Options configure a Set. The zero value is valid.
type Options struct {
	// Durability of Add and Remove; the zero value is Immediate.
	Durability Durability
	// FS is the filesystem all file I/O goes through; nil means
	// vfs.Default().
	FS vfs.FS
	// Name is the prefix of the set's files inside the directory; "" means
	// "keys" (files keys.snap and keys.delta). It must not contain a path
	// separator.
	Name string
	// MaxKeySize bounds the length of keys given to Add and Remove; 0 means
	// 4096. It must be at most 1 MiB. It applies to new operations only:
	// longer keys already stored are loaded as they are.
	MaxKeySize int
	// Durable is how far the set's delta was durable when its owner last
	// recorded it (Set.Mark, kept outside the set's files: the root keeps
	// it in the log's manifest). Open and ReadKeys hold the files to it:
	// the files missing, older, or a delta of that generation ending
	// before End is damage, not a torn tail. The zero value checks nothing.
	Durable Mark
}

// Mark is how far a set's delta was durable: its generation and the end of
// its data (see Options.Durable and Set.Mark). End 0 means none recorded.
type Mark struct {
	Gen uint64
	End int64
}

// checkMark holds what the files hold (found: any of them; gen: the
// current generation; end: where the delta of that generation ends, 0
// when there is none) to m.
func checkMark(m Mark, found bool, gen uint64, end int64, deltaPath string) error {
	switch {
	case m.End == 0:
		return nil
	case !found:
		return segment.Corruptf(deltaPath, -1, "missing: it was recorded durable through %d bytes of generation %d", m.End, m.Gen)
	case gen < m.Gen:
		return segment.Corruptf(deltaPath, -1, "generation %d is older than the generation %d recorded (an old copy?)", gen, m.Gen)
	case gen == m.Gen && end < m.End:
		return segment.Corruptf(deltaPath, end, "data ends at %d, before the %d bytes recorded durable", end, m.End)
	}
	return nil
}

// Limits.
const (
	defaultMaxKeySize = 4096
	maxMaxKeySize     = 1 << 20
	// snapFramePayload is the target payload size of one snapshot frame.
	snapFramePayload = 1 << 20
	// minRewriteOps is the delta length below which no rewrite happens.
	minRewriteOps = 1024
	// maxDeltaBytes forces a rewrite before a delta nears the segment
	// format's offset limit, whatever the live set.
	maxDeltaBytes = 1 << 30
)

// rewriteStep names the points of a snapshot rewrite at which the test hook
// runs.
type rewriteStep int

const (
	stepTempWritten      rewriteStep = iota // N.snap.tmp written, not synced
	stepTempSynced                          // N.snap.tmp synced
	stepRenamed                             // renamed over N.snap
	stepDirSynced                           // directory synced
	stepDeltaTempCreated                    // N.delta.tmp created and synced
	stepDeltaRenamed                        // renamed over N.delta
	stepDeltaReset                          // renamed over N.delta, directory synced
	numSteps
)

func (s rewriteStep) String() string {
	return [...]string{"temp written", "temp synced", "renamed", "dir synced", "delta temp created", "delta renamed", "delta reset"}[s]
}

// Set is a durable set of keys. It is safe for concurrent use by many
// goroutines.
type Set struct {
	fs         vfs.FS
	dir        string
	snapPath   string
	deltaPath  string
	snapTmp    string
	deltaTmp   string
	durability Durability
	maxKey     int
	mark       Mark // Options.Durable

	// hook, if set (by tests), runs at each step of a rewrite; an error
	// stops the rewrite there as if the process had crashed, leaving the
	// set unusable.
	hook func(rewriteStep) error

	mu   sync.RWMutex
	cond *sync.Cond // on mu: sync completions, rewrite end, failures

	keys      map[string]struct{}
	w         *segment.Writer  // the delta
	gen       uint64           // generation of snapshot and delta
	deltaOps  int              // operations in the delta
	nextSeq   uint64           // FirstSeq of the next delta frame
	enc       *segment.Encoder // frames of the delta and snapshots
	written   uint64           // operations written, ever (this process)
	durable   uint64           // operations known durable
	syncing   int              // goroutines in the delta writer's group commit, without mu
	rewriting bool             // a rewrite waits for the sync to finish
	err       error            // sticky failure
	closed    bool

	// live is len(keys), stored under mu wherever keys changes, read by
	// Len without it. syncs counts the fdatasyncs of every delta's writer
	// since Open (see fsyncs). Both are atomics, read without mu, so a
	// caller's statistics never wait for a rewrite's I/O.
	live  atomic.Int64
	syncs segment.SyncCounter
	// rewrites counts snapshot rewrites, for tests.
	rewrites int
}

// Open opens the set stored in dir, which must exist (the caller creates
// and locks it; two Sets on the same files corrupt them). It loads the
// snapshot, replays the delta, cuts a torn tail of the delta (a write in
// flight at a crash: truncated and synced) and removes temporaries of an
// interrupted rewrite. With no files it starts an empty set. The delta's
// bytes that no recorded fsync covers are written again and synced, and the
// directory is synced, so that what Open loaded is durable even if an fsync
// failed earlier in the same boot (see load).
//
// Damage that a torn write cannot explain — a bad checksum in the snapshot
// or in delta data that was once synced, a snapshot without its delta, a
// delta of a newer generation than the snapshot (snapshot lost) — gives
// an error wrapping segment.ErrCorrupt naming the file, and Open then
// modifies nothing. Invalid options give an error wrapping
// segment.ErrInvalid.
func Open(dir string, opts Options) (*Set, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default()
	}
	name := opts.Name
	if name == "" {
		name = "keys"
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("keyset: name %q: %w", name, segment.ErrInvalid)
	}
	maxKey := opts.MaxKeySize
	if maxKey == 0 {
		maxKey = defaultMaxKeySize
	}
	if maxKey < 0 || maxKey > maxMaxKeySize {
		return nil, fmt.Errorf("keyset: MaxKeySize %d not in [1, %d]: %w", opts.MaxKeySize, maxMaxKeySize, segment.ErrInvalid)
	}
	if opts.Durability > Eventual {
		return nil, fmt.Errorf("keyset: durability %d: %w", opts.Durability, segment.ErrInvalid)
	}
	s := &Set{
		fs:         fs,
		dir:        dir,
		snapPath:   filepath.Join(dir, name+".snap"),
		deltaPath:  filepath.Join(dir, name+".delta"),
		snapTmp:    filepath.Join(dir, name+".snap.tmp"),
		deltaTmp:   filepath.Join(dir, name+".delta.tmp"),
		durability: opts.Durability,
		maxKey:     maxKey,
		mark:       opts.Durable,
	}
	s.cond = sync.NewCond(&s.mu)
	s.enc = segment.NewEncoder(nil)
	if err := s.load(name); err != nil {
		return nil, err
	}
	s.live.Store(int64(len(s.keys)))
	return s, nil
}

// ReadKeys reads the set named name (see Options.Name; "" means the
// default) stored in dir without taking any lock and without changing any
// file, for tools that inspect a set another process has open. It checks
// what Open checks; a torn tail of the delta (a write in flight) is left
// out, as Open would cut it. found is false when neither file exists. fsys
// nil means the operating system's.
//
// The delta is opened before the snapshot: a rewrite renames the new
// snapshot into place before the new delta, so the delta read is never
// newer than the snapshot read after it, and an older one is wholly
// contained in the snapshot and ignored.
func ReadKeys(fsys vfs.FS, dir, name string) (keys map[string]struct{}, found bool, err error) {
	return ReadKeysMarked(fsys, dir, name, Mark{})
}

// ReadKeysMarked is ReadKeys holding the files to a recorded mark, as Open
// does with Options.Durable.
func ReadKeysMarked(fsys vfs.FS, dir, name string, mark Mark) (keys map[string]struct{}, found bool, err error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	if name == "" {
		name = "keys"
	}
	deltaPath, snapPath := filepath.Join(dir, name+".delta"), filepath.Join(dir, name+".snap")
	delta, derr := fsys.Open(deltaPath)
	if derr != nil && !errors.Is(derr, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("keyset: open %s: %w", deltaPath, derr)
	}
	if delta != nil {
		defer delta.Close()
	}
	snap, serr := fsys.Open(snapPath)
	if serr != nil && !errors.Is(serr, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("keyset: open %s: %w", snapPath, serr)
	}
	if snap != nil {
		defer snap.Close()
	}
	if delta == nil && snap == nil {
		return nil, false, checkMark(mark, false, 0, 0, deltaPath)
	}
	keys = map[string]struct{}{}
	var gen uint64 // with no snapshot the generation is 0
	if snap != nil {
		if keys, gen, err = readSnapshot(snap, snapPath); err != nil {
			return nil, true, err
		}
	}
	if delta == nil {
		return nil, true, fmt.Errorf("keyset: %s: %w: snapshot of generation %d has no delta file", deltaPath, segment.ErrCorrupt, gen)
	}
	res, stale, _, err := replayDelta(delta, deltaPath, gen, keys)
	if err != nil {
		return nil, true, err
	}
	if stale {
		res.End = 0
	}
	if err := checkMark(mark, true, gen, res.End, deltaPath); err != nil {
		return nil, true, err
	}
	return keys, true, nil
}

// load reads the files, verifying everything before changing anything.
func (s *Set) load(name string) error {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return fmt.Errorf("keyset: list %s: %w", s.dir, err)
	}
	has := func(n string) bool {
		for _, x := range names {
			if x == n {
				return true
			}
		}
		return false
	}
	haveSnap, haveDelta := has(name+".snap"), has(name+".delta")

	// Phase 1: read and verify, read-only.
	s.keys = make(map[string]struct{})
	if haveSnap {
		if err := s.loadSnapshot(); err != nil {
			return err
		}
	}
	var (
		df       vfs.File
		res      segment.ScanResult
		freshDel bool // create a new, empty delta of generation s.gen
	)
	switch {
	case !haveDelta && haveSnap:
		return fmt.Errorf("keyset: %s: %w: snapshot of generation %d has no delta file", s.deltaPath, segment.ErrCorrupt, s.gen)
	case !haveDelta:
		freshDel = true
	default:
		df, res, freshDel, err = s.loadDelta()
		if err != nil {
			return err
		}
	}
	end := res.End
	if freshDel {
		end = 0 // a stale delta's operations are in the snapshot
	}
	if err := checkMark(s.mark, haveSnap || haveDelta, s.gen, end, s.deltaPath); err != nil {
		if df != nil {
			df.Close()
		}
		return fmt.Errorf("keyset: %w", err)
	}

	// Phase 2: repair.
	fail := func(err error) error {
		if df != nil {
			df.Close()
		}
		return err
	}
	dirty := false
	for _, tmp := range []string{s.snapTmp, s.deltaTmp} {
		if has(filepath.Base(tmp)) {
			if err := s.fs.Remove(tmp); err != nil {
				return fail(fmt.Errorf("keyset: remove leftover %s: %w", tmp, err))
			}
			dirty = true
		}
	}
	if freshDel {
		if df != nil {
			df.Close()
			df = nil
		}
		w, err := s.newDelta(s.gen)
		if err != nil {
			return err
		}
		s.setDelta(w)
		s.deltaOps, s.nextSeq = 0, 1
		dirty = false // newDelta synced the directory
	} else {
		// Write again what no fsync confirmed (a failed fsync may have
		// dropped pages this process read back, leaving a hole in front of
		// synced frames after a power cut) and cut a torn tail: see
		// segment.Recover.
		size, err := df.Size()
		if err != nil {
			return fail(fmt.Errorf("keyset: size of %s: %w", s.deltaPath, err))
		}
		w, err := segment.Recover(df, s.deltaPath, s.gen, res.MaxSynced, res.End, size, 0, res.Tail)
		if err != nil {
			return fail(fmt.Errorf("keyset: %w", err))
		}
		// The directory entries read above may come from renames whose
		// directory fsync failed earlier in this boot (a rewrite that
		// failed at its last step): make them durable before anything is
		// acknowledged on top of them.
		dirty = true
		s.setDelta(w)
		s.nextSeq = 1
		if res.Frames > 0 {
			s.nextSeq = res.Last + 1
		}
	}
	if dirty {
		if err := s.fs.SyncDir(s.dir); err != nil {
			s.w.Close()
			return fmt.Errorf("keyset: sync directory %s: %w", s.dir, err)
		}
	}
	return nil
}

// loadSnapshot reads the snapshot into s.keys and sets s.gen.
func (s *Set) loadSnapshot() error {
	f, err := s.fs.Open(s.snapPath)
	if err != nil {
		return fmt.Errorf("keyset: open %s: %w", s.snapPath, err)
	}
	defer f.Close()
	s.keys, s.gen, err = readSnapshot(f, s.snapPath)
	return err
}

// readSnapshot reads the snapshot file f (path, for errors): its keys and
// generation.
func readSnapshot(f vfs.File, path string) (map[string]struct{}, uint64, error) {
	fh, size, err := readHeader(f, path)
	if err != nil {
		return nil, 0, err
	}
	if fh.Base > uint64(size) {
		return nil, 0, fmt.Errorf("keyset: %s: %w: header claims %d keys in %d bytes", path, segment.ErrCorrupt, fh.Base, size)
	}
	keys := make(map[string]struct{}, fh.Base)
	var n uint64
	res, err := segment.ScanEntries(f, size, path, func(off int64, e segment.Entry) error {
		if len(e.Key) == 0 || e.Tombstone || len(e.Value) != 0 {
			return segment.Corruptf(path, off, "malformed snapshot entry")
		}
		keys[string(e.Key)] = struct{}{}
		n++
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("keyset: %w", err)
	}
	// A snapshot is synced before it is renamed into place, so anything but
	// a clean end is damage, as is a key count that does not match.
	if res.Tail != segment.TailClean {
		return nil, 0, fmt.Errorf("keyset: %s: %w: snapshot does not end cleanly: %v", path, segment.ErrCorrupt, res.Damage)
	}
	if n != fh.Base || uint64(len(keys)) != n {
		return nil, 0, fmt.Errorf("keyset: %s: %w: snapshot holds %d entries, %d distinct, header says %d", path, segment.ErrCorrupt, n, len(keys), fh.Base)
	}
	return keys, fh.ID, nil
}

// loadDelta opens the delta and, if it belongs to the snapshot's
// generation, replays it into s.keys. fresh reports a stale delta that must
// be replaced.
func (s *Set) loadDelta() (vfs.File, segment.ScanResult, bool, error) {
	f, err := s.fs.OpenReadWrite(s.deltaPath)
	if err != nil {
		return nil, segment.ScanResult{}, false, fmt.Errorf("keyset: open %s: %w", s.deltaPath, err)
	}
	res, fresh, err := s.replayDelta(f)
	if err != nil {
		f.Close()
		return nil, res, false, err
	}
	return f, res, fresh, nil
}

func (s *Set) replayDelta(f vfs.File) (segment.ScanResult, bool, error) {
	res, stale, ops, err := replayDelta(f, s.deltaPath, s.gen, s.keys)
	if err == nil && !stale {
		s.deltaOps = ops
	}
	return res, stale, err
}

// replayDelta applies the operations of the delta file f (path, for
// errors) to keys if it belongs to generation gen; stale reports a delta of
// an older generation, left over from a rewrite interrupted after the
// snapshot was renamed (the snapshot holds all of its operations), which
// is not read. A torn tail ends the replay (see res).
func replayDelta(f vfs.File, path string, gen uint64, keys map[string]struct{}) (res segment.ScanResult, stale bool, ops int, err error) {
	fh, size, err := readHeader(f, path)
	if err != nil {
		return res, false, 0, err
	}
	switch {
	case fh.ID > gen:
		return res, false, 0, fmt.Errorf("keyset: %s: %w: delta generation %d is newer than snapshot generation %d (snapshot lost?)", path, segment.ErrCorrupt, fh.ID, gen)
	case fh.ID < gen:
		return res, true, 0, nil
	}
	res, err = segment.ScanEntries(f, size, path, func(off int64, e segment.Entry) error {
		if len(e.Key) == 0 {
			return segment.Corruptf(path, off, "empty key")
		}
		if e.Tombstone {
			delete(keys, string(e.Key))
		} else {
			keys[string(e.Key)] = struct{}{}
		}
		ops++
		return nil
	})
	if err != nil {
		return res, false, 0, fmt.Errorf("keyset: %w", err)
	}
	return res, false, ops, nil
}

// readHeader reads and validates the file header of f and returns it with
// the file's size.
func readHeader(f vfs.File, name string) (segment.FileHeader, int64, error) {
	size, err := f.Size()
	if err != nil {
		return segment.FileHeader{}, 0, fmt.Errorf("keyset: size of %s: %w", name, err)
	}
	fh, err := segment.ReadFileHeader(f, size, name)
	if err != nil {
		return fh, 0, fmt.Errorf("keyset: %w", err)
	}
	return fh, size, nil
}

// newDelta creates an empty delta of generation gen durably: header written
// to N.delta.tmp and synced, renamed over N.delta, directory synced.
func (s *Set) newDelta(gen uint64) (*segment.Writer, error) {
	w, err := segment.Create(s.fs, s.deltaTmp, segment.FileHeader{ID: gen}, 0)
	if err != nil {
		return nil, fmt.Errorf("keyset: %w", err)
	}
	if err := s.install(w, s.deltaTmp, s.deltaPath, stepDeltaTempCreated, stepDeltaRenamed); err != nil {
		w.Close()
		return nil, fmt.Errorf("keyset: %w", err)
	}
	return segment.Resume(w.File(), s.deltaPath, gen, w.Offset(), 0), nil
}

// install puts the file w wrote at tmp in place at path, durably: synced,
// renamed over path, the directory synced. The test hook runs after the
// sync (synced) and after the rename (renamed). Both of the set's files,
// snapshot and delta, are made so.
func (s *Set) install(w *segment.Writer, tmp, path string, synced, renamed rewriteStep) error {
	if err := w.SyncAll(); err != nil {
		return err
	}
	if err := s.step(synced); err != nil {
		return err
	}
	if err := s.fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := s.step(renamed); err != nil {
		return err
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", s.dir, err)
	}
	return nil
}

func (s *Set) step(st rewriteStep) error {
	if s.hook == nil {
		return nil
	}
	return s.hook(st)
}

func (s *Set) checkKey(key string) error {
	if len(key) == 0 || len(key) > s.maxKey {
		return fmt.Errorf("keyset: key of %d bytes (allowed 1 to %d): %w", len(key), s.maxKey, segment.ErrInvalid)
	}
	return nil
}

// usable reports why the set cannot take operations. Callers hold mu.
func (s *Set) usable() error {
	if s.closed {
		return ErrClosed
	}
	return s.err
}

// fail makes err sticky. Callers hold mu.
func (s *Set) fail(err error) error {
	if s.err == nil {
		s.err = fmt.Errorf("keyset: unusable until reopened: %w", err)
	}
	s.cond.Broadcast()
	return s.err
}

// Add inserts key. With Immediate durability it returns once the key is on
// stable storage; with Eventual once it is written to the OS (see
// [Durability] for what survives a crash). Adding a key already present
// writes nothing, but still waits, under Immediate, until the state it
// observed is durable. An empty key or one longer than MaxKeySize gives an
// error wrapping segment.ErrInvalid and writes nothing. After a failed write
// or sync every Add, Remove and Sync returns an error wrapping the cause
// until the set is reopened; after Close they return ErrClosed.
func (s *Set) Add(key string) error { return s.op(key, false) }

// Remove deletes key, with the same durability, error and no-op contract
// as Add: removing an absent key writes nothing and is not an error.
func (s *Set) Remove(key string) error { return s.op(key, true) }

func (s *Set) op(key string, remove bool) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	_, present := s.keys[key]
	if present != remove {
		// No change; under Immediate the observed state must be durable.
		if s.durability == Immediate {
			return s.waitDurable(s.written)
		}
		return nil
	}
	frame, err := s.enc.Batch([]segment.Record{{Key: []byte(key), Tombstone: remove}}, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	frame.SetFirst(s.nextSeq)
	if _, err := s.w.WriteFrame(&frame); err != nil {
		// The frame may be partly written: stop here, Open cuts it.
		return s.fail(err)
	}
	s.nextSeq++
	s.deltaOps++
	s.written++
	seq := s.written
	if remove {
		delete(s.keys, key)
	} else {
		s.keys[key] = struct{}{}
	}
	s.live.Store(int64(len(s.keys)))
	if !s.rewriting && (s.deltaOps > max(2*len(s.keys), minRewriteOps) || s.w.Offset() > maxDeltaBytes) {
		// The rewrite makes this operation durable too.
		return s.rewrite()
	}
	if s.durability == Immediate {
		return s.waitDurable(seq)
	}
	return nil
}

// Mark is the delta's generation and the end of its data: durable once
// Sync or Close returned (and, under Immediate, once the Add or Remove
// that wrote it did). After Close it is what Close left.
func (s *Set) Mark() Mark {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Mark{Gen: s.gen, End: s.w.Offset()}
}

// fsyncs is the number of group-commit fdatasyncs of the deltas since
// Open. It takes no lock.
func (s *Set) fsyncs() int { return int(s.syncs.Load().Count) }

// setDelta makes w the delta's writer, counting its fdatasyncs with its
// predecessors'. Called with mu held (or before s is shared).
func (s *Set) setDelta(w *segment.Writer) {
	w.CountSyncsIn(&s.syncs)
	s.w = w
}

// waitDurable returns once operation seq is durable, syncing the delta
// itself if no other goroutine is (group commit). Callers hold mu; it is
// released while syncing or waiting.
func (s *Set) waitDurable(seq uint64) error {
	for s.durable < seq {
		if s.err != nil {
			return s.err
		}
		if s.closed {
			return ErrClosed
		}
		if s.rewriting {
			s.cond.Wait()
			continue
		}
		target, off, w := s.written, s.w.Offset(), s.w
		s.syncing++
		s.mu.Unlock()
		err := w.Sync(off)
		s.mu.Lock()
		s.syncing--
		if err != nil {
			return s.fail(err)
		}
		s.durable = max(s.durable, target)
		s.cond.Broadcast()
	}
	return nil
}

// rewrite writes a new snapshot and starts an empty delta (see the package
// documentation). On success every operation written so far is durable.
// Callers hold mu.
func (s *Set) rewrite() error {
	s.rewriting = true
	for s.syncing > 0 {
		s.cond.Wait() // the sync in flight uses the current delta
	}
	s.rewriting = false
	defer s.cond.Broadcast()
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.writeSnapshot(); err != nil {
		return s.fail(err)
	}
	w, err := s.newDelta(s.gen + 1)
	if err != nil {
		return s.fail(err)
	}
	if err := s.step(stepDeltaReset); err != nil {
		w.Close()
		return s.fail(err)
	}
	s.w.Close() // its data is in the new snapshot
	s.setDelta(w)
	s.gen++
	s.deltaOps = 0
	s.nextSeq = 1
	s.durable = s.written
	s.rewrites++
	return nil
}

// writeSnapshot writes the set to N.snap.tmp, syncs it, renames it over
// N.snap and syncs the directory.
func (s *Set) writeSnapshot() error {
	fh := segment.FileHeader{ID: s.gen + 1, Base: uint64(len(s.keys))}
	w, err := segment.CreateBuffered(s.fs, s.snapTmp, fh, snapFramePayload)
	if err != nil {
		return err
	}
	defer func() {
		if w != nil {
			w.Close()
		}
	}()
	if err := writeKeys(w, s.enc, maps.Keys(s.keys)); err != nil {
		return err
	}
	if err := s.step(stepTempWritten); err != nil {
		return err
	}
	// The snapshot's rename must be durable before the delta's: see the
	// package documentation.
	if err := s.install(w, s.snapTmp, s.snapPath, stepTempSynced, stepRenamed); err != nil {
		return err
	}
	err = w.Close()
	w = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", s.snapPath, err)
	}
	return s.step(stepDirSynced)
}

const binaryMaxVarintLen = 10

// writeKeys writes keys to the snapshot file w as frames of at most about
// snapFramePayload bytes, numbered 0, 1, 2, ... (see the package
// documentation), and flushes w.
func writeKeys(w *segment.Writer, enc *segment.Encoder, keys iter.Seq[string]) error {
	var (
		recs  []segment.Record
		first uint64
		size  int
	)
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		frame, err := enc.Batch(recs, 0)
		if err != nil {
			return err
		}
		frame.SetFirst(first)
		if _, err := w.WriteFrame(&frame); err != nil {
			return err
		}
		first += uint64(len(recs))
		recs, size = recs[:0], 0
		return nil
	}
	for k := range keys {
		if len(recs) > 0 && size+len(k)+2*binaryMaxVarintLen > snapFramePayload {
			if err := flush(); err != nil {
				return err
			}
		}
		// The encoder copies the key; the string is lent, not copied.
		recs = append(recs, segment.Record{Key: unsafe.Slice(unsafe.StringData(k), len(k))})
		size += len(k) + 2*binaryMaxVarintLen
	}
	if err := flush(); err != nil {
		return err
	}
	return w.Flush()
}

// Has reports whether key is in the set: the in-memory state, including
// operations not yet durable. After Close it reports false.
func (s *Set) Has(key string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.keys[key]
	return ok
}

// Keys returns the keys in the set sorted ascending by byte order, in a new
// slice. After Close it returns nil.
func (s *Set) Keys() []string {
	s.mu.RLock()
	if s.keys == nil {
		s.mu.RUnlock()
		return nil
	}
	keys := s.keyList()
	s.mu.RUnlock()
	slices.Sort(keys)
	return keys
}

// keyList returns the keys in a new slice, unordered. Callers hold mu.
func (s *Set) keyList() []string {
	keys := make([]string, 0, len(s.keys))
	for k := range s.keys {
		keys = append(keys, k)
	}
	return keys
}

// Len is the number of keys in the set; 0 after Close. It takes no lock:
// it never waits for an operation or a rewrite in progress.
func (s *Set) Len() int { return int(s.live.Load()) }

// Syncs is the number of fdatasyncs of the delta since Open: group
// commits under Immediate, Sync calls that had something to write. Rewrites
// (snapshots) are not counted. It takes no lock.
func (s *Set) Syncs() int { return s.fsyncs() }

// Sync makes every operation that has returned durable, whatever the
// Durability. It returns the sticky error after a failure, ErrClosed after
// Close.
func (s *Set) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	return s.waitDurable(s.written)
}

// Close makes every operation durable, as Sync, then closes the files. The
// files are closed even if that fails, and the error is returned. Later
// calls of Add, Remove, Sync and Close return ErrClosed.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	err := s.usable()
	if err == nil {
		err = s.waitDurable(s.written)
	}
	for s.syncing > 0 {
		s.cond.Wait() // a failed sync elsewhere may still be in flight
	}
	if s.closed { // closed while waiting
		return ErrClosed
	}
	s.closed = true
	if cerr := s.w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("keyset: close %s: %w", s.deltaPath, cerr)
	}
	s.keys = nil
	s.live.Store(0)
	s.enc = nil
	s.cond.Broadcast()
	return err
}
