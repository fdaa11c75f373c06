package bench

// Benchmarks for every workload of WORKLOADS.md.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/      # every workload once (~1-2 min)
//	go test -run '^$' -bench 'W1|W4a' -count 5 ./bench/     # repetitions, for medians
//	JOURNAL_BENCH_LARGE=1 go test -run '^$' -bench X1 -benchtime 1x ./bench/
//
// Each fixed-size workload is run whole b.N times, each time in a fresh
// directory; only the workload itself is timed (not Open/Close, except O1,
// which times Open only), and events/s is total events / timed duration.
// B/op and allocs/op are per whole workload run; allocs/commit divides by
// its commits. Directories are made under $JOURNAL_BENCH_DIR if set, else
// under the system temp dir (which must be a real disk, not tmpfs: the
// benchmark logs a warning if it is tmpfs).

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seglog/journal"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// Environment of the child process that measures peak RSS (M1, X1).
const (
	envChild    = "JOURNAL_BENCH_CHILD"     // workload name, a key of ScaleWorkloads
	envChildDir = "JOURNAL_BENCH_CHILD_DIR" // fresh directory
	envChildDiv = "JOURNAL_BENCH_CHILD_DIV" // scale the workload down (tests)
	// envChildKill: write the workload and exit without Close, as a
	// SIGKILL leaves it (no RunScale).
	envChildKill = "JOURNAL_BENCH_CHILD_KILL"
	childPrefix  = "BENCH-CHILD-RESULT "
)

var cleanups []func()

func TestMain(m *testing.M) {
	if name := os.Getenv(envChild); name != "" {
		os.Exit(childMain(name))
	}
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// childMain runs RunScale for the named workload on the journal in this
// (otherwise idle) process and prints the result as JSON.
func childMain(name string) int {
	w, ok := ScaleWorkloads[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "child: no scale workload", name)
		return 1
	}
	if div, _ := strconv.Atoi(os.Getenv(envChildDiv)); div > 1 {
		w = w.Scaled(div)
	}
	open := JournalOpener(journal.Options{})
	if os.Getenv(envChildKill) == "1" {
		e, err := open(os.Getenv(envChildDir), w.Durability)
		if err == nil {
			_, err = Run(e, w)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		return 0 // no Close: the files as a kill leaves them
	}
	res, err := RunScale(open, open, os.Getenv(envChildDir), w)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	b, _ := json.Marshal(res)
	fmt.Printf("%s%s\n", childPrefix, b)
	return 0
}

// runChild runs RunScale of workload name in a child process (this test
// binary re-executed) and returns its result.
func runChild(tb testing.TB, name, dir string, div int) ScaleResult {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+name, envChildDir+"="+dir, envChildDiv+"="+strconv.Itoa(div))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("child %s: %v", name, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), childPrefix); ok {
			var res ScaleResult
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				tb.Fatal(err)
			}
			return res
		}
	}
	tb.Fatalf("child %s printed no result: %q", name, out)
	return ScaleResult{}
}

var warnTmpfs sync.Once

// freshDir returns a new empty directory on the benchmark disk, removed
// when tb ends.
func freshDir(tb testing.TB) string {
	tb.Helper()
	var dir string
	if base := os.Getenv("JOURNAL_BENCH_DIR"); base != "" {
		if err := os.MkdirAll(base, 0o755); err != nil {
			tb.Fatal(err)
		}
		d, err := os.MkdirTemp(base, "bench-")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	} else {
		dir = tb.TempDir()
	}
	if IsTmpfs(dir) {
		warnTmpfs.Do(func() {
			fmt.Fprintf(os.Stderr, "bench: WARNING: %s is on tmpfs: fsync is free there; set JOURNAL_BENCH_DIR to a real disk\n", dir)
		})
	}
	return dir + "/j"
}

// journalEPS holds the journal's events/s of W1 from this process, for W3's
// "x-W1" metric.
var journalEPS sync.Map

