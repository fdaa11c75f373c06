package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// allKinds are the event kinds, in order.
func allKinds() []EventKind {
	var ks []EventKind
	for k := RouteRegistered; k <= RouteRemoved; k++ {
		ks = append(ks, k)
	}
	return ks
}

func TestEventKindTextIsItsVariantName(t *testing.T) {
	for _, k := range allKinds() {
		b, err := k.MarshalText()
		if err != nil || string(b) != k.String() {
			t.Fatalf("%v.MarshalText() = %q, %v", k, b, err)
		}
		var got EventKind
		if err := got.UnmarshalText(b); err != nil || got != k {
			t.Fatalf("UnmarshalText(%q) = %v, %v, want %v", b, got, err, k)
		}
	}
	// As a JSON value and as a map key.
	b, err := json.Marshal(map[EventKind]EventKind{RouteStarted: RouteFailed})
	if want := `{"RouteStarted":"RouteFailed"}`; err != nil || string(b) != want {
		t.Fatalf("json.Marshal = %s, %v, want %s", b, err, want)
	}
}

// Decoders may parse kinds on a hot path (the peer engines of bench do).
func TestEventKindUnmarshalTextAllocatesNothing(t *testing.T) {
	text := []byte("RouteRemoved")
	var k EventKind
	if n := testing.AllocsPerRun(100, func() {
		if err := k.UnmarshalText(text); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per UnmarshalText", n)
	}
}

func TestEventKindRejectsUnknownTextAndValuesWithErrInvalid(t *testing.T) {
	for _, text := range []string{"", "routestarted", "ROUTESTARTED", "RouteStarted ", "Route", "EventKind(3)", "3", "RouteStarted\x00"} {
		k := RouteResumed
		if err := k.UnmarshalText([]byte(text)); !errors.Is(err, ErrInvalid) {
			t.Errorf("UnmarshalText(%q) = %v, want ErrInvalid", text, err)
		}
		if k != RouteResumed {
			t.Errorf("UnmarshalText(%q) changed the kind to %v", text, k)
		}
	}
	for _, k := range []EventKind{0, RouteRemoved + 1, 255} {
		if _, err := k.MarshalText(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v.MarshalText() = %v, want ErrInvalid", k, err)
		}
	}
}

// The bytes are serde_json's for the replaced system's JournalEntry: every
// kind a struct variant with route_id, RouteFailed with error as well
// (also when empty), strings escaped only where JSON requires.
func TestEntryMarshalJSONWritesTheReplacedSystemsBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		ent  Entry
		want string
	}{
		{"started", Entry{Seq: 123, TimestampMs: 1764190000000, Event: Event{Kind: RouteStarted, RouteID: "route-42"}},
			`{"seq":123,"timestamp_ms":1764190000000,"event":{"RouteStarted":{"route_id":"route-42"}}}`},
		{"failed", Entry{Seq: 1, TimestampMs: 2, Event: Event{Kind: RouteFailed, RouteID: "r1", Error: "boom"}},
			`{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r1","error":"boom"}}}`},
		{"failed-without-text", Entry{Event: Event{Kind: RouteFailed, RouteID: "r1"}},
			`{"seq":0,"timestamp_ms":0,"event":{"RouteFailed":{"route_id":"r1","error":""}}}`},
		{"extremes", Entry{Seq: 1<<64 - 1, TimestampMs: -1 << 63, Event: Event{Kind: RouteRemoved, RouteID: "r"}},
			`{"seq":18446744073709551615,"timestamp_ms":-9223372036854775808,"event":{"RouteRemoved":{"route_id":"r"}}}`},
		{"escapes", Entry{Seq: 5, TimestampMs: 6, Event: Event{Kind: RouteFailed, RouteID: `a"b\c/d`, Error: "\b\f\n\r\t\x00\x1f\x7f<>&"}},
			`{"seq":5,"timestamp_ms":6,"event":{"RouteFailed":{"route_id":"a\"b\\c/d","error":"\b\f\n\r\t\u0000\u001f` + "\x7f" + `<>&"}}}`},
		{"unicode-as-is", Entry{Event: Event{Kind: RouteReloaded, RouteID: "路由-é-😀-\u2028\u2029"}},
			`{"seq":0,"timestamp_ms":0,"event":{"RouteReloaded":{"route_id":"路由-é-😀-` + "\u2028\u2029" + `"}}}`},
		{"invalid-utf8-as-replacement", Entry{Event: Event{Kind: RouteFailed, RouteID: "r\xff", Error: "a\xc3(b"}},
			`{"seq":0,"timestamp_ms":0,"event":{"RouteFailed":{"route_id":"r` + "\uFFFD" + `","error":"a` + "\uFFFD" + `(b"}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.ent.MarshalJSON()
			if err != nil || string(got) != c.want {
				t.Fatalf("MarshalJSON =\n%s, %v\nwant\n%s", got, err, c.want)
			}
			// An Encoder without HTML escaping passes the bytes through.
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(c.ent); err != nil || buf.String() != c.want+"\n" {
				t.Fatalf("Encoder.Encode =\n%s, %v\nwant\n%s", buf.String(), err, c.want)
			}
		})
	}
}

// Apart from U+2028 and U+2029 (which serde_json leaves as they are),
// strings are escaped as encoding/json without HTML escaping does.
func TestEntryJSONStringsEscapeAsEncodingJSON(t *testing.T) {
	var ids []string
	for c := range 0x80 {
		ids = append(ids, "x"+string(rune(c))+"y")
	}
	ids = append(ids, "é", "\u00a0", "\ufeff", "𝄞", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", strings.Repeat("a\"", 40))
	for _, id := range ids {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(id); err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(strings.TrimSuffix(buf.String(), "\n"), `\ufffd`, "\uFFFD")
		if got := string(appendJSONString(nil, id)); got != want {
			t.Errorf("appendJSONString(%q) = %s, encoding/json %s", id, got, want)
		}
	}
}

func TestEntryJSONRoundTripsEveryKind(t *testing.T) {
	ids := []string{"r", "route-42", "路由/é 😀", "a\"b\\c\n\t\x01", strings.Repeat("x", MaxRouteIDLen)}
	for _, k := range allKinds() {
		texts := []string{""}
		if k == RouteFailed {
			texts = append(texts, "boom", "ошибка: \"quoted\"\n", strings.Repeat("e", MaxErrorLen))
		}
		for _, id := range ids {
			for _, text := range texts {
				want := Entry{Seq: uint64(k) << 40, TimestampMs: -int64(k), Event: Event{Kind: k, RouteID: id, Error: text}}
				b, err := json.Marshal(want) // HTML-escaped: still the same entry
				if err != nil {
					t.Fatalf("json.Marshal(%+v): %v", want, err)
				}
				var got Entry
				if err := json.Unmarshal(b, &got); err != nil || got != want {
					t.Fatalf("json.Unmarshal(%.200s) = %+v, %v, want %+v", b, got, err, want)
				}
				direct, _ := want.MarshalJSON()
				var again Entry
				if err := again.UnmarshalJSON(direct); err != nil || again != want {
					t.Fatalf("UnmarshalJSON(%.200s) = %+v, %v", direct, again, err)
				}
			}
		}
	}
}

// What serde_json accepts for a JournalEntry, beyond what it writes,
// decodes too.
func TestEntryUnmarshalJSONAcceptsWhatSerdeAccepts(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     Entry
	}{
		{"fields-reordered", `{"event":{"RouteFailed":{"error":"e","route_id":"r"}},"timestamp_ms":2,"seq":1}`,
			Entry{Seq: 1, TimestampMs: 2, Event: Event{Kind: RouteFailed, RouteID: "r", Error: "e"}}},
		{"whitespace", " {\n\t\"seq\" : 1 , \"timestamp_ms\":-2,\"event\": { \"RouteStarted\" : { \"route_id\" : \"r\" } } }\n",
			Entry{Seq: 1, TimestampMs: -2, Event: Event{Kind: RouteStarted, RouteID: "r"}}},
		{"escapes", `{"seq":0,"timestamp_ms":0,"event":{"Route\u0053topped":{"route_\u0069d":"\u8def\ud83d\ude00\/"}}}`,
			Entry{Event: Event{Kind: RouteStopped, RouteID: "路😀/"}}},
		{"unknown-fields-ignored", `{"seq":3,"extra":[1,{"a":null}],"timestamp_ms":4,"event":{"RouteRemoved":{"route_id":"r","why":1}},"more":null}`,
			Entry{Seq: 3, TimestampMs: 4, Event: Event{Kind: RouteRemoved, RouteID: "r"}}},
		{"error-on-other-kind-ignored", `{"seq":0,"timestamp_ms":0,"event":{"RouteStarted":{"route_id":"r","error":"x"}}}`,
			Entry{Event: Event{Kind: RouteStarted, RouteID: "r"}}},
		{"failed-with-empty-error", `{"seq":0,"timestamp_ms":0,"event":{"RouteFailed":{"route_id":"r","error":""}}}`,
			Entry{Event: Event{Kind: RouteFailed, RouteID: "r"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got Entry
			if err := json.Unmarshal([]byte(c.in), &got); err != nil || got != c.want {
				t.Fatalf("= %+v, %v, want %+v", got, err, c.want)
			}
		})
	}
}

func TestEntryUnmarshalJSONRejectsMalformedWithErrInvalid(t *testing.T) {
	const ok = `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`
	for _, c := range []struct{ name, in string }{
		{"empty", ``},
		{"not-json", `seq=1`},
		{"truncated", ok[:len(ok)-1]},
		{"trailing-data", ok + `{}`},
		{"array", `[1,2,{}]`},
		{"string", `"RouteStarted"`},
		{"empty-object", `{}`},
		{"missing-seq", `{"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"missing-timestamp", `{"seq":1,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"missing-event", `{"seq":1,"timestamp_ms":2}`},
		{"field-name-in-wrong-case", `{"Seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"route-id-name-in-wrong-case", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"Route_ID":"r"}}}`},
		{"missing-route-id", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{}}}`},
		{"failed-missing-error", `{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r"}}}`},
		{"seq-string", `{"seq":"1","timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"seq-null", `{"seq":null,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"seq-negative", `{"seq":-1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"seq-fraction", `{"seq":1.5,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"seq-exponent", `{"seq":1e3,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"seq-overflow", `{"seq":18446744073709551616,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"timestamp-overflow", `{"seq":1,"timestamp_ms":9223372036854775808,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"timestamp-bool", `{"seq":1,"timestamp_ms":true,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"duplicate-seq", `{"seq":1,"seq":2,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"duplicate-event", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"}},"event":{"RouteStarted":{"route_id":"r"}}}`},
		{"event-null", `{"seq":1,"timestamp_ms":2,"event":null}`},
		{"event-string", `{"seq":1,"timestamp_ms":2,"event":"RouteStarted"}`},
		{"event-array", `{"seq":1,"timestamp_ms":2,"event":[{"RouteStarted":{"route_id":"r"}}]}`},
		{"event-without-kind", `{"seq":1,"timestamp_ms":2,"event":{}}`},
		{"event-with-two-kinds", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"},"RouteStopped":{"route_id":"r"}}}`},
		{"event-with-kind-twice", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"},"RouteStarted":{"route_id":"r"}}}`},
		{"unknown-kind", `{"seq":1,"timestamp_ms":2,"event":{"RouteExploded":{"route_id":"r"}}}`},
		{"kind-in-wrong-case", `{"seq":1,"timestamp_ms":2,"event":{"routestarted":{"route_id":"r"}}}`},
		{"kind-number", `{"seq":1,"timestamp_ms":2,"event":{"3":{"route_id":"r"}}}`},
		{"variant-null", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":null}}`},
		{"variant-string", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":"r"}}`},
		{"route-id-number", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":42}}}`},
		{"route-id-null", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":null}}}`},
		{"route-id-twice", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r","route_id":"s"}}}`},
		{"route-id-empty", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":""}}}`},
		{"route-id-too-long", `{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"` + strings.Repeat("x", MaxRouteIDLen+1) + `"}}}`},
		{"error-null", `{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r","error":null}}}`},
		{"error-object", `{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r","error":{"msg":"x"}}}}`},
		{"error-too-long", `{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r","error":"` + strings.Repeat("e", MaxErrorLen+1) + `"}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := Entry{Seq: 9, Event: Event{Kind: RouteResumed, RouteID: "kept"}}
			got := before
			if err := got.UnmarshalJSON([]byte(c.in)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("UnmarshalJSON: %v, want an error wrapping ErrInvalid", err)
			}
			// encoding/json rejects invalid JSON itself, before asking
			// UnmarshalJSON; for the rest the error is UnmarshalJSON's.
			if json.Valid([]byte(c.in)) {
				if err := json.Unmarshal([]byte(c.in), &got); !errors.Is(err, ErrInvalid) {
					t.Fatalf("json.Unmarshal: %v, want an error wrapping ErrInvalid", err)
				}
			}
			if got != before {
				t.Fatalf("the entry changed to %+v", got)
			}
		})
	}
}

// null is "no value" to encoding/json: an entry decoded from it keeps what
// it held, as the json.Unmarshaler convention asks.
func TestEntryUnmarshalJSONLeavesEntryAloneOnNull(t *testing.T) {
	want := Entry{Seq: 9, Event: Event{Kind: RouteResumed, RouteID: "kept"}}
	got := []Entry{want}
	if err := json.Unmarshal([]byte(`[null]`), &got); err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("= %+v, %v", got, err)
	}
	if err := got[0].UnmarshalJSON([]byte(" null ")); err != nil || got[0] != want {
		t.Fatalf("UnmarshalJSON(null) = %v, entry %+v", err, got[0])
	}
}

func TestEntryMarshalJSONRefusesEventsAppendBatchRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		ev   Event
	}{
		{"no-kind", Event{RouteID: "r"}},
		{"unknown-kind", Event{Kind: RouteRemoved + 1, RouteID: "r"}},
		{"empty-route-id", Event{Kind: RouteStarted}},
		{"route-id-too-long", Event{Kind: RouteStarted, RouteID: strings.Repeat("x", MaxRouteIDLen+1)}},
		{"error-on-started", Event{Kind: RouteStarted, RouteID: "r", Error: "x"}},
		{"error-too-long", Event{Kind: RouteFailed, RouteID: "r", Error: strings.Repeat("e", MaxErrorLen+1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ent := Entry{Seq: 1, Event: c.ev}
			if b, err := json.Marshal(ent); !errors.Is(err, ErrInvalid) {
				t.Fatalf("json.Marshal = %s, %v, want ErrInvalid", b, err)
			}
			dst := []byte("kept")
			b, err := ent.AppendJSON(dst)
			if !errors.Is(err, ErrInvalid) || string(b) != "kept" {
				t.Fatalf("AppendJSON = %q, %v, want dst unchanged and ErrInvalid", b, err)
			}
		})
	}
}

func TestEntryAppendJSONAllocatesNothingIntoRoom(t *testing.T) {
	ent := Entry{Seq: 7, TimestampMs: 1764190000000, Event: Event{Kind: RouteFailed, RouteID: "route-é\n", Error: "boom \"x\"\xff"}}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := ent.AppendJSON(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per AppendJSON", n)
	}
}
