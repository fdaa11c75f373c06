package wal

import (
	"fmt"
	"runtime"

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

// syncGroup is the appends that wait for one sync: done is closed once
// the sync that took them ends, or once no sync will (their leader left),
// and each then reads syncedSeq.
type syncGroup struct{ done chan struct{} }

// waitAppended is waitSynced for an Immediate append, target its batch's
// end. While a sync runs, the first append to arrive leads the group of
// those that arrive after it: it waits on cond and runs the next sync,
// the others wait on the group's channel and return when it closes
// without taking l.mu again (unlocked). Called with l.mu held.
func (l *Log) waitAppended(target uint64) (unlocked bool, err error) {
	if l.syncing == 0 || l.inlineDue || l.failed != nil || l.state != stateOpen {
		return false, l.waitSynced(target)
	}
	if g := l.nextSync; g != nil {
		l.mu.Unlock()
		<-g.done
		if l.syncedSeq.Load() >= target {
			return true, nil
		}
		l.mu.Lock()
		return false, l.waitSynced(target)
	}
	g := &syncGroup{done: make(chan struct{})}
	l.nextSync = g
	err = l.waitSynced(target)
	if l.nextSync == g {
		// No sync took the group: its members go their own way.
		l.nextSync = nil
		close(g.done)
	}
	return false, err
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

// waitSynced returns once every sequence number below target is durable.
// One waiter at a time runs fdatasync for everything written so far, with
// l.mu released; the others wait for it and are covered by it (group
// commit). Called with l.mu held.
func (l *Log) waitSynced(target uint64) error { return l.syncUntil(target, true) }

// syncForWork is waitSynced for compaction work, which Close waits for:
// once the log is closing it returns ErrClosed instead of waiting for
// Close to finish.
func (l *Log) syncForWork(target uint64) error { return l.syncUntil(target, false) }

func (l *Log) syncUntil(target uint64, awaitClose bool) error {
	for l.syncedSeq.Load() < target {
		if l.failed != nil {
			return fmt.Errorf("%w: %w", ErrFailed, l.failed)
		}
		// Close seals the log, which makes every written batch durable:
		// an append waits for it rather than fail a batch that is about
		// to be durable.
		if l.state != stateOpen {
			if awaitClose && l.state != stateClosed {
				l.cond.Wait()
				continue
			}
			return ErrClosed
		}
		// One syncer at a time, chosen under l.mu when the previous one is
		// done, so that its offset covers every batch appended meanwhile:
		// the others wait here rather than in the writer, and more batches
		// share each fdatasync.
		if l.syncing > 0 {
			l.cond.Wait()
			continue
		}
		if l.appending.Load() > 1 {
			// Other appends are on their way: let them queue their
			// batches before this sync takes its offset, so that it
			// covers them too instead of leaving them to the next. (Once:
			// yielding while they keep coming made the slowest commits at
			// 256 writers slower.)
			l.syncing++
			l.mu.Unlock()
			runtime.Gosched()
			l.mu.Lock()
			l.syncing--
			if l.failed != nil || l.state != stateOpen {
				l.cond.Broadcast()
				continue
			}
		}
		w, off, upto := l.active, l.active.Offset(), l.nextSeq.Load()
		if l.cs != nil && l.sinceCpt >= cptEvery && l.cptPend == nil {
			// As of upto, which this sync makes durable: the checkpoint
			// then covers everything durable, and Open after a crash
			// replays only what came after the sync.
			l.pendCheckpoint()
		}
		g := l.nextSync
		l.nextSync = nil
		l.syncing++
		l.mu.Unlock()
		err := w.Sync(off)
		l.mu.Lock()
		l.syncing--
		if err != nil {
			err = l.fail(err)
			if g != nil {
				close(g.done)
			}
			return err
		}
		l.syncedSeq.Store(max(l.syncedSeq.Load(), upto))
		l.checkpointTail(w, off)
		l.checkpointReady()
		if l.opts.Durability == Immediate {
			l.visibleSeq.Store(max(l.visibleSeq.Load(), upto))
			l.publishDead()
			l.wakeFollowers()
		}
		l.cond.Broadcast()
		if g != nil {
			close(g.done)
		}
	}
	return nil
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
