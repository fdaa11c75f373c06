package journal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seglog/journal/segment"
)

// TestMain lets the test binary act as a second process for the
// cross-process tests (see helperProcess).
func TestMain(m *testing.M) {
	if mode := os.Getenv("JOURNAL_TEST_HELPER"); mode != "" {
		os.Exit(runHelper(mode, os.Getenv("JOURNAL_TEST_DIR")))
	}
	os.Exit(m.Run())
}

func runHelper(mode, dir string) int {
	switch mode {
	case "hold-lock":
		j, err := Open(dir, Options{})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("open")
		io.Copy(io.Discard, os.Stdin) // hold until the parent closes stdin
		j.Close()
		return 0
	case "append":
		// Appends batches of 3 events for one route each, printing the
		// first sequence number of every acknowledged batch.
		j, err := Open(dir, Options{SegmentSize: 64 << 10})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		w := bufio.NewWriter(os.Stdout)
		for b := 0; ; b++ {
			r := fmt.Sprintf("batch-%d", b)
			err := j.AppendBatch([]Event{
				{Kind: RouteRegistered, RouteID: r},
				{Kind: RouteStarted, RouteID: r},
				{Kind: RouteFailed, RouteID: r, Error: "boom"},
			})
			if err == nil && b%2 == 0 {
				err = j.AppendCommandID(r) // every other batch also records a command ID
			}
			if err != nil {
				fmt.Fprintln(w, "error:", err)
				w.Flush()
				return 1
			}
			fmt.Fprintln(w, "acked", b)
			w.Flush()
		}
	}
	return 2
}

func helperProcess(t *testing.T, mode, dir string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JOURNAL_TEST_HELPER="+mode, "JOURNAL_TEST_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, stdin, bufio.NewScanner(stdout)
}

// quiet keeps expected recovery warnings out of the test output.
var quiet = slog.New(slog.DiscardHandler)

func openT(t *testing.T, dir string, opts Options) *Journal {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	j, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return j
}

func appendT(t *testing.T, j *Journal, events ...Event) {
	t.Helper()
	if err := j.AppendBatch(events); err != nil {
		t.Fatalf("AppendBatch(%v): %v", events, err)
	}
}

func loadT(t *testing.T, j *Journal) []Event {
	t.Helper()
	evs, err := j.LoadAll()
	if err != nil {
		t.Fatalf("LoadAll: %v", err)
	}
	return evs
}

func entriesT(t *testing.T, j *Journal, from uint64) []Entry {
	t.Helper()
	var out []Entry
	for e, err := range j.Entries(from) {
		if err != nil {
			t.Fatalf("Entries(%d): %v", from, err)
		}
		out = append(out, e)
	}
	return out
}

func reg(r string) Event   { return Event{Kind: RouteRegistered, RouteID: r} }
func start(r string) Event { return Event{Kind: RouteStarted, RouteID: r} }
func remove(r string) Event {
	return Event{Kind: RouteRemoved, RouteID: r}
}
func failed(r, msg string) Event { return Event{Kind: RouteFailed, RouteID: r, Error: msg} }

// copyDir copies the files of a journal directory as they are now: for a
// journal still open this is exactly what a process crash would leave.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // a temporary file renamed or removed meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// dirState maps file names to contents, to prove a failed Open changed
// nothing.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBatchRoundTrip(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			j := openT(t, t.TempDir(), Options{Durability: d})
			defer j.Close()
			batch := []Event{reg("r1"), start("r1"), failed("r1", "connection refused"), {Kind: RouteSuspended, RouteID: "r1"}}
			before := time.Now().UnixMilli()
			appendT(t, j, batch...)
			after := time.Now().UnixMilli()
			if got := loadT(t, j); !slices.Equal(got, batch) {
				t.Fatalf("LoadAll = %v, want %v", got, batch)
			}
			ents := entriesT(t, j, 0)
			for i, e := range ents {
				if e.Seq != uint64(i) || e.Event != batch[i] {
					t.Errorf("entry %d = %+v, want seq %d event %v", i, e, i, batch[i])
				}
				if e.TimestampMs != ents[0].TimestampMs || e.TimestampMs < before || e.TimestampMs > after {
					t.Errorf("entry %d timestamp %d, want one shared timestamp in [%d,%d]", i, e.TimestampMs, before, after)
				}
			}
		})
	}
}

