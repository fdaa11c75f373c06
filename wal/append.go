package wal

import (
	"fmt"

	"github.com/seglog/journal/segment"
)

// Append writes b as one frame and returns the sequence number of its first
// record; the others follow contiguously. Sequence numbers strictly
// increase and are never reused, except those TruncateBack removes. An
// empty batch writes nothing and returns the next sequence number.
//
// With Immediate durability Append returns once the batch is on stable
// storage; concurrent Appends share one fdatasync (group commit). With
// Eventual it returns once the batch is written to the OS.
//
// A batch over MaxBatchBytes gives an error wrapping ErrInvalid and writes
// nothing. If a write or sync fails, Append returns an error wrapping the
// cause and ErrFailed, and every later Append fails the same way until the
// log is reopened: the batch may or may not be on disk, and reopening
// recovers a consistent state in which it is wholly present or absent.
func (l *Log) Append(b Batch) (first uint64, err error) {
	return l.append(b, false, 0)
}

// append is Append, and with at set AppendAt(want, b).
func (l *Log) append(b Batch, at bool, want uint64) (first uint64, err error) {
	if len(b.Records) == 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.state != stateOpen {
			return 0, ErrClosed
		}
		return l.nextSeq.Load(), nil
	}
	enc := l.getEncoder()
	defer l.putEncoder(enc)
	frame, err := enc.Batch(b.Records, b.Time)
	if err != nil {
		return 0, err
	}

	if l.opts.Durability == Immediate {
		l.appending.Add(1)
		defer l.appending.Add(-1)
	}
	l.mu.Lock()
	first, err = l.write(&frame, b, at, want)
	if err == nil && l.opts.Durability == Immediate {
		var unlocked bool
		if unlocked, err = l.waitAppended(l.nextSeq.Load()); unlocked {
			return first, err
		}
	}
	l.runInline()
	l.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return first, nil
}

// write appends frame, the encoding of b, as the log's next batch (at want,
// with at set), without waiting for a sync. Called with l.mu held.
func (l *Log) write(frame *segment.Frame, b Batch, at bool, want uint64) (first uint64, err error) {
	if err := l.writable(); err != nil {
		return 0, err
	}
	if at && want != l.nextSeq.Load() {
		if err := l.moveNext(want); err != nil {
			return 0, err
		}
	}
	if off := l.active.Offset(); off > segment.FileHeaderSize && (l.rotateNext || off+frame.Size() > l.opts.SegmentSize || l.packRotate(off)) {
		l.rotateNext = false
		if err := l.rotate(); err != nil {
			return 0, l.fail(err)
		}
	}
	first = l.nextSeq.Load()
	frame.SetFirst(first)
	compact := l.observe(b, first)
	if compact {
		frame.SetCompact()
	}
	var off int64
	if l.opts.Durability == Immediate && l.syncing > 0 {
		// A sync runs: this batch waits for the next, which writes it
		// with the others queued meanwhile (one write for the group).
		off, err = l.active.QueueFrame(frame)
	} else {
		off, err = l.active.WriteFrame(frame)
	}
	if err != nil {
		return 0, l.fail(err)
	}
	l.nextSeq.Add(uint64(len(b.Records)))
	l.m.batches.Add(1)
	l.m.records.Add(uint64(len(b.Records)))
	l.m.bytes.Add(uint64(frame.Size()))
	l.idx.Append(l.active.ID(), frame.Info(off))
	if l.opts.Durability == Eventual {
		l.visibleSeq.Store(l.nextSeq.Load())
		l.wakeFollowers()
	}
	if compact {
		l.applyCompaction(l.nextSeq.Load())
		if c := l.cs.Segment(l.active.ID()); rewriteWorthy(c, true) && l.active.Offset() >= earlyRotateBytes {
			l.rotateNext = true
		}
	}
	if l.cs != nil {
		l.sinceCpt += uint64(len(b.Records))
	}
	return first, nil
}

// writable reports why nothing may be appended now, if anything.
func (l *Log) writable() error {
	if l.state != stateOpen {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	return nil
}

// fail makes err sticky. Called with l.mu held.
func (l *Log) fail(err error) error {
	if l.failed == nil {
		l.failed = err
		l.log.Error("wal: write failed; refusing appends until reopened", "dir", l.dir, "err", err)
	}
	l.cond.Broadcast()
	return fmt.Errorf("%w: %w", ErrFailed, err)
}

// getEncoder returns a frame encoder from the log's pool.
func (l *Log) getEncoder() *segment.Encoder {
	if e, ok := l.encPool.Get().(*segment.Encoder); ok {
		return e
	}
	return segment.NewEncoder(l.opts.compressor)
}

func (l *Log) putEncoder(e *segment.Encoder) {
	if e.Cap() > 2<<20 {
		return // do not pin the buffers of a rare huge batch
	}
	l.encPool.Put(e)
}

func (l *Log) getBuf() *[]byte {
	if bp, ok := l.bufPool.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (l *Log) putBuf(bp *[]byte) {
	if cap(*bp) > 1<<20 {
		return // do not pin a huge buffer for a rare huge batch
	}
	l.bufPool.Put(bp)
}
