package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/seglog/journal"
)

type inspectFlags struct {
	route string
	limit int
	json  bool
}

var inspectCommand = &command{
	name:     "inspect",
	synopsis: "DIR [--route R] [--limit N] [--json]",
	summary:  "list a journal's entries, newest first",
	help: `List the entries of the journal in DIR, newest first, as a table with the
columns SEQ, TIME (RFC 3339, UTC, milliseconds), KIND, ROUTE and ERROR, or
with --json one JSON object per line:

  {"seq":0,"timestamp_ms":1764190000000,"event":{"RouteRegistered":{"route_id":"r1"}}}

It takes no lock: it works while another process has the journal open,
showing the complete batches present when it ran.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		f := &inspectFlags{}
		fs.StringVar(&f.route, "route", "", "show only the entries of route `R`")
		fs.IntVar(&f.limit, "limit", 0, "show at most `N` entries (0 = all)")
		fs.BoolVar(&f.json, "json", false, "print one JSON object per line")
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
	entries, err := journal.Inspect(args[0], journal.InspectFilter{RouteID: f.route, Limit: f.limit})
	if err != nil {
		return fail(e, "inspect", describeOpenErr(err))
	}
	if f.json {
		err = writeEntriesJSON(e.stdout, entries)
	} else {
		err = writeEntriesTable(e.stdout, entries)
	}
	if err != nil {
		return fail(e, "inspect", err)
	}
	return 0
}

// formatTime renders a batch timestamp as RFC 3339 in UTC with
// milliseconds.
func formatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// writeEntriesTable writes entries as an aligned table.
func writeEntriesTable(w io.Writer, entries []journal.Entry) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tROUTE\tERROR")
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

// describeOpenErr adds a hint to errors from reading a journal directory.
func describeOpenErr(err error) error {
	if errors.Is(err, journal.ErrCorrupt) {
		return fmt.Errorf("%w (run 'journal verify' for details)", err)
	}
	return err
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
