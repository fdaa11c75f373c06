package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/seglog/journal"
	"github.com/seglog/journal/wal"
)

var demoCommand = &command{
	name:     "demo",
	synopsis: "[DIR] [--keep]",
	summary:  "write a sample route lifecycle journal and show it",
	help: `Write a realistic route lifecycle (20 routes registered and started, some
failing and restarting, suspended and resumed, reloaded, stopped and
removed) to a journal in DIR (default: a new directory under the system's
temporary directory, printed), first with Immediate durability and then,
reopened, with Eventual durability and a final Sync. Then print the last
25 entries and the journal's stats.

DIR must not exist or be an empty directory: demo refuses any other
(a journal, a directory holding files, a regular file) with exit status 2
and writes nothing there. Without DIR the directory it makes under the
temporary directory is removed at the end unless --keep is given.`,
	minArgs: 0, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		f := &demoFlags{}
		fs.BoolVar(&f.keep, "keep", false, "keep the directory made under the temporary directory (without DIR)")
		return f
	},
	run: runDemo,
}

var demoRoutes = []string{
	"http-orders-in", "kafka-orders-out", "sftp-invoices-poll", "jms-audit-bridge",
	"rest-customers-sync", "s3-archive-writer", "smtp-alerts", "db-inventory-cdc",
	"amqp-shipping-events", "file-edi-import", "grpc-pricing", "ws-stock-ticker",
	"timer-nightly-report", "kafka-payments-in", "http-webhooks-out", "ldap-user-sync",
	"mqtt-sensor-ingest", "soap-legacy-erp", "redis-cache-warmer", "cron-cleanup",
}

var demoErrors = []string{
	"java.net.ConnectException: Connection refused (orders-db:5432)",
	"org.apache.kafka.common.errors.TimeoutException: Topic payments not present in metadata after 60000 ms",
	"com.jcraft.jsch.JSchException: Auth fail for user 'etl' on files.example.com:22",
	"HTTP 503 Service Unavailable from https://api.partner.example/v2/orders",
	"javax.jms.JMSSecurityException: User 'audit' is not authorized to read from queue AUDIT.IN",
	"schema validation failed: $.amount: string found, number expected",
	"java.net.SocketTimeoutException: Read timed out after 30000 ms (erp.internal:8443)",
	"SSLHandshakeException: PKIX path building failed: unable to find valid certification path",
}

// demoScript returns the batches of the demo: phase 1 (to be written with
// Immediate durability) and phase 2 (Eventual). It is deterministic.
func demoScript() (immediate, eventual [][]journal.Event) {
	rng := rand.New(rand.NewPCG(2024, 11))
	ev := func(k journal.EventKind, r string) journal.Event { return journal.Event{Kind: k, RouteID: r} }
	for _, r := range demoRoutes {
		immediate = append(immediate,
			[]journal.Event{ev(journal.RouteRegistered, r), ev(journal.RouteStartRequested, r)},
			[]journal.Event{ev(journal.RouteStarted, r)})
	}
	for round := 0; round < 3; round++ {
		for i, r := range demoRoutes {
			switch x := rng.IntN(10); {
			case round == 2 && i%7 == 3: // a few are retired
				eventual = append(eventual, []journal.Event{ev(journal.RouteStopped, r), ev(journal.RouteRemoved, r)})
			case x < 3: // fails, then restarts
				e := demoErrors[rng.IntN(len(demoErrors))]
				eventual = append(eventual,
					[]journal.Event{{Kind: journal.RouteFailed, RouteID: r, Error: e}},
					[]journal.Event{ev(journal.RouteStartRequested, r)},
					[]journal.Event{ev(journal.RouteStarted, r)})
			case x < 5:
				eventual = append(eventual, []journal.Event{ev(journal.RouteSuspended, r)}, []journal.Event{ev(journal.RouteResumed, r)})
			case x < 6:
				eventual = append(eventual, []journal.Event{ev(journal.RouteReloaded, r)})
			}
		}
	}
	// One route fails for good.
	eventual = append(eventual, []journal.Event{{Kind: journal.RouteFailed, RouteID: "soap-legacy-erp", Error: demoErrors[6]}},
		[]journal.Event{ev(journal.RouteStopped, "soap-legacy-erp")},
		// and is asked to start once more: that command is still in flight.
		[]journal.Event{ev(journal.RouteStartRequested, "soap-legacy-erp")})
	return immediate, eventual
}

type demoFlags struct {
	keep bool
}