// benchWorkload runs w whole b.N times with engine open, each in a fresh
// directory, timing only the appends.
func benchWorkload(b *testing.B, open Opener, w Workload) Result {
	b.ReportAllocs()
	var total Result
	var mallocs uint64
	var disk int64   // allocated after Close
	var faults int64 // minor page faults while running
	countFaults := false
	var ms runtime.MemStats
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		dir := freshDir(b)
		e, err := open(dir, w.Durability)
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		m0 := ms.Mallocs
		f0, _ := MinorFaults()
		b.StartTimer()
		res, err := Run(e, w)
		b.StopTimer()
		f1, ok := MinorFaults()
		countFaults = ok
		faults += f1 - f0
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - m0
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		alloc, _, err := DiskUsage(dir)
		if err != nil {
			b.Fatal(err)
		}
		disk += alloc
		total.Events += res.Events
		total.Commits += res.Commits
		total.Elapsed += res.Elapsed
		total.Latencies = append(total.Latencies, res.Latencies...)
	}
	b.ReportMetric(total.EventsPerSec(), "events/s")
	b.ReportMetric(float64(mallocs)/float64(total.Commits), "allocs/commit")
	b.ReportMetric(float64(disk)/float64(total.Events), "disk-bytes/event")
	if countFaults {
		b.ReportMetric(float64(faults)/float64(total.Commits), "minflt/commit")
	}
	if total.Latencies != nil {
		b.ReportMetric(float64(total.Percentile(50).Nanoseconds())/1e3, "p50-us")
		b.ReportMetric(float64(total.Percentile(99).Nanoseconds())/1e3, "p99-us")
	}
	return total
}

// benchEngines runs w on the journal ("journal"), on each reference
// engine of refs alone, and then, in "ratio-<ref>", on both interleaved run
// by run (order alternating), reporting the median over b.N pairs of
// journal events/s ÷ ref events/s as "x-<ref>". The separate runs give
// clean B/op and allocs/op; the ratio comes only from interleaved pairs so
// that drift of the noisy machine hits both alike.
func benchEngines(b *testing.B, w Workload, refs ...string) {
	jopen := JournalOpener(journal.Options{})
	b.Run("journal", func(b *testing.B) {
		res := benchWorkload(b, jopen, w)
		journalEPS.Store(w.Name, res.EventsPerSec())
		if w.Name == W3.Name {
			if v, ok := journalEPS.Load(W1.Name); ok {
				b.ReportMetric(res.EventsPerSec()/v.(float64), "x-W1")
			}
		}
	})
	for _, ref := range refs {
		ropen := RawOpener(ref, RawPreallocFor(w))
		b.Run(ref, func(b *testing.B) { benchWorkload(b, ropen, w) })
		b.Run("ratio-"+ref, func(b *testing.B) { benchRatio(b, w, jopen, ropen, "x-"+ref) })
	}
}

// ratioPairs counts, per benchmark name, the pairs benchRatio has run in
// this process, so that the order within a pair alternates across -count
// repetitions too: with -benchtime 1x every call runs a single pair, and
// without it a would always run first.
var ratioPairs = map[string]int{}

// benchRatio runs w on a and on ref alternately, b.N pairs, each in a
// fresh directory, and reports the median of a's events/s ÷ ref's. The
// order within a pair alternates (a first, then ref first, ...), counted
// over every call of the same benchmark in this process.
func benchRatio(b *testing.B, w Workload, a, ref Opener, metric string) {
	once := func(open Opener) float64 {
		b.StopTimer()
		defer b.StartTimer()
		res, err := RunFresh(open, freshDir(b), w)
		if err != nil {
			b.Fatal(err)
		}
		return res.EventsPerSec()
	}
	ratios := make([]float64, b.N)
	for i := 0; i < b.N; i++ {
		var x, y float64
		k := ratioPairs[b.Name()]
		ratioPairs[b.Name()] = k + 1
		if k%2 == 0 {
			x = once(a)
			y = once(ref)
		} else {
			y = once(ref)
			x = once(a)
		}
		ratios[i] = x / y
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], metric)
	b.ReportMetric(0, "ns/op")
}

