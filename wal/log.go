package wal

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/index"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// Record is one entry to append.
type Record struct {
	Key   []byte
	Value []byte
	// Tombstone marks a record that, once compacted, removes every entry
	// with the same key and a sequence number up to its own (itself too).
	Tombstone bool
}

// Batch is a group of records appended atomically: after any crash either
// all of them are in the log or none is. They get contiguous sequence
// numbers and share Time. Append copies the records' bytes and keeps no
// reference to them.
type Batch struct {
	Time    int64 // caller's timestamp, stored with the batch (Unix ms by convention)
	Records []Record
}

// Log is an open log directory. It is safe for concurrent use.
//
// Locking. The first group of fields never changes after Open. mu guards
// every other field unless its comment says otherwise, and cond waits on
// it. Files are changed with mu held, with two exceptions that release it
// and mark themselves instead: the group commit's fdatasync (syncing) and
// the compactor's copy of a sealed segment (rewriting); Close waits for
// both. Readers take a snapshot under mu and read files without it. cptMu
// may be taken with mu held, never the other way round.
type Log struct {
	// Set by Open, then read-only.
	dir  string
	opts Options
	fs   vfs.FS
	log  *slog.Logger
	lock io.Closer

	mu        sync.Mutex
	cond      *sync.Cond // on mu; broadcast when a sync, a seal, a rewrite or Close ends
	closed    bool
	closeDone bool // Close has sealed (or given up) and closed the files
	// failed is sticky: after a failed write or sync nothing more is
	// appended, because the file may no longer hold what we think it holds.
	failed error

	segs       []*seg // sealed segments then the active one; replaced, never mutated
	active     *segment.Writer
	idx        *index.Index  // readers use a Clone taken under mu
	nextSeq    uint64        // next sequence number to assign
	front      uint64        // records below it are truncated (see bounds)
	cuts       atomic.Uint64 // not under mu: TruncateBack calls that cut files, for readers
	visibleSeq uint64        // readers see sequence numbers below this
	syncedSeq  uint64        // every sequence number below this is durable
	syncing    bool          // a goroutine is in fdatasync on behalf of all, without mu

	// Compaction (nil cs: off). dead is what readers skip; deadQ holds
	// applied removals waiting for their batch to become visible.
	cs         *compactor.State
	dead       compactor.DeadSet
	deadQ      []queuedDead
	rewriting  bool           // a rewrite pass (background or Compact) or seal work runs
	bg         sync.WaitGroup // not under mu: the background worker, which Close waits for
	retired    []*seg         // replaced segments whose files readers may still use
	cptMu      sync.Mutex     // orders checkpoint writes; guards cptThrough
	cptThrough uint64         // under cptMu: what the checkpoint file on disk covers
	rotateNext bool           // seal the active segment at the next append
	staleIdx   bool           // the active segment has an index file from an earlier Close
	// staleIdxSize: the active segment's size when opened if its index
	// file was read and matched it, else -1.
	staleIdxSize int64
	sealQ        []sealJob // sealed segments whose index and checkpoint are not written yet
	inlineDue    bool      // Options.Inline: background work to run before Append returns
	// lastApplyUpto: the batches below it include every one whose append
	// applied compaction.
	lastApplyUpto uint64

	bufPool sync.Pool // not under mu: frame buffers
}