func runDemo(e *env, args []string, fl any) int {
	f := fl.(*demoFlags)
	var dir string
	if len(args) == 1 {
		dir = args[0]
		if code, ok := newDirTarget(e, "demo", dir); !ok {
			return code
		}
	} else {
		d, err := os.MkdirTemp("", "journal-demo-")
		if err != nil {
			return fail(e, "demo", err)
		}
		dir = d
		defer func() {
			if f.keep {
				fmt.Fprintf(e.stdout, "\nkept %s\n", dir)
				return
			}
			if err := os.RemoveAll(dir); err != nil {
				fmt.Fprintf(e.stderr, "journal demo: %v\n", err)
				return
			}
			fmt.Fprintf(e.stdout, "\nremoved %s (--keep keeps it)\n", dir)
		}()
	}
	return demo(e, dir)
}

// demo writes the demo journal into dir, which newDirTarget accepted, and
// shows it.
func demo(e *env, dir string) int {
	fmt.Fprintf(e.stdout, "journal directory: %s\n", dir)
	immediate, eventual := demoScript()
	bar := newProgress(e.stderr, len(immediate)+len(eventual))
	write := func(d journal.Durability, batches [][]journal.Event) error {
		j, err := journal.Open(dir, journal.Options{Durability: d, SegmentSize: wal.MinSegmentSize})
		if err != nil {
			return err
		}
		for _, b := range batches {
			// A start request is a command in flight until the route has
			// started: its ID is recorded beside the events.
			for _, ev := range b {
				var err error
				switch id := "start-" + ev.RouteID; ev.Kind {
				case journal.RouteStartRequested:
					err = j.AppendCommandID(id)
				case journal.RouteStarted:
					err = j.RemoveCommandID(id)
				}
				if err != nil {
					j.Close()
					return err
				}
			}
			if err := j.AppendBatch(b); err != nil {
				j.Close()
				return err
			}
			bar.step()
		}
		if err := j.Sync(); err != nil {
			j.Close()
			return err
		}
		return j.Close()
	}
	if err := write(journal.Immediate, immediate); err != nil {
		bar.done()
		return fail(e, "demo", err)
	}
	if err := write(journal.Eventual, eventual); err != nil {
		bar.done()
		return fail(e, "demo", err)
	}
	bar.done()
	n := 0
	for _, b := range append(immediate, eventual...) {
		n += len(b)
	}
	fmt.Fprintf(e.stdout, "wrote %d events in %d batches (%d with Immediate durability, then %d with Eventual and a Sync)\n",
		n, len(immediate)+len(eventual), len(immediate), len(eventual))
	removed, err := demoCompact(dir)
	if err != nil {
		return fail(e, "demo", err)
	}
	fmt.Fprintf(e.stdout, "compacted: %d events of removed routes are gone\n\n", removed)

	entries, err := journal.Inspect(dir, journal.InspectFilter{Limit: 25})
	if err != nil {
		return fail(e, "demo", err)
	}
	fmt.Fprintf(e.stdout, "$ journal inspect %s --limit 25\n", dir)
	if err := writeEntriesTable(e.stdout, entries); err != nil {
		return fail(e, "demo", err)
	}
	st, err := wal.Stat(dir, nil)
	if err != nil {
		return fail(e, "demo", err)
	}
	fmt.Fprintf(e.stdout, "\n$ journal stats %s\n", dir)
	if err := writeStats(e.stdout, st); err != nil {
		return fail(e, "demo", err)
	}
	return 0
}

// demoCompact compacts the journal in dir (below the default threshold
// nothing is compacted automatically) and returns how many events went.
func demoCompact(dir string) (int, error) {
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		return 0, err
	}
	before, err := j.LoadAll()
	if err == nil {
		err = j.Compact()
	}
	var after []journal.Event
	if err == nil {
		after, err = j.LoadAll()
	}
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	return len(before) - len(after), err
}

// progress draws a progress bar on a terminal; on anything else it draws
// nothing.
type progress struct {
	w          io.Writer
	total, n   int
	on         bool
	lastFilled int
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, lastFilled: -1}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) step() {
	p.n++
	if !p.on {
		return
	}
	const width = 40
	filled := p.n * width / p.total
	if filled == p.lastFilled && p.n != p.total {
		return
	}
	p.lastFilled = filled
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d batches", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.n, p.total)
}

func (p *progress) done() {
	if p.on && p.n > 0 {
		fmt.Fprintln(p.w)
	}
}
