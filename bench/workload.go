package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seglog/journal"
	"github.com/seglog/journal/vfs"
)

// NumRoutes is how many distinct route IDs the generator cycles through.
const NumRoutes = 1000

// routeIDs[i] = "route-i", built once so the generator never allocates.
var routeIDs = func() []string {
	ids := make([]string, NumRoutes)
	for i := range ids {
		ids[i] = "route-" + strconv.Itoa(i)
	}
	return ids
}()

// kindCycle is the order of kinds of the standard workload.
var kindCycle = [4]journal.EventKind{journal.RouteRegistered, journal.RouteStarted, journal.RouteStopped, journal.RouteFailed}

// EventAt is event number i (0-based) of the standard workload: route IDs
// route-0..route-999 cycling, kinds cycling RouteRegistered, RouteStarted,
// RouteStopped, RouteFailed (with Error "boom"). It does not allocate.
func EventAt(i uint64) journal.Event {
	e := journal.Event{Kind: kindCycle[i%4], RouteID: routeIDs[i%NumRoutes]}
	if e.Kind == journal.RouteFailed {
		e.Error = "boom"
	}
	return e
}

// churnCycle is the order of kinds of the churn workload (C2).
var churnCycle = [4]journal.EventKind{journal.RouteRegistered, journal.RouteStarted, journal.RouteStopped, journal.RouteRemoved}

// ChurnEventAt is event number i of the churn workload C2: every route of
// route-0..route-999 in turn is registered, then every one started, then
// stopped, then removed, and so on: at most 3,000 live events at any time
// once compaction removes the routes' history.
func ChurnEventAt(i uint64) journal.Event {
	return journal.Event{Kind: churnCycle[(i/NumRoutes)%4], RouteID: routeIDs[i%NumRoutes]}
}

// FillBatch fills dst with events first, first+1, ... from gen.
func FillBatch(dst []journal.Event, first uint64, gen func(uint64) journal.Event) {
	for i := range dst {
		dst[i] = gen(first + uint64(i))
	}
}

// Workload is an append workload of WORKLOADS.md.
type Workload struct {
	Name       string
	Writers    int // concurrent goroutines
	Batch      int // events per commit
	Commits    int // commits in total (over all writers)
	Durability journal.Durability
	// Churn selects ChurnEventAt instead of EventAt.
	Churn bool
}

// Events is the number of events the workload appends.
func (w Workload) Events() int { return w.Batch * w.Commits }

// The append workloads, as defined in WORKLOADS.md.
var (
	W1  = Workload{Name: "W1", Writers: 1, Batch: 1, Commits: 2000, Durability: journal.Immediate}
	W2  = Workload{Name: "W2", Writers: 1, Batch: 100, Commits: 200, Durability: journal.Immediate}
	W3  = Workload{Name: "W3", Writers: 64, Batch: 1, Commits: 4000, Durability: journal.Immediate}
	W4a = Workload{Name: "W4a", Writers: 1, Batch: 1, Commits: 200_000, Durability: journal.Eventual}
	W4b = Workload{Name: "W4b", Writers: 1, Batch: 100, Commits: 10_000, Durability: journal.Eventual}
	// C1: 1,000,000 single-event appends, Eventual (the journal is opened
	// with CompactionThresholdEvents 10,000 by the caller).
	C1 = Workload{Name: "C1", Writers: 1, Batch: 1, Commits: 1_000_000, Durability: journal.Eventual}
	// C2: churn, 1,000,000 single-event appends, Eventual.
	C2 = Workload{Name: "C2", Writers: 1, Batch: 1, Commits: 1_000_000, Durability: journal.Eventual, Churn: true}
	// X1: 10,000,000 events in batches of 100, Eventual.
	X1 = Workload{Name: "X1", Writers: 1, Batch: 100, Commits: 100_000, Durability: journal.Eventual}
	// S1: 1,000,000 single-event batches, Eventual: the route journal's
	// real shape.
	S1 = Workload{Name: "S1", Writers: 1, Batch: 1, Commits: 1_000_000, Durability: journal.Eventual}
	// X1s: 10,000,000 single-event batches, Eventual.
	X1s = Workload{Name: "X1s", Writers: 1, Batch: 1, Commits: 10_000_000, Durability: journal.Eventual}
	// W3x256: W3 with 256 concurrent writers (W3-256).
	W3x256 = Workload{Name: "W3-256", Writers: 256, Batch: 1, Commits: 4000, Durability: journal.Immediate}
)

// ScaleWorkloads are the workloads RunScale measures in a child process
// (write, Close, Open, LoadAll, peak RSS), by name.
var ScaleWorkloads = map[string]Workload{W4b.Name: W4b, X1.Name: X1, S1.Name: S1, X1s.Name: X1s}

// Scaled returns w with its commit count divided by div (at least 1
// commit per writer): for tests and smoke runs on tiny sizes.
func (w Workload) Scaled(div int) Workload {
	w.Commits = max(w.Commits/div, w.Writers)
	return w
}

// Engine is a store under test. Append commits one batch: under Immediate
// it is on stable storage when Append returns. Append must be safe for
// concurrent use (W3).
type Engine interface {
	Append(batch []journal.Event) error
	Close() error
}

