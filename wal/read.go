package wal

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime/debug"
	"slices"
	"sync/atomic"

	"github.com/seglog/journal/vfs"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/index"
	"github.com/seglog/journal/segment"
)

// Entry is one record as read back: the segment's own decoding of it, so
// that runs of entries (EntryRuns) pass from a frame to the caller without
// a copy each.
type Entry = segment.Entry

// snapshot is a consistent view of the log: the frames indexed and the
// sequence numbers visible when it was taken. Appends after it do not
// change it.
type snapshot struct {
	idx     *index.Index
	segs    []*seg
	visible uint64 // entries with Seq >= visible are not part of it
	front   uint64 // entries with Seq < front are truncated
	// cuts counts the log's TruncateBack calls (nil in a View); cutsAt is
	// its value when the snapshot was taken.
	cuts    *atomic.Uint64
	cutsAt  uint64
	dead    compactor.DeadSet // entries removed by compaction
	closed  func() bool
	release func() // returns the snapshot's hold on segment files
}

// snapshot takes a consistent view for a reader, who must call release
// when done: until then replaced segment files stay open.
func (l *Log) snapshot() (*snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snapshotLocked()
}

// snapshotLocked is snapshot, called with l.mu held.
func (l *Log) snapshotLocked() (*snapshot, error) {
	if l.state != stateOpen {
		return nil, ErrClosed
	}
	if l.active == nil { // a truncation failed part way
		return nil, fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	segs := slices.Clone(l.segs)
	act := *segs[len(segs)-1]
	act.size = l.active.Offset()
	segs[len(segs)-1] = &act
	for _, sg := range segs {
		sg.ref.readers++
	}
	return &snapshot{idx: l.idx.Clone(), segs: segs, visible: l.visibleSeq.Load(), front: l.front, dead: l.dead, closed: l.isClosed,
		cuts: &l.cuts, cutsAt: l.cuts.Load(),
		release: func() { l.releaseSnapshot(segs) }}, nil
}

// releaseSnapshot drops a snapshot's hold on its segment files, closing
// those that were replaced meanwhile and that no other snapshot holds.
func (l *Log) releaseSnapshot(segs []*seg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sg := range segs {
		l.release(sg)
	}
}

// release drops one hold on sg's file, closing it if it was replaced and
// this was the last. Called with l.mu held.
func (l *Log) release(sg *seg) {
	sg.ref.readers--
	if sg.ref.readers == 0 && sg.ref.retired {
		l.files.drop(sg.ref)
		l.retired = slices.DeleteFunc(l.retired, func(r *seg) bool { return r.ref == sg.ref })
	}
}

func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state != stateOpen
}

// Entries returns an iterator over the entries with Seq >= from, in order,
// as of the call: batches appended later are not included, and a batch is
// seen whole or not at all. Key and Value alias a buffer that is reused:
// copy them to keep them past the iteration step. A damaged frame yields an
// error wrapping ErrCorrupt (with file and offset) and ends the iteration.
func (l *Log) Entries(from uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		s, err := l.snapshot()
		if err != nil {
			yield(Entry{}, err)
			return
		}
		defer s.release()
		s.ascend(from, yield)
	}
}

// EntryRuns yields what Entries yields, in the same order and as of the
// call in the same way, as runs: slices of consecutive entries of one
// frame, so that a caller reading many entries pays one call per run, not
// per entry. A run, and the Key and Value of each entry in it, alias
// buffers reused by the next step: copy what is kept. A damaged frame
// yields the entries before the damage, then an error wrapping ErrCorrupt
// (with file and offset), and ends the iteration.
func (l *Log) EntryRuns(from uint64) iter.Seq2[[]Entry, error] {
	return func(yield func([]Entry, error) bool) {
		s, err := l.snapshot()
		if err != nil {
			yield(nil, err)
			return
		}
		defer s.release()
		if err := s.ascendRuns(from, func(run []Entry) bool { return yield(run, nil) }); err != nil {
			yield(nil, err)
		}
	}
}

