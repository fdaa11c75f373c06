package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seglog/journal/bench"
	"github.com/seglog/journal/bench/peers/internal/runs"
	"github.com/seglog/journal/bench/peers/raftbench"
)

const childPrefix = "RAFTBENCH-RESULT "

func main() {
	var (
		child    = flag.Bool("child", false, "internal: run one job in this process")
		storeF   = flag.String("store", "", "internal: store of the -child run")
		jobF     = flag.String("job", "", "internal: job of the -child run")
		dirF     = flag.String("dir", "", "internal: fresh directory of the -child run")
		short    = flag.Bool("short", false, "smoke run: tiny sizes, 1 round")
		rounds   = flag.Int("rounds", 7, "rounds (each runs every job on every store once)")
		storeL   = flag.String("stores", "", "comma-separated stores (default all: "+strings.Join(names(raftbench.Stores()), ",")+")")
		jobL     = flag.String("jobs", "", "comma-separated jobs (default all: "+strings.Join(raftbench.AllJobs, ",")+")")
		base     = flag.String("base", "", "directory for the runs' fresh directories (default $JOURNAL_BENCH_DIR, else the temp dir); must be a real disk")
		jsonOut  = flag.String("json", "", "also write every run's metrics to this file")
		pngOut   = flag.String("png", "", "draw the chart (gonum/plot) to this PNG file")
		timeout  = flag.Duration("timeout", 10*time.Minute, "per-run timeout")
		cpuprof  = flag.String("cpuprofile", "", "-child: write a CPU profile of the job to this file; parent: profile every run to FILE.STORE.JOB")
		b1       = flag.Int("batch1", raftbench.Default.Batch1Calls, "batch1: StoreLogs calls of 1 entry")
		b64      = flag.Int("batch64", raftbench.Default.Batch64Calls, "batch64: StoreLogs calls of 64 entries")
		getStore = flag.Int("get-store", raftbench.Default.GetStore, "get: entries in the store")
		getOps   = flag.Int("get-ops", raftbench.Default.GetOps, "get: GetLog calls")
		openN    = flag.Int("open-entries", raftbench.Default.OpenEntries, "open, openkill, deletehalf: entries written first")
		delStore = flag.Int("delete-store", raftbench.Default.DeleteStore, "deletefront: entries in the store")
		delFront = flag.Int("delete-front", raftbench.Default.DeleteFront, "deletefront: entries each DeleteRange drops from the front")
		delCalls = flag.Int("delete-calls", raftbench.Default.DeleteCalls, "deletefront: DeleteRange calls")
	)
	flag.Parse()
	cfg := raftbench.Config{
		Batch1Calls:  *b1,
		Batch64Calls: *b64,
		GetStore:     *getStore,
		GetOps:       *getOps,
		OpenEntries:  *openN,
		OpenBatch:    raftbench.Default.OpenBatch,
		DeleteStore:  *delStore,
		DeleteFront:  *delFront,
		DeleteCalls:  *delCalls,
	}
	if *short {
		cfg = raftbench.Tiny
		if !isSet("rounds") {
			*rounds = 1
		}
	}
	if *child {
		os.Exit(runChild(*storeF, *jobF, *dirF, *cpuprof, cfg))
	}
	if err := runParent(*rounds, *storeL, *jobL, *base, *jsonOut, *pngOut, *cpuprof, *timeout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "raftbench:", err)
		os.Exit(1)
	}
}

func names(s []raftbench.Named) []string {
	var out []string
	for _, n := range s {
		out = append(out, n.Name)
	}
	return out
}

// isSet reports whether flag name was given on the command line.
func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// cfgArgs passes cfg to a child.
func cfgArgs(cfg raftbench.Config) []string {
	return []string{
		"-batch1", strconv.Itoa(cfg.Batch1Calls),
		"-batch64", strconv.Itoa(cfg.Batch64Calls),
		"-get-store", strconv.Itoa(cfg.GetStore),
		"-get-ops", strconv.Itoa(cfg.GetOps),
		"-open-entries", strconv.Itoa(cfg.OpenEntries),
		"-delete-store", strconv.Itoa(cfg.DeleteStore),
		"-delete-front", strconv.Itoa(cfg.DeleteFront),
		"-delete-calls", strconv.Itoa(cfg.DeleteCalls),
	}
}

