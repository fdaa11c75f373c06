package journal

import (
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/seglog/journal/keyset"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrClosed: the Journal was closed.
	ErrClosed = wal.ErrClosed
	// ErrLocked: another Journal, in this process or another, has the
	// directory open.
	ErrLocked = wal.ErrLocked
	// ErrCorrupt: data on disk is damaged in a way a crash cannot explain.
	// The error names the file and offset.
	ErrCorrupt = wal.ErrCorrupt
	// ErrInvalid: bad input or options. Nothing was written.
	ErrInvalid = wal.ErrInvalid
	// ErrFailed: an earlier write or fsync failed, so the journal refuses
	// appends until it is closed and reopened.
	ErrFailed = wal.ErrFailed
	// ErrNotJournal: a directory given to Inspect holds no journal.
	ErrNotJournal = errors.New("not a journal directory")
)

// Durability says when AppendBatch counts a batch as done. It is the
// engine's one durability type (segment.Durability), as Compression is.
// Its text (String, MarshalText, UnmarshalText) is "Immediate" or
// "Eventual"; unknown text is an error wrapping ErrInvalid.
type Durability = wal.Durability

const (
	// Immediate: the batch is on stable storage (fdatasync) before
	// AppendBatch returns.
	Immediate = wal.Immediate
	// Eventual: no fsync per commit; the batch is written to the OS before
	// AppendBatch returns, so it survives a process crash, not power loss.
	Eventual = wal.Eventual
)

// DefaultCompactionThreshold is used when Options.CompactionThresholdEvents
// is 0.
const DefaultCompactionThreshold = 10_000

// DefaultFileMode is the permission of the journal's files when
// Options.FileMode is 0: read and write for their owner only (its
// directories: 0o700).
const DefaultFileMode = vfs.DefaultFileMode

// DefaultFlushInterval is used when Options.FlushInterval is 0.
const DefaultFlushInterval = 200 * time.Millisecond

// MinFlushInterval is the shortest Options.FlushInterval Open accepts.
// The flusher wakes up once per interval even when idle: at a
// microsecond or a nanosecond (a unit slip: FlushInterval: 5 is 5 ns)
// an idle journal kept most of a core busy, for no durability a 1 ms
// interval does not give.
const MinFlushInterval = time.Millisecond

// Compression says how new batches are stored on disk (see
// wal.Compression). Each batch records how it was stored, so a journal may
// hold batches written with every setting and the option may change from
// one Open to the next: it affects only what is written after it. Its
// text (String, MarshalText, UnmarshalText) is "default", "none", "s2" or
// "zstd"; unknown text is an error wrapping ErrInvalid.
type Compression = wal.Compression

// The settings of Options.Compression.
const (
	// CompressionDefault (the zero value) is DefaultCompression.
	CompressionDefault = wal.CompressionDefault
	// CompressionNone stores events as they are.
	CompressionNone = wal.CompressionNone
	// CompressionS2 compresses batches of at least MinCompressBytes with
	// S2: cheap to write and to read.
	CompressionS2 = wal.CompressionS2
	// CompressionZstd compresses batches of at least MinCompressBytes with
	// zstd: about half the size of S2 on route events, for several times
	// the CPU per batch written and read.
	CompressionZstd = wal.CompressionZstd
)

// DefaultCompression is what CompressionDefault means: S2.
// BENCHMARKS.md has the measurements behind the choice.
const DefaultCompression = wal.DefaultCompression

// MinCompressBytes is the smallest encoded batch that is compressed.
// Smaller batches, such as a single event, are stored as they are.
const MinCompressBytes = wal.MinCompressBytes

