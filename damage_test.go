package journal

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCompactAfterALostSegmentDoesNotPanic: a segment file is gone (lost,
// or removed by a repair) while the compaction checkpoint still counts the
// routes it held; Open accepts the rest, and removing such a route and
// compacting works instead of panicking (nil segment counts in the
// compactor), in AppendBatch past the threshold and in Compact.
func TestCompactAfterALostSegmentDoesNotPanic(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4 << 10, CompactionThresholdEvents: 1}
	j := openT(t, dir, opts)
	for i := range 200 {
		appendT(t, j, reg(fmt.Sprintf("route-%02d", i%6)), failed(fmt.Sprintf("route-%02d", i%6), strings.Repeat("x", 100)))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, dir)
	if len(segs) < 4 {
		t.Fatalf("setup: %d segments, want at least 4", len(segs))
	}
	mid := segs[len(segs)/2]
	if err := os.Remove(mid); err != nil {
		t.Fatal(err)
	}
	os.Remove(strings.TrimSuffix(mid, ".seg") + ".idx")

	j = openT(t, dir, opts)
	defer j.Close()
	for r := range 6 {
		appendT(t, j, remove(fmt.Sprintf("route-%02d", r)))
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	for _, e := range loadT(t, j) {
		t.Fatalf("route %s came back after its removal: %+v", e.RouteID, e)
	}
}
