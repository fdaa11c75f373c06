package wal

import (
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"slices"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/index"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// Newest iterates the entries of the log in dir newest first, as a View
// of a log written with compaction (OpenCompactedView) would, without the
// lock and without loading the log: it walks the segments backwards, one
// frame at a time, so reading the newest entries costs a few reads
// whatever the log's size.
//
// It sees the complete, valid batches present when the iteration starts;
// records removed by compaction or truncation are left out. A sealed
// segment's frames are found through its index file, read from the end a
// few KiB at a time; each frame is verified (both checksums, and that it
// ends where the next begins, so no frame is skipped), and an index file
// that does not match its segment is replaced by a scan of the segment, as
// Open does. The newest segment, while a writer appends to it, is scanned
// whole; so are the segments holding records after the compaction
// checkpoint (usually none after a Close). Only what is read is verified:
// damage in older segments is found by an iteration that reaches them.
//
// A missing dir gives an error matching fs.ErrNotExist; a dir holding no
// segment gives an error wrapping ErrNotFound; damage gives an error
// wrapping ErrCorrupt with file and offset. An error is yielded once and
// ends the iteration. Key and Value alias buffers valid until the next
// frame is read: copy them to keep them.
func Newest(dir string, fsys vfs.FS) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if fsys == nil {
			fsys = vfs.Default()
		}
		nw, err := openNewest(dir, fsys)
		if err != nil {
			yield(Entry{}, err)
			return
		}
		defer nw.close()
		nw.descend(yield)
	}
}

// newest is Newest's state: the segment files opened when it started.
type newest struct {
	fsys    vfs.FS
	dir     string
	segs    []*backSeg // ascending ids
	front   uint64     // entries below it are truncated
	visible uint64     // entries at or above it are being cut off
	dead    compactor.DeadSet
	buf     []byte // frame read buffer
}

// backSeg is one segment as Newest reads it: its frames come from its
// index file (tail) until that fails to match, then from a scan (frames).
type backSeg struct {
	s        *seg // size: where its frames end (the file's size until scanned)
	last     bool // the newest segment
	prepared bool
	tail     *segment.IndexTail
	frames   []segment.FrameInfo // after a scan
}

// openNewest opens every segment file and builds the compaction state,
// retrying, as OpenCompactedView does, while a compaction replaces the
// checkpoint under it.
func openNewest(dir string, fsys vfs.FS) (*newest, error) {
	return readStable(fsys, dir, func() (*newest, error) { return openNewestOnce(dir, fsys) }, func(nw *newest) { nw.close() })
}

