package journal

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// plainLoad is what LoadAll and Entries returned before they shared
// strings: every entry decoded on its own with freshly allocated strings.
func plainLoad(t *testing.T, j *Journal, from uint64) []Entry {
	t.Helper()
	var out []Entry
	for e, err := range j.log.Entries(from) {
		if err != nil {
			t.Fatalf("wal entries: %v", err)
		}
		ev, err := decodeEvent(e.Key, e.Value, e.Tombstone, nil)
		if err != nil {
			t.Fatalf("sequence %d: %v", e.Seq, err)
		}
		out = append(out, Entry{Seq: e.Seq, TimestampMs: e.Time, Event: ev})
	}
	return out
}

// randomJournalEvents appends rng-chosen batches to j (mostly of 1 to 150
// events, a few of hundreds): route IDs drawn from a pool of routes names
// (short, long, sharing prefixes), error texts from a pool of texts or
// unique, some routes removed.
func randomJournalEvents(rng *rand.Rand, j *Journal, n, routes, texts int) error {
	routeID := func() string {
		r := rng.IntN(routes)
		switch r % 4 {
		case 0:
			return "r" + strconv.Itoa(r)
		case 1:
			return "kafka-payments-in-" + strconv.Itoa(r)
		case 2:
			return strings.Repeat("x", 20+r%50) + strconv.Itoa(r)
		default:
			return "route-" + strconv.Itoa(r)
		}
	}
	kinds := []EventKind{RouteRegistered, RouteStartRequested, RouteStarted, RouteFailed, RouteStopped,
		RouteSuspended, RouteResumed, RouteReloaded, RouteRemoved}
	for written := 0; written < n; {
		size := 1 + rng.IntN(150)
		switch rng.IntN(40) {
		case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12:
			size = 1
		case 13:
			size = 257 + rng.IntN(500) // more than a run of wal.EntryRuns
		}
		batch := make([]Event, 0, size)
		for range size {
			ev := Event{Kind: kinds[rng.IntN(len(kinds))], RouteID: routeID()}
			if ev.Kind == RouteRemoved && rng.IntN(4) != 0 {
				ev.Kind = RouteStarted // removals rarer than the rest
			}
			if ev.Kind == RouteFailed {
				if rng.IntN(3) == 0 {
					ev.Error = fmt.Sprintf("unique failure %d of %s: %s", rng.Uint64(), ev.RouteID, strings.Repeat("e", rng.IntN(200)))
				} else {
					ev.Error = "failure text " + strconv.Itoa(rng.IntN(texts))
				}
			}
			batch = append(batch, ev)
		}
		if err := j.AppendBatch(batch); err != nil {
			return err
		}
		written += size
	}
	return nil
}

// TestLoadAllAndEntriesMatchPlainDecoding checks on random journals that
// the shared, blocked strings of LoadAll and Entries change nothing: the
// results equal decoding every record on its own, for few and for more
// distinct route IDs and error texts than the decoder's tables keep, with
// and without compression, before and after compaction.
func TestLoadAllAndEntriesMatchPlainDecoding(t *testing.T) {
	cases := []struct {
		routes, texts int
		comp          Compression
	}{
		{routes: 5, texts: 3, comp: CompressionNone},
		{routes: 300, texts: 20, comp: CompressionS2},
		{routes: 1000, texts: 50, comp: CompressionZstd},
		// Above the tables' bounds (maxRouteSlots/2 route IDs, maxErrorSlots/2 texts).
		{routes: 3 * maxRouteSlots, texts: 4 * maxErrorSlots, comp: CompressionS2},
	}
	n := 60_000
	if testing.Short() {
		n = 20_000
	}
	for i, c := range cases {
		seed := uint64(1000 + i)
		t.Run(fmt.Sprintf("routes=%d/texts=%d/%s", c.routes, c.texts, c.comp), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("seed %d", seed)
				}
			}()
			rng := rand.New(rand.NewPCG(seed, seed))
			j := openT(t, t.TempDir(), Options{Durability: Eventual, FlushInterval: -1,
				Compression: c.comp, CompactionThresholdEvents: uint64(n / 3), SegmentSize: 1 << 20})
			defer j.Close()
			if err := randomJournalEvents(rng, j, n, c.routes, c.texts); err != nil {
				t.Fatal(err)
			}
			check := func(stage string) {
				t.Helper()
				want := plainLoad(t, j, 0)
				got := loadT(t, j)
				if len(got) != len(want) {
					t.Fatalf("%s: LoadAll returned %d events, plain decoding %d", stage, len(got), len(want))
				}
				for k := range want {
					if got[k] != want[k].Event {
						t.Fatalf("%s: LoadAll event %d (seq %d) = %+v, want %+v", stage, k, want[k].Seq, got[k], want[k].Event)
					}
				}
				from := uint64(0)
				if len(want) > 0 {
					from = want[rng.IntN(len(want))].Seq
				}
				for _, f := range []uint64{0, from} {
					want := plainLoad(t, j, f)
					got := entriesT(t, j, f)
					if len(got) != len(want) {
						t.Fatalf("%s: Entries(%d) returned %d entries, plain decoding %d", stage, f, len(got), len(want))
					}
					for k := range want {
						if got[k] != want[k] {
							t.Fatalf("%s: Entries(%d) entry %d = %+v, want %+v", stage, f, k, got[k], want[k])
						}
					}
				}
			}
			check("written")
			if err := j.Compact(); err != nil {
				t.Fatal(err)
			}
			check("compacted")
			if live := len(plainLoad(t, j, 0)); live >= n {
				t.Fatalf("compaction removed nothing: %d live events of %d", live, n)
			}
		})
	}
}

