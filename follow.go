package journal

import (
	"context"
	"iter"
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
