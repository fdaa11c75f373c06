package wal

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/index"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// Record is one entry to append: a key, a value and whether it is a
// tombstone, which, once compacted, removes every entry with the same key
// and a sequence number up to its own (itself too).
type Record = segment.Record

// Batch is a group of records appended atomically: after any crash either
// all of them are in the log or none is. They get contiguous sequence
// numbers and share Time. Append copies the records' bytes and keeps no
// reference to them.
type Batch struct {
	Time    int64 // caller's timestamp, stored with the batch (Unix ms by convention)
	Records []Record
}

// lifecycle is where a Log is in its life; it only moves forward.
type lifecycle uint8

const (
	stateOpen    lifecycle = iota
	stateClosing           // Close began: nothing new starts; appends in flight wait for its seal
	stateClosed            // Close sealed (or gave up) and closed the files
)

// Log is an open log directory. It is safe for concurrent use.
//
// Locking. The first group of fields never changes after Open. mu guards
// every other field unless its comment says otherwise, and cond waits on
// it. Files are changed with mu held, with two exceptions that release it
// and mark themselves instead: the group commit's fdatasync (syncing
// counts the goroutines in it) and the work slot (working: seal jobs and
// segment rewrites); Close waits for each. Readers take a snapshot under mu and read files without it. cptMu
// may be taken with mu held, never the other way round.
type Log struct {
	// Set by Open, then read-only.
	dir  string
	opts Options
	fs   vfs.FS
	log  *slog.Logger
	lock io.Closer
	mf   *manifest.Manifest // safe for concurrent use; edits are made with mu held or in the work slot
	// files holds the segment files open, a bounded number of them; its
	// lock may be taken with mu held.
	files *fileCache

	mu    sync.Mutex
	cond  *sync.Cond // on mu; broadcast when a sync, a seal, a rewrite or Close ends
	state lifecycle
	// failed is sticky: after a failed write or sync nothing more is
	// appended, because the file may no longer hold what we think it holds.
	failed error

	segs   []*seg // sealed segments then the active one; replaced, never mutated
	active *segment.Writer
	idx    *index.Index // readers use a Clone taken under mu
	// nextSeq, visibleSeq and syncedSeq are stored under mu and read
	// without it by NextSeq, VisibleSeq and Metrics (the rest of the log
	// reads them under mu).
	nextSeq    atomic.Uint64 // next sequence number to assign
	front      uint64        // records below it are truncated (see bounds)
	cuts       atomic.Uint64 // not under mu: TruncateBack calls that cut files, for readers
	visibleSeq atomic.Uint64 // readers see sequence numbers below this
	syncedSeq  atomic.Uint64 // every sequence number below this is durable
	syncing    int           // the syncer, in the active writer's Sync or about to be, without mu (one: see syncUntil)
	appending  atomic.Int32  // not under mu: Immediate appends under way, from before they take mu until they return
	// nextSync, when not nil, is the group of Immediate appends waiting
	// for the sync after the running one (see waitAppended).
	nextSync *syncGroup
	// followWake, when not nil, is closed when visibleSeq moves or the log
	// closes (see wakeFollowers); followers make it when they wait.
	followWake chan struct{}
	// The active segment's tail index (tail.go): nil until the first
	// checkpoint of the segment, and after a failure to write it.
	tail       *segment.TailIndex
	tailFrames int   // frames of the active segment it lists
	tailEvery  int64 // see defaultTailEvery; tests lower it
	// staleTail: Open kept the active segment's tail index an earlier
	// session wrote (its frames are still there, durable): the first
	// checkpoint replaces it, a truncation removes it (dropTail).
	staleTail bool

	// Compaction (nil cs: off). dead is what readers skip; deadQ holds
	// applied removals waiting for their batch to become visible.
	cs    *compactor.State
	dead  compactor.DeadSet
	deadQ []queuedDead
	// working is the one slot for work done without mu: the background
	// worker (seal jobs, rewrites), that work run inline under
	// Options.Inline, or Compact. Close and truncation wait for it.
	working    bool
	slotWanted int        // Backups waiting for the work slot: the worker yields it
	retired    []*seg     // replaced segments whose files readers may still use
	cptMu      sync.Mutex // orders checkpoint writes; guards cptThrough
	cptThrough uint64     // under cptMu: what the checkpoint file on disk covers
	rotateNext bool       // seal the active segment at the next append
	staleIdx   bool       // the active segment has an index file from an earlier Close
	// cptLeft: compaction is off, and Open found a checkpoint an earlier
	// session with it on left (dropCheckpoint removes it).
	cptLeft bool
	// staleIdxSize: the active segment's size when opened if its index
	// file was read and matched it, else -1.
	staleIdxSize int64
	sealQ        []sealJob // sealed segments whose index and checkpoint are not written yet
	repackDue    bool      // a segment was sealed (or the log opened) since the last repack pass
	inlineDue    bool      // Options.Inline: background work to run before Append returns
	// repairs: index files of sealed segments that reads found damaged
	// (lazy.go); its own lock, taken after mu.
	repairs lazyRepairs
	// sinceCpt counts the entries appended since the compaction state was
	// last encoded for a checkpoint (at a seal, or at the start of a sync
	// once it reaches cptEvery: cptPend, the state as of cptPendThrough,
	// written by the background worker once that sync made the log
	// durable through it, cptDue): what Open after a crash replays.
	sinceCpt       uint64
	cptPend        []byte
	cptPendThrough uint64
	cptDue         bool
	// lastApplyUpto: the batches below it include every one whose append
	// applied compaction.
	lastApplyUpto uint64
	// m: the running figures behind Metrics (metrics.go).
	m metrics

	bufPool sync.Pool // not under mu: read buffers
	encPool sync.Pool // not under mu: frame encoders
}

