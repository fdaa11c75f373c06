package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/seglog/journal"
	"github.com/seglog/journal/wal"
)

var statsCommand = &command{
	name:     "stats",
	synopsis: "DIR",
	summary:  "show segment, event, disk, command ID and compaction figures",
	help: `Show figures about the journal in DIR: its segment files (count and bytes),
the live entries (those not removed by compaction), the range of sequence
numbers and the next one, the bytes on disk per live event (allocated
blocks and apparent file sizes; the active segment of an open journal has
space reserved ahead), and the number of live command IDs.

The compaction rows show the live events and the removable ones: those
that tombstones (RouteRemoved) not applied yet will remove, plus those
already removed whose records are still in segment files; 'journal
compact' removes them all. The last checkpoint is when the compaction
state was last saved (the modification time of DIR/compaction.cpt, written
at every compaction and whenever a segment file is sealed), or "never".

It takes no lock: it works while another process has the journal open.`,
	minArgs: 1, maxArgs: 1,
	run: func(e *env, args []string, _ any) int {
		st, err := wal.Stat(args[0], nil)
		if err != nil {
			return failDir(e, "stats", args[0], err)
		}
		if err := writeStats(e.stdout, st); err != nil {
			return fail(e, "stats", err)
		}
		return 0
	},
}

// writeStats formats st and the number of live command IDs in st.Dir as
// aligned "name  value" lines. If the command IDs cannot be read, their row
// says so and the error is returned after everything is written.
func writeStats(w io.Writer, st wal.Stats) error {
	ids, idsErr := journal.ReadCommandIDs(st.Dir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}
	row("directory", "%s", st.Dir)
	row("segments", "%d (%d bytes)", st.Segments, st.SegmentBytes)
	row("index files", "%d (%d bytes)", st.IndexFiles, st.IndexBytes)
	row("entries", "%d live", st.Entries)
	if st.Entries > 0 {
		row("seq range", "%d..%d", st.FirstSeq, st.LastSeq)
	} else {
		row("seq range", "(none)")
	}
	row("next seq", "%d", st.NextSeq)
	allocated := "unknown"
	if st.AllocatedBytes >= 0 {
		allocated = fmt.Sprintf("%d", st.AllocatedBytes)
	}
	row("disk bytes", "%s allocated, %d apparent", allocated, st.ApparentBytes)
	if st.Entries > 0 {
		perAlloc := "unknown"
		if st.AllocatedBytes >= 0 {
			perAlloc = fmt.Sprintf("%.1f", st.AllocatedBytesPerEntry())
		}
		row("bytes per event", "%s allocated, %.1f apparent", perAlloc, st.ApparentBytesPerEntry())
	} else {
		row("bytes per event", "(no events)")
	}
	if idsErr == nil {
		row("command ids", "%d live", len(ids))
	} else {
		row("command ids", "unreadable")
	}
	row("compaction", "%d live events, %d removable (%d pending, %d removed but still on disk)",
		st.Entries, st.Removable(), st.PendingRemovable, st.DeadOnDisk)
	if st.LastCheckpoint.IsZero() {
		row("last checkpoint", "never")
	} else {
		row("last checkpoint", "%s", formatTime(st.LastCheckpoint.UnixMilli()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if idsErr != nil {
		return fmt.Errorf("command ids: %w", idsErr)
	}
	return nil
}
