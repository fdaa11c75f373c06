package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seglog/journal"
)

// followWait bounds how long the test waits for a line it requires:
// generous, as it proves delivery, not speed.
const followWait = 10 * time.Second

// followedLine is one line of inspect --follow --json.
type followedLine struct {
	Seq uint64 `json:"seq"`
}

// startFollow runs the binary with inspect --follow --json and args,
// returning it and its output lines on a channel (closed at exit).
func startFollow(t *testing.T, dir string, args ...string) (*exec.Cmd, <-chan string, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"inspect", "--follow", "--json", dir}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines, stderr
}

// nextSeq reads the next line and returns its sequence number.
func nextSeq(t *testing.T, lines <-chan string, stderr *strings.Builder) uint64 {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("inspect --follow exited; stderr %q", stderr.String())
		}
		var fl followedLine
		if err := json.Unmarshal([]byte(l), &fl); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		return fl.Seq
	case <-time.After(followWait):
		t.Fatalf("no line within %v", followWait)
	}
	return 0
}

// TestInspectFollowPrintsWhatAnotherProcessAppendsAcrossRotations: the
// binary follows a journal this process appends to with 4 KiB segments:
// the entries there at its start from --limit on, then every entry
// appended, in order, across several rotations and a compaction, but not
// a RouteRemoved that removed itself on its append; idle, it
// uses little CPU, and SIGINT stops it with exit status 0.
func TestInspectFollowPrintsWhatAnotherProcessAppendsAcrossRotations(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := journal.Open(dir, journal.Options{Durability: journal.Eventual, SegmentSize: 4 << 10, Compression: journal.CompressionNone, CompactionThresholdEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := range 5 {
		if err := j.AppendBatch([]journal.Event{ev(journal.RouteRegistered, fmt.Sprint("r", i))}); err != nil {
			t.Fatal(err)
		}
	}
	cmd, lines, stderr := startFollow(t, dir, "--limit", "2")
	for _, want := range []uint64{3, 4} {
		if got := nextSeq(t, lines, stderr); got != want {
			t.Fatalf("printed sequence %d, want %d", got, want)
		}
	}
	segsBefore, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	long := strings.Repeat("e", 300)
	for i := range 60 { // 4 KiB segments: several rotations
		seq := uint64(5 + i)
		events := []journal.Event{{Kind: journal.RouteFailed, RouteID: "busy", Error: long}}
		if i == 30 {
			// Compacts r0's events away, itself included: not printed.
			events = []journal.Event{ev(journal.RouteRemoved, "r0")}
		}
		if err := j.AppendBatch(events); err != nil {
			t.Fatal(err)
		}
		if i == 30 {
			continue
		}
		if got := nextSeq(t, lines, stderr); got != seq {
			t.Fatalf("printed sequence %d, want %d", got, seq)
		}
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := j.AppendBatch([]journal.Event{ev(journal.RouteStarted, "after-compact")}); err != nil {
		t.Fatal(err)
	}
	if got := nextSeq(t, lines, stderr); got != 65 {
		t.Fatalf("printed sequence %d after the compaction, want 65", got)
	}
	segsAfter, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if last := func(s []string) string { return s[len(s)-1] }; last(segsBefore) == last(segsAfter) {
		t.Fatalf("the journal did not rotate: newest segment still %s", last(segsAfter))
	}
	// Idle: a polling loop that burns CPU would use about a second of it
	// here; one that sleeps between looks uses a few milliseconds.
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("after SIGINT: %v; stderr %q", err, stderr.String())
	}
	if cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(); cpu > 400*time.Millisecond {
		t.Errorf("inspect --follow used %v of CPU over a run idle for a second", cpu)
	}
}

func TestInspectFollowOfANonJournalFails(t *testing.T) {
	r := runBin(t, "", "inspect", "--follow", t.TempDir())
	if r.code != 3 || !strings.Contains(r.stderr, "not a journal directory") {
		t.Fatalf("exit %d, stderr %q; want 3 (could not check) and 'not a journal directory'", r.code, r.stderr)
	}
}
