package segment

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seglog/journal/vfs"
)

// Writer appends frames to one segment file. It is not safe for concurrent
// use; the log above it serializes writes and may run Sync on the file from
// another goroutine (fdatasync is safe to run beside positional writes).
//
// The file grows ahead of the data in steps of zeros that are written, not
// just reserved: an fdatasync then has only data to flush, not the block
// allocation and size change that appending to the end of a file costs on
// every commit. The steps grow with the file (1 to 16 MiB), so a large
// segment takes few of the size changes that slow the fdatasync after
// them. Where the file system allows it, frames are copied into a
// shared memory map of the file instead of written with a system call:
// either way they are in the operating system's page cache when WriteFrame
// returns, so a killed process loses nothing.
type Writer struct {
	// Set at creation, then read-only.
	f     vfs.File
	name  string
	id    uint64
	ahead int64 // expected segment size: grow ahead of the data up to it (0: do not)

	// Owned by the one goroutine that writes (the caller serializes
	// WriteFrame, Flush, Unmap, Seal and Close).
	off int64  // end of written data
	m   []byte // shared mapping of the file's first len(m) bytes, or nil
	// syscallWrites: write frames with WriteAt even where m covers them
	// (m then serves reads only); see WriteWithSyscalls.
	syscallWrites bool
	pend          []byte // buffered frames not yet written, from off-len(pend)
	limit         int    // buffer frames up to this many bytes (0: write each at once)
	// size is the file size; [off, size) holds zeros written ahead. Stored
	// by the writing goroutine, read by anyone (Size: disk figures).
	size atomic.Int64

	// mu guards the group commit's state; Sync holds it except during the
	// fdatasync itself. The appending goroutine stores written and reads
	// synced and failed without it (atomics: no lock on the append path).
	mu      sync.Mutex
	cond    sync.Cond    // on mu: a sync finished
	written atomic.Int64 // frames in [0, written) are in the file (page cache)
	synced  atomic.Int64 // data in [0, synced) is durable; stored under mu
	syncing bool         // a goroutine is in fdatasync on behalf of all
	// queued holds the frames QueueFrame took and no Sync wrote yet, from
	// offset queuedAt; spare is the buffer the last Sync wrote, reused.
	// anyQueued is set while queued may hold frames: the writing goroutine,
	// the only one that queues, reads it without the lock.
	queued    []byte
	queuedAt  int64
	spare     []byte
	anyQueued atomic.Bool
	failed    atomic.Bool // err is set; stored under mu
	err       error       // sticky: a write or fdatasync failed

	// syncs counts Sync's fdatasyncs: ownSyncs, or a counter shared with
	// other writers (CountSyncsIn).
	syncs    *SyncCounter
	ownSyncs SyncCounter
}

// The file is extended with zeros in steps that grow with it, from
// minGrowStep to maxGrowStep: each extension changes the file's size,
// which the next fdatasync must commit to the file system's journal (a
// latency spike), so a large segment takes few of them while a small
// journal stays small.
const (
	minGrowStep = 1 << 20
	maxGrowStep = 16 << 20
)

// growStep is how far a file of the given size is extended at once.
func growStep(size int64) int64 { return min(max(size, minGrowStep), maxGrowStep) }

// zeros is a read-only source of zero bytes for growing files.
var zeros [64 << 10]byte

// Create creates a new segment file with the given header, writes it and
// syncs it. The caller must sync the directory before acknowledging
// anything written to it, so the file itself survives a power cut.
// reserve, if positive, is the expected size of the segment: the file then
// grows ahead of its data, up to it, and may be memory-mapped. Disk space
// is taken as the file grows, not reserved up front, so a small journal
// stays small. With reserve 0 frames are plainly appended.
func Create(fs vfs.FS, name string, fh FileHeader, reserve int64) (*Writer, error) {
	return createFile(fs, name, fh, reserve, false)
}

// CreateGrown is Create with the file's first step of zeros written and
// synced with its header: for a writer whose commits are each synced
// (Immediate), whose first fdatasync then has only its frames to write,
// not the step and the size change. Where commits are not synced one by
// one (Eventual) Create is better: the step is written by the first frame
// and synced by whatever syncs it, not by the goroutine that creates the
// file.
func CreateGrown(fs vfs.FS, name string, fh FileHeader, reserve int64) (*Writer, error) {
	return createFile(fs, name, fh, reserve, true)
}