// Open opens the log in dir, creating dir and its parents if needed, and
// takes an exclusive lock on it: a second Open of the same directory, from
// this process or another, fails at once with an error wrapping ErrLocked.
//
// Recovery: a torn write at the end of the newest segment (a batch in
// flight at a crash) is cut off and the file synced. Damage anywhere else
// fails Open with an error wrapping ErrCorrupt that names the file and
// offset, and nothing is modified. Sealed segments with an intact index
// file are not re-read; their checksums are verified when read.
func Open(dir string, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	fsys := opts.FS
	if err := mkdirDurable(fsys, dir); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	lock, err := fsys.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	l := &Log{dir: dir, opts: opts, fs: fsys, log: opts.Logger, lock: lock}
	l.cond = sync.NewCond(&l.mu)
	if err := l.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) recover() error {
	b, err := readBounds(l.fs, l.dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", l.dir, err)
	}
	if b.cut != nil {
		// A TruncateBack was made durable: finish it before reading.
		if err := applyCut(l.fs, l.dir, b.cut); err != nil {
			return fmt.Errorf("open %s: finish truncation: %w", l.dir, err)
		}
	}
	ld, err := load(l.fs, l.dir, false, b.front)
	if err != nil {
		return fmt.Errorf("open %s: %w", l.dir, err)
	}
	if err := l.removeTemps(ld.names); err != nil {
		ld.close()
		return err
	}
	if l.opts.CompactionThreshold > 0 {
		cs, onDisk, err := buildState(l.fs, l.dir, ld)
		if err != nil {
			ld.close()
			return fmt.Errorf("open %s: compaction state: %w", l.dir, err)
		}
		l.cs = cs
		l.dead = cs.Dead()
		// Only what the checkpoint file covers: segments sealed after it
		// are not rewritten until a new checkpoint covers them.
		l.cptThrough = onDisk
		ld.nextSeq = max(ld.nextSeq, cs.Through())
	}
	l.front = b.front
	if err := l.install(ld); err != nil {
		return err
	}
	return l.finishTruncation(b)
}

// install makes what load found the log's state, with the newest segment
// (cut after its last valid frame) as the active one. Called before l is
// shared, or with l.mu held and every previous file retired.
func (l *Log) install(ld *loaded) error {
	l.staleIdx = false
	l.idx = ld.idx
	l.nextSeq = ld.nextSeq
	l.visibleSeq = ld.nextSeq
	l.syncedSeq = ld.nextSeq
	if len(ld.segs) == 0 {
		l.segs = nil
		if err := l.createSegment(1); err != nil {
			return err
		}
		return nil
	}
	last := ld.segs[len(ld.segs)-1]
	if ld.badLast {
		// Recreate it: it never held a frame.
		last.f.Close()
		l.segs = ld.segs[:len(ld.segs)-1]
		l.log.Warn("wal: recreating segment with damaged header left by a crash", "file", last.name)
		if err := l.createSegment(last.id); err != nil {
			ld.segs = l.segs
			ld.close()
			l.segs = nil
			return err
		}
		return nil
	}
	if ld.torn != nil {
		l.log.Warn("wal: cutting torn write at end of log", "file", last.name, "offset", last.size, "damage", ld.torn)
	}
	// Write again what no fsync confirmed: after a failed fsync the kernel
	// may have dropped those pages while still serving them from memory,
	// and a later fsync would not write them. Then cut anything after the
	// last valid frame (a torn write, or space reserved earlier) and sync,
	// so the offsets recorded as durable in new frames are true.
	from := max(ld.lastSynced, segment.FileHeaderSize)
	if from < last.size {
		if err := segment.RewriteUnconfirmed(last.f, from, last.size); err != nil {
			ld.close()
			return fmt.Errorf("rewrite %s from %d: %w", last.name, from, err)
		}
	}
	// A segment sealed by Close (synced, cut to its frames) needs neither:
	// skipping them keeps Open free of fsyncs.
	if from < last.size || ld.lastFileSize != last.size {
		if err := last.f.Truncate(last.size); err != nil {
			ld.close()
			return fmt.Errorf("cut %s at %d: %w", last.name, last.size, err)
		}
		if err := last.f.Sync(); err != nil {
			ld.close()
			return fmt.Errorf("sync %s: %w", last.name, err)
		}
	}
	// The last segment's index file (written when it was sealed at Close)
	// goes stale with the first append. That is harmless while the segment
	// is the newest (Open rescans it), not once a newer one exists, where a
	// stale index means damage: rotate removes it before creating the next
	// segment, in the same directory sync.
	l.staleIdx = indexExists(l.fs, l.dir, last.id)
	l.staleIdxSize = -1
	if ld.lastIndexed {
		l.staleIdxSize = last.size
	}
	l.segs = ld.segs
	l.active = segment.Resume(last.f, last.name, last.id, last.size, l.opts.SegmentSize)
	return nil
}

// removeTemps deletes the log's own temporary files left by a crash (index
// files, rewritten segments, checkpoints); other files in the directory,
// such as the command ID set's, are not the log's to touch. names is
// the directory listing load made.
func (l *Log) removeTemps(names []string) error {
	segs := make(map[uint64]bool)
	for _, n := range names {
		if id, ok := parseSegName(n); ok {
			segs[id] = true
		}
	}
	for _, n := range names {
		if isLeftoverTemp(n, segs) {
			if err := l.fs.Remove(filepath.Join(l.dir, n)); err != nil && !isNotExist(err) {
				return fmt.Errorf("remove %s: %w", n, err)
			}
		}
	}
	return nil
}