// Options configure a Journal. The zero value is the sensible default.
type Options struct {
	Durability Durability
	// CompactionThresholdEvents: after an append that leaves at least this
	// many live events, the events of removed routes are compacted away:
	// for every route with a RouteRemoved, its events up to its last
	// RouteRemoved (that one included) vanish from reads. 0 means
	// DefaultCompactionThreshold.
	CompactionThresholdEvents uint64
	// SegmentSize: rotate the active segment file at about this many bytes.
	// 0 means 64 MiB.
	SegmentSize int64
	// FlushInterval bounds what a power cut can take under Eventual: a
	// background flusher makes appended events and command ID operations
	// durable (fdatasync) once the oldest of them is this old. 0 means
	// DefaultFlushInterval; a negative value means never (the OS decides
	// when to write). A positive value below MinFlushInterval (1 ms) is
	// refused: Open returns an error wrapping ErrInvalid, whatever the
	// Durability. It has no effect under Immediate.
	FlushInterval time.Duration
	// Compression of new batches; the zero value means DefaultCompression.
	// Batches written under another setting stay readable.
	Compression Compression
	// NoRepack keeps sealed segments as appended. By default a sealed
	// segment of small batches (single events, mostly) is rewritten in the
	// background with consecutive batches packed into frames of a few KiB:
	// every event keeps its sequence number and timestamp, the files and
	// the in-memory index shrink several times, and Open and LoadAll read
	// less (see wal.Options.NoRepack). The cost is the rewrite's I/O, and
	// that damage to a packed frame costs the batches packed with it.
	NoRepack bool
	// MaxOpenSegments bounds the segment files held open (see
	// wal.Options.MaxOpenSegments); 0 means wal.DefaultMaxOpenSegments.
	MaxOpenSegments int

	// FileMode is the permission of every file the journal creates
	// (segments, index files, manifest, command IDs, compaction
	// checkpoints, temporary files before their rename); the directory
	// and its missing parents get vfs.DirMode(FileMode), each read bit
	// bringing its search bit (0o640 gives 0o750). 0 means
	// DefaultFileMode, 0o600: owner only, since the journal holds error
	// texts and command IDs. The mode is given to open and mkdir, so the
	// umask still applies. It must include 0o600 and nothing but
	// permission bits (ErrInvalid otherwise). Open logs a warning (through
	// Logger) naming the directory and each file in it more open than
	// this, and changes no mode; Verify reports them too.
	FileMode os.FileMode

	// FS is the filesystem all I/O goes through; nil means the operating
	// system's (with FileMode). Tests use it to inject errors and simulate
	// power cuts.
	FS vfs.FS
	// Logger receives warnings (a torn tail cut on Open, a failed write);
	// nil means slog.Default().
	Logger *slog.Logger

	// inline: background work runs inside AppendBatch (deterministic file
	// operations for crash-exploration tests).
	inline bool
}

// Journal is an open journal directory. It is safe for concurrent use by
// many goroutines.
type Journal struct {
	log     *wal.Log
	cmds    *keyset.Set
	opts    Options
	closed  atomic.Bool
	scratch sync.Pool // *appendScratch
	flusher *flusher  // nil unless Eventual with a flush interval
}

