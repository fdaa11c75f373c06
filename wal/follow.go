package wal

import (
	"context"
	"fmt"
	"iter"
)

// Follow returns an iterator over the entries with Seq >= from, in order,
// that does not end at the end of the log: once it has yielded every
// visible entry it waits for more until ctx ends, the log closes or the
// caller stops. It yields only visible entries, as Entries does: under
// Immediate durability a batch is yielded only once it is durable, so no
// crash can take back an entry it yielded.
//
// Each step reads a snapshot of the log (see Entries) taken when it wakes,
// so entries removed by compaction or TruncateFront before the follower
// reached them are skipped, and it holds no segment file while it waits.
// It waits on a channel the log closes when entries become visible: it
// burns no CPU while the log is idle, and an append with nobody following
// pays one nil check.
//
// When ctx ends it yields nothing more and returns without yielding
// ctx.Err(). Close wakes it: it yields an error wrapping ErrClosed (batches
// Close itself made durable may not have been yielded). A TruncateBack
// while it follows yields an error wrapping ErrNotFound, since entries it
// yielded may have been removed and their sequence numbers reused. Every
// error ends the iteration. Key and Value alias a buffer that is reused:
// copy them to keep them past the iteration step.
func (l *Log) Follow(ctx context.Context, from uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		next := from
		var seen, cutsAt uint64 // the highest visible bound seen, and the TruncateBack count then
		for i := 0; ; i++ {
			s, wake, err := l.followSnapshot()
			if err != nil {
				if ctx.Err() == nil {
					yield(Entry{}, err)
				}
				return
			}
			if i > 0 && (s.cutsAt != cutsAt || s.visible < seen) {
				s.release()
				if ctx.Err() == nil {
					yield(Entry{}, fmt.Errorf("follow from %d: %w: TruncateBack removed entries while following", next, ErrNotFound))
				}
				return
			}
			cutsAt, seen = s.cutsAt, max(seen, s.visible)
			ended := false
			s.ascend(next, func(e Entry, err error) bool {
				if ended = ctx.Err() != nil; ended {
					return false
				}
				if err != nil {
					ended = true
					yield(Entry{}, err)
					return false
				}
				next = e.Seq + 1
				ended = !yield(e, nil)
				return !ended
			})
			s.release()
			if ended {
				return
			}
			next = max(next, s.visible)
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
		}
	}
}

// followSnapshot is snapshot together with a channel closed when the
// snapshot is outdated: taken under one lock, so no wake-up between them
// is lost.
func (l *Log) followSnapshot() (*snapshot, <-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.snapshotLocked()
	if err != nil {
		return nil, nil, err
	}
	if l.followWake == nil {
		l.followWake = make(chan struct{})
	}
	return s, l.followWake, nil
}

// wakeFollowers wakes every follower waiting: visibleSeq moved, or the log
// closed. Without one it costs a nil check. Called with l.mu held.
func (l *Log) wakeFollowers() {
	if l.followWake != nil {
		close(l.followWake)
		l.followWake = nil
	}
}
