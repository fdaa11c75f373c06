package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"time"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// DefaultFollowPoll is how often FollowDir looks for new frames when its
// poll interval is 0.
const DefaultFollowPoll = 25 * time.Millisecond

// followDirMaxFrames bounds the frames FollowDir reads before yielding, so
// a follower far behind holds a bounded number of entries in memory.
const followDirMaxFrames = 4096

// FollowDir is Follow for a log another process has open: it takes no lock
// and modifies nothing. It yields the entries with Seq >= from of a view
// of dir (OpenCompactedView), then, every poll (0 means DefaultFollowPoll),
// the entries of the frames written since, until ctx ends (it does not
// yield ctx.Err()). While nothing is appended a poll costs a stat and a
// read of a frame header: it reads only what is new.
//
// It keeps the newest segment open and reads its new frames, verified, as
// they appear; a frame still being written is read at a later poll. Once a
// newer segment exists it reads the rest of its segment and goes on in the
// next, so it survives rotation, and a segment a writer rewrites (repack,
// compaction) or deletes meanwhile stays readable through the open file.
// It keeps the compaction state up to date with every frame it reads, so
// entries removed by compaction before it read them are not yielded.
// Anything it cannot explain (damage in a sealed segment, a segment gone
// before it was read) makes it open a new view from where it is, which
// reports damage as OpenCompactedView does.
//
// It shows the batches written to the OS, as a View does: under Immediate
// a batch may be yielded up to one fdatasync before the writer counts it
// durable, and a power cut can take back those last ones. An error is
// yielded once and ends the iteration. Key and Value alias buffers valid
// for one step.
func FollowDir(ctx context.Context, dir string, fsys vfs.FS, from uint64, poll time.Duration) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if fsys == nil {
			fsys = vfs.Default()
		}
		if poll <= 0 {
			poll = DefaultFollowPoll
		}
		fd := &dirFollower{fsys: fsys, dir: dir, next: from}
		defer fd.closeSeg()
		if !fd.resync(ctx, yield) {
			return
		}
		tick := time.NewTicker(poll)
		defer tick.Stop()
		for {
			more, ok := fd.poll(ctx, yield)
			if !ok {
				return
			}
			if more {
				continue // more to read at once: a follower behind
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}
}

// dirFollower is FollowDir's state.
type dirFollower struct {
	fsys vfs.FS
	dir  string
	next uint64 // the entries below it were yielded or skipped
	cs   *compactor.State
	// front is the view's: its state counts no record below it.
	front uint64
	// The segment being read: the newest when last looked, or one sealed
	// since, whose remaining frames are read before going on.
	seg seg // own is open; size is unused
	off int64
	hdr [segment.FrameHeaderSize]byte
	// badHeader counts the polls that found the next segment without a
	// valid header.
	badHeader int
	scratch   []byte
	batch     []Entry // entries read in one poll, copied into kv
	kv        []byte
}

// resync opens a view from fd.next, yields its entries and makes its
// newest segment the one read next. It reports whether to go on.
func (fd *dirFollower) resync(ctx context.Context, yield func(Entry, error) bool) bool {
	fd.closeSeg()
	v, err := OpenCompactedView(fd.dir, fd.fsys)
	if err != nil {
		if ctx.Err() == nil {
			yield(Entry{}, err)
		}
		return false
	}
	defer v.Close()
	for e, err := range v.Entries(fd.next) {
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			yield(Entry{}, err)
			return false
		}
		fd.next = e.Seq + 1
		if !yield(e, nil) {
			return false
		}
	}
	fd.next = max(fd.next, v.NextSeq())
	fd.cs, fd.front = v.cs, v.s.front
	// The newest segment stays open, to read what is appended to it.
	last := v.ld.segs[len(v.ld.segs)-1]
	fd.seg, fd.off = *last, last.size
	last.own = nil
	return true
}

