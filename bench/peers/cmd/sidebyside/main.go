package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/seglog/journal"
	"github.com/seglog/journal/bench"
	"github.com/seglog/journal/bench/peers"
	"github.com/seglog/journal/bench/peers/internal/runs"
)

// engine is one store under test.
type engine struct {
	name string
	// open makes an engine for workload w in a fresh dir; reopen opens the
	// one written (O1, R1).
	open   func(w bench.Workload) bench.Opener
	reopen bench.Opener
	// immediateOnly: takes part in W1-W3 only (raw-group).
	immediateOnly bool
}

func fixed(o bench.Opener) func(bench.Workload) bench.Opener {
	return func(bench.Workload) bench.Opener { return o }
}

var engines = []engine{
	{name: "journal", open: fixed(bench.JournalOpener(journal.Options{})), reopen: bench.JournalOpener(journal.Options{})},
	{name: bench.RawGrowing, open: fixed(bench.RawOpener(bench.RawGrowing, 0)), reopen: bench.RawOpener(bench.RawGrowing, 0)},
	{name: bench.RawPrealloc, open: func(w bench.Workload) bench.Opener {
		return bench.RawOpener(bench.RawPrealloc, bench.RawPreallocFor(w))
	}, reopen: bench.RawOpener(bench.RawGrowing, 0)},
	{name: bench.RawGroup, open: func(w bench.Workload) bench.Opener {
		return bench.RawOpener(bench.RawGroup, bench.RawPreallocFor(w))
	}, immediateOnly: true},
	{name: "bbolt", open: fixed(peers.OpenBolt), reopen: peers.OpenBolt},
	{name: "tidwall-wal", open: fixed(peers.OpenTidwall), reopen: peers.OpenTidwall},
	{name: "pebble", open: fixed(peers.OpenPebble), reopen: peers.OpenPebble},
}

// codecEngines are the journal with each Options.Compression (issue 8),
// named on -engines only: the default run compares with peers.
var codecEngines = []engine{
	journalWith("journal-none", journal.CompressionNone),
	journalWith("journal-s2", journal.CompressionS2),
	journalWith("journal-zstd", journal.CompressionZstd),
}

func journalWith(name string, c journal.Compression) engine {
	o := bench.JournalOpener(journal.Options{Compression: c})
	return engine{name: name, open: fixed(o), reopen: o}
}

func engineByName(name string) (engine, bool) {
	for _, e := range append(engines[:len(engines):len(engines)], codecEngines...) {
		if e.name == name {
			return e, true
		}
	}
	return engine{}, false
}

// jobs: what one child process runs. "scale" is W4b + D1 + O1 + R1 + M1.
var jobs = []struct {
	name      string
	w         bench.Workload
	workloads []string // the workload names it measures
}{
	{"W1", bench.W1, []string{"W1"}},
	{"W2", bench.W2, []string{"W2"}},
	{"W3", bench.W3, []string{"W3"}},
	{"W4a", bench.W4a, []string{"W4a"}},
	{"scale", bench.W4b, []string{"W4b", "O1", "R1", "D1", "M1"}},
}

// figure is one row of the table.
type figure struct {
	workload, key, unit string
	higher              bool // higher is better
	target              string
}

var figures = []figure{
	{"W1", "W1 events/s", "events/s", true, ">= 0.9 x raw-prealloc"},
	{"W1", "W1 p50-us", "µs", false, ""},
	{"W1", "W1 p99-us", "µs", false, ""},
	{"W2", "W2 events/s", "events/s", true, ">= 0.9 x raw-prealloc"},
	{"W3", "W3 events/s", "events/s", true, ">= 0.8 x raw-group, >= 20 x own W1"},
	{"W3", "W3 p99-us", "µs", false, ""},
	{"W4a", "W4a events/s", "events/s", true, ">= 1,000,000"},
	{"W4b", "W4b events/s", "events/s", true, ">= 5,000,000"},
	{"O1", "O1 open-ms", "ms", false, "<= 20 ms"},
	{"R1", "R1 events/s", "events/s", true, ">= 10,000,000"},
	{"D1", "D1 bytes/event", "B/event", false, "<= 24"},
	{"M1", "M1 peak-RSS-MiB", "MiB", false, "<= 120 MiB"},
}