func runChild(store, job, dir, cpuprof string, cfg raftbench.Config) int {
	var m map[string]float64
	err := func() error {
		s, ok := raftbench.Lookup(store)
		if !ok {
			return fmt.Errorf("unknown store %q", store)
		}
		if cpuprof != "" {
			f, err := os.Create(cpuprof)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		var err error
		m, err = raftbench.Run(s.Open, job, dir, cfg)
		return err
	}()
	runs.Print(childPrefix, m, err)
	if err == nil && raftbench.Killed(job) {
		runs.KillSelf()
	}
	return 0
}

func runParent(rounds int, storeL, jobL, base, jsonOut, pngOut, cpuprof string, timeout time.Duration, cfg raftbench.Config) error {
	stores := names(raftbench.Stores())
	if l := runs.SplitList(storeL); len(l) > 0 {
		for _, s := range l {
			if _, ok := raftbench.Lookup(s); !ok {
				return fmt.Errorf("unknown store %q", s)
			}
		}
		stores = l
	}
	jobs := raftbench.AllJobs
	if l := runs.SplitList(jobL); len(l) > 0 {
		for _, j := range l {
			if !slices.Contains(raftbench.AllJobs, j) {
				return fmt.Errorf("unknown job %q", j)
			}
		}
		jobs = l
	}
	if base == "" {
		base = bench.BaseDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	if bench.IsTmpfs(base) {
		fmt.Fprintf(os.Stderr, "WARNING: %s is tmpfs: fsync is free there; use -base or JOURNAL_BENCH_DIR on a real disk\n", base)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	res := raftbench.Results{}
	var all []map[string]any
	var failed []string
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for _, job := range jobs {
			k := r % len(stores)
			order := append(slices.Clone(stores[k:]), stores[:k]...)
			for _, s := range order {
				t0 := time.Now()
				prof := ""
				if cpuprof != "" {
					prof = fmt.Sprintf("%s.%s.%s", cpuprof, s, job)
				}
				m, err := spawn(self, base, s, job, prof, timeout, cfg)
				status := "ok"
				if err != nil {
					status = "FAILED: " + err.Error()
					failed = append(failed, fmt.Sprintf("round %d %s on %s: %v", r+1, job, s, err))
				} else {
					res.Add(s, m)
				}
				fmt.Fprintf(os.Stderr, "[%6.1fs] round %d/%d %-8s %-12s %5.1fs %s\n", time.Since(start).Seconds(), r+1, rounds, job, s, time.Since(t0).Seconds(), status)
				all = append(all, map[string]any{"round": r, "job": job, "store": s, "metrics": m, "error": runs.ErrString(err)})
			}
		}
	}
	took := time.Since(start)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(all, "", " ")
		if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	host, _ := os.Hostname()
	fmt.Printf("raft log stores side by side: %d round(s), %s, GOMAXPROCS=%d, %s/%s, host %s, %s.\n",
		rounds, took.Round(time.Second), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, host, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Printf("Sizes: batch1 %d calls, batch64 %d calls, GetLog %d ops over %d entries, open (after Close and after SIGKILL) and DeleteRange of the first half after %d entries (batches of %d), DeleteRange of the front %d calls of %d entries over %d; entries of %d bytes.\n",
		cfg.Batch1Calls, cfg.Batch64Calls, cfg.GetOps, cfg.GetStore, cfg.OpenEntries, cfg.OpenBatch, cfg.DeleteCalls, cfg.DeleteFront, cfg.DeleteStore, raftbench.EntrySize)
	fmt.Printf("Cells: median (min–max over rounds) · journal ÷ store. ↑ higher is better, ↓ lower is better.\n\n")
	res.PrintTable(os.Stdout, stores)
	for _, f := range failed {
		fmt.Printf("\nFAILED: %s", f)
	}
	fmt.Println()
	if pngOut != "" {
		baseline := raftbench.Journal
		if !slices.Contains(stores, baseline) {
			baseline = stores[0]
		}
		title := fmt.Sprintf("raft log stores, %d-byte entries, durable: median of %d rounds relative to %s", raftbench.EntrySize, rounds, baseline)
		if err := res.DrawChart(pngOut, title, stores, baseline); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", pngOut)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d run(s) failed", len(failed))
	}
	return nil
}

// spawn runs job in a fresh directory under base, each of its phases in a
// child process of its own.
func spawn(self, base, store, job, cpuprof string, timeout time.Duration, cfg raftbench.Config) (map[string]float64, error) {
	dir, err := raftbench.MkFresh(base, store, job)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	all := map[string]float64{}
	for _, phase := range raftbench.Phases(job) {
		prof := cpuprof
		if prof != "" && phase != job {
			prof += "." + phase
		}
		m, err := spawnPhase(self, dir, store, phase, prof, timeout, cfg)
		for k, v := range m {
			all[k] = v
		}
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// spawnPhase runs one phase of a job in a child process.
func spawnPhase(self, dir, store, job, cpuprof string, timeout time.Duration, cfg raftbench.Config) (map[string]float64, error) {
	args := append([]string{"-child", "-store", store, "-job", job, "-dir", dir}, cfgArgs(cfg)...)
	if cpuprof != "" {
		args = append(args, "-cpuprofile", cpuprof)
	}
	if raftbench.Killed(job) {
		return runs.ChildKilled(self, args, childPrefix, timeout)
	}
	return runs.Child(self, args, childPrefix, timeout)
}