// W1: one writer, batches of 1, Immediate, 2,000 commits; p50/p99 commit
// latency. Target: >= 0.9 x raw-prealloc.
func BenchmarkW1(b *testing.B) { benchEngines(b, W1, RawPrealloc) }

// W2: one writer, batches of 100, Immediate, 200 commits. Target: >= 0.9 x
// raw-prealloc.
func BenchmarkW2(b *testing.B) { benchEngines(b, W2, RawPrealloc) }

// W3: 64 writers, batches of 1, Immediate, 4,000 commits (group commit).
// Target: >= 0.8 x raw-group and >= 20 x the journal's own W1 (the
// journal's W1 figure, if BenchmarkW1 ran in this process, gives "x-W1").
func BenchmarkW3(b *testing.B) {
	benchEngines(b, W3, RawGroup)
}

// W4a: one writer, batches of 1, Eventual, 200,000 events. Target: >= 1M
// events/s and no allocation per AppendBatch (allocs/commit ~ 0).
func BenchmarkW4a(b *testing.B) { benchEngines(b, W4a) }

// W4b: one writer, batches of 100, Eventual, 1,000,000 events. Target:
// >= 5M events/s.
func BenchmarkW4b(b *testing.B) { benchEngines(b, W4b) }

// Flusher: W4a and W4b with the default flush interval against no flusher
// at all (FlushInterval < 0), side by side. Target: within 5%.
func BenchmarkFlusher(b *testing.B) {
	with := JournalOpener(journal.Options{})
	without := JournalOpener(journal.Options{FlushInterval: -1})
	for _, w := range []Workload{W4a, W4b} {
		b.Run(w.Name+"/ratio", func(b *testing.B) { benchRatio(b, w, with, without, "x-no-flusher") })
	}
}

// w4bJournal is a journal written by W4b and closed, made once per process
// and shared by O1, R1 and D1.
var w4bJournal struct {
	once  sync.Once
	dir   string
	alloc int64
	appar int64
	err   error
}

func w4bDir(b *testing.B) (dir string, allocated, apparent int64) {
	w4bJournal.once.Do(func() {
		base := BaseDir()
		d, err := os.MkdirTemp(base, "journal-bench-w4b-")
		if err != nil {
			w4bJournal.err = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(d) })
		w4bJournal.dir = d + "/j"
		if _, err := RunFresh(JournalOpener(journal.Options{}), w4bJournal.dir, W4b); err != nil {
			w4bJournal.err = err
			return
		}
		w4bJournal.alloc, w4bJournal.appar, w4bJournal.err = DiskUsage(w4bJournal.dir)
	})
	if w4bJournal.err != nil {
		b.Fatal(w4bJournal.err)
	}
	return w4bJournal.dir, w4bJournal.alloc, w4bJournal.appar
}

// O1: Open of the journal written by W4b (after Close), warm page cache.
// Only Open is timed (Close is not). Target: <= 20 ms.
func BenchmarkO1(b *testing.B) {
	dir, _, _ := w4bDir(b)
	b.ReportAllocs()
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		j, err := journal.Open(dir, journal.Options{Durability: journal.Eventual})
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "open-ms")
}

