package journal

import (
	"path/filepath"
	"slices"
	"testing"
)

// InspectOldest yields what InspectNewest yields, in the other order, from
// filter.From, with the route filter and Limit applied.
func TestInspectOldestIsInspectNewestReversedFromSeq(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		r := []string{"a", "b", "c"}[i%3]
		if err := j.AppendBatch([]Event{{Kind: RouteRegistered, RouteID: r}, {Kind: RouteStarted, RouteID: r}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	collect := func(f InspectFilter, oldest bool) []Entry {
		t.Helper()
		src := InspectNewest(dir, f)
		if oldest {
			src = InspectOldest(dir, f)
		}
		var out []Entry
		for e, err := range src {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	for _, f := range []InspectFilter{{}, {From: 31}, {RouteID: "b"}, {RouteID: "c", From: 50}, {From: 1000}} {
		newest := collect(f, false)
		slices.Reverse(newest)
		if got := collect(f, true); !slices.Equal(got, newest) || (f.From < 80 && len(got) == 0) {
			t.Errorf("%+v: oldest first %v\nwant %v", f, got, newest)
		}
		for _, e := range newest {
			if e.Seq < f.From {
				t.Errorf("%+v: entry %d before From", f, e.Seq)
			}
		}
		if lim := collect(InspectFilter{RouteID: f.RouteID, From: f.From, Limit: 3}, true); len(newest) >= 3 && !slices.Equal(lim, newest[:3]) {
			t.Errorf("%+v Limit 3: %v, want %v", f, lim, newest[:3])
		}
	}
}
