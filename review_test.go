package journal

// Review tests: each reproduces one bug found in review and is skipped so
// the suite stays green. Remove the t.Skip to see it fail.

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
)

// The flusher's sync is syncAll: the log, then the command ID set. When the
// command set's fsync fails (sticky in the keyset only), the flusher logs
// "appends are refused until reopened" and exits for good (flusher.go). But
// the event log is healthy and keeps accepting Eventual appends, which are
// now never synced in the background: a power cut loses every event
// appended since, however old, breaking the FlushInterval bound.
func TestReviewFlusherDiesOnCommandSetFailure(t *testing.T) {
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