// Open opens the journal in dir, creating dir and its missing parents, and
// takes an exclusive lock: a second Open of the same directory, from this
// or another process, fails at once with an error wrapping ErrLocked.
// Everything it creates gets Options.FileMode (owner only by default); a
// directory or file found more open than that is logged as a warning and
// left as it is.
//
// A torn batch at the end of the log (one being written at a crash) is cut
// off and Open succeeds. Damage anywhere else fails Open with an error
// wrapping ErrCorrupt naming the file and offset, and modifies nothing.
// Invalid options give an error wrapping ErrInvalid.
func Open(dir string, opts Options) (*Journal, error) {
	if opts.Durability > Eventual {
		return nil, fmt.Errorf("journal: %w: unknown durability %d", ErrInvalid, opts.Durability)
	}
	if opts.SegmentSize < 0 {
		return nil, fmt.Errorf("journal: %w: negative segment size %d", ErrInvalid, opts.SegmentSize)
	}
	if opts.FlushInterval > 0 && opts.FlushInterval < MinFlushInterval {
		return nil, fmt.Errorf("journal: %w: flush interval %v is below the minimum of %v (0 means the default, %v; negative, never)", ErrInvalid, opts.FlushInterval, MinFlushInterval, DefaultFlushInterval)
	}
	if err := vfs.CheckFileMode(opts.FileMode); err != nil {
		return nil, fmt.Errorf("journal: %w: %w", ErrInvalid, err)
	}
	if opts.CompactionThresholdEvents == 0 {
		opts.CompactionThresholdEvents = DefaultCompactionThreshold
	}
	// The command IDs are created through the same filesystem as the log.
	opts.FS = vfs.WithFileMode(opts.FS, opts.FileMode)
	// The log's recovery changes files (a torn tail cut, an index and a
	// checkpoint written); damage to the command IDs must refuse Open
	// before that, so a refused Open changes nothing. Reading them is
	// read-only and what opening them checks.
	mark, err := commandMark(opts.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", dir, err)
	}
	if _, _, err := keyset.ReadKeysMarked(opts.FS, dir, commandSetName, mark); err != nil {
		return nil, fmt.Errorf("journal: command IDs: %w", err)
	}
	l, err := wal.Open(dir, wal.Options{
		Durability:          opts.Durability,
		SegmentSize:         opts.SegmentSize,
		CompactionThreshold: opts.CompactionThresholdEvents,
		Compression:         opts.Compression,
		NoRepack:            opts.NoRepack,
		MaxOpenSegments:     opts.MaxOpenSegments,
		Inline:              opts.inline,
		FS:                  opts.FS,
		FileMode:            opts.FileMode,
		Logger:              opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	cmds, err := openCommands(dir, opts, mark)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("journal: command IDs: %w", err)
	}
	j := &Journal{log: l, cmds: cmds, opts: opts}
	// What recovery left of the delta is durable: later damage before it
	// is damage.
	if err := j.recordCommandMark(); err != nil {
		cmds.Close()
		l.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.scratch.New = func() any { return new(appendScratch) }
	if opts.Durability == Eventual && opts.FlushInterval >= 0 {
		if opts.FlushInterval == 0 {
			opts.FlushInterval = DefaultFlushInterval
		}
		j.flusher = startFlusher(opts.FlushInterval, j.log.Sync, j.cmds.Sync, opts.Logger)
	}
	return j, nil
}

// AppendBatch appends events atomically: after any crash they are all in
// the journal or none is. They get contiguous sequence numbers after every
// earlier event and share one TimestampMs (Unix ms at append). An empty
// batch is a no-op.
//
// An invalid event (unknown Kind, empty RouteID, RouteID over
// MaxRouteIDLen, Error set on a kind other than RouteFailed) gives an error
// wrapping ErrInvalid and nothing of the batch is written. After a failed
// write or fsync the error wraps ErrFailed and the journal accepts no more
// appends until reopened.
//
// It is Append without the sequence number.
func (j *Journal) AppendBatch(events []Event) error {
	_, err := j.Append(events)
	return err
}

// Append is AppendBatch that also returns the sequence number it gave the
// first event: the batch holds first, first+1, ..., first+len(events)-1.
// It returns when AppendBatch would (under Immediate, once the batch is
// durable), with the same errors, and then first is 0.
//
// An empty batch writes nothing and returns NextSeq(), the number the
// next event will get, and no error (as AppendBatch, even on a closed
// journal).
func (j *Journal) Append(events []Event) (first uint64, err error) {
	return j.appendBatch(events, time.Now().UnixMilli(), false, 0)
}

// appendBatch is Append with the batch's time given, and with at set the
// first event's sequence number too (wal.Log.AppendAt: an import).
func (j *Journal) appendBatch(events []Event, timeMs int64, at bool, first uint64) (uint64, error) {
	if len(events) == 0 {
		return j.log.NextSeq(), nil
	}
	for i, e := range events {
		if err := e.validate(); err != nil {
			return 0, fmt.Errorf("journal: event %d: %w", i, err)
		}
	}
	sc := j.scratch.Get().(*appendScratch)
	defer j.scratch.Put(sc)
	vals := sc.vals[:0]
	for _, e := range events {
		vals = appendValue(vals, e)
	}
	recs := sc.recs[:0]
	off := 0
	for _, e := range events {
		n := 1 + len(e.Error)
		recs = append(recs, wal.Record{
			// The log copies keys and values while encoding and keeps no
			// reference, so the route ID's bytes can be lent without a copy.
			Key:       unsafe.Slice(unsafe.StringData(e.RouteID), len(e.RouteID)),
			Value:     vals[off : off+n],
			Tombstone: e.Kind == RouteRemoved,
		})
		off += n
	}
	var err error
	if b := (wal.Batch{Time: timeMs, Records: recs}); at {
		err = j.log.AppendAt(first, b)
	} else {
		first, err = j.log.Append(b)
	}
	clear(recs) // drop references to the caller's strings
	sc.vals, sc.recs = vals, recs
	if cap(sc.vals) > 1<<20 || cap(sc.recs) > 1<<14 {
		*sc = appendScratch{} // do not pin a rare huge batch's buffers
	}
	if err != nil {
		return 0, fmt.Errorf("journal: append: %w", err)
	}
	return first, nil
}

// NextSeq returns the sequence number the next appended event will get:
// one past the newest event appended, 0 for a journal that never held
// one. Compaction does not change it: removed events keep their numbers
// used.
//
// Under Eventual and Immediate alike it counts every batch written,
// including, under Immediate, those whose Append is still waiting for
// its fdatasync. After a crash, Open continues after the newest batch
// that survived: under Immediate that is every acknowledged batch (a
// batch in flight may or may not survive), under Eventual every batch
// that a Sync, the background flusher or Close made durable, and
// perhaps later ones. The numbers of batches a power cut took are given
// out again, to the next events appended: a number names one event for
// good only once its batch is durable (Stats().SyncedSeq says how far
// that is). After Close it returns the value Close left.
func (j *Journal) NextSeq() uint64 { return j.log.NextSeq() }

// LastSeq returns the sequence number of the newest event readers see
// (Entries, LoadAll, and Inspect from another process once it is in the
// file), and false when there is none: a journal that never held an
// event, or under Immediate one whose first batch is still waiting for
// its fdatasync.
//
// Under Eventual an event is visible once its Append returns, so LastSeq
// is NextSeq()-1, whether or not the event is durable yet. Under
// Immediate an event is visible once durable: while appends wait for
// their fdatasync, LastSeq trails NextSeq()-1; once Append returns, its
// batch is visible. The event it names may have been removed since by
// compaction (of a removed route). After a crash it names the newest
// event that survived (see NextSeq).
func (j *Journal) LastSeq() (seq uint64, ok bool) {
	v := j.log.VisibleSeq()
	if v == 0 {
		return 0, false
	}
	return v - 1, true
}

// appendScratch holds AppendBatch's buffers between calls, so a steady
// stream of appends allocates nothing.
type appendScratch struct {
	vals []byte
	recs []wal.Record
}

// LoadAll returns every live event in sequence order.
func (j *Journal) LoadAll() ([]Event, error) {
	out := make([]Event, 0, j.log.LiveHint())
	// Route IDs and error texts repeat: share one string per distinct value
	// instead of allocating one per event, and keep the strings in a few
	// large blocks. Every string lives as long as the result.
	dec := newEventDecoder(loadArenaChunk, true)
	// A run of entries at a time, decoded in place: a call per entry
	// costs as much as decoding it.
	for run, err := range j.log.EntryRuns(0) {
		if err != nil {
			return nil, fmt.Errorf("journal: load: %w", err)
		}
		n := len(out)
		out = slices.Grow(out, len(run))[:n+len(run)]
		dst := out[n:]
		for i := range run {
			e := &run[i]
			if err := dec.decode(&dst[i], e.Key, e.Value, e.Tombstone); err != nil {
				return nil, fmt.Errorf("journal: load: sequence %d: %w", e.Seq, err)
			}
		}
	}
	return out, nil
}

// The block sizes of the strings LoadAll and Entries make.
const (
	loadArenaChunk    = 64 << 10
	entriesArenaChunk = 4 << 10
)

// Entries streams the live entries with Seq >= from in sequence order,
// without loading them all. It sees the journal as of the call: batches
// appended during the iteration are not included, and batches are seen
// whole. An error (ErrCorrupt with file and offset, ErrClosed) is yielded
// once and ends the iteration.
func (j *Journal) Entries(from uint64) iter.Seq2[Entry, error] {
	return decodeEntries(j.log.Entries(from))
}

// decodeEntries turns the log's entries into events (Entries, Follow).
func decodeEntries(entries iter.Seq2[wal.Entry, error]) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		// Shared strings as in LoadAll, in small blocks: a caller keeping
		// a few entries of many keeps little memory alive.
		dec := newEventDecoder(entriesArenaChunk, false)
		for e, err := range entries {
			if err != nil {
				yield(Entry{}, fmt.Errorf("journal: %w", err))
				return
			}
			en := Entry{Seq: e.Seq, TimestampMs: e.Time}
			if err := dec.decode(&en.Event, e.Key, e.Value, e.Tombstone); err != nil {
				yield(Entry{}, fmt.Errorf("journal: sequence %d: %w", e.Seq, err))
				return
			}
			if !yield(en, nil) {
				return
			}
		}
	}
}

