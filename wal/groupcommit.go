package wal

import (
	"fmt"
	"runtime"
)

// The group commit: one syncer at a time makes durable every batch
// written before its sync took its offset, for Immediate appends, Sync and
// compaction's work alike; Immediate appends that arrive meanwhile wait
// for the next sync as a group.

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