// poll reads the frames written since the last poll and yields their live
// entries; it goes on to the next segment once the current one is sealed.
// more says there is more to read at once; ok false ends the follow.
func (fd *dirFollower) poll(ctx context.Context, yield func(Entry, error) bool) (more, ok bool) {
	// A newer segment existing before the read means this one is sealed:
	// every frame of it is there to be read.
	_, err := fd.fsys.Stat(segName(fd.dir, fd.seg.id+1))
	sealed := err == nil
	if !sealed && !fd.frameAhead() {
		return false, true // the idle case: one stat, one small read
	}
	size, err := fd.seg.own.Size()
	if err != nil {
		return false, fd.fail(ctx, yield, fmt.Errorf("read %s: %w", fd.seg.name, err))
	}
	rd := segment.NewReader(fd.seg.own, size, fd.seg.name)
	rd.SetOffset(fd.off)
	fd.batch, fd.kv = fd.batch[:0], fd.kv[:0]
	frames, clean := 0, false
	for frames < followDirMaxFrames {
		off, h, p, err := rd.Next()
		if err == io.EOF {
			clean = true
			break
		}
		if errors.Is(err, ErrCorrupt) && !sealed {
			break // being written: read at a later poll
		}
		if err == nil {
			err = fd.observe(h, p)
		}
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				// Damage, or a file the follower did not expect: a new
				// view says which.
				return true, fd.resync(ctx, yield)
			}
			return false, fd.fail(ctx, yield, segment.AtOffset(err, fd.seg.name, off))
		}
		fd.off = off + h.Size()
		frames++
	}
	if !fd.yieldBatch(ctx, yield) {
		return false, false
	}
	if frames == followDirMaxFrames {
		return true, true
	}
	if sealed && clean {
		return fd.advance(ctx, yield)
	}
	return false, true
}

// frameAhead reports whether something other than zeros or the end of the
// file is at the read offset: a frame written, or being written.
func (fd *dirFollower) frameAhead() bool {
	n, _ := fd.seg.own.ReadAt(fd.hdr[:], fd.off)
	return slices.ContainsFunc(fd.hdr[:n], func(b byte) bool { return b != 0 })
}

// observe feeds one frame to the compaction state and keeps copies of its
// entries at or after next.
func (fd *dirFollower) observe(h segment.FrameHeader, p []byte) error {
	return observeFrame(fd.cs, fd.seg.id, fd.front, h, p, &fd.scratch, func(e segment.Entry) {
		if e.Seq < fd.next {
			return
		}
		k := len(fd.kv)
		fd.kv = append(append(fd.kv, e.Key...), e.Value...)
		fd.batch = append(fd.batch, Entry{Seq: e.Seq, Time: e.Time, Tombstone: e.Tombstone,
			Key: fd.kv[k : k+len(e.Key) : k+len(e.Key)], Value: fd.kv[k+len(e.Key):]})
	})
}

// yieldBatch yields the entries read that compaction has not removed.
func (fd *dirFollower) yieldBatch(ctx context.Context, yield func(Entry, error) bool) bool {
	dead := fd.cs.Dead()
	for _, e := range fd.batch {
		if ctx.Err() != nil {
			return false
		}
		fd.next = e.Seq + 1
		if dead.IsDead(e.Seq, e.Key) {
			continue
		}
		if !yield(e, nil) {
			return false
		}
	}
	return true
}

// advance goes on from a sealed segment read whole to the one after it.
func (fd *dirFollower) advance(ctx context.Context, yield func(Entry, error) bool) (more, ok bool) {
	id := fd.seg.id + 1
	name := segName(fd.dir, id)
	f, err := fd.fsys.Open(name)
	if err != nil {
		// Deleted (wholly compacted) since it was seen: a view knows
		// which segment comes next.
		return true, fd.resync(ctx, yield)
	}
	size, err := f.Size()
	var fh segment.FileHeader
	if err == nil {
		fh, err = segment.ReadFileHeader(f, size, name)
	}
	if err != nil || fh.ID != id {
		f.Close()
		// Its header not written yet: try again at the next poll, and
		// after a second of that ask a view.
		if fd.badHeader++; fd.badHeader >= 40 {
			fd.badHeader = 0
			return true, fd.resync(ctx, yield)
		}
		return false, true
	}
	fd.badHeader = 0
	fd.closeSeg()
	fd.seg, fd.off = seg{id: id, name: name, own: f, base: fh.Base}, segment.FileHeaderSize
	return true, true
}

func (fd *dirFollower) fail(ctx context.Context, yield func(Entry, error) bool, err error) bool {
	if ctx.Err() == nil {
		yield(Entry{}, err)
	}
	return false
}

func (fd *dirFollower) closeSeg() {
	fd.seg.closeFile()
}
