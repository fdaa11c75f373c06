package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/seglog/journal/wal"
)

// quiet keeps expected recovery warnings out of the test output.
var quiet = slog.New(slog.DiscardHandler)

func openT(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{Logger: quiet, SegmentSize: 64 << 10})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// mkLogs makes entries lo..hi with contents derived from the index.
func mkLogs(lo, hi uint64) []*raft.Log {
	var logs []*raft.Log
	base := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for i := lo; i <= hi; i++ {
		logs = append(logs, &raft.Log{
			Index:      i,
			Term:       1 + i/7,
			Type:       raft.LogType(i % 6),
			Data:       []byte(fmt.Sprintf("data-%d", i)),
			AppendedAt: base.Add(time.Duration(i) * time.Microsecond),
		})
	}
	return logs
}

func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

// checkRange checks that the store holds exactly first..last, each entry as
// mkLogs makes it, and nothing just outside.
func checkRange(t *testing.T, s *Store, first, last uint64) {
	t.Helper()
	f, _ := s.FirstIndex()
	l, _ := s.LastIndex()
	if f != first || l != last {
		t.Fatalf("FirstIndex, LastIndex = %d, %d; want %d, %d", f, l, first, last)
	}
	if first == 0 {
		return
	}
	want := mkLogs(first, last)
	for i, w := range want {
		var got raft.Log
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", w.Index, err)
		}
		if !sameLog(&got, want[i]) {
			t.Fatalf("GetLog(%d) = %+v; want %+v", w.Index, got, *w)
		}
	}
	for _, i := range []uint64{0, first - 1, last + 1, last + 100} {
		var got raft.Log
		if err := s.GetLog(i, &got); err != raft.ErrLogNotFound {
			t.Fatalf("GetLog(%d) outside %d..%d: %v; want raft.ErrLogNotFound", i, first, last, err)
		}
	}
}

func TestEmptyStore(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	checkRange(t, s, 0, 0)
	for _, i := range []uint64{0, 1, 2} {
		var l raft.Log
		if err := s.GetLog(i, &l); err != raft.ErrLogNotFound {
			t.Fatalf("GetLog(%d) on empty store: %v; want raft.ErrLogNotFound", i, err)
		}
	}
	if err := s.DeleteRange(1, 10); err != nil {
		t.Fatalf("DeleteRange on empty store: %v", err)
	}
	if err := s.StoreLogs(nil); err != nil {
		t.Fatalf("StoreLogs(nil): %v", err)
	}
	if !s.IsMonotonic() {
		t.Fatal("IsMonotonic() = false")
	}
}

// op is one step of a contract case: store lo..hi (as one batch) or delete
// min..max, with the error expected (nil, or a sentinel for errors.Is).
type op struct {
	store    bool
	lo, hi   uint64
	wantErr  error
	describe string
}

func store(lo, hi uint64) op               { return op{store: true, lo: lo, hi: hi} }
func del(min, max uint64) op               { return op{lo: min, hi: max} }
func fails(o op, err error, why string) op { o.wantErr, o.describe = err, why; return o }

func TestLogStoreContract(t *testing.T) {
	cases := []struct {
		name        string
		ops         []op
		first, last uint64
	}{
		{"one batch", []op{store(1, 10)}, 1, 10},
		{"several batches", []op{store(1, 1), store(2, 64), store(65, 65)}, 1, 65},
		{"start above 1", []op{store(500, 520)}, 500, 520},
		{"delete head", []op{store(1, 10), del(1, 5)}, 6, 10},
		{"delete head from below first", []op{store(1, 10), del(1, 3), del(0, 5)}, 6, 10},
		{"delete head then append", []op{store(1, 10), del(1, 5), store(11, 12)}, 6, 12},
		{"delete tail", []op{store(1, 10), del(8, 10)}, 1, 7},
		{"delete tail past last", []op{store(1, 10), del(5, 1000)}, 1, 4},
		{"delete tail then overwrite", []op{store(1, 10), del(8, 10), store(8, 12)}, 1, 12},
		{"delete all then store higher (monotonic)", []op{store(1, 10), del(1, 10), store(100, 110)}, 100, 110},
		{"delete all then store lower", []op{store(1, 10), del(1, 10), store(3, 4)}, 3, 4},
		{"delete beyond all then store higher", []op{store(5, 10), del(1, 50), store(51, 60)}, 51, 60},
		{"delete outside is a no-op", []op{store(5, 10), del(1, 4), del(11, 20)}, 5, 10},
		{"delete on empty", []op{del(0, 0), del(1, 100)}, 0, 0},
		{"middle range refused", []op{store(1, 10), fails(del(3, 5), ErrInvalid, "middle")}, 1, 10},
		{"min > max refused", []op{store(1, 10), fails(del(6, 5), ErrInvalid, "min > max")}, 1, 10},
		{"gap refused", []op{store(1, 10), fails(store(12, 13), ErrInvalid, "gap")}, 1, 10},
		{"overlap refused", []op{store(1, 10), fails(store(10, 11), ErrInvalid, "overlap")}, 1, 10},
		{"index 0 refused", []op{fails(store(0, 3), ErrInvalid, "index 0")}, 0, 0},
		{"delete head keeps next", []op{store(1, 10), del(1, 10), fails(store(0, 0), ErrInvalid, "index 0")}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir)
			for _, o := range c.ops {
				var err error
				what := fmt.Sprintf("DeleteRange(%d, %d)", o.lo, o.hi)
				if o.store {
					what = fmt.Sprintf("StoreLogs(%d..%d)", o.lo, o.hi)
					err = s.StoreLogs(mkLogs(o.lo, o.hi))
				} else {
					err = s.DeleteRange(o.lo, o.hi)
				}
				if o.wantErr == nil && err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if o.wantErr != nil && !errors.Is(err, o.wantErr) {
					t.Fatalf("%s (%s): err %v; want %v", what, o.describe, err, o.wantErr)
				}
			}
			checkRange(t, s, c.first, c.last)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openT(t, dir) // restart keeps everything
			defer s.Close()
			checkRange(t, s, c.first, c.last)
		})
	}
}

