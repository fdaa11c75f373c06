package bench

import (
	"bytes"
	"strconv"

	"github.com/seglog/journal"
)

// AppendEntryJSON appends the entry as the replaced system stored it
// (journal.Entry.AppendJSON), e.g.
//
//	{"seq":123,"timestamp_ms":1764190000000,"event":{"RouteStarted":{"route_id":"route-42"}}}
//
// with ,"error":"..." after route_id for RouteFailed. Peer engines that
// store bytes store this. It does not allocate beyond growing dst; an
// event the journal would refuse is an error wrapping journal.ErrInvalid.
func AppendEntryJSON(dst []byte, seq uint64, tsMs int64, e journal.Event) ([]byte, error) {
	return journal.Entry{Seq: seq, TimestampMs: tsMs, Event: e}.AppendJSON(dst)
}

// ParseEntryJSON decodes what AppendEntryJSON wrote, standing in for the
// cheapest decoding a peer engine's user could do: a fast decoder for
// exactly those bytes (fields in that order, numbers and strings without
// escapes or non-ASCII bytes, route IDs and error texts within the
// journal's limits), journal.Entry.UnmarshalJSON for anything else, so
// both give the same entry or error. intern, if not nil, deduplicates
// route IDs on the fast path (as the journal's LoadAll does).
func ParseEntryJSON(b []byte, intern map[string]string) (journal.Entry, error) {
	if ent, ok := parseCanonicalEntryJSON(b, intern); ok {
		return ent, nil
	}
	var ent journal.Entry
	err := ent.UnmarshalJSON(b)
	return ent, err
}

// parseCanonicalEntryJSON decodes b if it is exactly the JSON
// AppendEntryJSON writes for a valid entry with plain ASCII strings.
func parseCanonicalEntryJSON(b []byte, intern map[string]string) (journal.Entry, bool) {
	var ent journal.Entry
	rest, ok := bytes.CutPrefix(b, []byte(`{"seq":`))
	if !ok {
		return ent, false
	}
	num, rest, ok := cutJSONInt(rest, false)
	if !ok {
		return ent, false
	}
	seq, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil {
		return ent, false
	}
	ent.Seq = seq
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"timestamp_ms":`)); !ok {
		return ent, false
	}
	if num, rest, ok = cutJSONInt(rest, true); !ok {
		return ent, false
	}
	ts, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return ent, false
	}
	ent.TimestampMs = ts
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"event":{"`)); !ok {
		return ent, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 || ent.Event.Kind.UnmarshalText(rest[:i]) != nil {
		return ent, false
	}
	if rest, ok = bytes.CutPrefix(rest[i:], []byte(`":{"route_id":"`)); !ok {
		return ent, false
	}
	var id []byte
	if id, rest, ok = cutPlainString(rest); !ok || len(id) == 0 || len(id) > journal.MaxRouteIDLen {
		return ent, false
	}
	if ent.Event.Kind == journal.RouteFailed {
		if rest, ok = bytes.CutPrefix(rest, []byte(`,"error":"`)); !ok {
			return ent, false
		}
		var text []byte
		if text, rest, ok = cutPlainString(rest); !ok || len(text) > journal.MaxErrorLen {
			return ent, false
		}
		ent.Event.Error = string(text)
	}
	if string(rest) != "}}}" {
		return ent, false
	}
	if intern != nil {
		s, ok := intern[string(id)]
		if !ok {
			s = string(id)
			intern[s] = s
		}
		ent.Event.RouteID = s
	} else {
		ent.Event.RouteID = string(id)
	}
	return ent, true
}

// cutJSONInt cuts a JSON integer (signed if negative is set) off the
// front of b: digits without leading zeros.
func cutJSONInt(b []byte, negative bool) (num, rest []byte, ok bool) {
	i := 0
	if negative && len(b) > 0 && b[0] == '-' {
		i++
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == start || (b[start] == '0' && i > start+1) {
		return nil, nil, false
	}
	return b[:i], b[i:], true
}

// cutPlainString cuts the rest of a JSON string off the front of b (its
// opening quote already cut), if it holds only printable ASCII other than
// '"' and '\\': then its bytes are its value.
func cutPlainString(b []byte) (s, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return b[:i], b[i+1:], true
		case c < 0x20 || c >= 0x80 || c == '\\':
			return nil, nil, false
		}
	}
	return nil, nil, false
}