// Sync makes every batch and command ID operation so far durable (for
// Eventual journals; under Immediate they already are).
func (j *Journal) Sync() error { return j.syncAll() }

func (j *Journal) syncAll() error {
	if err := j.log.Sync(); err != nil {
		return fmt.Errorf("journal: sync: %w", err)
	}
	if err := j.cmds.Sync(); err != nil {
		return commandErr("sync", err)
	}
	return nil
}

// Close makes everything durable, gives back space reserved on disk,
// releases the directory lock and closes the files. Calls after Close
// return ErrClosed.
func (j *Journal) Close() error {
	if j.closed.Swap(true) {
		return fmt.Errorf("journal: %w", ErrClosed)
	}
	if j.flusher != nil {
		j.flusher.stop()
	}
	cerr := j.cmds.Close()
	if cerr == nil {
		cerr = j.recordCommandMark()
	}
	if err := j.log.Close(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if cerr != nil {
		return commandErr("close", cerr)
	}
	return nil
}

// Compact removes the events of removed routes now, whatever the
// threshold: for every route whose events include a RouteRemoved, every
// event of that route up to its last RouteRemoved (that one included). It
// returns once the result is durable, after rewriting the segment files
// that held removed events. Surviving events keep their sequence numbers,
// and the next sequence number is unaffected.
func (j *Journal) Compact() error {
	if err := j.log.Compact(); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	return nil
}

// InspectFilter selects what Inspect and InspectNewest return.
type InspectFilter struct {
	RouteID string // "" = every route
	Limit   int    // <= 0 = no limit
	From    uint64 // only entries with Seq >= From (0 = every one)
}

// Inspect reads the journal in dir without opening it for writing: it takes
// no lock and works while another process has the journal open and is
// appending, returning only complete, valid batches. Entries come newest
// first, filtered by route first, then cut at Limit. It collects what
// InspectNewest yields: with a Limit, it reads only as far back as it
// needs.
//
// A missing dir gives an error matching fs.ErrNotExist; a directory holding
// no journal gives ErrNotJournal; damaged data gives ErrCorrupt.
func Inspect(dir string, filter InspectFilter) ([]Entry, error) {
	return inspect(dir, filter, nil)
}

func inspect(dir string, filter InspectFilter, fsys vfs.FS) ([]Entry, error) {
	var out []Entry
	for e, err := range inspectNewest(dir, filter, fsys) {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// InspectNewest streams what Inspect returns, newest first, without
// loading the journal: it walks the journal's segment files backwards, a
// frame (one batch) at a time, so the first entries come after a few reads
// and memory stays bounded whatever the journal's size. It takes no lock,
// as Inspect, and sees the complete batches present when the iteration
// starts. The route filter applies first, then Limit ends the iteration.
//
// Each entry read is verified; damage in parts of the journal the
// iteration does not reach is not looked for (journal verify does that).
// An error is yielded once and ends the iteration: one matching
// fs.ErrNotExist for a missing dir, ErrNotJournal for a directory holding
// no journal, ErrCorrupt (with file and offset) for damaged data.
func InspectNewest(dir string, filter InspectFilter) iter.Seq2[Entry, error] {
	return inspectNewest(dir, filter, nil)
}

func inspectNewest(dir string, filter InspectFilter, fsys vfs.FS) iter.Seq2[Entry, error] {
	return inspectEntries(dir, wal.Newest(dir, fsys), filter, true)
}