func createFile(fs vfs.FS, name string, fh FileHeader, reserve int64, grown bool) (*Writer, error) {
	f, err := fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	var hdr [FileHeaderSize]byte
	PutFileHeader(hdr[:], fh)
	if _, err := f.WriteAt(hdr[:], 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s header: %w", name, err)
	}
	w := newWriter(f, name, fh.ID, FileHeaderSize, reserve)
	if grown {
		err = w.grow(FileHeaderSize + 1)
	}
	if err == nil {
		if serr := f.Sync(); serr != nil {
			err = fmt.Errorf("sync %s: %w", name, serr)
		}
	}
	if err != nil {
		w.Unmap()
		f.Close()
		return nil, err
	}
	return w, nil
}

// Resume returns a writer appending at end to an existing segment file f
// of size end whose bytes are known to be valid and durable (the caller
// scanned, cut and synced them). reserve is the expected segment size.
func Resume(f vfs.File, name string, id uint64, end, reserve int64) *Writer {
	return newWriter(f, name, id, end, reserve)
}

func newWriter(f vfs.File, name string, id uint64, end, reserve int64) *Writer {
	w := &Writer{f: f, name: name, id: id, off: end, ahead: reserve}
	w.syncs = &w.ownSyncs
	w.size.Store(end)
	w.written.Store(end)
	w.synced.Store(end)
	w.cond.L = &w.mu
	w.mapFile(reserve)
	return w
}

// Recover returns a writer appending to the newest file of a log after a
// restart, once a scan found its valid frames ending at end, of a file of
// size bytes, the largest durable offset a frame recorded, synced, and
// what follows the frames, tail. The bytes in [synced, end) are written
// again where they are and synced: after a failed fsync Linux may have
// dropped those pages while still serving them from memory, and a later
// fsync would not write them. A torn write after end is cut (and the cut
// synced), so that no byte of it is read after frames written later; zeros
// after end (TailClean: grown ahead) are kept as the writer's room to grow
// into, which spares the sync a change of size to record. A file that
// needs neither (sealed at Close, or every frame confirmed) is left
// untouched, without an fsync.
func Recover(f vfs.File, name string, id uint64, synced, end, size, reserve int64, tail Tail) (*Writer, error) {
	return recoverTail(f, name, id, synced, end, size, reserve, tail, true)
}

// RecoverForNextSync is Recover without the fsync: the bytes written again
// and a cut are made durable by the writer's next Sync, which its synced
// offset (synced, not end) makes do one, and the frames written before
// that record no more as durable. For a file whose recovered tail nothing
// relies on before the frame written next is synced (a manifest, whose
// next record is written and synced at once): one fsync instead of two.
func RecoverForNextSync(f vfs.File, name string, id uint64, synced, end, size, reserve int64, tail Tail) (*Writer, error) {
	return recoverTail(f, name, id, synced, end, size, reserve, tail, false)
}

func recoverTail(f vfs.File, name string, id uint64, synced, end, size, reserve int64, tail Tail, sync bool) (*Writer, error) {
	from := max(synced, FileHeaderSize)
	if from < end {
		if err := rewriteUnconfirmed(f, from, end); err != nil {
			return nil, fmt.Errorf("rewrite %s from %d: %w", name, from, err)
		}
	}
	cut := size != end && tail != TailClean
	if cut {
		if err := f.Truncate(end); err != nil {
			return nil, fmt.Errorf("cut %s at %d: %w", name, end, err)
		}
	}
	changed := from < end || cut
	if sync && changed {
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("sync %s: %w", name, err)
		}
	}
	w := newWriter(f, name, id, end, reserve)
	if !cut {
		w.size.Store(max(size, end))
	}
	if !sync && changed {
		// Not durable until the next Sync, which must run.
		w.synced.Store(min(from, end-1))
	}
	return w, nil
}

// CreateBuffered creates a segment file for frames gathered in memory,
// up to limit bytes, and written together when the buffer fills and at
// Flush, Sync and Seal: for a file put in place (renamed) only once it is
// synced whole, such as a compactor's copy or a snapshot, where a killed
// process loses nothing that counted. Nothing is synced before Sync.
func CreateBuffered(fs vfs.FS, name string, fh FileHeader, limit int) (*Writer, error) {
	f, err := fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	w := newWriter(f, name, fh.ID, FileHeaderSize, 0)
	w.limit = max(limit, 1)
	w.pend = make([]byte, FileHeaderSize, min(limit, 1<<20)+FileHeaderSize)
	PutFileHeader(w.pend, fh)
	w.size.Store(0)
	w.written.Store(0)
	w.synced.Store(0)
	return w, nil
}