// Get returns the entry with sequence number seq. Its Key and Value are
// freshly allocated. A sequence number not in the log gives an error
// wrapping ErrNotFound. The frame's checksum is verified on every call.
//
// On the operating system's file system Get reads frames in place through
// memory mappings (a read-only one per sealed segment whose file is open,
// made at its first Get; the writer's for the active segment), so a call
// makes no system call unless the segment's file must be opened (see
// Options.MaxOpenSegments). TruncateBack and Close wait for such reads before they cut or
// unmap a file, and a fault while reading a mapping (a device read error)
// is returned as an error, not a crash.
func (l *Log) Get(seq uint64) (Entry, error) {
	// One segment held for the read, not a snapshot of the whole log: a
	// consensus log store calls this for every entry it sends.
	l.mu.Lock()
	if l.state != stateOpen {
		l.mu.Unlock()
		return Entry{}, ErrClosed
	}
	if l.active == nil { // a truncation failed part way
		l.mu.Unlock()
		return Entry{}, fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	id, off, next, ok, err := l.idx.FindNext(seq)
	if err != nil {
		l.mu.Unlock()
		return Entry{}, fmt.Errorf("sequence %d: %w", seq, err)
	}
	if !ok || seq >= l.visibleSeq.Load() || seq < l.front {
		l.mu.Unlock()
		return Entry{}, fmt.Errorf("sequence %d: %w", seq, ErrNotFound)
	}
	sg := findSeg(l.segs, id)
	if sg == nil {
		l.mu.Unlock()
		return Entry{}, fmt.Errorf("%w: index names missing segment %d", ErrCorrupt, id)
	}
	size := sg.size
	sealed := sg.id != l.active.ID()
	if !sealed {
		size = l.active.Offset()
	}
	dead, cutsAt := l.dead, l.cuts.Load()
	// Pinned until the read ends: the cache neither closes nor unmaps it.
	f, err := sg.file()
	if err != nil {
		l.mu.Unlock()
		return Entry{}, err
	}
	sg.ref.readers++
	// A sealed segment never changes while it is in l.segs: read it in
	// place through a mapping, without a system call or a copy. (A
	// TruncateBack waits for such reads to end before it cuts a file.)
	// The active segment's frames below its end never change either:
	// read them through the writer's mapping.
	var m []byte
	if sealed {
		m = l.files.mapping(sg.ref, sg.size)
	} else {
		m = l.active.Mapped(size)
	}
	if m != nil {
		sg.ref.mapReads.Add(1)
	}
	l.mu.Unlock()
	defer l.releaseSeg(sg)

	bp := l.getBuf()
	defer l.putBuf(bp)
	var e Entry
	if m != nil {
		if h := l.opts.duringMappedGet; h != nil {
			h()
		}
		e, *bp, err = getMapped(m, int64(off), int64(next), *bp, sg.name, seq, dead)
		sg.ref.mapReads.Done() // after the last touch of m
	} else {
		var h segment.FrameHeader
		var p []byte
		h, p, *bp, err = segment.ReadFrameInto(f, size, int64(off), int64(next), *bp, sg.name)
		if err == nil {
			e, err = findEntry(h, p, seq, dead, sg.name, int64(off))
			e = copied(e)
		}
	}
	*bp = (*bp)[:0]
	if err != nil {
		if l.cuts.Load() != cutsAt {
			return Entry{}, fmt.Errorf("%w: removed by TruncateBack while being read (%v)", ErrNotFound, err)
		}
		if l.isClosed() && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
			return Entry{}, ErrClosed
		}
		return Entry{}, err
	}
	return e, nil
}

// copied returns e with Key and Value copied out of the buffer they alias,
// in one allocation.
func copied(e Entry) Entry {
	kv := make([]byte, len(e.Key)+len(e.Value))
	n := copy(kv, e.Key)
	copy(kv[n:], e.Value)
	e.Key, e.Value = kv[:n:n], kv[n:]
	return e
}

// getMapped reads entry seq from the frame at off of a mapped sealed
// segment, copying it out before returning. A fault while touching the
// mapping (the device failing to read a page) is returned as an error,
// not a crash.
func getMapped(m []byte, off, next int64, buf []byte, name string, seq uint64, dead compactor.DeadSet) (e Entry, _ []byte, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s at offset %d: reading the mapped segment faulted: %v", name, off, r)
		}
	}()
	h, p, buf, err := segment.FrameAt(m, off, next, buf, name)
	if err != nil {
		return Entry{}, buf, err
	}
	e, err = findEntry(h, p, seq, dead, name, off)
	if err != nil {
		return Entry{}, buf, err
	}
	return copied(e), buf, nil
}