// R1: LoadAll of the 1,000,000 events written by W4b. Only LoadAll is
// timed. Target: >= 10M decoded events/s.
func BenchmarkR1(b *testing.B) {
	dir, _, _ := w4bDir(b)
	j, err := journal.Open(dir, journal.Options{Durability: journal.Eventual})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		evs, err := j.LoadAll()
		if err != nil {
			b.Fatal(err)
		}
		n += len(evs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	if n != b.N*W4b.Events() {
		b.Fatalf("loaded %d events, want %d", n, b.N*W4b.Events())
	}
}

// D1: bytes on disk after W4b and Close: allocated blocks (Stat_t.Blocks *
// 512, summed over the directory), per event. Target: <= 24 bytes/event.
// Nothing is timed; the figure is in the metrics.
func BenchmarkD1(b *testing.B) {
	_, alloc, appar := w4bDir(b)
	for i := 0; i < b.N; i++ {
	}
	b.ReportMetric(float64(alloc)/float64(W4b.Events()), "bytes/event")
	b.ReportMetric(float64(appar)/float64(W4b.Events()), "apparent-bytes/event")
	b.ReportMetric(float64(alloc), "bytes")
}

// M1: peak RSS (VmHWM) of a child process (this test binary re-executed)
// doing W4b + O1 + R1 on the journal, as RunScale does. Target: <= 120
// MiB. open-heap-bytes/event is the live heap Open added (after GC), an
// estimate of the index's size. The child's baseline (Go runtime + test
// binary, ~10 MiB) is included in the peak.
func BenchmarkM1(b *testing.B) {
	var res ScaleResult
	for i := 0; i < b.N; i++ {
		res = runChild(b, "W4b", freshDir(b), 1)
	}
	b.ReportMetric(float64(res.PeakRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(res.PeakRSS)/float64(res.Events), "RSS-bytes/event")
	b.ReportMetric(float64(res.OpenHeapBytes)/float64(res.Events), "open-heap-bytes/event")
}

// C1: 1,000,000 single-event appends, Eventual, CompactionThresholdEvents
// 10,000, no route ever removed, against the same with compaction
// effectively off (threshold MaxUint64: the journal has no "off" switch).
// No route is ever removed, so compaction finds nothing to drop: the ratio
// measures what the threshold checks and compaction bookkeeping cost the
// append path. Target: >= 0.95.
func BenchmarkC1(b *testing.B) {
	off := JournalOpener(journal.Options{CompactionThresholdEvents: math.MaxUint64})
	on := JournalOpener(journal.Options{CompactionThresholdEvents: 10_000})
	b.Run("threshold=10000", func(b *testing.B) { benchWorkload(b, on, C1) })
	b.Run("off", func(b *testing.B) { benchWorkload(b, off, C1) })
	b.Run("ratio", func(b *testing.B) { benchRatio(b, C1, on, off, "x-off") })
}

// C2: churn (routes registered, started, stopped, removed, in turn, see
// ChurnEventAt), 1,000,000 single-event appends, Eventual, threshold
// 10,000; reports disk bytes (allocated) after Close, and the throughput
// against the same churn with compaction off (a threshold never reached).
// Target: >= 0.8 x off, disk flat.
func BenchmarkC2(b *testing.B) {
	off := JournalOpener(journal.Options{CompactionThresholdEvents: math.MaxUint64})
	on := JournalOpener(journal.Options{CompactionThresholdEvents: 10_000})
	b.Run("threshold=10000", func(b *testing.B) { benchChurn(b, on) })
	b.Run("off", func(b *testing.B) { benchChurn(b, off) })
	b.Run("ratio", func(b *testing.B) { benchRatio(b, C2, on, off, "x-off") })
}

func benchChurn(b *testing.B, open Opener) {
	b.ReportAllocs()
	var total Result
	var alloc int64
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		dir := freshDir(b)
		e, err := open(dir, C2.Durability)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := Run(e, C2)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		if alloc, _, err = DiskUsage(dir); err != nil {
			b.Fatal(err)
		}
		total.Events += res.Events
		total.Elapsed += res.Elapsed
	}
	b.ReportMetric(total.EventsPerSec(), "events/s")
	b.ReportMetric(float64(alloc), "disk-bytes")
	b.ReportMetric(float64(alloc)/float64(C2.Events()), "bytes/event")
}

// X1: 10,000,000 events (batches of 100, Eventual), then Open and LoadAll,
// in a child process. Targets: Open <= 100 ms; index <= 8 bytes per live
// event (open-heap-bytes/event estimates it). Runs only when requested by
// name (-bench X1) AND JOURNAL_BENCH_LARGE=1; needs ~0.5 GB of disk and a
// few GB of RAM (LoadAll materialises 10M events).
func BenchmarkX1(b *testing.B) {
	if os.Getenv("JOURNAL_BENCH_LARGE") != "1" || !strings.Contains(flag.Lookup("test.bench").Value.String(), "X1") {
		b.Skip("X1 runs only with -bench X1 and JOURNAL_BENCH_LARGE=1")
	}
	var res ScaleResult
	for i := 0; i < b.N; i++ {
		res = runChild(b, "X1", freshDir(b), 1)
	}
	b.ReportMetric(res.WriteEventsPerSec, "write-events/s")
	b.ReportMetric(res.OpenSeconds*1e3, "open-ms")
	b.ReportMetric(res.LoadEventsPerSec, "load-events/s")
	b.ReportMetric(float64(res.PeakRSS)/float64(res.Events), "RSS-bytes/event")
	b.ReportMetric(float64(res.OpenHeapBytes)/float64(res.Events), "open-heap-bytes/event")
	b.ReportMetric(float64(res.AllocatedBytes)/float64(res.Events), "disk-bytes/event")
}

// shortDiv is how much the single-event workloads (S1, N1, F1) are scaled
// down under -short, so CI's smoke run stays quick.
func shortDiv() int {
	if testing.Short() {
		return 100
	}
	return 1
}

// S1: 1,000,000 single-event batches, Eventual, Close, then Open and
// LoadAll, in a child process (peak RSS covers write, Open and LoadAll).
// Targets (issue 17): <= 16 disk bytes/event, Open <= 10 ms, LoadAll >=
// 12M events/s, peak RSS <= 64 MiB.
func BenchmarkS1(b *testing.B) {
	var res ScaleResult
	for i := 0; i < b.N; i++ {
		res = runChild(b, S1.Name, freshDir(b), shortDiv())
	}
	reportScale(b, res)
}

// S1k: S1 written by a child process that ends without Close (its files
// as a SIGKILL leaves them), then Open timed here, and before it a read of
// what no index covers (unindexed-read-ms, see uncoveredRead). Target
// (issue 19): open-beyond-read-ms <= 5.
func BenchmarkS1k(b *testing.B) {
	var total, unread time.Duration
	for i := 0; i < b.N; i++ {
		dir := freshDir(b)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"="+S1.Name, envChildDir+"="+dir, envChildDiv+"="+strconv.Itoa(shortDiv()), envChildKill+"=1")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("child: %v", err)
		}
		read, err := uncoveredRead(dir)
		if err != nil {
			b.Fatal(err)
		}
		unread += read
		t0 := time.Now()
		j, err := journal.Open(dir, journal.Options{})
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "open-ms")
	b.ReportMetric(float64(unread.Microseconds())/1e3/float64(b.N), "unindexed-read-ms")
	b.ReportMetric(float64((total-unread).Microseconds())/1e3/float64(b.N), "open-beyond-read-ms")
	b.ReportMetric(0, "ns/op")
}