// mapFile maps the file for writing if its file system supports it. A
// failure to map is not an error: writes then go through WriteAt.
func (w *Writer) mapFile(length int64) {
	if mp, ok := w.f.(vfs.Mapper); ok && length > 0 {
		if m, err := mp.Map(min(length, MaxSegmentSize)); err == nil {
			w.m = m
		}
	}
}

// Mapped returns the writer's mapping of the file's first end bytes, for
// reading frames already written (they never change while the writer
// lives), or nil if there is none or it is shorter. The caller must stop
// using it before Unmap.
func (w *Writer) Mapped(end int64) []byte {
	if end > int64(len(w.m)) || end > w.size.Load() {
		return nil
	}
	return w.m[:end:end]
}

// WriteWithSyscalls makes the writer write each frame with a positional
// write even where the file is mapped, keeping the mapping for Mapped's
// readers: for a log that syncs each commit on its own (Immediate). A
// sync cleans the page the next commit lands in, and a store into a
// shared mapping of a clean page takes a write-protect fault, in which the
// file system prepares the page for writing (ext4's page_mkwrite); a
// write system call dirties the page without it. Where many frames land
// between syncs (Eventual) the mapping is cheaper: one fault per page per
// sync against a system call per frame. What a killed process or a power
// cut keeps is the same either way.
func (w *Writer) WriteWithSyscalls() { w.syscallWrites = true }

// Unmap releases the writer's memory map, if any; later frames are written
// with WriteAt. Call it before truncating or closing the file.
func (w *Writer) Unmap() error {
	if w.m == nil {
		return nil
	}
	m := w.m
	w.m = nil
	return w.f.(vfs.Mapper).Unmap(m)
}

// grow extends the file with zeros so that it holds at least end bytes.
func (w *Writer) grow(end int64) error {
	size := w.size.Load()
	if end <= size || w.ahead == 0 {
		return nil
	}
	target := max(end, min(size+growStep(size), w.ahead))
	for off := size; off < target; {
		n := min(int64(len(zeros)), target-off)
		if _, err := w.f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("grow %s to %d: %w", w.name, target, err)
		}
		off += n
		w.size.Store(off)
	}
	return nil
}

// ID is the segment number.
func (w *Writer) ID() uint64 { return w.id }

// Name is the file's path.
func (w *Writer) Name() string { return w.name }

// File is the underlying file, for readers and for syncing.
func (w *Writer) File() vfs.File { return w.f }

// Offset is the end of the written data: the size the file will have once
// sealed.
func (w *Writer) Offset() int64 { return w.off }

// Synced is the offset through which data is known durable.
func (w *Writer) Synced() int64 { return w.synced.Load() }

// Syncs is the number of fdatasyncs Sync ran (in the counter it counts
// in, see CountSyncsIn): with many callers, fewer than calls (group
// commit).
func (w *Writer) Syncs() int { return int(w.syncs.Load().Count) }

// SyncStats are fdatasync figures: how many ran, and how long the latest
// and the longest took (0 before the first).
type SyncStats struct {
	Count     int64
	Last, Max time.Duration
}

// A SyncCounter counts the fdatasyncs of the Writers that count in it
// (the group commit's, SyncAll's and Seal's first; Seal's second, of a
// file cut to its data, is not counted) and times them. Its figures are
// atomics, so Load takes no lock and may run at any rate beside the
// syncs. The zero value is ready; it must not be copied once used.
type SyncCounter struct {
	count, last, max atomic.Int64 // last, max: ns
}

// record counts a sync that took took. max is raised before last is
// stored, and Load reads last before max, so a reader never sees a last
// above max.
func (c *SyncCounter) record(took time.Duration) {
	c.count.Add(1)
	for m := c.max.Load(); int64(took) > m && !c.max.CompareAndSwap(m, int64(took)); m = c.max.Load() {
	}
	c.last.Store(int64(took))
}

// Load returns the counter's figures, read one after the other (not as
// one snapshot: a sync may finish between them), with Max >= Last.
func (c *SyncCounter) Load() SyncStats {
	count := c.count.Load()
	last := c.last.Load()
	return SyncStats{Count: count, Last: time.Duration(last), Max: time.Duration(c.max.Load())}
}

// CountSyncsIn makes Sync count its fdatasyncs in c instead of the
// writer's own counter, so that the figures of a file's successive
// writers (a log's active segments, a set's deltas) add up in one place
// their owner reads without a lock. Call it before the writer is shared.
func (w *Writer) CountSyncsIn(c *SyncCounter) { w.syncs = c }