// createSegment creates segment id as the new active segment, with the
// directory synced so the file survives a power cut before anything in it
// is acknowledged. Called with l.mu held (or before l is shared).
func (l *Log) createSegment(id uint64) error {
	if id > maxSegmentID {
		return fmt.Errorf("%w: segment number %d out of range", ErrInvalid, id)
	}
	name := segName(l.dir, id)
	w, err := segment.Create(l.fs, name, segment.FileHeader{ID: id, Base: l.nextSeq}, l.opts.SegmentSize)
	if err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		w.Close()
		return fmt.Errorf("sync directory %s: %w", l.dir, err)
	}
	l.active = w
	l.segs = append(slices.Clip(l.segs), &seg{id: id, name: name, f: w.File(), ref: &fileRef{}, base: l.nextSeq, size: segment.FileHeaderSize})
	return nil
}

// seal makes the active segment durable and final: synced, cut to its
// data (returning reserved space) and indexed. Called with l.mu held.
func (l *Log) seal() error {
	if err := l.sealData(); err != nil {
		return err
	}
	return l.writeSealMeta(l.sealJob())
}

// sealData makes the active segment's data durable and cuts the file to
// it. Called with l.mu held.
func (l *Log) sealData() error {
	w := l.active
	if err := w.File().Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", w.Name(), err)
	}
	l.waitMapReads(l.segs[len(l.segs)-1:]) // Gets reading the writer's mapping
	if err := w.Unmap(); err != nil {
		return fmt.Errorf("unmap %s: %w", w.Name(), err)
	}
	if err := w.File().Truncate(w.Offset()); err != nil {
		return fmt.Errorf("truncate %s: %w", w.Name(), err)
	}
	if err := w.File().Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", w.Name(), err)
	}
	w.MarkSynced(w.Offset())
	l.syncedSeq = l.nextSeq
	l.visibleSeq = l.nextSeq
	l.publishDead()
	return nil
}

// sealJob is what remains to write for a sealed segment: its index file
// and the checkpoint as of its end. Both only speed up Open, so a rotation
// leaves them to the background worker.
type sealJob struct {
	id      uint64
	size    int64
	frames  []segment.FrameInfo
	cpt     []byte // nil with compaction off
	through uint64
}

// sealJob captures the sealed active segment's job. Called with l.mu held
// after sealData.
func (l *Log) sealJob() sealJob {
	j := sealJob{id: l.active.ID(), size: l.active.Offset(), frames: l.activeFrameInfos(), through: l.nextSeq}
	if l.cs != nil {
		l.cs.SetThrough(l.nextSeq)
		j.cpt = compactor.EncodeCheckpoint(l.cs)
	}
	return j
}

// writeSealMeta writes a sealed segment's index file and checkpoint. The
// segment's data is durable already.
func (l *Log) writeSealMeta(j sealJob) error {
	if err := segment.WriteIndexFile(l.fs, idxName(l.dir, j.id), j.id, j.size, j.frames); err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return err
	}
	if j.cpt != nil {
		// A checkpoint at every seal keeps Open's replay to the segments
		// written since.
		return l.writeCheckpoint(j.cpt, j.through)
	}
	return nil
}

// drainSeals writes the queued seal jobs. Called without l.mu.
func (l *Log) drainSeals() error {
	for {
		l.mu.Lock()
		if len(l.sealQ) == 0 {
			l.mu.Unlock()
			return nil
		}
		j := l.sealQ[0]
		l.mu.Unlock()
		if err := l.writeSealMeta(j); err != nil {
			return err
		}
		l.mu.Lock()
		l.sealQ = l.sealQ[1:]
		l.mu.Unlock()
	}
}

// activeFrameInfos lists the frames of the active segment from the index.
// Frames in the active segment are always contiguous.
func (l *Log) activeFrameInfos() []segment.FrameInfo {
	frames, last := l.idx.Frames(uint32(l.active.ID()))
	out := make([]segment.FrameInfo, len(frames))
	for i, f := range frames {
		end := last
		if i+1 < len(frames) {
			end = frames[i+1].First - 1
		}
		out[i] = segment.FrameInfo{Offset: f.Off, Count: uint32(end - f.First + 1), First: f.First, Last: end}
	}
	return out
}

