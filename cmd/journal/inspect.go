package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"iter"
	"text/tabwriter"
	"time"

	"github.com/seglog/journal"
)

type inspectFlags struct {
	route  string
	limit  int
	json   bool
	follow bool
	filter entryFilter // filter.go
}

var inspectCommand = &command{
	name:     "inspect",
	synopsis: "DIR [--route R] [--kind KIND] [--from SEQ] [--since TIME] [--oldest-first] [--limit N] [--json] [--follow]",
	summary:  "list a journal's entries, newest first",
	help: `List the entries of the journal in DIR, newest first, as a table with the
columns SEQ, TIME (RFC 3339, UTC, milliseconds), KIND, ROUTE and ERROR, or
with --json one JSON object per line:

  {"seq":0,"timestamp_ms":1764190000000,"event":{"RouteRegistered":{"route_id":"r1"}}}

It takes no lock: it works while another process has the journal open,
showing the complete batches present when it ran. Entries are printed as
they are read, newest first, so the first lines come at once whatever the
journal's size; the table is aligned in blocks of 1000 rows.

--route, --kind, --from and --since select entries (all must match);
--limit counts the entries selected. --oldest-first lists from the oldest
(or from --from) instead.

With --follow it prints oldest first: the last --limit selected entries
(every one with --limit 0), then each selected entry another process
appends, within about 25 ms, until interrupted (SIGINT or SIGTERM: exit
status 0). It survives rotation, compaction and the writer reopening the
journal.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		f := &inspectFlags{}
		fs.StringVar(&f.route, "route", "", "show only the entries of route `R`")
		fs.IntVar(&f.limit, "limit", 0, "show at most `N` entries (0 = all)")
		fs.BoolVar(&f.json, "json", false, "print one JSON object per line")
		fs.BoolVar(&f.follow, "follow", false, "print oldest first, then new entries as they are appended, until interrupted")
		f.filter.register(fs)
		return f
	},
	run: runInspect,
}

func runInspect(e *env, args []string, fl any) int {
	f := fl.(*inspectFlags)
	if f.limit < 0 {
		fmt.Fprintf(e.stderr, "journal inspect: --limit must not be negative\n\n")
		commandUsage(e.stderr, lookup("inspect"), nil, true)
		return 2
	}
	if f.follow {
		return runFollow(e, args[0], f)
	}
	if err := streamEntries(e.stdout, f.filter.entries(args[0], f.route, f.limit), f.json); err != nil {
		return failDir(e, "inspect", args[0], err)
	}
	return 0
}

// tableBlock is how many rows are aligned together: the table is printed
// a block at a time as the entries are read, so its first lines come at
// once whatever the journal's size. A listing of up to tableBlock rows is
// one aligned table.
const tableBlock = 1000

// flushEvery bounds how long a printed line waits in the output buffer
// while more are read (with a route filter that rarely matches, say).
const flushEvery = 50 * time.Millisecond

// streamEntries prints entries as they come: as a table (the header, then
// blocks of tableBlock rows each aligned on its own) or with asJSON one
// object per line. An error from the iteration ends it after what was
// printed.
func streamEntries(w io.Writer, entries iter.Seq2[journal.Entry, error], asJSON bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	lastFlush := time.Now()
	flush := func(force bool) error {
		if !force && time.Since(lastFlush) < flushEvery {
			return nil
		}
		lastFlush = time.Now()
		return bw.Flush()
	}
	var block []journal.Entry
	header := true
	printed := 0
	for en, err := range entries {
		if err != nil {
			// What was read is printed before the error is reported.
			if len(block) > 0 {
				if werr := writeBlock(bw, block, header, asJSON); werr != nil {
					return werr
				}
			}
			if werr := bw.Flush(); werr != nil {
				return werr
			}
			return err
		}
		block = append(block, en)
		if asJSON || len(block) == tableBlock {
			if err := writeBlock(bw, block, header, asJSON); err != nil {
				return err
			}
			header, block = false, block[:0]
			// The first lines go out at once (journal inspect | head).
			if err := flush(printed == 0 || !asJSON); err != nil {
				return err
			}
			printed++
		}
	}
	if len(block) > 0 || header {
		if err := writeBlock(bw, block, header, asJSON); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeBlock writes entries as JSON lines or as an aligned table, with
// its header if header.
func writeBlock(w io.Writer, entries []journal.Entry, header, asJSON bool) error {
	if asJSON {
		return writeEntriesJSON(w, entries)
	}
	return writeTable(w, entries, header)
}

// formatTime renders a batch timestamp as RFC 3339 in UTC with
// milliseconds.
func formatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// writeEntriesTable writes entries as an aligned table.
func writeEntriesTable(w io.Writer, entries []journal.Entry) error {
	return writeTable(w, entries, true)
}

// writeTable writes entries as an aligned table, with its header if
// header.
func writeTable(w io.Writer, entries []journal.Entry, header bool) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tROUTE\tERROR")
	}
	for _, en := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", en.Seq, formatTime(en.TimestampMs), en.Event.Kind, en.Event.RouteID, en.Event.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return trimLines(w, buf.Bytes())
}

// writeEntriesJSON writes one JSON object per entry and line, in the
// replaced system's shape (journal.Entry.MarshalJSON), without the HTML
// escaping json.Marshal would add.
func writeEntriesJSON(w io.Writer, entries []journal.Entry) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, en := range entries {
		if err := enc.Encode(en); err != nil {
			return err
		}
	}
	return nil
}

// trimLines writes b to w without trailing spaces on its lines (tabwriter
// pads an empty last column).
func trimLines(w io.Writer, b []byte) error {
	var out []byte
	for l := range bytes.Lines(b) {
		body, nl := bytes.CutSuffix(l, []byte("\n"))
		out = append(out, bytes.TrimRight(body, " ")...)
		if nl {
			out = append(out, '\n')
		}
	}
	_, err := w.Write(out)
	return err
}