// SyncStats returns the figures of the counter the writer counts in (see
// CountSyncsIn). It takes no lock.
func (w *Writer) SyncStats() SyncStats { return w.syncs.Load() }

// Size is the file's size: the data (Offset) and the zeros grown ahead of
// it. Unlike Offset, any goroutine may read it, at any time.
func (w *Writer) Size() int64 { return w.size.Load() }

// Err is the writer's sticky failure, if a write or fdatasync failed.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// fail makes err sticky. Called with w.mu held.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
		w.failed.Store(true)
	}
	w.cond.Broadcast()
	return w.err
}

// Sync returns once the data through offset through is durable: the group
// commit. The frames through it must be written (WriteFrame returned;
// Flush, for a buffered writer). One caller at a time runs fdatasync,
// covering every frame written when it began; callers arriving meanwhile
// wait for it and, if it did not cover them, run the next. It may run
// beside WriteFrame (the writer's owner need not hold its own lock while
// it waits). After a failed write or fdatasync every Sync and WriteFrame
// returns that failure: the pages may be gone from the cache while the
// file still shows them, so only a reopen (Recover) knows what is on disk.
func (w *Writer) Sync(through int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.synced.Load() < through {
		if w.err != nil {
			return w.err
		}
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		q, qAt := w.queued, w.queuedAt
		w.queued = w.spare[:0]
		w.anyQueued.Store(false)
		cover := max(through, w.written.Load(), qAt+int64(len(q)))
		w.mu.Unlock()
		var err error
		if len(q) > 0 {
			// The frames queued while the last sync ran, in one write.
			if _, werr := w.f.WriteAt(q, qAt); werr != nil {
				err = fmt.Errorf("write %s at %d: %w", w.name, qAt, werr)
			}
		}
		if err == nil {
			start := time.Now()
			if serr := w.f.Sync(); serr != nil {
				err = fmt.Errorf("sync %s: %w", w.name, serr)
			}
			w.syncs.record(time.Since(start))
		}
		w.mu.Lock()
		w.syncing = false
		w.spare = q[:0]
		if err != nil {
			return w.fail(err)
		}
		w.synced.Store(max(w.synced.Load(), cover))
		w.cond.Broadcast()
	}
	return w.err
}

// SyncAll flushes buffered frames and syncs everything written.
func (w *Writer) SyncAll() error {
	if err := w.Flush(); err != nil {
		return err
	}
	return w.Sync(w.off)
}

// Seal makes the file final: its frames durable, its mapping released,
// the file cut to its data (returning the space grown ahead) and that
// synced too. A frame written after it is appended with a plain write.
func (w *Writer) Seal() error {
	if err := w.SyncAll(); err != nil {
		return err
	}
	if err := w.Unmap(); err != nil {
		return w.setFailed(fmt.Errorf("unmap %s: %w", w.name, err))
	}
	w.ahead = 0
	if w.size.Load() != w.off {
		if err := w.f.Truncate(w.off); err != nil {
			return w.setFailed(fmt.Errorf("truncate %s: %w", w.name, err))
		}
		w.size.Store(w.off)
		if err := w.f.Sync(); err != nil {
			return w.setFailed(fmt.Errorf("sync %s: %w", w.name, err))
		}
	}
	return nil
}

// setFailed is fail for the writing goroutine, which does not hold w.mu:
// it takes the lock.
func (w *Writer) setFailed(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fail(err)
}

// WriteFrame writes f at the end of the segment, filling the parts of its
// header only the writer knows (the durable offset), and returns its
// offset (f.Info gives the rest of what the index needs). Unless the
// writer buffers (see CreateBuffered) or frames are queued (QueueFrame:
// then it joins them), the frame is in the file when it returns. On error
// the frame may be partly written and the writer fails for good (see
// Sync): recovery cuts the partial frame. A frame that would take the
// file past MaxSegmentSize is refused with an error wrapping ErrInvalid,
// and nothing is written.
func (w *Writer) WriteFrame(f *Frame) (int64, error) {
	frame, off, end, err := w.frameAt(f)
	if err != nil {
		return 0, err
	}
	if w.limit > 0 {
		w.pend = append(w.pend, frame...)
		w.off = end
		if len(w.pend) >= w.limit {
			if err := w.Flush(); err != nil {
				return 0, err
			}
		}
		return off, nil
	}
	if err := w.grow(end); err != nil {
		return 0, w.setFailed(err)
	}
	if w.queue(frame, off, end, false) {
		return off, nil
	}
	if end <= int64(len(w.m)) && end <= w.size.Load() && !w.syscallWrites {
		copy(w.m[off:end], frame)
	} else {
		if _, err := w.f.WriteAt(frame, off); err != nil {
			return 0, w.setFailed(fmt.Errorf("write %s at %d: %w", w.name, off, err))
		}
	}
	w.off = end
	w.written.Store(end)
	return off, nil
}