func TestEveryKindRoundTrips(t *testing.T) {
	j := openT(t, t.TempDir(), Options{})
	defer j.Close()
	var batch []Event
	for k := RouteRegistered; k <= RouteRemoved; k++ {
		e := Event{Kind: k, RouteID: "route/" + k.String()}
		if k == RouteFailed {
			e.Error = "boom: ünïcödé \x00 bytes"
		}
		batch = append(batch, e)
		if got, err := ParseEventKind(k.String()); got != k || err != nil {
			t.Errorf("ParseEventKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	appendT(t, j, batch...)
	if got := loadT(t, j); !slices.Equal(got, batch) {
		t.Fatalf("LoadAll = %v, want %v", got, batch)
	}
	if s := EventKind(0).String(); s != "EventKind(0)" {
		t.Errorf("EventKind(0).String() = %q", s)
	}
}

func TestEmptyBatchIsNoOp(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{})
	defer j.Close()
	appendT(t, j)
	appendT(t, j, reg("a"))
	if ents := entriesT(t, j, 0); len(ents) != 1 || ents[0].Seq != 0 {
		t.Fatalf("entries = %+v, want one entry with seq 0 (empty batch must not use a sequence number)", ents)
	}
}

func TestInvalidEventsWriteNothing(t *testing.T) {
	cases := map[string]Event{
		"unknown kind":        {Kind: 0, RouteID: "r"},
		"kind past the end":   {Kind: RouteRemoved + 1, RouteID: "r"},
		"empty route":         {Kind: RouteStarted},
		"route over 4 KiB":    {Kind: RouteStarted, RouteID: strings.Repeat("x", 4097)},
		"error on non-failed": {Kind: RouteStopped, RouteID: "r", Error: "boom"},
	}
	j := openT(t, t.TempDir(), Options{})
	defer j.Close()
	for name, bad := range cases {
		err := j.AppendBatch([]Event{reg("good"), bad})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if evs := loadT(t, j); len(evs) != 0 {
		t.Fatalf("journal holds %v after only invalid batches; want nothing written", evs)
	}
	// The limit itself is allowed.
	appendT(t, j, Event{Kind: RouteStarted, RouteID: strings.Repeat("x", 4096)})
}

func TestInvalidOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"durability":   {Durability: 7},
		"segment size": {SegmentSize: -1},
	} {
		if _, err := Open(t.TempDir(), o); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func TestOpenCreatesMissingParents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "c")
	j := openT(t, dir, Options{})
	appendT(t, j, reg("r"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWritesVisibleToOtherGoroutines(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			j := openT(t, t.TempDir(), Options{Durability: d})
			defer j.Close()
			done := make(chan error)
			go func() { done <- j.AppendBatch([]Event{reg("from-writer")}) }()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got := make(chan []Event)
			go func() {
				evs, _ := j.LoadAll()
				got <- evs
			}()
			if evs := <-got; len(evs) != 1 || evs[0].RouteID != "from-writer" {
				t.Fatalf("reader goroutine saw %v, want the writer's event", evs)
			}
		})
	}
}

func TestReopenKeepsEventsAndContinuesSequence(t *testing.T) {
	dir := t.TempDir()
	var want []Event
	for round := range 4 {
		j := openT(t, dir, Options{Durability: Durability(round % 2), SegmentSize: 4096})
		if n := len(loadT(t, j)); n != len(want) {
			t.Fatalf("round %d: reopened journal holds %d events, want %d", round, n, len(want))
		}
		for i := range 50 {
			b := []Event{reg(fmt.Sprintf("r%d-%d", round, i)), start(fmt.Sprintf("r%d-%d", round, i))}
			appendT(t, j, b...)
			want = append(want, b...)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
	j := openT(t, dir, Options{})
	defer j.Close()
	if got := loadT(t, j); !slices.Equal(got, want) {
		t.Fatalf("after reopens: %d events, want %d in order", len(got), len(want))
	}
	for i, e := range entriesT(t, j, 0) {
		if e.Seq != uint64(i) {
			t.Fatalf("entry %d has seq %d; want contiguous sequence numbers across reopens", i, e.Seq)
		}
	}
	if n := len(segFiles(t, dir)); n < 3 {
		t.Errorf("%d segment files with SegmentSize 4096; want rotation to several", n)
	}
}

func TestEntriesFrom(t *testing.T) {
	j := openT(t, t.TempDir(), Options{SegmentSize: 4096})
	defer j.Close()
	for i := range 300 {
		appendT(t, j, reg(fmt.Sprint(i)), start(fmt.Sprint(i)), failed(fmt.Sprint(i), "x"))
	}
	for _, from := range []uint64{0, 1, 2, 3, 450, 898, 899, 900, 5000} {
		ents := entriesT(t, j, from)
		wantN := max(900-int(from), 0)
		if len(ents) != wantN {
			t.Fatalf("Entries(%d) gave %d entries, want %d", from, len(ents), wantN)
		}
		for i, e := range ents {
			if e.Seq != from+uint64(i) {
				t.Fatalf("Entries(%d)[%d].Seq = %d", from, i, e.Seq)
			}
		}
	}
	// Stopping early is allowed.
	for range j.Entries(0) {
		break
	}
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{SegmentSize: 16 << 10})
	const writers, per = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				r := fmt.Sprintf("w%d", w)
				if err := j.AppendBatch([]Event{reg(r), failed(r, strconv.Itoa(i))}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check := func(j *Journal) {
		ents := entriesT(t, j, 0)
		if len(ents) != writers*per*2 {
			t.Fatalf("%d entries, want %d", len(ents), writers*per*2)
		}
		next := map[string]int{}
		for i := 0; i < len(ents); i += 2 {
			a, b := ents[i], ents[i+1]
			if a.Seq != uint64(i) || b.Seq != uint64(i+1) || a.Event.RouteID != b.Event.RouteID || a.TimestampMs != b.TimestampMs {
				t.Fatalf("entries %d,%d = %+v %+v; want one whole batch with contiguous seqs", i, i+1, a, b)
			}
			if b.Event.Error != strconv.Itoa(next[a.Event.RouteID]) {
				t.Fatalf("writer %s: batch %s out of order, want %d", a.Event.RouteID, b.Event.Error, next[a.Event.RouteID])
			}
			next[a.Event.RouteID]++
		}
	}
	check(j)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openT(t, dir, Options{})
	defer j.Close()
	check(j)
}

func TestReadsDuringAppendsSeeWholeBatches(t *testing.T) {
	j := openT(t, t.TempDir(), Options{Durability: Eventual, SegmentSize: 8 << 10})
	defer j.Close()
	const batches = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range batches {
			r := strconv.Itoa(i)
			if err := j.AppendBatch([]Event{reg(r), start(r), remove(r)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for finished := false; !finished; reads++ {
		select {
		case <-done:
			finished = true
		default:
		}
		evs, err := j.LoadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(evs)%3 != 0 {
			t.Fatalf("LoadAll returned %d events during appends; want whole batches of 3", len(evs))
		}
		for i := 0; i < len(evs); i += 3 {
			if evs[i].RouteID != evs[i+2].RouteID || evs[i+2].Kind != RouteRemoved {
				t.Fatalf("events %d..%d are not one batch: %v", i, i+2, evs[i:i+3])
			}
		}
	}
	if n := len(loadT(t, j)); n != 3*batches {
		t.Fatalf("after the writer finished: %d events, want %d", n, 3*batches)
	}
	t.Logf("%d reads during %d appends", reads, batches)
}

func TestCallsAfterCloseReturnErrClosed(t *testing.T) {
	j := openT(t, t.TempDir(), Options{})
	appendT(t, j, reg("r"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"AppendBatch": j.AppendBatch([]Event{reg("x")}),
		"Sync":        j.Sync(),
		"Close":       j.Close(),
	}
	_, checks["LoadAll"] = j.LoadAll()
	for _, err := range j.Entries(0) {
		checks["Entries"] = err
	}
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open in the same process: got %v, want ErrLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openT(t, dir, Options{}) // Close released the lock
	j.Close()
}

func TestSecondOpenFromAnotherProcessIsLocked(t *testing.T) {
	dir := t.TempDir()
	_, stdin, out := helperProcess(t, "hold-lock", dir)
	if !out.Scan() || out.Text() != "open" {
		t.Fatalf("helper did not open the journal: %q", out.Text())
	}
	start := time.Now()
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while another process holds it: got %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %v to fail; want it to fail at once", d)
	}
	stdin.Close()
	for out.Scan() {
	}
	j := openT(t, dir, Options{})
	j.Close()
}

// A crash in the middle of writing a batch leaves a partial record at the
// end of the newest segment. Cut at every byte offset, Open must cut it off
// and keep exactly the earlier batches.
func TestTornLastRecordCutAtEveryOffset(t *testing.T) {
	src := t.TempDir()
	j := openT(t, src, Options{})
	appendT(t, j, reg("a"), start("a"))
	appendT(t, j, failed("a", "boom"))
	live := copyDir(t, src) // crash image before the last batch
	appendT(t, j, reg("b"), start("b"), failed("b", "last batch"))
	crashed := copyDir(t, src)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, crashed)
	if len(segs) != 1 {
		t.Fatalf("want 1 segment, have %v", segs)
	}
	full, _ := os.ReadFile(segs[0])
	before, _ := os.ReadFile(segFiles(t, live)[0])
	// The files grow ahead of the data in zeros: cut where the frames end.
	dataEnd := func(img []byte) int {
		res, err := segment.Scan(bytes.NewReader(img), int64(len(img)), "seg", nil)
		if err != nil || res.Tail != segment.TailClean {
			t.Fatalf("scan of the crash image: %+v, %v; want clean frames", res, err)
		}
		return int(res.End)
	}
	from, to := dataEnd(before), dataEnd(full)
	if to-from < 20 {
		t.Fatalf("setup: the last batch spans bytes %d..%d; want a frame", from, to)
	}
	want := []Event{reg("a"), start("a"), failed("a", "boom")}
	for cut := from; cut < to; cut++ {
		dir := copyDir(t, crashed)
		name := filepath.Join(dir, filepath.Base(segs[0]))
		if err := os.WriteFile(name, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := Open(dir, Options{Logger: quiet})
		if err != nil {
			t.Fatalf("cut at %d: Open: %v; want the torn record cut off", cut, err)
		}
		if got := loadT(t, j); !slices.Equal(got, want) {
			t.Fatalf("cut at %d: LoadAll = %v, want %v", cut, got, want)
		}
		// The journal goes on with the next sequence number.
		appendT(t, j, reg("c"))
		if ents := entriesT(t, j, 3); len(ents) != 1 || ents[0].Seq != 3 {
			t.Fatalf("cut at %d: after recovery the next batch got %+v, want seq 3", cut, ents)
		}
		j.Close()
	}
}

func flipBit(t *testing.T, name string, off int64) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x08
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A flipped bit in a record that later records depend on is damage to
// acknowledged data: Open fails with ErrCorrupt naming file and offset, and
// changes nothing on disk.
func TestFlippedBitInOlderRecordIsCorrupt(t *testing.T) {
	src := t.TempDir()
	j := openT(t, src, Options{})
	for i := range 10 {
		appendT(t, j, reg(fmt.Sprint(i)), start(fmt.Sprint(i)))
	}
	crashed := copyDir(t, src) // not closed: Open must scan the segment
	j.Close()
	seg := segFiles(t, crashed)[0]
	const recordOff = 32 + 40 + 3 // inside the first record's payload
	flipBit(t, seg, recordOff)
	before := dirState(t, crashed)
	_, err := Open(crashed, Options{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open after a flipped bit: got %v, want ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), filepath.Base(seg)) || !strings.Contains(err.Error(), "offset 32") {
		t.Errorf("error %q should name the file and offset 32 of the damaged record", err)
	}
	if after := dirState(t, crashed); !maps_equal(before, after) {
		t.Fatal("a failed Open modified the journal's files")
	}
	if _, err := Inspect(crashed, InspectFilter{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Inspect after a flipped bit: got %v, want ErrCorrupt", err)
	}
}

// A cleanly closed journal is not re-read on Open (its segments carry an
// index); damage in it is reported by the reads that touch it.
func TestFlippedBitInClosedJournalIsReportedByReads(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{})
	for i := range 10 {
		appendT(t, j, reg(fmt.Sprint(i)))
	}
	j.Close()
	flipBit(t, segFiles(t, dir)[0], 32+40+3)
	j = openT(t, dir, Options{})
	before := dirState(t, dir) // Open retires the index the next append would make stale
	if _, err := j.LoadAll(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("LoadAll over a flipped bit: got %v, want ErrCorrupt", err)
	}
	if _, err := Inspect(dir, InspectFilter{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Inspect over a flipped bit: got %v, want ErrCorrupt", err)
	}
	if !maps_equal(before, dirState(t, dir)) {
		t.Fatal("reads modified the journal's files")
	}
	j.Close()
}

func maps_equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

func TestInspectNewestFirstWithFilterAndLimit(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{SegmentSize: 4096})
	for i := range 100 {
		r := fmt.Sprintf("r%d", i%3)
		appendT(t, j, reg(r), start(r))
	}
	// Inspect works while the journal is open (and locked).
	all, err := Inspect(dir, InspectFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 200 || all[0].Seq != 199 || all[199].Seq != 0 {
		t.Fatalf("Inspect all: %d entries from seq %d; want 200 newest first", len(all), all[0].Seq)
	}
	got, err := Inspect(dir, InspectFilter{RouteID: "r1", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	// r1 batches are i = 1, 4, ..., 97: newest is i=97 at seqs 194,195.
	wantSeqs := []uint64{195, 194, 189, 188, 183}
	if len(got) != 5 {
		t.Fatalf("Inspect r1 limit 5: %d entries, want 5 (filter first, then limit)", len(got))
	}
	for i, e := range got {
		if e.Seq != wantSeqs[i] || e.Event.RouteID != "r1" {
			t.Errorf("entry %d = %+v, want seq %d of r1", i, e, wantSeqs[i])
		}
	}
	if none, err := Inspect(dir, InspectFilter{RouteID: "nope"}); err != nil || len(none) != 0 {
		t.Errorf("Inspect unknown route: %v, %v; want nothing", none, err)
	}
	j.Close()
}

func TestInspectErrors(t *testing.T) {
	if _, err := Inspect(filepath.Join(t.TempDir(), "missing"), InspectFilter{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: got %v, want fs.ErrNotExist", err)
	}
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("hello"), 0o644)
	if _, err := Inspect(empty, InspectFilter{}); !errors.Is(err, ErrNotJournal) {
		t.Errorf("dir without journal: got %v, want ErrNotJournal", err)
	}
}

// Inspect from this process while another process appends: every result
// is newest first, contiguous, and made of whole batches.
func TestInspectWhileAnotherProcessAppends(t *testing.T) {
	dir := t.TempDir()
	_, _, out := helperProcess(t, "append", dir)
	acked := 0
	for acked < 20 && out.Scan() {
		if strings.HasPrefix(out.Text(), "acked") {
			acked++
		} else {
			t.Fatalf("helper: %s", out.Text())
		}
	}
	seen := 0
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; i < 30 || time.Now().Before(deadline) && seen < 1000; i++ {
		ents, err := Inspect(dir, InspectFilter{})
		if err != nil {
			t.Fatalf("Inspect #%d during appends: %v", i, err)
		}
		if len(ents)%3 != 0 {
			t.Fatalf("Inspect #%d: %d entries, want whole batches of 3", i, len(ents))
		}
		for k, e := range ents {
			if want := uint64(len(ents) - 1 - k); e.Seq != want {
				t.Fatalf("Inspect #%d: entry %d has seq %d, want %d (newest first, no gaps)", i, k, e.Seq, want)
			}
			if b := fmt.Sprintf("batch-%d", e.Seq/3); e.Event.RouteID != b {
				t.Fatalf("Inspect #%d: seq %d belongs to %s, got %s", i, e.Seq, b, e.Event.RouteID)
			}
		}
		if len(ents) < seen {
			t.Fatalf("Inspect #%d saw %d entries after an earlier one saw %d", i, len(ents), seen)
		}
		seen = len(ents)
	}
	if seen < 60 {
		t.Fatalf("Inspect saw only %d entries; the helper acknowledged at least 20 batches", seen)
	}
}

// A batch in flight when the process dies is wholly present or absent;
// every acknowledged batch is present.
func TestProcessKilledLosesNoAcknowledgedBatch(t *testing.T) {
	const seed = 20261126
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	total := 0 // batches in the journal after the previous round
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	for round := range rounds {
		cmd, _, out := helperProcess(t, "append", dir)
		// Kill at a random moment: after a random number of acknowledged
		// batches, then a random pause while the helper keeps appending.
		waitFor := 1 + rng.IntN(60)
		last := -1
		for last+1 < waitFor && out.Scan() {
			var b int
			if _, err := fmt.Sscanf(out.Text(), "acked %d", &b); err != nil {
				t.Fatalf("seed %d round %d: helper: %s", seed, round, out.Text())
			}
			last = b
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		cmd.Process.Kill()
		for out.Scan() { // acknowledgements printed before the kill
			fmt.Sscanf(out.Text(), "acked %d", &last)
		}
		cmd.Wait()
		j := openT(t, dir, Options{})
		ents := entriesT(t, j, 0)
		ids := loadIDsT(t, j)
		j.Close()
		if len(ents)%3 != 0 {
			t.Fatalf("seed %d round %d: %d entries after SIGKILL; want whole batches", seed, round, len(ents))
		}
		for i := 0; i < len(ents); i += 3 {
			r := ents[i].Event.RouteID
			if ents[i+1].Event.RouteID != r || ents[i+2].Event.RouteID != r || ents[i+2].Event.Kind != RouteFailed {
				t.Fatalf("seed %d round %d: entries %d..%d are not one whole batch: %+v", seed, round, i, i+2, ents[i:i+3])
			}
		}
		// This round's helper numbered its batches from 0; the batch in
		// flight at the kill may have landed too.
		acked := last + 1
		got := len(ents)/3 - total
		if got < acked || got > acked+1 {
			t.Fatalf("seed %d round %d: %d batches of this round survive; %d were acknowledged (plus at most the one in flight)", seed, round, got, acked)
		}
		// Every acknowledged command ID (even batches) is there.
		have := map[string]bool{}
		for _, id := range ids {
			have[id] = true
		}
		for b := 0; b < acked; b += 2 {
			if id := fmt.Sprintf("batch-%d", b); !have[id] {
				t.Fatalf("seed %d round %d: acknowledged command ID %s lost after SIGKILL", seed, round, id)
			}
		}
		total = len(ents) / 3
	}
}