// TestLoadedStringsOwnTheirBytes checks that the strings LoadAll and
// Entries return alias no buffer that is reused: later reads, appends and
// compactions leave earlier results unchanged.
func TestLoadedStringsOwnTheirBytes(t *testing.T) {
	const seed = 7
	rng := rand.New(rand.NewPCG(seed, seed))
	j := openT(t, t.TempDir(), Options{Durability: Eventual, FlushInterval: -1, SegmentSize: 1 << 20})
	defer j.Close()
	if err := randomJournalEvents(rng, j, 20_000, 3*maxRouteSlots, 4*maxErrorSlots); err != nil {
		t.Fatal(err)
	}
	deep := func(evs []Event) []Event {
		out := make([]Event, len(evs))
		for i, e := range evs {
			out[i] = Event{Kind: e.Kind, RouteID: strings.Clone(e.RouteID), Error: strings.Clone(e.Error)}
		}
		return out
	}
	loaded := loadT(t, j)
	loadedCopy := deep(loaded)
	// Entries kept across iteration steps: each step's record bytes are
	// in a buffer the log reuses for the next.
	var kept []Event
	for _, e := range entriesT(t, j, 0) {
		kept = append(kept, e.Event)
	}
	keptCopy := deep(kept)

	// Churn: more reads of other data, appends, removals and compaction.
	for range 3 {
		if err := randomJournalEvents(rng, j, 5_000, 3*maxRouteSlots, 4*maxErrorSlots); err != nil {
			t.Fatal(err)
		}
		loadT(t, j)
		entriesT(t, j, 0)
		if err := j.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range loadedCopy {
		if loaded[i] != loadedCopy[i] {
			t.Fatalf("seed %d: LoadAll event %d changed after later reads: %+v, was %+v", seed, i, loaded[i], loadedCopy[i])
		}
	}
	for i := range keptCopy {
		if kept[i] != keptCopy[i] {
			t.Fatalf("seed %d: Entries event %d changed after later reads: %+v, was %+v", seed, i, kept[i], keptCopy[i])
		}
	}
}

// TestLoadAllSharesRouteIDs checks that equal route IDs and error texts
// come back as one string (the point of the decoder), and that route IDs
// past the table's bound still come back right.
func TestLoadAllSharesRouteIDs(t *testing.T) {
	j := openT(t, t.TempDir(), Options{Durability: Eventual, FlushInterval: -1})
	defer j.Close()
	for i := 0; i < 5_000; i += 100 {
		appendT(t, j, routeBatch(i, 100)...)
	}
	evs := loadT(t, j)
	first := map[string]*byte{}
	for i, e := range evs {
		for _, s := range []string{e.RouteID, e.Error} {
			if s == "" {
				continue
			}
			p := unsafe.StringData(s)
			if q, ok := first[s]; !ok {
				first[s] = p
			} else if q != p {
				t.Fatalf("event %d: %q is a second copy", i, s)
			}
		}
	}
	if len(first) != 1001 { // route-0 .. route-999 and "boom"
		t.Fatalf("%d distinct strings, want 1001", len(first))
	}
}

// TestStrtabBounded checks the table directly: equal bytes give one string
// while it has room, it stops growing at its bound, and every value comes
// back equal to its bytes whatever the table holds.
func TestStrtabBounded(t *testing.T) {
	for _, inArena := range []bool{false, true} {
		d := newEventDecoder(1<<10, inArena)
		tab := &d.routes
		buf := make([]byte, 0, 64)
		for round := range 2 {
			for i := range 2 * maxRouteSlots {
				buf = append(buf[:0], "route-"...)
				buf = strconv.AppendInt(buf, int64(i), 10)
				s := tab.get(buf)
				if s != string(buf) {
					t.Fatalf("get(%q) = %q", buf, s)
				}
				buf[0] = 'X' // s must not alias buf
				if s[0] != 'r' {
					t.Fatalf("string aliases the bytes it was made of")
				}
				if round == 1 && i < 1000 && unsafe.StringData(s) != unsafe.StringData(tab.get([]byte(s))) {
					t.Fatalf("%q not shared", s)
				}
			}
		}
		if tab.n > maxRouteSlots/2 || len(tab.slots) > maxRouteSlots {
			t.Fatalf("table holds %d strings in %d slots, bound %d", tab.n, len(tab.slots), maxRouteSlots)
		}
	}
}
