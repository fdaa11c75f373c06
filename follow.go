package journal

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/seglog/journal/wal"
)

// Follow streams the live entries with Seq >= from in sequence order, as
// Entries does, and then, instead of ending, waits for new ones and yields
// each as soon as it is visible, until ctx ends. It is how a dashboard or a
// replicator watches the journal: no polling loop, no CPU used while the
// journal is idle; a new entry reaches the follower within a millisecond
// (BenchmarkFollowLatency). Several goroutines may follow at once.
//
// It yields only what Entries would show at that moment: under Immediate
// an entry once it is on stable storage, so no crash can take back an
// entry Follow yielded; under Eventual an entry as soon as it is appended
// (a power cut can take it back, as it can from Entries). Batches are seen
// whole. Events compaction removed before the follower reached them are
// not yielded; those it yielded earlier stay yielded.
//
// When ctx ends Follow yields nothing more and returns: it does not yield
// ctx.Err(). Close wakes it and it yields an error wrapping ErrClosed.
// Damage yields ErrCorrupt. An error is yielded once and ends the
// iteration.
func (j *Journal) Follow(ctx context.Context, from uint64) iter.Seq2[Entry, error] {
	return decodeEntries(j.log.Follow(ctx, from))
}

// FollowDir is Follow for a journal another process has open and is
// appending to (journal inspect --follow): it takes no lock and modifies
// nothing, as Inspect. It yields the live entries with Seq >= from, then
// the batches appended later, found by looking every 25 ms for new frames
// in the newest segment file (a stat and a small read while nothing is
// appended), until ctx ends; it does not yield ctx.Err(). It survives
// rotation, compaction, repacking and the writer closing and reopening the
// journal (see wal.FollowDir). Unlike Follow it sees batches once they are
// written to the OS: under Immediate the newest may not be durable yet.
//
// An error is yielded once and ends the iteration: one matching
// fs.ErrNotExist for a missing dir, ErrNotJournal for a directory holding
// no journal, ErrCorrupt for damage.
func FollowDir(ctx context.Context, dir string, from uint64) iter.Seq2[Entry, error] {
	return decodeEntries(func(yield func(wal.Entry, error) bool) {
		for e, err := range wal.FollowDir(ctx, dir, nil, from, 0) {
			if errors.Is(err, wal.ErrNotFound) {
				err = fmt.Errorf("follow %s: %w", dir, ErrNotJournal)
			}
			if !yield(e, err) {
				return
			}
		}
	})
}
