package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/seglog/journal"
	"github.com/seglog/journal/wal"
)

type statsFlags struct {
	json bool
}

var statsCommand = &command{
	name:     "stats",
	synopsis: "DIR [--json]",
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

With --json the same figures are printed as one JSON object on one line
(wrapped here):

  {"directory":"DIR","segments":1,"segment_bytes":750,"index_files":1,
   "index_bytes":352,"entries":17,"first_seq":0,"last_seq":16,"next_seq":17,
   "apparent_bytes":1102,"allocated_bytes":8192,"command_ids":4,
   "pending_removable":5,"dead_on_disk":0,"removable":5,
   "last_checkpoint":"2026-01-02T15:04:05.000Z"}

  directory          DIR as given
  segments           segment files (.seg), and segment_bytes their apparent size
  index_files        index files (.idx), and index_bytes their apparent size
  entries            live events
  first_seq          sequence number of the oldest live event; null when none
  last_seq           sequence number of the newest live event; null when none
  next_seq           sequence number the next appended event will get
  apparent_bytes     segment and index files' sizes
  allocated_bytes    disk blocks they occupy, in bytes; null when the file
                     system does not say
  command_ids        live command IDs; null when their files cannot be read
                     (the error is then printed; the exit status is 1 when
                     they are damaged, else 3)
  pending_removable  live events that tombstones not applied yet will remove
  dead_on_disk       removed events whose records are still in segment files
  removable          pending_removable + dead_on_disk
  last_checkpoint    when the compaction state was last saved (RFC 3339,
                     UTC, milliseconds); null when never

Numbers are integers; fields may be added, none will change meaning.

It takes no lock: it works while another process has the journal open.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		f := &statsFlags{}
		fs.BoolVar(&f.json, "json", false, "print one JSON object (fields described above)")
		return f
	},
	run: func(e *env, args []string, fl any) int {
		f := fl.(*statsFlags)
		st, err := wal.Stat(args[0], nil)
		if err != nil {
			return failDir(e, "stats", args[0], err)
		}
		write := writeStats
		if f.json {
			write = writeStatsJSON
		}
		if err := write(e.stdout, st); err != nil {
			return fail(e, "stats", err)
		}
		return 0
	},
}

// statsJSON is the shape of 'journal stats --json' (documented in the
// command's help and README.md; fields may be added, never changed).
// Pointers are null when the figure does not exist or is unknown.
type statsJSON struct {
	Directory        string  `json:"directory"`
	Segments         int     `json:"segments"`
	SegmentBytes     int64   `json:"segment_bytes"`
	IndexFiles       int     `json:"index_files"`
	IndexBytes       int64   `json:"index_bytes"`
	Entries          uint64  `json:"entries"`
	FirstSeq         *uint64 `json:"first_seq"`
	LastSeq          *uint64 `json:"last_seq"`
	NextSeq          uint64  `json:"next_seq"`
	ApparentBytes    int64   `json:"apparent_bytes"`
	AllocatedBytes   *int64  `json:"allocated_bytes"`
	CommandIDs       *int    `json:"command_ids"`
	PendingRemovable uint64  `json:"pending_removable"`
	DeadOnDisk       uint64  `json:"dead_on_disk"`
	Removable        uint64  `json:"removable"`
	LastCheckpoint   *string `json:"last_checkpoint"`
}

// writeStatsJSON writes st and the number of live command IDs in st.Dir as
// one JSON object (statsJSON) on one line. If the command IDs cannot be
// read, command_ids is null and the error is returned after the object is
// written.
func writeStatsJSON(w io.Writer, st wal.Stats) error {
	ids, idsErr := journal.ReadCommandIDs(st.Dir)
	out := statsJSON{
		Directory:        st.Dir,
		Segments:         st.Segments,
		SegmentBytes:     st.SegmentBytes,
		IndexFiles:       st.IndexFiles,
		IndexBytes:       st.IndexBytes,
		Entries:          st.Entries,
		NextSeq:          st.NextSeq,
		ApparentBytes:    st.ApparentBytes,
		PendingRemovable: st.PendingRemovable,
		DeadOnDisk:       st.DeadOnDisk,
		Removable:        st.Removable(),
	}
	if st.Entries > 0 {
		out.FirstSeq, out.LastSeq = &st.FirstSeq, &st.LastSeq
	}
	if st.AllocatedBytes >= 0 {
		out.AllocatedBytes = &st.AllocatedBytes
	}
	if idsErr == nil {
		n := len(ids)
		out.CommandIDs = &n
	}
	if !st.LastCheckpoint.IsZero() {
		t := formatTime(st.LastCheckpoint.UnixMilli())
		out.LastCheckpoint = &t
	}
	if err := writeJSONLine(w, out); err != nil {
		return err
	}
	if idsErr != nil {
		return fmt.Errorf("command ids: %w", idsErr)
	}
	return nil
}

// writeJSONLine writes v as one line of JSON, without HTML escaping (paths
// and details are printed as they are).
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
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
