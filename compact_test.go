package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func kinds(evs []Event, route string) []EventKind {
	var ks []EventKind
	for _, e := range evs {
		if e.RouteID == route {
			ks = append(ks, e.Kind)
		}
	}
	return ks
}

// The replaced system's case: with threshold 1, a removed route's events
// vanish while a live route's stay.
func TestCompactionRemovesRemovedRoutes(t *testing.T) {
	j := openT(t, t.TempDir(), Options{Durability: Eventual, CompactionThresholdEvents: 1})
	defer j.Close()
	appendT(t, j, reg("old"))
	appendT(t, j, remove("old"))
	appendT(t, j, reg("live"))
	evs := loadT(t, j)
	if k := kinds(evs, "old"); len(k) != 0 {
		t.Fatalf("removed route still has events %v; want them compacted", k)
	}
	if k := kinds(evs, "live"); !slices.Equal(k, []EventKind{RouteRegistered}) {
		t.Fatalf("live route has %v, want [RouteRegistered]", k)
	}
}

// The replaced system's case: register, remove, register leaves exactly
// one RouteRegistered.
func TestCompactionKeepsReRegisteredRoute(t *testing.T) {
	j := openT(t, t.TempDir(), Options{Durability: Eventual, CompactionThresholdEvents: 1})
	defer j.Close()
	appendT(t, j, reg("rereg"))
	appendT(t, j, remove("rereg"))
	appendT(t, j, reg("rereg"))
	ents := entriesT(t, j, 0)
	if len(ents) != 1 || ents[0].Event != reg("rereg") || ents[0].Seq != 2 {
		t.Fatalf("entries = %+v, want one RouteRegistered with seq 2 (surviving events keep their seq)", ents)
	}
}

// Below the threshold nothing is compacted, as in the replaced system.
func TestNoCompactionBelowThreshold(t *testing.T) {
	j := openT(t, t.TempDir(), Options{CompactionThresholdEvents: 100})
	defer j.Close()
	appendT(t, j, reg("r"), start("r"))
	appendT(t, j, remove("r"))
	if k := kinds(loadT(t, j), "r"); len(k) != 3 {
		t.Fatalf("route r has %v below the threshold, want all 3 events", k)
	}
}

// The next sequence number survives compaction removing every event.
func TestSequenceSurvivesCompactingEverything(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{})
	appendT(t, j, reg("r"))
	appendT(t, j, remove("r"))
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	if evs := loadT(t, j); len(evs) != 0 {
		t.Fatalf("after Compact: %v, want nothing", evs)
	}
	j.Close()
	j = openT(t, dir, Options{})
	defer j.Close()
	appendT(t, j, reg("s"))
	if ents := entriesT(t, j, 0); len(ents) != 1 || ents[0].Seq != 2 {
		t.Fatalf("after compact and reopen the next event got %+v; want seq 2, not 0", ents)
	}
}

// A compaction triggered by an append stays applied after a crash: the
// crash image (the files as the killed process left them) reopens without
// the removed events.
func TestTriggeredCompactionSurvivesCrash(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			dir := t.TempDir()
			j := openT(t, dir, Options{Durability: d, CompactionThresholdEvents: 5, SegmentSize: 4096})
			for i := range 200 {
				r := fmt.Sprintf("r%d", i%7)
				appendT(t, j, reg(r), start(r))
				if i%5 == 4 {
					appendT(t, j, remove(r))
				}
			}
			want := loadT(t, j)
			// copyDir is not atomic: a rewrite running meanwhile could pair a
			// segment's old index with its new file, which no crash leaves
			// (crashes inside rewrites: TestCrashCompactionExploration).
			j.log.WaitCompaction()
			crashed := copyDir(t, dir)
			j.Close()
			for _, d2 := range []string{crashed, dir} {
				j2 := openT(t, d2, Options{CompactionThresholdEvents: 5})
				got := loadT(t, j2)
				j2.Close()
				if !slices.Equal(got, want) {
					t.Fatalf("%s: reopened journal has %d events, want the %d seen before", filepath.Base(d2), len(got), len(want))
				}
			}
			insp, err := Inspect(crashed, InspectFilter{})
			if err != nil || len(insp) != len(want) {
				t.Fatalf("Inspect of crash image: %d entries, %v; want %d", len(insp), err, len(want))
			}
		})
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err == nil {
			n += fi.Size()
		}
	}
	return n
}

// Routes registered, started, stopped and removed without end: disk use
// stays bounded because removed routes' segments are rewritten or deleted.
func TestChurnKeepsDiskBounded(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{Durability: Eventual, CompactionThresholdEvents: 1000, SegmentSize: 64 << 10})
	var peak int64
	for i := range 60_000 {
		r := fmt.Sprintf("route-%d", i%500)
		appendT(t, j, reg(r), start(r), Event{Kind: RouteStopped, RouteID: r}, remove(r))
		if i%5000 == 4999 {
			j.log.WaitCompaction() // measure the steady state, not the rewriter's lag
			peak = max(peak, dirBytes(t, dir))
		}
	}
	t.Logf("peak %d bytes; files at the end: %v", peak, dirList(t, dir))
	j.Close()
	// 240,000 events of ~20 bytes would be ~5 MB uncompacted.
	if peak > 1<<20 {
		t.Fatalf("disk use peaked at %d bytes under churn; want it bounded (< 1 MiB)", peak)
	}
	j = openT(t, dir, Options{Durability: Eventual, CompactionThresholdEvents: 1000})
	defer j.Close()
	if evs := loadT(t, j); len(evs) > 4*1000 {
		t.Fatalf("%d events after churn; every route was removed", len(evs))
	}
}

// Readers running while segments are rewritten see every live event
// exactly once.
func TestReadersDuringRewrite(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{CompactionThresholdEvents: 1 << 40, SegmentSize: 4096, Durability: Eventual})
	defer j.Close()
	var live []Event
	for i := range 400 {
		r := fmt.Sprintf("r%d", i)
		appendT(t, j, reg(r), start(r))
		if i%2 == 0 {
			appendT(t, j, remove(r))
		} else {
			live = append(live, reg(r), start(r))
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				evs, err := j.LoadAll()
				if err != nil {
					t.Error(err)
					return
				}
				seen := map[Event]int{}
				for _, e := range evs {
					seen[e]++
				}
				for _, e := range live {
					if seen[e] != 1 {
						t.Errorf("during rewrite a reader saw %v %d times, want once", e, seen[e])
						return
					}
				}
			}
		})
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if got := loadT(t, j); !slices.Equal(got, live) {
		t.Fatalf("after Compact: %d events, want the %d live ones", len(got), len(live))
	}
}

func dirList(t *testing.T, dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		fi, _ := e.Info()
		out = append(out, fmt.Sprintf("%s:%d", e.Name(), fi.Size()))
	}
	return out
}
