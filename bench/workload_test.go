package bench

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seglog/journal"
)

func TestEventAt(t *testing.T) {
	want := []journal.Event{
		{Kind: journal.RouteRegistered, RouteID: "route-0"},
		{Kind: journal.RouteStarted, RouteID: "route-1"},
		{Kind: journal.RouteStopped, RouteID: "route-2"},
		{Kind: journal.RouteFailed, RouteID: "route-3", Error: "boom"},
		{Kind: journal.RouteRegistered, RouteID: "route-4"},
	}
	for i, w := range want {
		if got := EventAt(uint64(i)); got != w {
			t.Errorf("EventAt(%d) = %+v, want %+v", i, got, w)
		}
	}
	if got := EventAt(999); got.RouteID != "route-999" || got.Kind != journal.RouteFailed {
		t.Errorf("EventAt(999) = %+v", got)
	}
	if got := EventAt(1000); got.RouteID != "route-0" || got.Kind != journal.RouteRegistered {
		t.Errorf("EventAt(1000) = %+v", got)
	}
	if got := EventAt(1001); got.RouteID != "route-1" || got.Kind != journal.RouteStarted {
		t.Errorf("EventAt(1001) = %+v", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = EventAt(12345) }); n != 0 {
		t.Errorf("EventAt allocates %v times", n)
	}
	// Churn: every route registered, then started, stopped, removed.
	for i, k := range []journal.EventKind{journal.RouteRegistered, journal.RouteStarted, journal.RouteStopped, journal.RouteRemoved, journal.RouteRegistered} {
		if got := ChurnEventAt(uint64(i*NumRoutes + 7)); got.Kind != k || got.RouteID != "route-7" {
			t.Errorf("ChurnEventAt(%d) = %+v, want %v route-7", i*NumRoutes+7, got, k)
		}
	}
}

func TestWorkloadSizes(t *testing.T) {
	for _, c := range []struct {
		w      Workload
		events int
	}{{W1, 2000}, {W2, 20_000}, {W3, 4000}, {W4a, 200_000}, {W4b, 1_000_000}, {C1, 1_000_000}, {C2, 1_000_000}, {X1, 10_000_000}} {
		if c.w.Events() != c.events {
			t.Errorf("%s: %d events, want %d", c.w.Name, c.w.Events(), c.events)
		}
	}
}

func TestEntryJSONIsTheLibrarysAndTheFastPathTakesEveryWorkloadEntry(t *testing.T) {
	b, err := AppendEntryJSON(nil, 123, 1764190000000, journal.Event{Kind: journal.RouteStarted, RouteID: "route-42"})
	const want = `{"seq":123,"timestamp_ms":1764190000000,"event":{"RouteStarted":{"route_id":"route-42"}}}`
	if err != nil || string(b) != want {
		t.Fatalf("got  %s, %v\nwant %s", b, err, want)
	}
	intern := map[string]string{}
	for i := uint64(0); i < 2000; i++ {
		want := journal.Entry{Seq: i, TimestampMs: 1764190000000 + int64(i), Event: EventAt(i)}
		b, err := AppendEntryJSON(nil, want.Seq, want.TimestampMs, want.Event)
		if err != nil {
			t.Fatal(err)
		}
		lib, err := want.MarshalJSON()
		if err != nil || !bytes.Equal(b, lib) {
			t.Fatalf("AppendEntryJSON %s, library %s, %v", b, lib, err)
		}
		got, ok := parseCanonicalEntryJSON(b, intern)
		if !ok || got != want {
			t.Fatalf("fast path on %s = %+v, %v, want %+v", b, got, ok, want)
		}
	}
	if _, err := AppendEntryJSON(nil, 1, 2, journal.Event{Kind: journal.RouteStarted}); !errors.Is(err, journal.ErrInvalid) {
		t.Fatalf("empty route ID: %v, want ErrInvalid", err)
	}
}