func TestStoreLogsRejectsBadBatches(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	gap := mkLogs(1, 5)
	gap[3].Index = 9
	swapped := mkLogs(1, 3)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	for name, logs := range map[string][]*raft.Log{
		"gap in batch":  gap,
		"out of order":  swapped,
		"nil entry":     {mkLogs(1, 1)[0], nil},
		"repeated":      {mkLogs(1, 1)[0], mkLogs(1, 1)[0]},
		"starts at 0":   mkLogs(0, 2),
		"nil entry (1)": {nil},
	} {
		if err := s.StoreLogs(logs); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: StoreLogs err %v; want ErrInvalid", name, err)
		}
	}
	checkRange(t, s, 0, 0)
	if err := s.StoreLog(mkLogs(1, 1)[0]); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 1, 1)
}

// Every field of raft.Log survives a store and a read, including times
// outside the int64 nanosecond range and batches whose entries were
// appended at different times.
func TestLogFieldsRoundTrip(t *testing.T) {
	now := time.Now()
	ext := bytes.Repeat([]byte{0xe5}, 300)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<12)
	fields := []raft.Log{
		{Term: 1, Type: raft.LogCommand, Data: []byte("x"), AppendedAt: now},
		{Term: 1<<64 - 1, Type: raft.LogConfiguration, Data: big, Extensions: ext, AppendedAt: now.Add(time.Hour)},
		{Term: 2, Type: raft.LogNoop},
		{Term: 3, Type: raft.LogBarrier, Extensions: []byte{1}},
		{Term: 4, Type: raft.LogType(200), Data: []byte{0}, AppendedAt: time.Unix(0, 1)},
		{Term: 5, AppendedAt: time.Date(1000, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Term: 6, AppendedAt: time.Date(3000, 1, 2, 3, 4, 5, 999999999, time.UTC)},
		{Term: 7, AppendedAt: time.Date(1960, 5, 6, 7, 8, 9, 10, time.UTC)},
		{Term: 8, AppendedAt: now.Add(-1)},
		{Term: 9, AppendedAt: time.Unix(0, 1<<63-1)},
		{Term: 10, AppendedAt: time.Unix(0, -1<<63)},
	}
	// Each entry alone (the batch time comes from it), then all in one
	// batch (most times differ from the batch time), then starting with
	// an extreme time.
	var batches [][]raft.Log
	for _, f := range fields {
		batches = append(batches, []raft.Log{f})
	}
	batches = append(batches, fields)
	batches = append(batches, append([]raft.Log{fields[9]}, fields...))
	batches = append(batches, append([]raft.Log{fields[10]}, fields...))
	dir := t.TempDir()
	s := openT(t, dir)
	var all []raft.Log
	next := uint64(1)
	for _, b := range batches {
		var logs []*raft.Log
		for _, f := range b {
			f.Index = next
			next++
			logs = append(logs, &f)
			all = append(all, f)
		}
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
	}
	check := func() {
		for _, w := range all {
			var got raft.Log
			if err := s.GetLog(w.Index, &got); err != nil {
				t.Fatalf("GetLog(%d): %v", w.Index, err)
			}
			if !sameLog(&got, &w) {
				t.Fatalf("GetLog(%d):\n got %+v\nwant %+v", w.Index, got, w)
			}
			if got.AppendedAt.IsZero() != w.AppendedAt.IsZero() {
				t.Fatalf("GetLog(%d): zero time not kept", w.Index)
			}
		}
	}
	check()
	s.Close()
	s = openT(t, dir)
	defer s.Close()
	check()
}

// The value of a typical entry costs a few bytes beyond its data.
func TestEncodingIsCompact(t *testing.T) {
	l := &raft.Log{Index: 1000, Term: 12, Type: raft.LogCommand, Data: make([]byte, 256), AppendedAt: time.Now()}
	if n := len(appendLog(nil, l, batchTime(l))); n > 256+8 {
		t.Fatalf("256-byte entry encodes to %d bytes; want at most 264", n)
	}
}

