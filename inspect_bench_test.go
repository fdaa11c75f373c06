package journal

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkInspectNewest10 is workload N1's library half: Inspect with
// Limit 10 on S1's journal (1M single-event batches, Eventual, closed;
// 100k with -short), built once.
func BenchmarkInspectNewest10(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	dir := filepath.Join(b.TempDir(), "j")
	j, err := Open(dir, Options{Durability: Eventual})
	if err != nil {
		b.Fatal(err)
	}
	kinds := []EventKind{RouteRegistered, RouteStarted, RouteStopped, RouteFailed}
	for i := range n {
		e := Event{Kind: kinds[i%4], RouteID: fmt.Sprintf("route-%d", i%1000)}
		if e.Kind == RouteFailed {
			e.Error = "boom"
		}
		if err := j.AppendBatch([]Event{e}); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		es, err := Inspect(dir, InspectFilter{Limit: 10})
		if err != nil || len(es) != 10 || es[0].Seq != uint64(n-1) {
			b.Fatalf("%d entries, %v", len(es), err)
		}
	}
}