// uncoveredRead times a read of what no index of the newest segment in dir
// lists: the frames after its tail index (all of them without one), read
// and verified as Open's scan reads them, and the zeros after. Issue 19's
// S1k target is Open within 5 ms of it.
func uncoveredRead(dir string) (time.Duration, error) {
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) == 0 {
		return 0, fmt.Errorf("no segment in %s (%v)", dir, err)
	}
	name := slices.Max(segs)
	id, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".seg"), 10, 64)
	if err != nil {
		return 0, err
	}
	fsys := vfs.Default()
	f, err := fsys.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	frames, from := segment.ReadTailIndex(fsys, strings.TrimSuffix(name, ".seg")+".tidx", id, size, nil)
	if len(frames) == 0 {
		from = segment.FileHeaderSize
	}
	if _, _, _, err := segment.ScanFramesFrom(f, size, from, name, nil, nil); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// X1s: 10,000,000 single-event batches, Eventual, then Open (and LoadAll),
// in a child process. Target: Open <= 30 ms. Runs only when requested by
// name (-bench X1s) and JOURNAL_BENCH_LARGE=1.
func BenchmarkX1s(b *testing.B) {
	if os.Getenv("JOURNAL_BENCH_LARGE") != "1" || !strings.Contains(flag.Lookup("test.bench").Value.String(), "X1s") {
		b.Skip("X1s runs only with -bench X1s and JOURNAL_BENCH_LARGE=1")
	}
	var res ScaleResult
	for i := 0; i < b.N; i++ {
		res = runChild(b, X1s.Name, freshDir(b), 1)
	}
	reportScale(b, res)
}