// Loader is an engine that can read everything back (R1).
type Loader interface {
	LoadAll() ([]journal.Event, error)
}

// Opener opens (creating if needed) an engine in dir.
type Opener func(dir string, d journal.Durability) (Engine, error)

// Result is what one run of an append workload measured.
type Result struct {
	Events  int
	Commits int
	Elapsed time.Duration
	// Latencies of every commit (Immediate workloads only; nil otherwise,
	// so that timing does not disturb the Eventual fast path).
	Latencies []time.Duration
}

// EventsPerSec is Events / Elapsed.
func (r Result) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// Percentile returns the p-th percentile (0..100) of the commit latencies.
func (r Result) Percentile(p float64) time.Duration {
	return Percentile(r.Latencies, p)
}

// Percentile returns the p-th percentile (0..100, nearest rank) of ds,
// which it sorts.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(p/100*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// Run appends w's events to e and returns what it measured. Only the
// appends are timed: opening and closing e are the caller's business. The
// events are generated before the clock starts (one batch buffer per
// writer, refilled between commits, which costs a few ns per event and
// does not allocate).
func Run(e Engine, w Workload) (Result, error) {
	gen := EventAt
	if w.Churn {
		gen = ChurnEventAt
	}
	res := Result{Events: w.Events(), Commits: w.Commits}
	if w.Durability == journal.Immediate {
		res.Latencies = make([]time.Duration, w.Commits)
	}
	if w.Writers <= 1 {
		batch := make([]journal.Event, w.Batch)
		start := time.Now()
		for c := 0; c < w.Commits; c++ {
			FillBatch(batch, uint64(c*w.Batch), gen)
			if res.Latencies != nil {
				t0 := time.Now()
				if err := e.Append(batch); err != nil {
					return res, err
				}
				res.Latencies[c] = time.Since(t0)
				continue
			}
			if err := e.Append(batch); err != nil {
				return res, err
			}
		}
		res.Elapsed = time.Since(start)
		return res, nil
	}
	// Many writers: each takes the next commit number until all are done.
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, w.Writers)
	startGate := make(chan struct{})
	for g := 0; g < w.Writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]journal.Event, w.Batch)
			<-startGate
			for {
				c := int(next.Add(1) - 1)
				if c >= w.Commits {
					return
				}
				FillBatch(batch, uint64(c*w.Batch), gen)
				t0 := time.Now()
				if err := e.Append(batch); err != nil {
					errs[g] = err
					return
				}
				if res.Latencies != nil {
					res.Latencies[c] = time.Since(t0)
				}
			}
		}()
	}
	start := time.Now()
	close(startGate)
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, errors.Join(errs...)
}

// RunFresh opens an engine in dir (which should be fresh), runs w, and
// closes it. Only the appends are timed.
func RunFresh(open Opener, dir string, w Workload) (Result, error) {
	e, err := open(dir, w.Durability)
	if err != nil {
		return Result{}, err
	}
	res, err := Run(e, w)
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// JournalOpener opens the journal with opts, overriding its Durability.
func JournalOpener(opts journal.Options) Opener {
	return func(dir string, d journal.Durability) (Engine, error) {
		o := opts
		o.Durability = d
		j, err := journal.Open(dir, o)
		if err != nil {
			return nil, err
		}
		return journalEngine{j}, nil
	}
}

type journalEngine struct{ j *journal.Journal }

func (e journalEngine) Append(b []journal.Event) error    { return e.j.AppendBatch(b) }
func (e journalEngine) Close() error                      { return e.j.Close() }
func (e journalEngine) LoadAll() ([]journal.Event, error) { return e.j.LoadAll() }
func (e journalEngine) Journal() *journal.Journal         { return e.j }

// DiskUsage sums, over every regular file under dir, the allocated blocks
// (vfs.AllocatedBytes: what the files really take on disk, preallocated
// space included; the apparent size where the platform does not say) and
// the apparent sizes.
func DiskUsage(dir string) (allocated, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n, ok := vfs.AllocatedBytes(fi)
		if !ok {
			n = fi.Size()
		}
		allocated += n
		apparent += fi.Size()
		return nil
	})
	return allocated, apparent, err
}

// PeakRSS returns the process's peak resident set size (VmHWM in
// /proc/self/status), in bytes.
func PeakRSS() (int64, error) {
	return procStatusKB("VmHWM:")
}

// CurrentRSS returns the process's resident set size (VmRSS), in bytes.
func CurrentRSS() (int64, error) {
	return procStatusKB("VmRSS:")
}

func procStatusKB(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for len(b) > 0 {
		line := b
		if i := slices.Index(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > len(field) && string(line[:len(field)]) == field {
			var kb int64
			if _, err := fmt.Sscanf(string(line[len(field):]), "%d", &kb); err != nil {
				return 0, fmt.Errorf("parse %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s not in /proc/self/status", field)
}

// BaseDir is where benchmarks make their directories: $JOURNAL_BENCH_DIR
// if set, else the system temp dir.
func BaseDir() string {
	if d := os.Getenv("JOURNAL_BENCH_DIR"); d != "" {
		return d
	}
	return os.TempDir()
}
