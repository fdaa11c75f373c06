package main

import (
	"flag"
	"fmt"
	"io"
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
	// journal.Open would create a journal in a directory without one.
	v, err := wal.OpenView(dir, nil)
	if err != nil {
		return failDir(e, "compact", dir, err)
	}
	v.Close()

	// The figures before are taken before Open, whose background work
	// (repacking, compaction a crash left due) is part of what this
	// command does; those after with the lock held, so nothing else
	// writes.
	before, err := wal.Stat(dir, nil)
	if err != nil {
		return failDir(e, "compact", dir, err)
	}
	j, err := journal.Open(dir, journal.Options{FileMode: *fl.(*os.FileMode)})
	if err != nil {
		return failDir(e, "compact", dir, err)
	}
	err = j.Compact()
	var after wal.Stats
	if err == nil {
		after, err = wal.Stat(dir, nil)
	}
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return failDir(e, "compact", dir, err)
	}
	writeCompactReport(e.stdout, dir, before, after)
	return 0
}

// writeCompactReport prints what a compaction did from the figures before
// and after it. Events are the live ones; records are those in segment
// files, live or dead: a compaction may remove no live event yet drop many
// records, those of events an earlier compaction removed (counted in
// DeadOnDisk) that stayed in files no rewrite had reached.
func writeCompactReport(w io.Writer, dir string, before, after wal.Stats) {
	recBefore, recAfter := onDisk(before), onDisk(after)
	fmt.Fprintf(w, "compacted %s\n", dir)
	fmt.Fprintf(w, "events:    %d before, %d after (%d removed)\n", before.Entries, after.Entries, sub(before.Entries, after.Entries))
	fmt.Fprintf(w, "records:   %d before, %d after (%d dropped from segment files)\n", recBefore, recAfter, sub(recBefore, recAfter))
	fmt.Fprintf(w, "segments:  %d before, %d after\n", before.Segments, after.Segments)
	fmt.Fprintf(w, "bytes:     %d before, %d after (%d reclaimed; segment and index files, apparent sizes)\n",
		before.ApparentBytes, after.ApparentBytes, max(before.ApparentBytes-after.ApparentBytes, 0))
}

// onDisk is the number of records in st's segment files: the live ones
// and the removed ones still there.
func onDisk(st wal.Stats) uint64 { return st.Entries + st.DeadOnDisk }

// sub is a-b, or 0 when b > a.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