// reportScale reports the figures of a child's RunScale.
func reportScale(b *testing.B, res ScaleResult) {
	b.ReportMetric(res.WriteEventsPerSec, "write-events/s")
	b.ReportMetric(res.OpenSeconds*1e3, "open-ms")
	b.ReportMetric(res.LoadEventsPerSec, "load-events/s")
	b.ReportMetric(float64(res.PeakRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(res.AllocatedBytes)/float64(res.Events), "disk-bytes/event")
	b.ReportMetric(0, "ns/op")
}

// writeClosed writes w with open into a fresh directory and closes it.
func writeClosed(b *testing.B, open Opener, w Workload) string {
	b.Helper()
	dir := freshDir(b)
	if _, err := RunFresh(open, dir, w); err != nil {
		b.Fatal(err)
	}
	return dir
}

// N1: the newest 10 entries (Inspect with Limit 10) of S1's journal.
// Target: <= 5 ms whatever the journal's size.
func BenchmarkN1(b *testing.B) {
	dir := writeClosed(b, JournalOpener(journal.Options{}), S1.Scaled(shortDiv()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		es, err := journal.Inspect(dir, journal.InspectFilter{Limit: 10})
		if err != nil || len(es) != 10 {
			b.Fatalf("Inspect: %d entries, %v", len(es), err)
		}
	}
}

// F1: S1 written with SegmentSize 4096 (thousands of segments), then Open
// and a full Entries scan; reports the most file descriptors the journal
// held (counted in /proc/self/fd). Target: bounded (<= 64 by default).
func BenchmarkF1(b *testing.B) {
	w := S1.Scaled(shortDiv())
	dir := writeClosed(b, JournalOpener(journal.Options{SegmentSize: 4096}), w)
	base, err := openFDs()
	if err != nil {
		b.Skip(err)
	}
	held := 0
	for i := 0; i < b.N; i++ {
		j, err := journal.Open(dir, journal.Options{SegmentSize: 4096})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, err := range j.Entries(0) {
			if err != nil {
				b.Fatal(err)
			}
			if n++; n%10_000 == 0 || n == w.Events() {
				fds, _ := openFDs()
				held = max(held, fds-base)
			}
		}
		if n != w.Events() {
			b.Fatalf("scanned %d entries, want %d", n, w.Events())
		}
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
	}
	segs, _ := os.ReadDir(dir)
	b.ReportMetric(float64(held), "fds-held")
	b.ReportMetric(float64(len(segs)), "files")
}

// openFDs counts this process's open file descriptors.
func openFDs() (int, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	return len(fds), err
}

// W3-256: W3 with 256 concurrent writers. Target: >= 1.0 x raw-group,
// p99 <= raw-group's.
func BenchmarkW3x256(b *testing.B) { benchEngines(b, W3x256, RawGroup) }
