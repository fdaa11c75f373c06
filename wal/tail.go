package wal

import (
	"github.com/seglog/journal/segment"
)

// defaultTailEvery is how many bytes of durable frames the active segment
// gains before they are listed in its tail index (Log.tailEvery): what
// Open after a crash scans, at most, beyond the index.
const defaultTailEvery = 1 << 20

// checkpointTail lists in the active segment's tail index the frames that
// a sync of w through off made durable, once they reach tailEvery bytes
// past what it lists. The tail index is a cache: a failure to write it is
// logged and the segment is left to a scan. Called with l.mu held, after
// the sync.
func (l *Log) checkpointTail(w *segment.Writer, off int64) {
	if w != l.active || l.state != stateOpen {
		return
	}
	from := int64(segment.FileHeaderSize)
	if l.tail != nil {
		from = l.tail.End()
	}
	if off-from < l.tailEvery {
		return
	}
	id := w.ID()
	frames, err := l.idx.NewestFramesFrom(nil, id, l.tailFrames)
	if err != nil {
		l.log.Warn("wal: cannot write the active segment's tail index; Open after a crash scans the segment", "err", err)
		return
	}
	// Frames written since the sync began (at or past off) wait for the
	// next one.
	n := len(frames)
	for n > 0 && int64(frames[n-1].Offset) >= off {
		n--
	}
	if n == 0 {
		return
	}
	if l.tail == nil {
		t, err := segment.CreateTailIndex(l.fs, tailName(l.dir, id), id)
		if err != nil {
			l.log.Warn("wal: cannot write the active segment's tail index; Open after a crash scans the segment", "err", err)
			return
		}
		l.tail, l.staleTail = t, false
	}
	if err := l.tail.Append(frames[:n], off); err != nil {
		l.log.Warn("wal: cannot write the active segment's tail index; Open after a crash scans the segment", "err", err)
		l.dropTail(false)
		return
	}
	l.tailFrames += n
}

// dropTail closes the active segment's tail index and, with remove,
// deletes its file (making the deletion durable is the caller's: see
// truncBack). Called with l.mu held.
func (l *Log) dropTail(remove bool) error {
	if l.tail == nil {
		if !remove || !l.staleTail {
			return nil
		}
		l.staleTail = false
		if err := l.fs.Remove(tailName(l.dir, l.active.ID())); err != nil && !isNotExist(err) {
			return err
		}
		return nil
	}
	name := tailName(l.dir, l.active.ID())
	err := l.tail.Close()
	l.tail, l.tailFrames = nil, 0
	if remove {
		if rerr := l.fs.Remove(name); rerr != nil && !isNotExist(rerr) && err == nil {
			err = rerr
		}
	}
	return err
}