// The fast path takes only what journal.Entry.UnmarshalJSON decodes the
// same way; whatever it leaves, the library decodes.
func TestParseEntryJSONAgreesWithTheLibrary(t *testing.T) {
	for _, in := range []string{
		`{"seq":1,"timestamp_ms":-2,"event":{"RouteFailed":{"route_id":"r","error":"boom"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r","error":""}}}`,
		`{"seq":0,"timestamp_ms":-0,"event":{"RouteStarted":{"route_id":"r"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"a\"b","error":"x\ny"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"é"}}}`,
		"{\"seq\":1,\"timestamp_ms\":2,\"event\":{\"RouteStarted\":{\"route_id\":\"a\xffb\"}}}",
		"{\"seq\":1,\"timestamp_ms\":2,\"event\":{\"RouteStarted\":{\"route_id\":\"a\tb\"}}}",
		`{"timestamp_ms":2,"seq":1,"event":{"RouteStarted":{"route_id":"r"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r","error":"x"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":""}}}`,
		`{"seq":01,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`,
		`{"seq":+1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`,
		`{"seq":-1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`,
		`{"seq":1,"timestamp_ms":+2,"event":{"RouteStarted":{"route_id":"r"}}}`,
		`{"seq":18446744073709551616,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteExploded":{"route_id":"r"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"` + strings.Repeat("x", journal.MaxRouteIDLen+1) + `"}}}`,
		`{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r","error":"` + strings.Repeat("e", journal.MaxErrorLen+1) + `"}}}`,
	} {
		got, err := ParseEntryJSON([]byte(in), nil)
		var want journal.Entry
		wantErr := want.UnmarshalJSON([]byte(in))
		if got != want || (err == nil) != (wantErr == nil) || (err != nil && !errors.Is(err, journal.ErrInvalid)) {
			t.Errorf("%.120s: ParseEntryJSON %+v, %v; library %+v, %v", in, got, err, want, wantErr)
		}
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	if p := Percentile(ds, 50); p != 50 {
		t.Errorf("p50 = %v", p)
	}
	if p := Percentile(ds, 99); p != 99 {
		t.Errorf("p99 = %v", p)
	}
}

// tinyEngines are the engines of this package, for the tests.
func tinyEngines() map[string]Opener {
	return map[string]Opener{
		"journal":   JournalOpener(journal.Options{}),
		RawGrowing:  RawOpener(RawGrowing, 0),
		RawPrealloc: RawOpener(RawPrealloc, 4096), // small: forces growth on the clock
		RawGroup:    RawOpener(RawGroup, 1<<20),
	}
}

// TestWorkloadsTiny runs every append workload, scaled down, on every
// engine of this package, reads it back and checks the events.
func TestWorkloadsTiny(t *testing.T) {
	for name, open := range tinyEngines() {
		for _, w := range []Workload{W1, W2, W3, W4a, W4b, C1, C2} {
			w := w.Scaled(200)
			t.Run(name+"/"+w.Name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir() + "/j"
				res, err := RunFresh(open, dir, w)
				if err == ErrUnsupported {
					t.Skip("unsupported")
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Events != w.Events() || res.Elapsed <= 0 {
					t.Fatalf("result %+v", res)
				}
				if (w.Durability == journal.Immediate) != (len(res.Latencies) == w.Commits) {
					t.Fatalf("%d latencies for %d commits", len(res.Latencies), w.Commits)
				}
				// Reopen as the raw growing engine reads any raw file.
				reopen := open
				if name != "journal" {
					reopen = RawOpener(RawGrowing, 0)
				}
				e, err := reopen(dir, journal.Eventual)
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				got, err := e.(Loader).LoadAll()
				if err != nil {
					t.Fatal(err)
				}
				gen := EventAt
				if w.Churn {
					gen = ChurnEventAt
				}
				want := make([]journal.Event, w.Events())
				FillBatch(want, 0, gen)
				if w.Churn && name == "journal" {
					// Compaction may have dropped removed routes' events; what
					// is left must be a subsequence.
					if !isSubsequence(got, want) {
						t.Fatalf("loaded events are not a subsequence of the written ones")
					}
					return
				}
				if w.Writers > 1 {
					// Commit order is not commit-number order.
					key := func(a, b journal.Event) int {
						return cmpEvent(a, b)
					}
					slices.SortFunc(got, key)
					slices.SortFunc(want, key)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("loaded %d events, want %d (first got %+v)", len(got), len(want), got[:min(3, len(got))])
				}
			})
		}
	}
}

func cmpEvent(a, b journal.Event) int {
	if a.RouteID != b.RouteID {
		if a.RouteID < b.RouteID {
			return -1
		}
		return 1
	}
	return int(a.Kind) - int(b.Kind)
}

func isSubsequence(got, want []journal.Event) bool {
	i := 0
	for _, e := range want {
		if i < len(got) && got[i] == e {
			i++
		}
	}
	return i == len(got)
}

// TestScaleTiny exercises RunScale in-process and through the child
// process used by M1 and X1, on a tiny W4b.
func TestScaleTiny(t *testing.T) {
	open := JournalOpener(journal.Options{})
	res, err := RunScale(open, open, t.TempDir()+"/j", W4b.Scaled(1000))
	if err != nil {
		t.Fatal(err)
	}
	if res.LoadedEvents != 1000 || res.AllocatedBytes <= 0 || res.PeakRSS <= 0 || res.OpenSeconds <= 0 {
		t.Fatalf("in-process: %+v", res)
	}
	raw := RawOpener(RawPrealloc, RawPreallocFor(W4b.Scaled(1000)))
	res, err = RunScale(raw, RawOpener(RawGrowing, 0), t.TempDir()+"/r", W4b.Scaled(1000))
	if err != nil {
		t.Fatal(err)
	}
	if res.LoadedEvents != 1000 || res.ApparentBytes > 1000*RawBytesPerEvent {
		t.Fatalf("raw: %+v", res)
	}
	child := runChild(t, "W4b", t.TempDir()+"/c", 1000)
	if child.LoadedEvents != 1000 || child.PeakRSS <= 0 {
		t.Fatalf("child: %+v", child)
	}
}
