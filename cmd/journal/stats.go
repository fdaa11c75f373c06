package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/seglog/journal/wal"
)

var statsCommand = &command{
	name:     "stats",
	synopsis: "DIR",
	summary:  "show segment, entry and disk usage figures",
	help: `Show figures about the journal in DIR: its segment files (count and bytes),
the live entries, the range of sequence numbers and the next one, and the
bytes on disk per event (allocated blocks and apparent file sizes; the
active segment of an open journal has space reserved ahead).

It takes no lock: it works while another process has the journal open.`,
	minArgs: 1, maxArgs: 1,
	run: func(e *env, args []string, _ any) int {
		st, err := wal.Stat(args[0], nil)
		if err != nil {
			return fail(e, "stats", describeOpenErr(err))
		}
		if err := writeStats(e.stdout, st); err != nil {
			return fail(e, "stats", err)
		}
		return 0
	},
}

// writeStats formats st as aligned "name  value" lines.
func writeStats(w io.Writer, st wal.Stats) error {
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
	// Figures still to come: wire them here once wal.Stats carries them.
	row("command ids", "not available yet")
	row("compaction", "not available yet")
	return tw.Flush()
}
