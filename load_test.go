package journal

import (
	"fmt"
	"slices"
	"testing"
)

// TestLoadAllReturnsLargeBatchesAsAppended appends batches larger than a
// run of wal.EntryRuns whose route IDs repeat and share prefixes (so that
// keys stored as prefix plus suffix, and keys equal to the one before,
// meet at every run boundary), under every compression: LoadAll and
// Entries return exactly the events appended, in order.
func TestLoadAllReturnsLargeBatchesAsAppended(t *testing.T) {
	shapes := []struct {
		name  string
		size  int
		route func(i int) string
	}{
		{"each route thrice", 600, func(i int) string { return fmt.Sprintf("payments-route-%d", i/3) }},
		{"one route", 300, func(int) string { return "payments-route" }},
		{"seven routes cycling", 1000, func(i int) string { return fmt.Sprintf("payments-route-%d", i%7) }},
		{"pairs, long IDs", 513, func(i int) string { return fmt.Sprintf("%040d", i/2) }},
		{"single events", 1, func(i int) string { return fmt.Sprintf("payments-route-%d", i%3) }},
	}
	for _, comp := range []Compression{CompressionNone, CompressionS2, CompressionZstd} {
		t.Run(fmt.Sprint(comp), func(t *testing.T) {
			j := openT(t, t.TempDir(), Options{Durability: Eventual, FlushInterval: -1, Compression: comp})
			defer j.Close()
			var want []Event
			for _, sh := range shapes {
				for b := range 3 {
					batch := make([]Event, sh.size)
					for i := range batch {
						batch[i] = Event{Kind: RouteStarted, RouteID: sh.route(b*sh.size + i)}
						if i%5 == 4 {
							batch[i] = Event{Kind: RouteFailed, RouteID: batch[i].RouteID, Error: fmt.Sprintf("failure %d", i%3)}
						}
					}
					appendT(t, j, batch...)
					want = append(want, batch...)
				}
			}
			if got := loadT(t, j); !slices.Equal(got, want) {
				t.Fatalf("LoadAll returned %d events, not the %d appended (first difference at %d)", len(got), len(want), firstDiff(got, want))
			}
			var streamed []Event
			for _, e := range entriesT(t, j, 0) {
				streamed = append(streamed, e.Event)
			}
			if !slices.Equal(streamed, want) {
				t.Fatalf("Entries returned %d events, not the %d appended (first difference at %d)", len(streamed), len(want), firstDiff(streamed, want))
			}
		})
	}
}

// firstDiff is the index of the first event where a and b differ.
func firstDiff(a, b []Event) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
