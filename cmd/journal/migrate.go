package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/seglog/journal"
)

var exportCommand = &command{
	name:     "export",
	synopsis: "DIR",
	summary:  "write every event as JSON lines, oldest first",
	help: `Write every event of the journal in DIR to stdout, oldest first, one JSON
object per line in the replaced system's entry shape (as inspect --json
prints it):

  {"seq":0,"timestamp_ms":1764190000000,"event":{"RouteRegistered":{"route_id":"r1"}}}

'journal import' reads it back, keeping sequence numbers and timestamps.
Events removed by compaction are not there: their sequence numbers are
missing, which import refuses.

It takes no lock: it works while another process has the journal open,
writing the complete batches present when it ran.`,
	minArgs: 1, maxArgs: 1,
	run: runExport,
}

func runExport(e *env, args []string, _ any) int {
	if _, err := journal.Export(args[0], e.stdout); err != nil {
		return failDir(e, "export", args[0], err)
	}
	return exitOK
}

var importCommand = &command{
	name:     "import",
	synopsis: "DIR [--file-mode MODE] < FILE",
	summary:  "make a new journal from JSON lines (as export writes them)",
	help: `Make a new journal in DIR, a directory that does not exist or is empty,
from the JSON lines on stdin in the replaced system's entry shape (as
'journal export' and inspect --json write them), keeping each entry's
sequence number and timestamp. The first line's sequence number may be
any; each next line's must be one more: a gap, a repeat or a line out of
order is refused, naming the line, as is a line that is not such an
entry. Blank lines are skipped. Command IDs are not part of the lines.

The journal is built in DIR.tmp-* beside DIR and renamed to DIR once
complete and synced: on a refusal, an error or a crash, DIR is as it was
(delete a DIR.tmp-* a crash left behind). Then print the events, batches
and sequence numbers imported.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		return addFileModeFlag(fs, "the new journal's files and directory get it")
	},
	run: runImport,
}

func runImport(e *env, args []string, fl any) int {
	dir := args[0]
	if code, ok := newDirTarget(e, "import", dir); !ok {
		return code
	}
	info, err := journal.Import(dir, e.stdin, journal.Options{FileMode: *fl.(*os.FileMode)})
	var ie *journal.ImportError
	switch {
	case errors.As(err, &ie):
		fmt.Fprintf(e.stderr, "journal import: line %d: %v\n", ie.Line, ie.Err)
		return exitUsage
	case errors.Is(err, journal.ErrInvalid):
		fmt.Fprintf(e.stderr, "journal import: %v\n", err) // DIR filled since it was checked
		return exitUsage
	case err != nil:
		return fail(e, "import", err)
	}
	fmt.Fprintf(e.stdout, "imported %d events in %d batches into %s\n", info.Events, info.Batches, dir)
	if info.Events > 0 {
		fmt.Fprintf(e.stdout, "sequence numbers: %d to %d\n", info.FirstSeq, info.NextSeq-1)
	}
	return exitOK
}