// waitMapReads waits until no Get reads a segment's mapping: before a file
// is cut or its mapping released. Called with l.mu held, which keeps new
// Gets out; those in flight finish without it.
func (l *Log) waitMapReads(segs []*seg) {
	for _, sg := range segs {
		sg.ref.mapReads.Wait()
	}
}

// releaseSeg drops a Get's hold on one segment file (see releaseSnapshot)
// and its pin.
func (l *Log) releaseSeg(sg *seg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sg.done()
	l.release(sg)
}

func (s *snapshot) seg(id uint64) (*seg, error) {
	sg := findSeg(s.segs, id)
	if sg == nil {
		return nil, fmt.Errorf("%w: index names missing segment %d", ErrCorrupt, id)
	}
	return sg, nil
}

// findSeg returns the segment id of segs (ascending ids), or nil.
func findSeg(segs []*seg, id uint64) *seg {
	i, ok := slices.BinarySearchFunc(segs, id, func(sg *seg, id uint64) int {
		return cmp.Compare(sg.id, id)
	})
	if !ok {
		return nil
	}
	return segs[i]
}

// readErr turns a read failure after Close into ErrClosed, and one in a
// segment a TruncateBack cut meanwhile into ErrNotFound: the records read
// are gone.
func (s *snapshot) readErr(err error) error {
	if s.cuts != nil && s.cuts.Load() != s.cutsAt {
		return fmt.Errorf("%w: removed by TruncateBack while being read (%v)", ErrNotFound, err)
	}
	if s.closed != nil && s.closed() && !errors.Is(err, ErrCorrupt) {
		return ErrClosed
	}
	return err
}

// frames calls fn for each frame that may hold sequence numbers >= from
// and below the visible bound, in order, with its verified payload, until
// fn returns false. A damaged or missing frame ends it with an error.
// It holds one segment file open at a time.
func (s *snapshot) frames(from uint64, fn func(sg *seg, off int64, h segment.FrameHeader, p []byte) bool) error {
	var cur *seg
	var rd *segment.Reader
	var ferr error
	defer func() {
		if cur != nil {
			cur.done()
		}
	}()
	err := s.idx.Ascend(from, func(id uint64, first uint64, at uint32) bool {
		if first >= s.visible {
			return false
		}
		if cur == nil || cur.id != id {
			sg, err := s.seg(id)
			if err != nil {
				ferr = err
				return false
			}
			if cur != nil {
				cur.done()
				cur = nil
			}
			f, err := sg.file()
			if err != nil {
				ferr = s.readErr(err)
				return false
			}
			cur = sg
			rd = segment.NewReader(f, sg.size, sg.name)
		}
		rd.SetOffset(int64(at))
		off, h, p, err := rd.Next()
		if err == io.EOF {
			err = segment.Corruptf(cur.name, off, "indexed frame missing")
		}
		if err == nil && h.FirstSeq != first {
			err = segment.Corruptf(cur.name, off, "frame holds sequence %d, index says %d", h.FirstSeq, first)
		}
		if err != nil {
			ferr = s.readErr(err)
			return false
		}
		return fn(cur, off, h, p)
	})
	if err != nil {
		// (fn was not called for the segment whose frames did not load.)
		return s.readErr(err)
	}
	return ferr
}

func (s *snapshot) ascend(from uint64, yield func(Entry, error) bool) {
	err := s.ascendRuns(from, func(run []Entry) bool {
		for _, e := range run {
			if !yield(e, nil) {
				return false
			}
		}
		return true
	})
	if err != nil {
		yield(Entry{}, err)
	}
}

// maxRun bounds the entries ascendRuns decodes at a time: a frame may
// hold millions, and the run buffer is reused, not sized to the frame.
const maxRun = 256

