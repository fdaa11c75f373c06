package raftbench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/seglog/journal/bench"
	"github.com/seglog/journal/vfs"
)

// EntrySize is the size of every entry's Data.
const EntrySize = 256

// dataSeed seeds the entries' bytes.
const dataSeed = 0x5eed_1065

// Store is a raft log store under test.
type Store interface {
	raft.LogStore
	io.Closer
}

// Opener opens (or creates) a store in dir, which exists.
type Opener func(dir string) (Store, error)

// Named is one store of the comparison.
type Named struct {
	Name string
	Open Opener
}

// Peer store names.
const (
	BoltDB  = "raft-boltdb"
	RaftWAL = "raft-wal"
)

// OpenBoltDB opens raft-boltdb v2 with its defaults (NoSync false: every
// StoreLogs is one bbolt transaction whose commit fdatasyncs).
func OpenBoltDB(dir string) (Store, error) {
	return raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
}

// OpenRaftWAL opens hashicorp/raft-wal with its defaults (64 MiB
// preallocated segments, a bbolt meta DB written only when segments
// rotate; every StoreLogs fsyncs the tail segment).
func OpenRaftWAL(dir string) (Store, error) {
	return raftwal.Open(dir)
}

// Peers are the stores the journal's is compared with.
var Peers = []Named{
	{BoltDB, OpenBoltDB},
	{RaftWAL, OpenRaftWAL},
}

// Config sizes the jobs.
type Config struct {
	Batch1Calls  int // JobBatch1: StoreLogs calls of 1 entry
	Batch64Calls int // JobBatch64: StoreLogs calls of 64 entries
	GetStore     int // JobGet: entries in the store
	GetOps       int // JobGet: GetLog calls
	OpenEntries  int // JobOpen, JobOpenKill, JobDeleteHalf: entries written
	OpenBatch    int // entries per StoreLogs when filling a store
	DeleteStore  int // JobDeleteFront: entries in the store
	DeleteFront  int // JobDeleteFront: entries each DeleteRange drops from the front
	DeleteCalls  int // JobDeleteFront: DeleteRange calls
}

// Default is the configuration of a full run.
var Default = Config{
	Batch1Calls:  10000,
	Batch64Calls: 2000,
	GetStore:     100_000,
	GetOps:       200_000,
	OpenEntries:  1_000_000,
	OpenBatch:    64,
	DeleteStore:  200_000, // 53 MB: inside one 64 MiB segment of the journal and of raft-wal
	DeleteFront:  1000,
	DeleteCalls:  20,
}

// Tiny is a configuration for smoke tests: a second or so per store.
var Tiny = Config{
	Batch1Calls:  50,
	Batch64Calls: 20,
	GetStore:     2000,
	GetOps:       2000,
	OpenEntries:  5000,
	OpenBatch:    64,
	DeleteStore:  2000,
	DeleteFront:  50,
	DeleteCalls:  5,
}

// Jobs.
const (
	JobBatch1      = "batch1"
	JobBatch64     = "batch64"
	JobGet         = "get"
	JobOpen        = "open"
	JobOpenKill    = "openkill"
	JobDeleteFront = "deletefront"
	JobDeleteHalf  = "deletehalf"
	// The phases of JobOpen and JobOpenKill, each run by Run in its own
	// process on the same directory.
	JobFill         = "fill"
	JobReopen       = "reopen"
	JobFillKill     = "fillkill"
	JobReopenKilled = "reopenkilled"
)

// AllJobs lists the jobs in the order they run in a round.
var AllJobs = []string{JobBatch1, JobBatch64, JobGet, JobOpen, JobOpenKill, JobDeleteFront, JobDeleteHalf}

// Phases returns the runs of job, each to be given to Run in a process
// of its own, in order, on the same directory.
func Phases(job string) []string {
	switch job {
	case JobOpen:
		return []string{JobFill, JobReopen}
	case JobOpenKill:
		return []string{JobFillKill, JobReopenKilled}
	}
	return []string{job}
}

// Killed reports whether phase's process must end by SIGKILL (see
// runs.KillSelf) once Run has returned and its metrics are reported: Run
// leaves that phase's store open, as a crash would.
func Killed(phase string) bool { return phase == JobFillKill }

