package journal

import (
	"slices"
	"testing"

	"github.com/seglog/journal/segment"
)

// beforePrefixDir holds a journal written by e3e7a85, before frames could
// have FlagPrefix, with 4 KiB segments: under CompressionNone batches of 1,
// 7, 100, 3, 50 and 100 route events (routeBatch from event 0), a
// RouteRemoved of route-5 and a Compact (so its first segment holds
// rewritten sparse frames), a batch of 2; under CompressionS2 batches of
// 100, 1 and 20; under CompressionNone batches of 5, 30 and 1.
const beforePrefixDir = "testdata/journal-before-prefix"

// beforePrefixEvents is what beforePrefixDir holds.
func beforePrefixEvents() []Event {
	old := slices.DeleteFunc(routeBatch(0, 261), func(e Event) bool { return e.RouteID == "route-5" })
	return append(old, routeBatch(262, 2+100+1+20+5+30+1)...)
}

// countFlags counts the frames in dir that have every flag of want.
func countFlags(t *testing.T, dir string, want uint8) int {
	t.Helper()
	n := 0
	for _, h := range frameHeaders(t, dir) {
		if h.Flags&want == want {
			n++
		}
	}
	return n
}

func loadAllOf(t *testing.T, dir string, opts Options, want []Event, when string) {
	t.Helper()
	j, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("%s: Open: %v", when, err)
	}
	defer j.Close()
	got, err := j.LoadAll()
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%s: LoadAll gave %d events (%v), want the %d written", when, len(got), err, len(want))
	}
}

// A journal written before key prefix compression opens and reads as it
// was; batches appended to it are prefix-compressed, and the mix reads
// back, through LoadAll, Entries, Inspect and after compaction rewrote
// frames of both kinds.
func TestJournalWrittenBeforePrefixKeysReadsAlongsideNewBatches(t *testing.T) {
	dir := copyDir(t, beforePrefixDir)
	if n := countFlags(t, dir, segment.FlagPrefix); n != 0 {
		t.Fatalf("%s has %d FlagPrefix frames, want none: it stands for journals written before the flag", beforePrefixDir, n)
	}
	want := beforePrefixEvents()
	loadAllOf(t, dir, Options{}, want, "old journal")

	for _, c := range []Compression{CompressionS2, CompressionNone} {
		j, err := Open(dir, Options{Compression: c, Durability: Eventual, FlushInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]Event{routeBatch(0, 100), routeBatch(1000, 1), routeBatch(250, 100)} {
			if err := j.AppendBatch(b); err != nil {
				t.Fatalf("append under %v: %v", c, err)
			}
			want = append(want, b...)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := countFlags(t, dir, segment.FlagPrefix); n != 4 {
		t.Fatalf("%d FlagPrefix frames after appending four batches of 100 (and two of 1), want 4", n)
	}
	loadAllOf(t, dir, Options{}, want, "after appending")

	// route-42 has events in old and new frames: compaction rewrites both.
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AppendBatch([]Event{{Kind: RouteRemoved, RouteID: "route-42"}}); err != nil {
		t.Fatal(err)
	}
	if err := j.Compact(); err != nil {
		t.Fatalf("compact: %v", err)
	}
	want = slices.DeleteFunc(want, func(e Event) bool { return e.RouteID == "route-42" })
	got, err := j.LoadAll()
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("after compaction: LoadAll gave %d events (%v), want %d", len(got), err, len(want))
	}
	if n := countFlags(t, dir, segment.FlagSparse|segment.FlagPrefix); n == 0 {
		t.Fatalf("no rewritten frame has FlagSparse and FlagPrefix, want the compactor to prefix-compress route keys")
	}
	var streamed []Event
	for e, err := range j.Entries(0) {
		if err != nil {
			t.Fatalf("Entries: %v", err)
		}
		streamed = append(streamed, e.Event)
	}
	if !slices.Equal(streamed, want) {
		t.Fatalf("Entries streamed %d events, want the %d LoadAll gives", len(streamed), len(want))
	}
	newest, err := Inspect(dir, InspectFilter{Limit: 150})
	if err != nil || len(newest) != 150 {
		t.Fatalf("Inspect newest 150: %d entries, %v", len(newest), err)
	}
	for i, e := range newest {
		if w := want[len(want)-1-i]; e.Event != w {
			t.Fatalf("Inspect entry %d is %+v, want %+v (newest first)", i, e.Event, w)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	loadAllOf(t, dir, Options{}, want, "after compaction and reopen")
}
