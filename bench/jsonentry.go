package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/seglog/journal"
)

// AppendEntryJSON appends the entry as the replaced system stored it, e.g.
//
//	{"seq":123,"timestamp_ms":1764190000000,"event":{"RouteStarted":{"route_id":"route-42"}}}
//
// with ,"error":"..." after route_id for RouteFailed. Peer engines that
// store bytes store this. It does not allocate beyond growing dst.
func AppendEntryJSON(dst []byte, seq uint64, tsMs int64, e journal.Event) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"timestamp_ms":`...)
	dst = strconv.AppendInt(dst, tsMs, 10)
	dst = append(dst, `,"event":{"`...)
	dst = append(dst, e.Kind.String()...)
	dst = append(dst, `":{"route_id":`...)
	dst = appendJSONString(dst, e.RouteID)
	if e.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, e.Error)
	}
	return append(dst, "}}}"...)
}

func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

var errBadJSON = errors.New("bench: malformed entry JSON")

// ParseEntryJSON decodes what AppendEntryJSON wrote. It is a fast decoder
// for exactly that shape (fields in that order, strings without escapes;
// anything else falls back to encoding/json), standing in for the
// cheapest decoding a peer engine's user could do. intern, if not nil,
// deduplicates route IDs (as the journal's LoadAll does).
func ParseEntryJSON(b []byte, intern map[string]string) (journal.Entry, error) {
	var ent journal.Entry
	rest, ok := bytes.CutPrefix(b, []byte(`{"seq":`))
	if !ok {
		return slowParseEntryJSON(b)
	}
	i := bytes.IndexByte(rest, ',')
	if i < 0 {
		return ent, errBadJSON
	}
	seq, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	if err != nil {
		return ent, errBadJSON
	}
	rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"timestamp_ms":`))
	if !ok {
		return slowParseEntryJSON(b)
	}
	i = bytes.IndexByte(rest, ',')
	if i < 0 {
		return ent, errBadJSON
	}
	ts, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil {
		return ent, errBadJSON
	}
	rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"event":{"`))
	if !ok {
		return slowParseEntryJSON(b)
	}
	i = bytes.IndexByte(rest, '"')
	if i < 0 {
		return ent, errBadJSON
	}
	kind, err := parseKind(rest[:i])
	if err != nil {
		return ent, err
	}
	rest, ok = bytes.CutPrefix(rest[i:], []byte(`":{"route_id":"`))
	if !ok {
		return slowParseEntryJSON(b)
	}
	i = bytes.IndexByte(rest, '"')
	if i < 0 || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return slowParseEntryJSON(b)
	}
	id := rest[:i]
	rest = rest[i+1:]
	ev := journal.Event{Kind: kind}
	if intern != nil {
		s, ok := intern[string(id)]
		if !ok {
			s = string(id)
			intern[s] = s
		}
		ev.RouteID = s
	} else {
		ev.RouteID = string(id)
	}
	if r, ok := bytes.CutPrefix(rest, []byte(`,"error":"`)); ok {
		i = bytes.IndexByte(r, '"')
		if i < 0 || bytes.IndexByte(r[:i], '\\') >= 0 {
			return slowParseEntryJSON(b)
		}
		ev.Error = string(r[:i])
		rest = r[i+1:]
	}
	if string(rest) != "}}}" {
		return slowParseEntryJSON(b)
	}
	return journal.Entry{Seq: seq, TimestampMs: ts, Event: ev}, nil
}

// kinds by name, for parseKind (a switch on string(b) does not allocate).
func parseKind(b []byte) (journal.EventKind, error) {
	for k := journal.RouteRegistered; k <= journal.RouteRemoved; k++ {
		if k.String() == string(b) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown kind %q", errBadJSON, b)
}

type jsonEntry struct {
	Seq         uint64                     `json:"seq"`
	TimestampMs int64                      `json:"timestamp_ms"`
	Event       map[string]jsonEventFields `json:"event"`
}

type jsonEventFields struct {
	RouteID string `json:"route_id"`
	Error   string `json:"error"`
}

func slowParseEntryJSON(b []byte) (journal.Entry, error) {
	var je jsonEntry
	if err := json.Unmarshal(b, &je); err != nil {
		return journal.Entry{}, fmt.Errorf("%w: %v", errBadJSON, err)
	}
	if len(je.Event) != 1 {
		return journal.Entry{}, fmt.Errorf("%w: %d event kinds", errBadJSON, len(je.Event))
	}
	for name, f := range je.Event {
		k, err := journal.ParseEventKind(name)
		if err != nil {
			return journal.Entry{}, err
		}
		return journal.Entry{Seq: je.Seq, TimestampMs: je.TimestampMs, Event: journal.Event{Kind: k, RouteID: f.RouteID, Error: f.Error}}, nil
	}
	panic("unreachable")
}