// NextSeq returns the sequence number the next appended record will get.
// It takes no lock.
func (l *Log) NextSeq() uint64 { return l.nextSeq.Load() }

// setSeqs makes next the next sequence number, with every one below it
// visible and durable (after Open, a seal, a truncation). The three are
// stored in the order that keeps Metrics, which reads them without the
// lock, from seeing SyncedSeq past NextSeq. Called with l.mu held (or
// before l is shared).
func (l *Log) setSeqs(next uint64) {
	if next < l.nextSeq.Load() { // TruncateBack: lower SyncedSeq first
		l.syncedSeq.Store(next)
		l.visibleSeq.Store(next)
		l.nextSeq.Store(next)
		return
	}
	l.nextSeq.Store(next)
	l.visibleSeq.Store(next)
	l.syncedSeq.Store(next)
}

// LiveHint is about how many records a read of the whole log returns now
// (exact with compaction on), for sizing buffers.
func (l *Log) LiveHint() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cs != nil {
		return int(min(l.cs.Live(), 1<<30))
	}
	first, last, ok := l.liveBounds(l.visibleSeq.Load()) // truncated records left out
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
	if l.state != stateOpen {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	return l.waitSynced(l.nextSeq.Load())
}

// Close makes everything durable, seals the active segment (returning its
// reserved space), releases the directory lock and closes the files.
// Further calls return ErrClosed. Close waits for appends in progress.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.state != stateOpen {
		l.mu.Unlock()
		return ErrClosed
	}
	for l.syncing > 0 {
		l.cond.Wait()
	}
	l.state = stateClosing
	// The background worker and a running Compact notice it and stop after
	// their current step.
	for l.working {
		l.cond.Wait()
	}
	var err error
	if l.failed == nil && l.packAtClose() {
		// Its small frames are repacked below, as a sealed segment's;
		// the log continues in an empty one after a reopen.
		err = l.rotate()
	}
	if l.failed == nil && err == nil {
		l.takeRepairs()
		for _, j := range l.sealQ {
			if err = l.writeSealMeta(j); err != nil {
				break
			}
		}
		l.sealQ = nil
	}
	if l.failed == nil && err == nil {
		l.repackAtClose()
	}
	// A newest segment Close sealed before, untouched since Open, is still
	// sealed: its index file is true and its data durable.
	unchanged := l.active != nil && l.staleIdx && l.active.Offset() == l.staleIdxSize
	if l.failed == nil && err == nil && !unchanged {
		err = l.seal()
	}
	if l.failed == nil && err == nil {
		// The newest segment's size is now durable: Open knows that bytes
		// missing from it were lost, not torn.
		if want := l.activeEntry(); l.mf.State().Segments[want.ID] != want {
			err = l.record(manifest.Edit{Set: []manifest.Segment{want}})
		}
	}
	if cerr := l.mf.Close(); cerr != nil && err == nil {
		err = cerr
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
	if cerr := l.files.closeAll(); cerr != nil && err == nil {
		err = cerr
	}
	l.retired = nil
	l.state = stateClosed
	l.cond.Broadcast()
	l.wakeFollowers()
	l.mu.Unlock()
	if cerr := l.lock.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", l.dir, err)
	}
	return nil
}
