package wal

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// entriesByGet reads every entry with Seq >= from one by one with Get,
// skipping those it does not find (removed ones): what an in-order read
// must yield, found without it.
func entriesByGet(t *testing.T, l *Log, from uint64) []Entry {
	t.Helper()
	var out []Entry
	for seq := from; seq < l.NextSeq(); seq++ {
		e, err := l.Get(seq)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("Get(%d): %v", seq, err)
		}
		out = append(out, e)
	}
	return out
}

// collectEntries copies what Entries(from) yields, with its error.
func collectEntries(l *Log, from uint64) ([]Entry, error) {
	var out []Entry
	for e, err := range l.Entries(from) {
		if err != nil {
			return out, err
		}
		out = append(out, copied(e))
	}
	return out, nil
}

// collectRuns copies what EntryRuns(from) yields, with its error, checking
// that every run is non-empty and at most maxRun long.
func collectRuns(t *testing.T, l *Log, from uint64) ([]Entry, error) {
	t.Helper()
	var out []Entry
	for run, err := range l.EntryRuns(from) {
		if err != nil {
			return out, err
		}
		if len(run) == 0 || len(run) > maxRun {
			t.Fatalf("EntryRuns(%d) yielded a run of %d entries", from, len(run))
		}
		for _, e := range run {
			out = append(out, copied(e))
		}
	}
	return out, nil
}

func equalEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].Time != b[i].Time || !bytes.Equal(a[i].Key, b[i].Key) || !bytes.Equal(a[i].Value, b[i].Value) || a[i].Tombstone != b[i].Tombstone {
			return false
		}
	}
	return true
}

// TestEntryRunsYieldWhatEntriesYields reads logs of large compressed
// frames with shared key prefixes and keys repeated (more entries than a
// run holds), single
// records, and removed records not yet rewritten, from every kind of
// starting point: EntryRuns and Entries yield, in order, the entries that
// Get finds.
func TestEntryRunsYieldWhatEntriesYields(t *testing.T) {
	for _, comp := range []Compression{CompressionNone, CompressionS2, CompressionZstd} {
		t.Run(fmt.Sprintf("compression%d", comp), func(t *testing.T) {
			l, err := Open(crashDir, Options{FS: crashFS(t), Compression: comp, Inline: true, Logger: crashQuiet})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for b, n := range []int{600, 1, 1, 100, 257, 1, 3} {
				var recs []Record
				for i := range n {
					recs = append(recs, Record{Key: fmt.Appendf(nil, "route-%d", (b*7+i/3)%1000), Value: []byte{byte(1 + i%4)}})
				}
				if _, err := l.Append(Batch{Records: recs}); err != nil {
					t.Fatal(err)
				}
			}
			next := l.NextSeq()
			for _, from := range []uint64{0, 1, 255, 256, 257, 599, 600, 601, 700, next - 1, next, next + 5} {
				want := entriesByGet(t, l, from)
				got, gerr := collectRuns(t, l, from)
				each, eerr := collectEntries(l, from)
				if gerr != nil || eerr != nil || !equalEntries(got, want) || !equalEntries(each, want) {
					t.Fatalf("from %d: EntryRuns gave %d entries, %v; Entries %d, %v; want %d", from, len(got), gerr, len(each), eerr, len(want))
				}
			}
		})
	}
	t.Run("removed records", func(t *testing.T) {
		l, _ := writeKeptTombstone(t, crashFS(t))
		defer l.Close()
		if l.dead.Empty() {
			t.Fatal("setup: nothing removed")
		}
		want := entriesByGet(t, l, 0)
		got, gerr := collectRuns(t, l, 0)
		each, eerr := collectEntries(l, 0)
		if gerr != nil || eerr != nil || !equalEntries(got, want) || !equalEntries(each, want) {
			t.Fatalf("EntryRuns gave %d entries, %v; Entries %d, %v; want %d", len(got), gerr, len(each), eerr, len(want))
		}
		for _, e := range got {
			if string(e.Key) == "removed" && !e.Tombstone {
				t.Fatalf("EntryRuns yielded the removed record %d", e.Seq)
			}
		}
	})
}

// TestEntryRunsStopAndDamage: a caller that stops after the first run
// gets no error, and a damaged segment ends EntryRuns with an error
// wrapping ErrCorrupt after the same entries as Entries.
func TestEntryRunsStopAndDamage(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, Compression: CompressionNone, Inline: true, Logger: crashQuiet}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for len(l.segs) < 3 {
		var recs []Record
		for i := range 50 {
			recs = append(recs, Record{Key: fmt.Appendf(nil, "route-%d", i), Value: bytes.Repeat([]byte{'v'}, 40)})
		}
		if _, err := l.Append(Batch{Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	runs := 0
	for run, err := range l.EntryRuns(0) {
		if err != nil || len(run) == 0 {
			t.Fatalf("first run: %d entries, %v", len(run), err)
		}
		runs++
		break
	}
	if runs != 1 {
		t.Fatalf("a caller stopping after one run saw %d", runs)
	}
	name := l.segs[1].name
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	fs.WriteFile(name, b)
	if l, err = Open(crashDir, opts); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want, werr := collectEntries(l, 0)
	got, gerr := collectRuns(t, l, 0)
	if !errors.Is(werr, ErrCorrupt) || !errors.Is(gerr, ErrCorrupt) || gerr.Error() != werr.Error() || len(want) == 0 || !equalEntries(got, want) {
		t.Fatalf("damaged segment: EntryRuns gave %d entries, %v; Entries %d, %v", len(got), gerr, len(want), werr)
	}
}

// TestRunFilterStopsInsideARun: a run of one frame may start below the
// snapshot's bounds and end past them (a cut recorded but not yet made
// hides the rest of a frame from a view; a frame may start before from):
// only the entries inside them are kept, and the visible bound ends the
// iteration.
func TestRunFilterStopsInsideARun(t *testing.T) {
	run := func(seqs ...uint64) []Entry {
		var out []Entry
		for _, s := range seqs {
			out = append(out, Entry{Seq: s, Key: []byte("k")})
		}
		return out
	}
	cases := []struct {
		name     string
		visible  uint64
		from     uint64
		in       []Entry
		want     []uint64
		wantMore bool
	}{
		{"inside", 100, 0, run(5, 6, 7), []uint64{5, 6, 7}, true},
		{"ends past visible", 7, 0, run(5, 6, 7, 8), []uint64{5, 6}, false},
		{"sparse, ends past visible", 9, 0, run(5, 8, 12), []uint64{5, 8}, false},
		{"starts before from", 100, 6, run(5, 6, 7), []uint64{6, 7}, true},
		{"both", 7, 6, run(5, 6, 7), []uint64{6}, false},
		{"empty", 7, 0, nil, nil, true},
	}
	for _, c := range cases {
		s := &snapshot{visible: c.visible}
		kept, more := s.live(c.in, c.from)
		var got []uint64
		for _, e := range kept {
			got = append(got, e.Seq)
		}
		if !slices.Equal(got, c.want) || more != c.wantMore {
			t.Errorf("%s: kept %v, more %v; want %v, %v", c.name, got, more, c.want, c.wantMore)
		}
	}
}