func TestDecodeGarbageIsAnError(t *testing.T) {
	valid := appendLog(nil, &raft.Log{Term: 300, Data: []byte("d"), Extensions: []byte("ext"), AppendedAt: time.Now()}, 0)
	cases := map[string][]byte{
		"empty":          {},
		"term only":      {0x05},
		"bad varint":     bytes.Repeat([]byte{0xff}, 11),
		"unknown flags":  {1, 0, 0x80},
		"unknown form":   {1, 0, 3 << timeShift},
		"no time":        {1, 0, timeDelta << timeShift},
		"ext too long":   {1, 0, flagExt, 10, 'a'},
		"ext len 0":      {1, 0, flagExt, 0},
		"wide bad nanos": append([]byte{1, 0, timeWide << timeShift, 2}, binaryUvarint(1e9)...),
		"cut valid":      valid[:4],
	}
	for name, v := range cases {
		var l raft.Log
		if err := decodeLog(1, 0, v, &l); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeLog err %v; want ErrCorrupt", name, err)
		}
	}
}

func binaryUvarint(x uint64) []byte {
	var b []byte
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

func FuzzDecodeLog(f *testing.F) {
	f.Add(appendLog(nil, &raft.Log{Term: 3, Data: []byte("abc"), Extensions: []byte("e"), AppendedAt: time.Now()}, 0), int64(0))
	f.Add(appendLog(nil, &raft.Log{Term: 1, AppendedAt: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, 5), int64(5))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, v []byte, bt int64) {
		var l raft.Log
		if err := decodeLog(7, bt, v, &l); err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		var again raft.Log
		if err := decodeLog(7, bt, appendLog(nil, &l, bt), &again); err != nil || !sameLog(&l, &again) {
			t.Fatalf("re-encoding %+v: %v, %+v", l, err, again)
		}
	})
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	if _, err := Open(dir, Options{Logger: quiet}); !errors.Is(err, wal.ErrLocked) {
		t.Fatalf("second Open: %v; want ErrLocked", err)
	}
	if _, err := OpenStableStore(filepath.Join(dir, "stable"), nil); !errors.Is(err, wal.ErrLocked) {
		t.Fatalf("second OpenStableStore: %v; want ErrLocked", err)
	}
}

func TestClosedStore(t *testing.T) {
	s := openT(t, t.TempDir())
	if err := s.StoreLogs(mkLogs(1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	for name, err := range map[string]error{
		"StoreLogs":   s.StoreLogs(mkLogs(4, 4)),
		"DeleteRange": s.DeleteRange(1, 1),
		"GetLog":      s.GetLog(1, &l),
		"Set":         s.Set([]byte("k"), []byte("v")),
		"Close":       s.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v; want ErrClosed", name, err)
		}
	}
	_, err := s.Get([]byte("k"))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v; want ErrClosed", err)
	}
}

// TestMain also lets the test binary act as the child process of the crash
// tests (see runStoreHelper).
func TestMain(m *testing.M) {
	seed, _ := strconv.ParseUint(os.Getenv("RAFTSTORE_TEST_SEED"), 10, 64)
	switch os.Getenv("RAFTSTORE_TEST_HELPER") {
	case "store":
		os.Exit(runStoreHelper(os.Getenv("RAFTSTORE_TEST_DIR"), seed))
	case "fill":
		os.Exit(runFillHelper(os.Getenv("RAFTSTORE_TEST_DIR"), seed))
	}
	os.Exit(m.Run())
}

// Reads running while the head and the tail are deleted get an entry or
// raft.ErrLogNotFound, nothing else.
func TestGetLogDuringDeletes(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for r := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				last, _ := s.LastIndex()
				i := uint64(1 + rng.IntN(int(last)+1))
				var l raft.Log
				if err := s.GetLog(i, &l); err != nil && err != raft.ErrLogNotFound {
					errs <- fmt.Errorf("GetLog(%d): %w", i, err)
					return
				}
				if l.Index == i && !sameLog(&l, mkLogs(i, i)[0]) {
					errs <- fmt.Errorf("GetLog(%d) = %+v", i, l)
					return
				}
			}
		}()
	}
	next := uint64(1)
	for round := range 400 {
		if err := s.StoreLogs(mkLogs(next, next+31)); err != nil {
			t.Fatal(err)
		}
		next += 32
		first, _ := s.FirstIndex()
		switch round % 4 {
		case 1: // compaction: keep the newest 100
			if next > 100 && next-100 > first {
				if err := s.DeleteRange(first, next-101); err != nil {
					t.Fatal(err)
				}
			}
		case 3: // conflict: drop the newest 10, they are stored again next round
			if err := s.DeleteRange(next-10, next-1); err != nil {
				t.Fatal(err)
			}
			next -= 10
		}
	}
	close(stop)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