// Metric keys a job reports.
const (
	B1Rate   = "batch1 entries/s"
	B1P50    = "batch1 p50-us"
	B1P99    = "batch1 p99-us"
	B1Faults = "batch1 minflt/call" // minor page faults per StoreLogs call (Unix)
	B64Rate  = "batch64 entries/s"
	B64P50   = "batch64 p50-us"
	B64P99   = "batch64 p99-us"
	GetRate  = "get ops/s"
	GetP50   = "get p50-us"
	GetP99   = "get p99-us"
	OpenMs   = "open ms"
	KillMs   = "open-after-kill ms" // JobOpenKill: the open after a SIGKILL of the fill
	DelFront = "deletefront p50-us" // JobDeleteFront: one DeleteRange of DeleteFront entries
	DelHalf  = "deletehalf ms"      // JobDeleteHalf: DeleteRange of the first half
	DiskB    = "disk bytes/entry"
	AllocB   = "allocated bytes/entry"
	FillRate = "fill entries/s" // JobOpen's write of OpenEntries in batches
)

// Data returns entry index's bytes: EntrySize pseudo-random bytes that
// depend only on the index.
func Data(index uint64) []byte {
	b := make([]byte, EntrySize)
	r := rand.NewPCG(dataSeed, index)
	for i := 0; i < EntrySize; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Entry returns the raft log entry at index (AppendedAt left zero: the
// writer sets it when it stores the entry).
func Entry(index uint64) *raft.Log {
	return &raft.Log{
		Index: index,
		Term:  1 + (index-1)/100_000,
		Type:  raft.LogCommand,
		Data:  Data(index),
	}
}

// batches returns n batches of size consecutive entries from index first.
func batches(first uint64, n, size int) [][]*raft.Log {
	out := make([][]*raft.Log, n)
	idx := first
	for i := range out {
		b := make([]*raft.Log, size)
		for j := range b {
			b[j] = Entry(idx)
			idx++
		}
		out[i] = b
	}
	return out
}

// store calls StoreLogs with batch, setting AppendedAt as raft's leader
// does, and returns how long the call took.
func store(s Store, batch []*raft.Log) (time.Duration, error) {
	t0 := time.Now()
	for _, l := range batch {
		l.AppendedAt = t0
	}
	err := s.StoreLogs(batch)
	return time.Since(t0), err
}

// Run runs job (one of a job's Phases) on the store opened by open in dir
// and returns its metrics. dir exists; it is fresh for the first phase.
// A phase that is Killed returns with its store open: its process must
// report the metrics and then kill itself.
func Run(open Opener, job, dir string, cfg Config) (map[string]float64, error) {
	m := map[string]float64{}
	var err error
	switch job {
	case JobBatch1:
		err = runAppend(open, dir, cfg.Batch1Calls, 1, m, B1Rate, B1P50, B1P99, B1Faults)
	case JobBatch64:
		err = runAppend(open, dir, cfg.Batch64Calls, 64, m, B64Rate, B64P50, B64P99, "")
	case JobGet:
		err = runGet(open, dir, cfg, m)
	case JobFill:
		err = runFill(open, dir, cfg, m)
	case JobReopen:
		err = runReopen(open, dir, cfg, m, OpenMs)
	case JobFillKill:
		err = runFillKill(open, dir, cfg)
	case JobReopenKilled:
		err = runReopen(open, dir, cfg, m, KillMs)
	case JobDeleteFront:
		err = runDeleteFront(open, dir, cfg, m)
	case JobDeleteHalf:
		err = runDeleteHalf(open, dir, cfg, m)
	default:
		err = fmt.Errorf("unknown job %q", job)
	}
	return m, err
}

// runAppend stores calls batches of size entries, one StoreLogs each, and
// records the rate, the latency percentiles and, under faults (if not
// ""), the minor page faults per call: a store into a shared mapping
// whose page the previous sync cleaned takes one.
func runAppend(open Opener, dir string, calls, size int, m map[string]float64, rate, p50, p99, faults string) error {
	if calls < 1 {
		return errors.New("no calls")
	}
	s, err := open(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	bs := batches(1, calls, size)
	lat := make([]time.Duration, 0, calls)
	runtime.GC()
	f0, countFaults := bench.MinorFaults()
	t0 := time.Now()
	for _, b := range bs {
		d, err := store(s, b)
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	wall := time.Since(t0)
	if f1, ok := bench.MinorFaults(); ok && countFaults && faults != "" {
		m[faults] = float64(f1-f0) / float64(calls)
	}
	m[rate] = float64(calls*size) / wall.Seconds()
	m[p50] = micros(percentile(lat, 50))
	m[p99] = micros(percentile(lat, 99))
	// Spot-check what was stored.
	return check(s, 1, uint64(calls*size))
}

// fill stores entries 1..n in batches of size; returns the time spent in
// StoreLogs.
func fill(s Store, n, size int) (time.Duration, error) {
	var spent time.Duration
	for idx := 1; idx <= n; idx += size {
		k := min(size, n-idx+1)
		b := batches(uint64(idx), 1, k)[0]
		d, err := store(s, b)
		if err != nil {
			return spent, err
		}
		spent += d
	}
	return spent, nil
}

// openFilled opens the store in dir and stores entries 1..n in batches of
// size; it returns the time spent in StoreLogs. On error the store is
// closed.
func openFilled(open Opener, dir string, n, size int) (Store, time.Duration, error) {
	if n < 1 {
		return nil, 0, errors.New("no entries")
	}
	s, err := open(dir)
	if err != nil {
		return nil, 0, err
	}
	spent, err := fill(s, n, size)
	if err != nil {
		s.Close()
		return nil, 0, err
	}
	return s, spent, nil
}

func runGet(open Opener, dir string, cfg Config, m map[string]float64) error {
	if cfg.GetOps < 1 {
		return errors.New("no GetLog calls")
	}
	s, _, err := openFilled(open, dir, cfg.GetStore, cfg.OpenBatch)
	if err != nil {
		return err
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(dataSeed, 2))
	idx := make([]uint64, cfg.GetOps)
	for i := range idx {
		idx[i] = 1 + r.Uint64N(uint64(cfg.GetStore))
	}
	lat := make([]time.Duration, len(idx))
	logs := make([]raft.Log, len(idx))
	runtime.GC()
	var total time.Duration
	for i, x := range idx {
		t0 := time.Now()
		err := s.GetLog(x, &logs[i])
		d := time.Since(t0)
		if err != nil {
			return fmt.Errorf("GetLog(%d): %w", x, err)
		}
		lat[i] = d
		total += d
	}
	m[GetRate] = float64(len(idx)) / total.Seconds()
	m[GetP50] = micros(percentile(lat, 50))
	m[GetP99] = micros(percentile(lat, 99))
	for i, x := range idx {
		if err := same(&logs[i], x); err != nil {
			return err
		}
	}
	return nil
}

// runFill is the first phase of JobOpen: write OpenEntries entries in
// batches of OpenBatch, close, and measure the files.
func runFill(open Opener, dir string, cfg Config, m map[string]float64) error {
	n := cfg.OpenEntries
	s, spent, err := openFilled(open, dir, n, cfg.OpenBatch)
	if err != nil {
		return err
	}
	m[FillRate] = float64(n) / spent.Seconds()
	if err := s.Close(); err != nil {
		return err
	}
	size, alloc, err := DiskUsage(dir)
	if err != nil {
		return err
	}
	m[DiskB] = float64(size) / float64(n)
	m[AllocB] = float64(alloc) / float64(n)
	return nil
}

// runFillKill is the first phase of JobOpenKill: write OpenEntries
// entries in batches of OpenBatch and return with the store open, for the
// process to be killed (see Killed).
func runFillKill(open Opener, dir string, cfg Config) error {
	_, _, err := openFilled(open, dir, cfg.OpenEntries, cfg.OpenBatch)
	return err
}

// runReopen is the second phase of JobOpen and JobOpenKill, in a new
// process as after a restart (raft-wal's Close leaves its meta DB's file
// lock held, so it cannot be reopened in the process that closed it):
// open the store runFill or runFillKill wrote, read FirstIndex and
// LastIndex and GetLog the last index; the time under key.
func runReopen(open Opener, dir string, cfg Config, m map[string]float64, key string) error {
	n := cfg.OpenEntries
	runtime.GC()
	t0 := time.Now()
	s, err := open(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err != nil {
		return err
	}
	var l raft.Log
	err = s.GetLog(last, &l)
	d := time.Since(t0)
	if err != nil {
		return err
	}
	m[key] = millis(d)
	if first != 1 || last != uint64(n) {
		return fmt.Errorf("after reopen: first %d last %d, want 1 and %d", first, last, n)
	}
	return same(&l, last)
}

// runDeleteFront stores DeleteStore entries in batches of OpenBatch, then
// drops DeleteCalls times the DeleteFront entries at the front, as raft
// does after each snapshot, and records the median time of a call. With
// the default sizes every call stays inside the first segment of the
// stores that have segments, so no whole file goes.
func runDeleteFront(open Opener, dir string, cfg Config, m map[string]float64) error {
	k, calls := cfg.DeleteFront, cfg.DeleteCalls
	if k < 1 || calls < 1 || k*calls >= cfg.DeleteStore {
		return fmt.Errorf("%d DeleteRange calls of %d entries must leave some of the %d stored", calls, k, cfg.DeleteStore)
	}
	s, _, err := openFilled(open, dir, cfg.DeleteStore, cfg.OpenBatch)
	if err != nil {
		return err
	}
	defer s.Close()
	lat := make([]time.Duration, calls)
	first := uint64(1)
	runtime.GC()
	for i := range lat {
		last := first + uint64(k) - 1
		t0 := time.Now()
		err := s.DeleteRange(first, last)
		lat[i] = time.Since(t0)
		if err != nil {
			return fmt.Errorf("DeleteRange(%d, %d): %w", first, last, err)
		}
		first = last + 1
	}
	m[DelFront] = micros(percentile(lat, 50))
	return checkDeleted(s, first, uint64(cfg.DeleteStore))
}

// runDeleteHalf stores OpenEntries entries in batches of OpenBatch, then
// times one DeleteRange of the first half of them (whole segments go).
func runDeleteHalf(open Opener, dir string, cfg Config, m map[string]float64) error {
	n := cfg.OpenEntries
	half := uint64(n / 2)
	if half < 1 {
		return fmt.Errorf("no half of %d entries to delete", n)
	}
	s, _, err := openFilled(open, dir, n, cfg.OpenBatch)
	if err != nil {
		return err
	}
	defer s.Close()
	runtime.GC()
	t0 := time.Now()
	err = s.DeleteRange(1, half)
	d := time.Since(t0)
	if err != nil {
		return fmt.Errorf("DeleteRange(1, %d): %w", half, err)
	}
	m[DelHalf] = millis(d)
	return checkDeleted(s, half+1, uint64(n))
}

// checkDeleted verifies a store that held 1..last and whose front up to
// first-1 was deleted, with check's spot checks. It does not ask for the
// entry before first: raft never reads below FirstIndex, and raft-wal
// still returns such an entry while its segment lives.
func checkDeleted(s Store, first, last uint64) error {
	if err := check(s, first, last); err != nil {
		return fmt.Errorf("after DeleteRange: %w", err)
	}
	return nil
}

// check verifies FirstIndex, LastIndex and a few entries of a store that
// holds first..last.
func check(s Store, first, last uint64) error {
	f, err := s.FirstIndex()
	if err != nil {
		return err
	}
	l, err := s.LastIndex()
	if err != nil {
		return err
	}
	if f != first || l != last {
		return fmt.Errorf("first %d last %d, want %d and %d", f, l, first, last)
	}
	for _, x := range []uint64{first, (first + last) / 2, last} {
		var got raft.Log
		if err := s.GetLog(x, &got); err != nil {
			return fmt.Errorf("GetLog(%d): %w", x, err)
		}
		if err := same(&got, x); err != nil {
			return err
		}
	}
	return nil
}

// same checks that l is entry index as Entry made it.
func same(l *raft.Log, index uint64) error {
	want := Entry(index)
	if l.Index != want.Index || l.Term != want.Term || l.Type != want.Type || !bytes.Equal(l.Data, want.Data) || l.AppendedAt.IsZero() {
		return fmt.Errorf("entry %d read back wrong: index %d term %d type %v len %d appendedAt %v", index, l.Index, l.Term, l.Type, len(l.Data), l.AppendedAt)
	}
	return nil
}

// DiskUsage sums the sizes and the allocated bytes of all files under dir
// (allocated bytes count 0 where the platform does not report them).
func DiskUsage(dir string) (size, alloc int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size += info.Size()
		if n, ok := vfs.AllocatedBytes(info); ok {
			alloc += n
		}
		return nil
	})
	return size, alloc, err
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func millis(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// MkFresh makes a fresh directory for one run under base.
func MkFresh(base, store, job string) (string, error) {
	return os.MkdirTemp(base, "raftbench-"+store+"-"+job+"-")
}

// journalStores is the journal's store, when this module has it.
var journalStores []Named

// Stores returns every store of the comparison, the journal's first.
func Stores() []Named { return append(slices.Clone(journalStores), Peers...) }

// Lookup finds a store of Stores by name.
func Lookup(name string) (Named, bool) {
	for _, s := range Stores() {
		if s.Name == name {
			return s, true
		}
	}
	return Named{}, false
}
