package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/seglog/journal"
	"github.com/seglog/journal/wal"
)

var compactCommand = &command{
	name:     "compact",
	synopsis: "DIR [--file-mode MODE]",
	summary:  "remove the events of removed routes now",
	help: `Compact the journal in DIR now, whatever its compaction threshold: for every
route with a RouteRemoved event, its events up to its last RouteRemoved
(that one included) are removed, and the segment files holding removed
events are rewritten without them. Surviving events keep their sequence
numbers. Then print the live events and the bytes of the segment and index
files (apparent sizes) before and after.

The journal must not be open elsewhere: compact opens it, which takes its
lock, and fails if another process holds it.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		return addFileModeFlag(fs, "the rewritten files get it")
	},
	run: runCompact,
}

func runCompact(e *env, args []string, fl any) int {
	dir := args[0]
	fi, err := os.Stat(dir)
	if err != nil {
		return fail(e, "compact", err)
	}
	if !fi.IsDir() {
		return fail(e, "compact", fmt.Errorf("%s is not a directory", dir))
	}
	// journal.Open would create a journal in a directory without one.
	v, err := wal.OpenView(dir, nil)
	if errors.Is(err, wal.ErrNotFound) {
		return fail(e, "compact", fmt.Errorf("%s: %w", dir, journal.ErrNotJournal))
	}
	if err != nil {
		return fail(e, "compact", describeOpenErr(err))
	}
	v.Close()

	j, err := journal.Open(dir, journal.Options{FileMode: *fl.(*os.FileMode)})
	if errors.Is(err, journal.ErrLocked) {
		return fail(e, "compact", fmt.Errorf("%s is open in another process (its lock is held); close it before compacting", dir))
	}
	if err != nil {
		return fail(e, "compact", describeOpenErr(err))
	}
	// The figures are taken with the lock held, so nothing else writes.
	before, err := wal.Stat(dir, nil)
	if err == nil {
		err = j.Compact()
	}
	var after wal.Stats
	if err == nil {
		after, err = wal.Stat(dir, nil)
	}
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(e, "compact", describeOpenErr(err))
	}
	removed := uint64(0)
	if before.Entries > after.Entries {
		removed = before.Entries - after.Entries
	}
	w := e.stdout
	fmt.Fprintf(w, "compacted %s\n", dir)
	fmt.Fprintf(w, "events:    %d before, %d after (%d removed)\n", before.Entries, after.Entries, removed)
	fmt.Fprintf(w, "segments:  %d before, %d after\n", before.Segments, after.Segments)
	fmt.Fprintf(w, "bytes:     %d before, %d after (segment and index files, apparent sizes)\n", before.ApparentBytes, after.ApparentBytes)
	return 0
}
