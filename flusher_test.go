package journal

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
	"github.com/seglog/journal/wal"
)

// appendFor appends single-event batches until d has passed, returning the
// acknowledgement time of each batch (batch i is event seq i).
func appendFor(t *testing.T, j *Journal, d time.Duration) []time.Time {
	t.Helper()
	var acked []time.Time
	for end := time.Now().Add(d); time.Now().Before(end); {
		appendT(t, j, reg(fmt.Sprint(len(acked))))
		acked = append(acked, time.Now())
	}
	return acked
}

// Under continuous Eventual appends the flusher syncs about once per
// interval, not once per commit.
func TestFlusherSyncsAboutOncePerInterval(t *testing.T) {
	fs := fxFS(t)
	j := openT(t, fxDir, Options{FS: fs, Durability: Eventual, FlushInterval: 20 * time.Millisecond})
	defer j.Close()
	before := fs.Count(vfstest.OpSync)
	acked := appendFor(t, j, 400*time.Millisecond)
	syncs := fs.Count(vfstest.OpSync) - before
	t.Logf("%d syncs for %d commits in 400ms at a 20ms interval", syncs, len(acked))
	if syncs < 3 || syncs > 60 {
		t.Fatalf("%d fdatasyncs in 400ms with a 20ms flush interval; want about 20 (between 3 and 60)", syncs)
	}
	if len(acked) < 100*syncs {
		t.Fatalf("%d syncs for only %d commits: the flusher must not sync per commit", syncs, len(acked))
	}
}

func TestFlusherOffWithNegativeInterval(t *testing.T) {
	for name, o := range map[string]Options{
		"negative interval": {Durability: Eventual, FlushInterval: -1},
	} {
		fs := fxFS(t)
		o.FS = fs
		j := openT(t, fxDir, o)
		before := fs.Count(vfstest.OpSync)
		appendFor(t, j, 100*time.Millisecond)
		if n := fs.Count(vfstest.OpSync) - before; n != 0 {
			t.Errorf("%s: %d fdatasyncs during Eventual appends; want none", name, n)
		}
		j.Close()
	}
}

// A power cut during continuous Eventual appends loses only what was
// appended within about the last interval (plus the flush in flight). The
// check allows a generous margin for a loaded machine: every batch
// acknowledged more than 300ms before the cut must survive with a 20ms
// interval.
func TestFlusherBoundsPowerCutLoss(t *testing.T) {
	fs := fxFS(t)
	j := openT(t, fxDir, Options{FS: fs, Durability: Eventual, FlushInterval: 20 * time.Millisecond})
	acked := appendFor(t, j, 600*time.Millisecond)
	cut := time.Now()
	crashed := fs.CrashClone(vfstest.CrashOptions{})
	j.Close()

	var mustHave int
	for i, at := range acked {
		if cut.Sub(at) > 300*time.Millisecond {
			mustHave = i + 1
		}
	}
	j2 := openT(t, fxDir, Options{FS: crashed})
	defer j2.Close()
	ents := entriesT(t, j2, 0)
	if len(ents) < mustHave {
		t.Fatalf("after a power cut %d of %d batches survive; every batch acknowledged more than 300ms before the cut (%d) must, with a 20ms flush interval", len(ents), len(acked), mustHave)
	}
	for i, e := range ents {
		if e.Seq != uint64(i) || e.Event.RouteID != fmt.Sprint(i) {
			t.Fatalf("entry %d = %+v; want a prefix of what was appended", i, e)
		}
	}
	t.Logf("%d of %d batches survived; %d had to", len(ents), len(acked), mustHave)
}

// Close leaves nothing unsynced, whatever the interval.
func TestCloseLeavesNothingUnsynced(t *testing.T) {
	fs := fxFS(t)
	j := openT(t, fxDir, Options{FS: fs, Durability: Eventual, FlushInterval: -1})
	for i := range 100 {
		appendT(t, j, reg(fmt.Sprint(i)))
		if err := j.AppendCommandID(fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2 := openT(t, fxDir, Options{FS: fs.CrashClone(vfstest.CrashOptions{})})
	defer j2.Close()
	if n := len(loadT(t, j2)); n != 100 {
		t.Fatalf("after Close and a power cut: %d events, want 100", n)
	}
	if ids := loadIDsT(t, j2); len(ids) != 100 {
		t.Fatalf("after Close and a power cut: %d command IDs, want 100", len(ids))
	}
}

// TestFlusherKeepsSyncingAfterCommandSetFailure: after an fsync of the
// command ID set fails, command ID appends are refused but the flusher goes
// on syncing the healthy event log: Eventual events appended after the
// failure survive a power cut 30 flush intervals later. It guards against
// the flusher exiting for good on that failure, which left every later
// event unsynced however old.
func TestFlusherKeepsSyncingAfterCommandSetFailure(t *testing.T) {
	fs := fxFS(t)
	j := openT(t, fxDir, Options{FS: fs, Durability: Eventual, FlushInterval: 10 * time.Millisecond, Logger: quiet})
	defer j.Close()
	// An unsynced command ID; the log has nothing to sync, so the
	// flusher's next fsync is the command delta's: make it fail.
	fs.InjectError(vfstest.OpSync, 1, syscall.EIO)
	if err := j.AppendCommandID("cmd-1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := j.AppendCommandID("cmd-2"); err == nil {
		t.Fatal("setup: the command set's fsync did not fail")
	}
	// Event appends still succeed...
	for i := range 10 {
		if err := j.AppendBatch([]Event{reg(fmt.Sprint(i))}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	// ...and 30 flush intervals later a power cut takes them all.
	time.Sleep(300 * time.Millisecond)
	crashed := fs.CrashClone(vfstest.CrashOptions{})
	j2, err := Open(fxDir, Options{FS: crashed, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	evs, err := j2.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 10 {
		t.Fatalf("power cut 300ms after the appends (FlushInterval 10ms) kept %d of 10 acknowledged events: the flusher stopped when the command set failed", len(evs))
	}
}

// A flush interval under MinFlushInterval is refused, whatever the
// durability; 0, negative and the minimum itself are accepted. On 0.1.0
// (no floor) time.Nanosecond was accepted and an idle Eventual journal
// kept most of a core busy.
func TestFlushIntervalFloor(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		mode Durability
		ok   bool
	}{
		{time.Nanosecond, Eventual, false},
		{time.Microsecond, Eventual, false},
		{MinFlushInterval - 1, Eventual, false},
		{time.Nanosecond, Immediate, false},
		{MinFlushInterval, Eventual, true},
		{0, Eventual, true},
		{-1, Eventual, true},
		{DefaultFlushInterval, Immediate, true},
	} {
		dir := t.TempDir()
		j, err := Open(dir, Options{Durability: c.mode, FlushInterval: c.d, Logger: quiet})
		if c.ok {
			if err != nil {
				t.Errorf("FlushInterval %v, %v: %v", c.d, c.mode, err)
			} else {
				j.Close()
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			if err == nil {
				j.Close()
			}
			t.Errorf("FlushInterval %v, %v: Open = %v, want ErrInvalid", c.d, c.mode, err)
			continue
		}
		if !strings.Contains(err.Error(), "flush interval") {
			t.Errorf("error does not name the option: %v", err)
		}
		if _, err := wal.Stat(dir, nil); !errors.Is(err, wal.ErrNotFound) {
			t.Errorf("a refused Open left a journal in %s (%v)", dir, err)
		}
	}
}