// frameAt checks f, fills the parts of its header only the writer knows,
// and returns its bytes and where it goes.
func (w *Writer) frameAt(f *Frame) (frame []byte, off, end int64, err error) {
	frame = f.buf
	if len(frame) <= FrameHeaderSize || len(frame)-FrameHeaderSize > MaxPayload || f.h.Count == 0 {
		return nil, 0, 0, fmt.Errorf("%w: frame payload of %d bytes", ErrInvalid, len(frame)-FrameHeaderSize)
	}
	if w.off+int64(len(frame)) > MaxSegmentSize {
		return nil, 0, 0, fmt.Errorf("%w: %s would grow past %d bytes", ErrInvalid, w.name, int64(MaxSegmentSize))
	}
	if w.failed.Load() {
		return nil, 0, 0, w.Err()
	}
	h := f.h
	h.Synced = uint32(w.synced.Load())
	off = w.off
	if w.limit > 0 {
		// The file is used only once synced whole: everything before
		// this frame will be durable when anyone reads it.
		h.Synced = uint32(off)
	}
	h.Length = uint32(len(frame) - FrameHeaderSize)
	PutFrameHeader(frame, h)
	return frame, off, off + int64(len(frame)), nil
}

// QueueFrame is WriteFrame for a frame that is needed in the file only
// once synced: it is copied, and the next Sync writes it, with every frame
// queued since the last, in one system call before its fdatasync. A log
// that syncs each commit (Immediate) queues the frames appended while a
// sync runs: their writers wait for the next sync anyway, and so the group
// costs one write instead of one per commit. Nothing reads a queued frame
// before that Sync returns; Offset counts it. Not for a buffered writer
// (CreateBuffered).
func (w *Writer) QueueFrame(f *Frame) (int64, error) {
	if w.limit > 0 {
		return 0, fmt.Errorf("%w: QueueFrame on a buffered writer", ErrInvalid)
	}
	frame, off, end, err := w.frameAt(f)
	if err != nil {
		return 0, err
	}
	if err := w.grow(end); err != nil {
		return 0, w.setFailed(err)
	}
	w.queue(frame, off, end, true)
	return off, nil
}

// queue adds frame, at off to end, to the queued frames, if always or if
// some are queued: the queue is written in one piece, so a frame written
// while others wait there joins them rather than land past them in the
// file. It reports whether it did.
func (w *Writer) queue(frame []byte, off, end int64, always bool) bool {
	if !always && !w.anyQueued.Load() {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queued) == 0 {
		if !always {
			return false
		}
		w.queuedAt = off
	}
	w.queued = append(w.queued, frame...)
	w.anyQueued.Store(true)
	w.off = end
	return true
}

// Flush writes the frames the writer buffered (see CreateBuffered).
func (w *Writer) Flush() error {
	if len(w.pend) == 0 {
		return nil
	}
	start := w.off - int64(len(w.pend))
	if _, err := w.f.WriteAt(w.pend, start); err != nil {
		return w.setFailed(fmt.Errorf("write %s at %d: %w", w.name, start, err))
	}
	w.pend = w.pend[:0]
	w.size.Store(max(w.size.Load(), w.off))
	w.written.Store(w.off)
	return nil
}

// Close unmaps and closes the file without syncing or truncating it.
func (w *Writer) Close() error {
	uerr := w.Unmap()
	if err := w.f.Close(); err != nil {
		return err
	}
	return uerr
}

// rewriteUnconfirmed writes bytes [from, to) of f back where they are.
// Recovery uses it on the bytes after the last offset an fsync confirmed:
// after a failed fsync Linux may have dropped those pages while still
// serving them from memory, and a later fsync would not write them. The
// caller syncs f.
func rewriteUnconfirmed(f vfs.File, from, to int64) error {
	buf := make([]byte, min(to-from, 1<<20))
	for off := from; off < to; {
		n := int(min(int64(len(buf)), to-off))
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return err
		}
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}
