package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seglog/journal/segment"
)

// routeBatch is n events of the shape the benchmarks use, starting at
// event number first.
func routeBatch(first, n int) []Event {
	kinds := [...]EventKind{RouteRegistered, RouteStarted, RouteStopped, RouteFailed}
	out := make([]Event, n)
	for i := range out {
		k := first + i
		out[i] = Event{Kind: kinds[k%4], RouteID: fmt.Sprintf("route-%d", k%1000)}
		if out[i].Kind == RouteFailed {
			out[i].Error = "boom"
		}
	}
	return out
}

// frameHeaders returns the headers of every frame of every segment file in
// dir, in file order.
func frameHeaders(t *testing.T, dir string) []segment.FrameHeader {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no segment files in %s: %v", dir, err)
	}
	var hs []segment.FrameHeader
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		_, err = segment.Scan(f, st.Size(), name, func(_ int64, h segment.FrameHeader, _ []byte) error {
			hs = append(hs, h)
			return nil
		})
		f.Close()
		if err != nil {
			t.Fatalf("scan %s: %v", name, err)
		}
	}
	return hs
}

// frameCodecs counts the frames of every segment file in dir by codec.
func frameCodecs(t *testing.T, dir string) map[uint8]int {
	t.Helper()
	counts := map[uint8]int{}
	for _, h := range frameHeaders(t, dir) {
		counts[h.Codec]++
	}
	return counts
}

// Each Open may use another Compression: batches written under every
// earlier setting stay readable, through LoadAll, Entries, Inspect and after
// compaction rewrote them, and each setting writes the codec it names.
func TestCompressionChangesOnReopenAndEveryBatchStaysReadable(t *testing.T) {
	dir := t.TempDir()
	settings := []struct {
		c    Compression
		want uint8 // codec of a 100-event batch written under c
	}{
		{CompressionNone, segment.CodecNone},
		{CompressionS2, segment.CodecS2},
		{CompressionZstd, segment.CodecZstd},
		{CompressionDefault, segment.CodecS2},
		{CompressionNone, segment.CodecNone},
		{CompressionZstd, segment.CodecZstd},
	}
	var want []Event
	next := 0
	for i, s := range settings {
		j, err := Open(dir, Options{Compression: s.c, Durability: Eventual, FlushInterval: -1})
		if err != nil {
			t.Fatalf("open %d with %v: %v", i, s.c, err)
		}
		got, err := j.LoadAll()
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("open %d with %v: LoadAll gave %d events (%v), want the %d written before", i, s.c, len(got), err, len(want))
		}
		before := frameCodecs(t, dir)
		for _, n := range []int{100, 1, 100} {
			b := routeBatch(next, n)
			if err := j.AppendBatch(b); err != nil {
				t.Fatalf("append under %v: %v", s.c, err)
			}
			want = append(want, b...)
			next += n
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		after := frameCodecs(t, dir)
		if added := after[s.want] - before[s.want]; added < 2 {
			t.Fatalf("under %v: %d new frames with codec %d, want the two 100-event batches", s.c, added, s.want)
		}
		if s.want != segment.CodecNone && after[segment.CodecNone] == before[segment.CodecNone] {
			t.Fatalf("under %v: the 1-event batch was compressed, want it stored as is", s.c)
		}
	}
	// Remove a route that has events in frames of every codec; compaction
	// rewrites them (under zstd now) and the rest reads back the same.
	j, err := Open(dir, Options{Compression: CompressionZstd})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AppendBatch([]Event{{Kind: RouteRemoved, RouteID: "route-7"}}); err != nil {
		t.Fatal(err)
	}
	if err := j.Compact(); err != nil {
		t.Fatalf("compact: %v", err)
	}
	want = slices.DeleteFunc(want, func(e Event) bool { return e.RouteID == "route-7" })
	got, err := j.LoadAll()
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("after compaction: LoadAll gave %d events (%v), want %d", len(got), err, len(want))
	}
	var streamed int
	for _, err := range j.Entries(0) {
		if err != nil {
			t.Fatalf("Entries: %v", err)
		}
		streamed++
	}
	if streamed != len(want) {
		t.Fatalf("Entries streamed %d events, want %d", streamed, len(want))
	}
	newest, err := Inspect(dir, InspectFilter{Limit: 3})
	if err != nil || len(newest) != 3 || newest[0].Event != want[len(want)-1] {
		t.Fatalf("Inspect newest 3: %v, %v; want the last events written, newest first", newest, err)
	}
}

func TestUnknownCompressionIsInvalid(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{Compression: CompressionZstd + 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open with compression %d: %v, want ErrInvalid", CompressionZstd+1, err)
	}
}

// A single-event Eventual append allocates nothing under every setting (it
// is below MinCompressBytes, so compression never runs for it), and neither
// does a compressed batch of 100 once the pooled buffers are warm.
func TestAppendAllocatesNothingUnderEveryCompression(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	for _, c := range []Compression{CompressionNone, CompressionS2, CompressionZstd} {
		j, err := Open(t.TempDir(), Options{Compression: c, Durability: Eventual, FlushInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		one := routeBatch(5, 1)
		if n := testing.AllocsPerRun(200, func() { j.AppendBatch(one) }); n != 0 {
			t.Errorf("%v: %v allocations per single-event append, want 0", c, n)
		}
		hundred := routeBatch(0, 100)
		if n := testing.AllocsPerRun(200, func() { j.AppendBatch(hundred) }); n != 0 {
			t.Errorf("%v: %v allocations per 100-event append, want 0", c, n)
		}
		j.Close()
	}
}