// maxSegmentID keeps segment numbers within the index's uint32.
const maxSegmentID = 1<<32 - 1

// rotate seals the active segment and starts the next. Called with l.mu
// held. Every sequence number so far is durable afterwards.
func (l *Log) rotate() error {
	if err := l.sealData(); err != nil {
		return err
	}
	l.sealQ = append(l.sealQ, l.sealJob())
	old := l.active
	segs := slices.Clone(l.segs)
	prev := segs[len(segs)-1]
	segs[len(segs)-1] = &seg{id: old.ID(), name: old.Name(), f: old.File(), ref: prev.ref, base: prev.base, size: old.Offset()}
	l.segs = segs
	l.cond.Broadcast()
	if l.staleIdx {
		// Its index from an earlier Close must not outlive its turn as
		// the newest segment; createSegment's directory sync makes the
		// removal durable no later than the new segment.
		if err := removeAll(l.fs, idxName(l.dir, old.ID())); err != nil {
			return fmt.Errorf("remove stale index of %s: %w", old.Name(), err)
		}
		l.staleIdx = false
	}
	if err := l.createSegment(old.ID() + 1); err != nil {
		return err
	}
	l.kickBackground()
	return nil
}

// NextSeq returns the sequence number the next appended record will get.
func (l *Log) NextSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextSeq
}

// LiveHint is about how many records a read of the whole log returns now
// (exact with compaction on), for sizing buffers.
func (l *Log) LiveHint() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cs != nil {
		return int(min(l.cs.Live(), 1<<30))
	}
	first, last, ok := l.liveBounds(l.visibleSeq) // truncated records left out
	if !ok {
		return 0
	}
	return int(min(last-first+1, 1<<30))
}

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

// Sync makes every batch appended so far durable. After a failed sync the
// log refuses further appends (see Append).
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	return l.waitSynced(l.nextSeq)
}

// Close makes everything durable, seals the active segment (returning its
// reserved space), releases the directory lock and closes the files.
// Further calls return ErrClosed. Close waits for appends in progress.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	for l.syncing {
		l.cond.Wait()
	}
	l.closed = true
	// The background worker and a running Compact notice closed and stop
	// after their current step; wait for them without the lock they need.
	l.mu.Unlock()
	l.bg.Wait()
	l.mu.Lock()
	for l.rewriting {
		l.cond.Wait()
	}
	var err error
	if l.failed == nil {
		for _, j := range l.sealQ {
			if err = l.writeSealMeta(j); err != nil {
				break
			}
		}
		l.sealQ = nil
	}
	// A newest segment Close sealed before, untouched since Open, is still
	// sealed: its index file is true and its data durable.
	unchanged := l.active != nil && l.staleIdx && l.active.Offset() == l.staleIdxSize
	if l.failed == nil && err == nil && !unchanged {
		err = l.seal()
	}
	l.waitMapReads(l.segs)
	if l.active != nil { // nil after a failed truncation
		if uerr := l.active.Unmap(); uerr != nil && err == nil { // seal unmapped it unless it failed
			err = uerr
		}
	}
	// Gets may still be reading mappings (readers of other kinds get
	// ErrClosed from their next read).
	l.waitMapReads(l.segs)
	l.waitMapReads(l.retired)
	for _, s := range l.segs {
		if cerr := s.closeFile(); cerr != nil && err == nil {
			err = cerr
		}
	}
	for _, s := range l.retired {
		if !s.ref.closed {
			s.ref.closed = true
			s.closeFile()
		}
	}
	l.retired = nil
	l.closeDone = true
	l.cond.Broadcast()
	l.mu.Unlock()
	if cerr := l.lock.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", l.dir, err)
	}
	return nil
}

// mkdirDurable creates dir and its missing parents and syncs the parent of
// each directory it created, so the new entries survive a power cut.
func mkdirDurable(fsys vfs.FS, dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; {
		if _, err := fsys.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(created) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := fsys.SyncDir(filepath.Dir(created[i])); err != nil {
			return err
		}
	}
	return nil
}
