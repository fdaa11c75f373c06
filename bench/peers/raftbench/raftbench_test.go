package raftbench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/seglog/journal/bench/peers/internal/runs"
)

// tiny keeps the test to a second or so per store.
var tiny = Config{
	Batch1Calls:  20,
	Batch64Calls: 5,
	GetStore:     300,
	GetOps:       500,
	OpenEntries:  1000,
	OpenBatch:    64,
	DeleteStore:  500,
	DeleteFront:  20,
	DeleteCalls:  5,
}

// The phases of JobOpen and JobOpenKill run in child processes (this test binary
// re-executed), as the command runs them: raft-wal cannot be reopened
// while the process that wrote it lives (its Close leaves its meta DB's
// file lock held).
const (
	envStore = "RAFTBENCH_TEST_STORE"
	envPhase = "RAFTBENCH_TEST_PHASE"
	envDir   = "RAFTBENCH_TEST_DIR"

	childPrefix = "RAFTBENCH-TEST-RESULT "
)

func TestMain(m *testing.M) {
	if name := os.Getenv(envStore); name != "" {
		s, ok := Lookup(name)
		if !ok {
			fmt.Fprintln(os.Stderr, "unknown store", name)
			os.Exit(2)
		}
		phase := os.Getenv(envPhase)
		mm, err := Run(s.Open, phase, os.Getenv(envDir), tiny)
		runs.Print(childPrefix, mm, err)
		if err == nil && Killed(phase) {
			runs.KillSelf()
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestEntriesDeterministic(t *testing.T) {
	a, b := Entry(7), Entry(7)
	if !bytes.Equal(a.Data, b.Data) || len(a.Data) != EntrySize {
		t.Fatal("entry 7 differs between calls")
	}
	if bytes.Equal(Entry(8).Data, a.Data) {
		t.Fatal("entries 7 and 8 have the same data")
	}
	if Entry(100_001).Term != 2 || Entry(100_000).Term != 1 {
		t.Fatal("term does not change every 100,000 entries")
	}
}

// TestJobs runs every job on every store on tiny sizes, checks the metrics
// are there, and prints and draws the results.
func TestJobs(t *testing.T) {
	res := Results{}
	var names []string
	for _, s := range Stores() {
		names = append(names, s.Name)
		t.Run(s.Name, func(t *testing.T) {
			for _, job := range AllJobs {
				dir := filepath.Join(t.TempDir(), "db")
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, phase := range Phases(job) {
					var m map[string]float64
					var err error
					if len(Phases(job)) > 1 {
						m, err = runInChild(t, s.Name, phase, dir)
					} else {
						m, err = Run(s.Open, phase, dir, tiny)
					}
					if err != nil {
						t.Fatalf("%s: %v", phase, err)
					}
					for k, v := range m {
						// A count of page faults may be 0 over a
						// few calls (raft-wal's often is); every
						// other figure is a rate, a time or a size.
						if !(v > 0) && !(k == B1Faults && v == 0) {
							t.Errorf("%s: %s = %v", phase, k, v)
						}
					}
					res.Add(s.Name, m)
				}
			}
		})
	}
	for _, f := range Figures {
		for _, s := range names {
			if _, ok := res.Median(f.Key, s); !ok {
				t.Errorf("no %s for %s", f.Key, s)
			}
		}
	}
	var out strings.Builder
	res.PrintTable(&out, names)
	if n := strings.Count(out.String(), "\n"); n != len(Figures)+2 {
		t.Errorf("table has %d lines, want %d:\n%s", n, len(Figures)+2, out.String())
	}
	png := filepath.Join(t.TempDir(), "chart.png")
	if err := res.DrawChart(png, "test", names, names[0]); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Fatalf("chart: %v %v", st, err)
	}
}

// runInChild runs phase in this test binary re-executed, as the command
// runs it: killed after it reports, if the phase is Killed.
func runInChild(t *testing.T, store, phase, dir string) (map[string]float64, error) {
	t.Setenv(envStore, store)
	t.Setenv(envPhase, phase)
	t.Setenv(envDir, dir)
	child := runs.Child
	if Killed(phase) {
		child = runs.ChildKilled
	}
	return child(os.Args[0], []string{"-test.run=^$"}, childPrefix, time.Minute)
}

// The benchmarks give the jobs' hot paths to go test's profilers, e.g.
//
//	go test -run '^$' -bench 'GetLog/journal' -cpuprofile get.prof ./raftbench
//
// Directories are under $JOURNAL_BENCH_DIR when set (a real disk), else
// the test's temp dir.
func benchDir(b *testing.B) string {
	base := os.Getenv("JOURNAL_BENCH_DIR")
	if base == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(base, "raftbench-test-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkGetLog: GetLog of random indexes over 100,000 entries stored in
// batches of 64.
func BenchmarkGetLog(b *testing.B) {
	const n = 100_000
	for _, s := range Stores() {
		b.Run(s.Name, func(b *testing.B) {
			st, err := s.Open(benchDir(b))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if _, err := fill(st, n, 64); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for b.Loop() {
				var l raft.Log
				if err := st.GetLog(1+r.Uint64N(n), &l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStoreLogs: durable StoreLogs of batches of 1 and 64 entries.
func BenchmarkStoreLogs(b *testing.B) {
	for _, size := range []int{1, 64} {
		for _, s := range Stores() {
			b.Run(fmt.Sprintf("batch%d/%s", size, s.Name), func(b *testing.B) {
				st, err := s.Open(benchDir(b))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				idx := uint64(1)
				for b.Loop() {
					b.StopTimer()
					batch := batches(idx, 1, size)[0]
					idx += uint64(size)
					b.StartTimer()
					if _, err := store(st, batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}