// ascendRuns calls fn with the entries with Seq >= from, in order, a run
// of at most maxRun entries of one frame at a time, until fn returns
// false. A run and the keys and values in it are valid until fn returns.
// A damaged frame ends it with an error (wrapping ErrCorrupt, with file
// and offset) after fn has seen the entries before the damage; the error
// is returned only if fn did not end the iteration first.
func (s *snapshot) ascendRuns(from uint64, fn func(run []Entry) bool) error {
	from = max(from, s.front)
	stopped := false
	var derr error
	var buf []Entry
	var scratch []byte // rebuilt keys: valid for one run
	err := s.frames(from, func(sg *seg, off int64, h segment.FrameHeader, p []byte) bool {
		if want := min(int(h.Count), maxRun); len(buf) < want {
			buf = make([]Entry, want)
		}
		it := segment.NewEntryIterScratch(h, p, &scratch)
		for {
			n, err := it.NextBatch(buf)
			run, more := s.live(buf[:n], from)
			if len(run) > 0 && !fn(run) {
				stopped = true
				return false
			}
			if !more {
				return false
			}
			if err != nil {
				derr = segment.AtOffset(err, sg.name, off)
				return false
			}
			if n == 0 {
				return true
			}
		}
	})
	if stopped {
		return nil
	}
	if derr != nil {
		return derr
	}
	return err
}

// live filters run (ascending entries of one frame) in place to those the
// snapshot holds with Seq >= from. more is false once an entry at or past
// the visible bound ends the iteration.
func (s *snapshot) live(run []Entry, from uint64) (kept []Entry, more bool) {
	if len(run) == 0 || run[0].Seq >= from && run[len(run)-1].Seq < s.visible && s.dead.Empty() {
		return run, true
	}
	kept = run[:0]
	for _, e := range run {
		if e.Seq < from || s.dead.IsDead(e.Seq, e.Key) {
			continue
		}
		if e.Seq >= s.visible {
			return kept, false
		}
		kept = append(kept, e)
	}
	return kept, true
}

// descend yields the entries newest first. It holds one segment file open
// at a time.
func (s *snapshot) descend(yield func(Entry, error) bool) {
	var buf []Entry
	var cur *seg
	var f vfs.File
	defer func() {
		if cur != nil {
			cur.done()
		}
	}()
	err := s.idx.Descend(func(id uint64, first uint64, off uint32) bool {
		if first >= s.visible {
			return true
		}
		if cur == nil || cur.id != id {
			sg, err := s.seg(id)
			if err != nil {
				yield(Entry{}, err)
				return false
			}
			if cur != nil {
				cur.done()
				cur = nil
			}
			if f, err = sg.file(); err != nil {
				yield(Entry{}, s.readErr(err))
				return false
			}
			cur = sg
		}
		sg := cur
		h, p, err := segment.ReadFrame(f, sg.size, int64(off), sg.name)
		if err == nil && h.FirstSeq != first {
			err = segment.Corruptf(sg.name, int64(off), "frame holds sequence %d, index says %d", h.FirstSeq, first)
		}
		if err != nil {
			yield(Entry{}, s.readErr(err))
			return false
		}
		buf = buf[:0]
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				yield(Entry{}, segment.AtOffset(err, sg.name, int64(off)))
				return false
			}
			if !ok {
				break
			}
			if e.Seq < s.visible && e.Seq >= s.front && !s.dead.IsDead(e.Seq, e.Key) {
				buf = append(buf, e)
			}
		}
		for i := len(buf) - 1; i >= 0; i-- {
			if !yield(buf[i], nil) {
				return false
			}
		}
		return true
	})
	if err != nil {
		// Every yield so far returned true: Descend stops at a segment
		// whose frames did not load, before calling fn for it.
		yield(Entry{}, s.readErr(err))
	}
}

// findEntry returns entry seq of the frame (h, p) at off of segment name;
// Key and Value alias p.
func findEntry(h segment.FrameHeader, p []byte, seq uint64, dead compactor.DeadSet, name string, off int64) (Entry, error) {
	it := segment.NewEntryIter(h, p)
	for {
		e, ok, err := it.Next()
		if err != nil {
			return Entry{}, segment.AtOffset(err, name, off)
		}
		if !ok || e.Seq > seq {
			return Entry{}, fmt.Errorf("sequence %d: %w", seq, ErrNotFound)
		}
		if e.Seq == seq {
			if dead.IsDead(e.Seq, e.Key) {
				return Entry{}, fmt.Errorf("sequence %d: %w (removed by compaction)", seq, ErrNotFound)
			}
			return e, nil
		}
	}
}
