package journal

import (
	"errors"
	"fmt"
	"iter"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

// InspectOldest streams what Inspect returns in the other order, oldest
// first, starting at sequence number filter.From: the route filter applies
// first, then Limit ends the iteration. Like InspectNewest it takes no lock,
// sees the complete batches present when the iteration starts (events
// removed by compaction left out), verifies each entry it reads, and yields
// an error once, ending the iteration: matching fs.ErrNotExist for a
// missing dir, ErrNotJournal for a directory holding no journal, ErrCorrupt
// (with file and offset) for damaged data.
func InspectOldest(dir string, filter InspectFilter) iter.Seq2[Entry, error] {
	return inspectOldest(dir, filter, nil)
}

func inspectOldest(dir string, filter InspectFilter, fsys vfs.FS) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		v, err := wal.OpenCompactedView(dir, fsys)
		if err != nil {
			yield(Entry{}, inspectErr(dir, err))
			return
		}
		defer v.Close()
		inspectEntries(dir, v.Entries(filter.From), filter, false)(yield)
	}
}

// inspectErr words an error from reading the log of the journal in dir.
func inspectErr(dir string, err error) error {
	if errors.Is(err, wal.ErrNotFound) {
		return fmt.Errorf("journal: inspect %s: %w", dir, ErrNotJournal)
	}
	// A missing dir keeps matching fs.ErrNotExist through the wrapping.
	return fmt.Errorf("journal: inspect: %w", err)
}

// inspectEntries decodes the log's entries from src into journal entries
// for InspectNewest (newest, src in descending order) and InspectOldest:
// it applies the route filter, then From (ending a descending iteration at
// the first entry below it) and Limit.
func inspectEntries(dir string, src iter.Seq2[wal.Entry, error], filter InspectFilter, newest bool) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		n := 0
		intern := make(map[string]string)
		for e, err := range src {
			if err != nil {
				yield(Entry{}, inspectErr(dir, err))
				return
			}
			if e.Seq < filter.From {
				if newest {
					return
				}
				continue
			}
			if filter.RouteID != "" && string(e.Key) != filter.RouteID {
				continue
			}
			ev, err := decodeEvent(e.Key, e.Value, e.Tombstone, intern)
			if err != nil {
				yield(Entry{}, fmt.Errorf("journal: inspect: sequence %d: %w", e.Seq, err))
				return
			}
			if !yield(Entry{Seq: e.Seq, TimestampMs: e.Time, Event: ev}, nil) {
				return
			}
			if n++; filter.Limit > 0 && n >= filter.Limit {
				return
			}
		}
	}
}