const childPrefix = "SIDEBYSIDE-RESULT "

func main() {
	var (
		child     = flag.Bool("child", false, "internal: run one job in this process")
		engName   = flag.String("engine", "", "internal: engine of the -child run")
		jobName   = flag.String("job", "", "internal: job of the -child run")
		dir       = flag.String("dir", "", "internal: fresh directory of the -child run")
		quick     = flag.Bool("quick", false, "smoke run: 3 rounds (~1 minute)")
		rounds    = flag.Int("rounds", 15, "rounds (each runs every workload on every engine once)")
		engList   = flag.String("engines", "", "comma-separated engines (default all: journal,raw,raw-prealloc,raw-group,bbolt,tidwall-wal,pebble; also journal-none,journal-s2,journal-zstd)")
		wlList    = flag.String("workloads", "", "comma-separated workloads (default all: W1,W2,W3,W4a,W4b,O1,R1,D1,M1)")
		base      = flag.String("base", "", "directory for the runs' fresh directories (default $JOURNAL_BENCH_DIR, else the temp dir); must be a real disk")
		jsonOut   = flag.String("json", "", "also write every run's metrics to this file")
		childTime = flag.Duration("timeout", 10*time.Minute, "per-run timeout")
		scaling   = flag.Bool("scaling", false, "W3 scaling mode: W3 against the number of concurrent writers (-writers) on journal, raw-group and bbolt (or -engines); default 7 rounds")
		writers   = flag.String("writers", scalingWriters, "-scaling: comma-separated writer counts (internal, -child: the W3 run's writer count)")
		pngOut    = flag.String("png", "", "-scaling: draw the chart (gonum/plot) to this PNG file")
	)
	flag.Parse()
	if *child {
		n := 0
		if isSet("writers") {
			var err error
			if n, err = strconv.Atoi(*writers); err != nil {
				fmt.Fprintln(os.Stderr, "sidebyside: -child -writers:", err)
				os.Exit(2)
			}
		}
		os.Exit(runChild(*engName, *jobName, *dir, n))
	}
	if *quick {
		*rounds = 3
	}
	if *scaling {
		if !isSet("rounds") && !*quick {
			*rounds = 7
		}
		if err := runScaling(*rounds, *engList, *writers, *base, *jsonOut, *pngOut, *childTime); err != nil {
			fmt.Fprintln(os.Stderr, "sidebyside:", err)
			os.Exit(1)
		}
		return
	}
	if err := runParent(*rounds, *engList, *wlList, *base, *jsonOut, *childTime); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

// isSet reports whether flag name was given on the command line.
func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// ---- child

// runChild runs one job; writers > 0 overrides the workload's number of
// concurrent writers (-scaling).
func runChild(engName, jobName, dir string, writers int) int {
	m := map[string]float64{}
	err := childJob(engName, jobName, dir, writers, m)
	runs.Print(childPrefix, m, err)
	return 0
}

func childJob(engName, jobName, dir string, writers int, m map[string]float64) error {
	e, ok := engineByName(engName)
	if !ok {
		return fmt.Errorf("unknown engine %q", engName)
	}
	for _, j := range jobs {
		if j.name != jobName {
			continue
		}
		if j.name == "scale" {
			r, err := bench.RunScale(e.open(j.w), e.reopen, dir, j.w)
			if err != nil {
				return err
			}
			m["W4b events/s"] = r.WriteEventsPerSec
			m["D1 bytes/event"] = r.BytesPerEvent()
			m["O1 open-ms"] = r.OpenSeconds * 1e3
			m["R1 events/s"] = r.LoadEventsPerSec
			m["M1 peak-RSS-MiB"] = float64(r.PeakRSS) / (1 << 20)
			if r.LoadedEvents != r.Events {
				return fmt.Errorf("loaded %d events of %d", r.LoadedEvents, r.Events)
			}
			return nil
		}
		w := j.w
		if writers > 0 {
			w.Writers = writers
		}
		r, err := bench.RunFresh(e.open(w), dir, w)
		if err != nil {
			return err
		}
		m[j.name+" events/s"] = r.EventsPerSec()
		if r.Latencies != nil {
			m[j.name+" p50-us"] = float64(r.Percentile(50).Nanoseconds()) / 1e3
			m[j.name+" p99-us"] = float64(r.Percentile(99).Nanoseconds()) / 1e3
		}
		return nil
	}
	return fmt.Errorf("unknown job %q", jobName)
}

// ---- parent

func runParent(rounds int, engList, wlList, base, jsonOut string, timeout time.Duration) error {
	var engs []engine
	if names := runs.SplitList(engList); len(names) > 0 {
		for _, n := range names {
			e, ok := engineByName(n)
			if !ok {
				return fmt.Errorf("unknown engine %q", n)
			}
			engs = append(engs, e)
		}
	} else {
		engs = engines
	}
	wanted := map[string]bool{}
	for _, w := range runs.SplitList(wlList) {
		known := false
		for _, f := range figures {
			known = known || f.workload == w
		}
		if !known {
			return fmt.Errorf("unknown workload %q", w)
		}
		wanted[w] = true
	}
	if len(wanted) == 0 {
		for _, f := range figures {
			wanted[f.workload] = true
		}
	}
	base, self, err := prepare(base)
	if err != nil {
		return err
	}

	type run struct{ job, engine string }
	var plan []run
	for _, j := range jobs {
		need := false
		for _, w := range j.workloads {
			need = need || wanted[w]
		}
		if !need {
			continue
		}
		for _, e := range engs {
			if e.immediateOnly && j.w.Durability != journal.Immediate {
				continue
			}
			plan = append(plan, run{j.name, e.name})
		}
	}
	// values[key][engine] = one value per round
	values := map[string]map[string][]float64{}
	var allRuns []map[string]any
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for _, j := range jobs {
			var these []run
			for _, p := range plan {
				if p.job == j.name {
					these = append(these, p)
				}
			}
			if len(these) == 0 {
				continue
			}
			// Rotate the engine order each round.
			k := r % len(these)
			these = append(these[k:], these[:k]...)
			for _, p := range these {
				t0 := time.Now()
				m, err := spawn(self, base, p.engine, p.job, timeout)
				status := "ok"
				if err != nil {
					status = "FAILED: " + err.Error()
				}
				fmt.Fprintf(os.Stderr, "[%6.1fs] round %d/%d %-5s %-12s %5.1fs %s\n", time.Since(start).Seconds(), r+1, rounds, p.job, p.engine, time.Since(t0).Seconds(), status)
				allRuns = append(allRuns, map[string]any{"round": r, "job": p.job, "engine": p.engine, "metrics": m, "error": runs.ErrString(err)})
				for key, v := range m {
					if values[key] == nil {
						values[key] = map[string][]float64{}
					}
					values[key][p.engine] = append(values[key][p.engine], v)
				}
			}
		}
	}
	if jsonOut != "" {
		b, _ := json.MarshalIndent(allRuns, "", " ")
		if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	printTable(os.Stdout, engs, wanted, values, rounds, time.Since(start))
	for _, r := range allRuns {
		if e := r["error"].(string); e != "" {
			fmt.Printf("\nFAILED: round %d %s on %s: %s", r["round"].(int)+1, r["job"], r["engine"], e)
		}
	}
	fmt.Println()
	return nil
}

// prepare makes the base directory (default $JOURNAL_BENCH_DIR or the
// temp dir), warns if it is tmpfs, and returns it with this executable.
func prepare(base string) (string, string, error) {
	if base == "" {
		base = bench.BaseDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", "", err
	}
	if bench.IsTmpfs(base) {
		fmt.Fprintf(os.Stderr, "WARNING: %s is tmpfs: fsync is free there; use -base or JOURNAL_BENCH_DIR on a real disk\n", base)
	}
	self, err := os.Executable()
	return base, self, err
}

// spawn runs one job in a child process in a fresh directory under base.
func spawn(self, base, eng, job string, timeout time.Duration) (map[string]float64, error) {
	return spawnArgs(self, base, eng, job, timeout)
}

// spawnArgs is spawn with extra arguments for the child.
func spawnArgs(self, base, eng, job string, timeout time.Duration, extra ...string) (map[string]float64, error) {
	dir, err := os.MkdirTemp(base, "sidebyside-"+eng+"-"+job+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return runs.Child(self, append([]string{"-child", "-engine", eng, "-job", job, "-dir", dir + "/db"}, extra...), childPrefix, timeout)
}

// verdict checks the target for figure f on the medians.
func verdict(f figure, med func(key, eng string) (float64, bool)) string {
	j, ok := med(f.key, "journal")
	if !ok || f.target == "" {
		return ""
	}
	check := func(ok bool, what string) string {
		if ok {
			return "✅ " + what
		}
		return "❌ " + what
	}
	ratio := func(ref string) (float64, bool) {
		r, ok := med(f.key, ref)
		if !ok || r == 0 {
			return 0, false
		}
		return j / r, true
	}
	switch f.key {
	case "W1 events/s", "W2 events/s":
		if x, ok := ratio(bench.RawPrealloc); ok {
			return check(x >= 0.9, fmt.Sprintf("%.2f x", x))
		}
	case "W3 events/s":
		var parts []string
		if x, ok := ratio(bench.RawGroup); ok {
			parts = append(parts, check(x >= 0.8, fmt.Sprintf("%.2f x raw-group", x)))
		}
		if w1, ok := med("W1 events/s", "journal"); ok {
			parts = append(parts, check(j/w1 >= 20, fmt.Sprintf("%.1f x W1", j/w1)))
		}
		return strings.Join(parts, "; ")
	case "W4a events/s":
		return check(j >= 1e6, runs.Num(j))
	case "W4b events/s":
		return check(j >= 5e6, runs.Num(j))
	case "O1 open-ms":
		return check(j <= 20, runs.Num(j)+" ms")
	case "R1 events/s":
		return check(j >= 1e7, runs.Num(j))
	case "D1 bytes/event":
		return check(j <= 24, runs.Num(j))
	case "M1 peak-RSS-MiB":
		return check(j <= 120, runs.Num(j)+" MiB")
	}
	return ""
}

func printTable(w io.Writer, engs []engine, wanted map[string]bool, values map[string]map[string][]float64, rounds int, took time.Duration) {
	med := func(key, eng string) (float64, bool) {
		v := values[key][eng]
		if len(v) == 0 {
			return 0, false
		}
		return runs.Median(v), true
	}
	host, _ := os.Hostname()
	fmt.Fprintf(w, "Side by side: %d round(s), %s, GOMAXPROCS=%d, %s/%s, host %s, %s.\n", rounds, took.Round(time.Second), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, host, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "Cells: median (min–max over rounds) · journal ÷ engine. ↑ higher is better, ↓ lower is better.\n\n")
	fmt.Fprint(w, "| figure | target on journal |")
	for _, e := range engs {
		fmt.Fprintf(w, " %s |", e.name)
	}
	fmt.Fprint(w, "\n|---|---|")
	for range engs {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, f := range figures {
		if !wanted[f.workload] || values[f.key] == nil {
			continue
		}
		arrow := "↑"
		if !f.higher {
			arrow = "↓"
		}
		fmt.Fprintf(w, "| %s %s | %s |", f.key, arrow, verdict(f, med))
		j, jok := med(f.key, "journal")
		for _, e := range engs {
			v := values[f.key][e.name]
			if len(v) == 0 {
				fmt.Fprint(w, " – |")
				continue
			}
			m := runs.Median(v)
			cell := runs.Cell(v)
			if jok && e.name != "journal" && m != 0 {
				cell += fmt.Sprintf(" · %.2f", j/m)
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}
}