func openNewestOnce(dir string, fsys vfs.FS) (_ *newest, err error) {
	b, err := readBounds(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	mld, err := manifest.Load(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var ids []uint64
	for _, n := range names {
		if id, ok := parseSegName(n); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("read %s: no log segments: %w", dir, ErrNotFound)
	}
	slices.Sort(ids)
	nw := &newest{fsys: fsys, dir: dir, front: logFront(b, mld), visible: math.MaxUint64}
	if b.cut != nil {
		// A TruncateBack is under way: what it removes is gone already.
		nw.visible = b.cut.next
	}
	defer func() {
		if err != nil {
			nw.close()
		}
	}()
	for i, id := range ids {
		name := segName(dir, id)
		f, err := fsys.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: open segment: %w", dir, err)
		}
		bs := &backSeg{s: &seg{id: id, name: name, own: f}, last: i == len(ids)-1}
		nw.segs = append(nw.segs, bs)
		if bs.s.size, err = f.Size(); err != nil {
			return nil, fmt.Errorf("read %s: stat %s: %w", dir, name, err)
		}
	}
	if err := nw.buildDead(); err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return nw, nil
}

// buildDead loads the compaction checkpoint and replays the frames after
// it, found walking backwards, to know which records compaction removed.
func (nw *newest) buildDead() error {
	cs, err := readState(nw.fsys, nw.dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	through := cs.Through()
	ld := &loaded{idx: index.New()}
	for i := len(nw.segs) - 1; i >= 0; i-- {
		bs := nw.segs[i]
		if err := nw.prepare(bs); err != nil {
			return err
		}
		// The frames holding records at or after through, newest first.
		var frames []segment.FrameInfo
		done := false
		for j := bs.len() - 1; j >= 0; j-- {
			fi, err := bs.frame(j)
			if err != nil {
				// A bad index file: scan the segment instead.
				if err := nw.scan(bs); err != nil {
					return err
				}
				frames, j = frames[:0], bs.len()
				continue
			}
			if fi.Last < through {
				done = true
				break
			}
			if bs.tail != nil {
				// The replay reads these frames through the scan's
				// verified list, not an index file it cannot fall back
				// from (normally only the newest segment, scanned anyway).
				if err := nw.scan(bs); err != nil {
					return err
				}
				frames, j = frames[:0], bs.len()
				continue
			}
			frames = append(frames, fi)
		}
		if len(frames) > 0 {
			slices.Reverse(frames)
			ld.segs = append(ld.segs, bs.s)
			ld.idx.AppendSegment(bs.s.id, frames)
			ld.nextSeq = max(ld.nextSeq, frames[len(frames)-1].Last+1)
		}
		if done {
			break
		}
	}
	slices.Reverse(ld.segs)
	if err := replayState(cs, ld, nw.front); err != nil {
		return err
	}
	nw.dead = cs.Dead()
	return nil
}

// prepare reads bs's file header and opens its index file, or scans it
// when the index does not match it (or bs is the newest segment, which a
// writer may be appending to).
func (nw *newest) prepare(bs *backSeg) error {
	if bs.prepared {
		return nil
	}
	bs.prepared = true
	fh, err := segment.ReadFileHeader(bs.s.own, bs.s.size, bs.s.name)
	if err == nil && fh.ID == bs.s.id && bs.s.id <= maxSegmentID {
		bs.s.base = fh.Base
		if t, st := segment.OpenIndexTail(nw.fsys, idxName(nw.dir, bs.s.id), bs.s.id, bs.s.size); st == segment.IndexOK {
			bs.tail = t
			return nil
		}
	}
	// The loader's checks and messages for everything else (a damaged
	// header, a torn or half-made newest segment, a missing index).
	return nw.scan(bs)
}

// scan replaces bs's index file with a scan of the segment, through the
// loader Open uses.
func (nw *newest) scan(bs *backSeg) error {
	if bs.tail != nil {
		bs.tail.Close()
		bs.tail = nil
	}
	w := walk{fsys: nw.fsys, dir: nw.dir, mode: forView, front: nw.front, ld: &loaded{idx: index.New(), nextSeq: nw.front}}
	err := w.segment(bs.s.id, bs.last)
	if len(w.ld.segs) == 1 {
		// Read what was scanned, not what the name holds by now.
		sg := w.ld.segs[0]
		bs.s.own.Close()
		bs.s.own, bs.s.size, bs.s.base = sg.own, sg.size, sg.base
	}
	if err != nil {
		return err
	}
	// (Frames gives each frame the numbers up to the next's first: only
	// First and Offset are read from it, and Last is an upper bound.)
	bs.frames, err = w.ld.idx.Frames(bs.s.id)
	return err
}

func (bs *backSeg) len() int {
	if bs.tail != nil {
		return bs.tail.Len()
	}
	return len(bs.frames)
}

func (bs *backSeg) frame(i int) (segment.FrameInfo, error) {
	if bs.tail != nil {
		return bs.tail.Frame(i)
	}
	return bs.frames[i], nil
}

// descend yields the entries newest first.
func (nw *newest) descend(yield func(Entry, error) bool) {
	below := uint64(math.MaxUint64) // every entry yielded so far is at or above it
	var out []Entry
	for i := len(nw.segs) - 1; i >= 0; i-- {
		bs := nw.segs[i]
		if err := nw.prepare(bs); err != nil {
			yield(Entry{}, err)
			return
		}
		segBelow := below // what this segment's frames read so far start at
		end := bs.s.size
		for j := bs.len() - 1; j >= 0; j-- {
			fi, err := bs.frame(j)
			var h segment.FrameHeader
			var p []byte
			if err == nil {
				if fi.First >= segBelow {
					end = int64(fi.Offset)
					continue // read before a scan replaced the index
				}
				h, p, nw.buf, err = segment.ReadFrameInto(bs.s.own, bs.s.size, int64(fi.Offset), end, nw.buf, bs.s.name)
				if err == nil && h.FirstSeq != fi.First {
					err = segment.Corruptf(bs.s.name, int64(fi.Offset), "frame holds sequence %d, index says %d", h.FirstSeq, fi.First)
				}
				if err == nil && j == 0 && int64(fi.Offset) != segment.FileHeaderSize {
					err = segment.Corruptf(bs.s.name, segment.FileHeaderSize, "first frame indexed at %d", fi.Offset)
				}
			}
			if err != nil && bs.tail != nil && (errors.Is(err, ErrCorrupt) || errors.Is(err, segment.ErrInvalid)) {
				// The index file, a cache, does not describe the segment:
				// scan it and go on below what was read.
				if err := nw.scan(bs); err != nil {
					yield(Entry{}, err)
					return
				}
				j, end = bs.len(), bs.s.size
				continue
			}
			if err != nil {
				yield(Entry{}, err)
				return
			}
			end = int64(fi.Offset)
			out = out[:0]
			it := segment.NewEntryIter(h, p)
			for {
				e, ok, err := it.Next()
				if err == nil && ok && (e.Seq >= below || e.Seq < bs.s.base) {
					err = segment.Corruptf("", -1, "sequence %d out of order", e.Seq)
				}
				if err != nil {
					yield(Entry{}, segment.AtOffset(err, bs.s.name, int64(fi.Offset)))
					return
				}
				if !ok {
					break
				}
				if e.Seq < nw.visible && e.Seq >= nw.front && !nw.dead.IsDead(e.Seq, e.Key) {
					out = append(out, e)
				}
			}
			for k := len(out) - 1; k >= 0; k-- {
				if !yield(out[k], nil) {
					return
				}
			}
			below, segBelow = h.FirstSeq, h.FirstSeq
			if below <= nw.front {
				return // everything older is truncated
			}
		}
	}
}

// close releases the files.
func (nw *newest) close() {
	for _, bs := range nw.segs {
		if bs.tail != nil {
			bs.tail.Close()
		}
		bs.s.own.Close()
	}
}
