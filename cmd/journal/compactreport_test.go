package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/seglog/journal"
)

// Events an automatic compaction removed stay in segment files as dead
// records until a rewrite drops them; compact then removes no live event
// but drops those records, and says so (it printed "0 removed" and nothing
// else).
func TestCompactReportsDeadRecordsDroppedAndBytesReclaimed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := journal.Open(dir, journal.Options{CompactionThresholdEvents: 100, SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for i := range 1500 {
		r := fmt.Sprintf("route-%d", i)
		if err := j.AppendBatch([]journal.Event{ev(journal.RouteRegistered, r), ev(journal.RouteStarted, r)}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			live += 2
			continue
		}
		if err := j.AppendBatch([]journal.Event{ev(journal.RouteRemoved, r)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	st := runBin(t, "", "stats", dir)
	m := regexp.MustCompile(`(\d+) removed but still on disk`).FindStringSubmatch(st.stdout)
	if m == nil || m[1] == "0" {
		t.Fatalf("the setup left no dead records on disk:\n%s", st.stdout)
	}
	dead, _ := strconv.Atoi(m[1])

	r := runBin(t, "", "compact", dir)
	if r.code != 0 {
		t.Fatalf("compact: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("events:    %d before, %d after (0 removed)\n", live, live),
		fmt.Sprintf("records:   %d before, %d after (%d dropped from segment files)\n", live+dead, live, dead),
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(r.stdout) {
			t.Errorf("compact output lacks %q:\n%s", want, r.stdout)
		}
	}
	b := regexp.MustCompile(`bytes:     (\d+) before, (\d+) after \((\d+) reclaimed;`).FindStringSubmatch(r.stdout)
	if b == nil {
		t.Fatalf("no bytes reclaimed in:\n%s", r.stdout)
	}
	before, _ := strconv.Atoi(b[1])
	after, _ := strconv.Atoi(b[2])
	reclaimed, _ := strconv.Atoi(b[3])
	if reclaimed <= 0 || reclaimed != before-after {
		t.Errorf("bytes: %d before, %d after, %d reclaimed", before, after, reclaimed)
	}
}
