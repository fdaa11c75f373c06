package journal

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// Inspect and InspectNewest list what the journal's own Entries does,
// reversed, filtered by route and cut at Limit, on journals with removed
// routes compacted away and many segments.
func TestInspectNewestMatchesEntries(t *testing.T) {
	kinds := []EventKind{RouteRegistered, RouteStarted, RouteStopped, RouteFailed, RouteRemoved}
	for seed := uint64(1); seed <= 6; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		dir := filepath.Join(t.TempDir(), "j")
		j, err := Open(dir, Options{Durability: Eventual, SegmentSize: 4096, CompactionThresholdEvents: uint64(1 + r.IntN(300))})
		if err != nil {
			t.Fatal(err)
		}
		for range 500 + r.IntN(500) {
			var b []Event
			for range 1 + r.IntN(3) {
				e := Event{Kind: kinds[r.IntN(len(kinds))], RouteID: fmt.Sprintf("r%d", r.IntN(8))}
				if e.Kind == RouteFailed {
					e.Error = "boom"
				}
				b = append(b, e)
			}
			if err := j.AppendBatch(b); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(2) == 0 {
			if err := j.Compact(); err != nil {
				t.Fatal(err)
			}
		}
		var all []Entry
		for e, err := range j.Entries(0) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Reverse(all)
		for _, f := range []InspectFilter{{}, {Limit: 10}, {RouteID: "r3"}, {RouteID: "r5", Limit: 7}, {RouteID: "nope"}} {
			var want []Entry
			for _, e := range all {
				if (f.RouteID == "" || e.Event.RouteID == f.RouteID) && (f.Limit <= 0 || len(want) < f.Limit) {
					want = append(want, e)
				}
			}
			got, err := Inspect(dir, f)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("seed %d, %+v: Inspect gives %d entries (%v), want %d:\n%v\nwant\n%v", seed, f, len(got), err, len(want), got, want)
			}
			var streamed []Entry
			for e, err := range InspectNewest(dir, f) {
				if err != nil {
					t.Fatalf("seed %d, %+v: %v", seed, f, err)
				}
				streamed = append(streamed, e)
			}
			if !slices.Equal(streamed, want) {
				t.Fatalf("seed %d, %+v: InspectNewest differs from Entries", seed, f)
			}
		}
	}
}
