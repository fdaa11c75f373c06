package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The JSON of an entry is the replaced system's: serde_json's rendering of
// its JournalEntry { seq: u64, timestamp_ms: i64, event: RuntimeEvent },
// where RuntimeEvent is an externally tagged enum of struct variants, each
// with a route_id and RouteFailed also with an error:
//
//	{"seq":7,"timestamp_ms":1764190000000,"event":{"RouteStarted":{"route_id":"r1"}}}
//	{"seq":8,"timestamp_ms":1764190000000,"event":{"RouteFailed":{"route_id":"r1","error":"boom"}}}

// MarshalText implements encoding.TextMarshaler: the kind's name as String
// returns it, e.g. "RouteStarted" (the replaced system's variant name). An
// unknown kind returns an error wrapping ErrInvalid.
func (k EventKind) MarshalText() ([]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("%w: unknown event kind %d", ErrInvalid, uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: it accepts exactly
// the names MarshalText returns (letter case matters, as it does to
// serde). Any other text returns an error wrapping ErrInvalid and leaves k
// unchanged.
func (k *EventKind) UnmarshalText(text []byte) error {
	v, ok := kindNamed(string(text))
	if !ok {
		return fmt.Errorf("%w: unknown event kind %q", ErrInvalid, text)
	}
	*k = v
	return nil
}

// MarshalJSON implements json.Marshaler with the replaced system's entry
// shape, byte for byte as serde_json writes it:
//
//	{"seq":8,"timestamp_ms":1764190000000,"event":{"RouteFailed":{"route_id":"r1","error":"boom"}}}
//
// Every kind carries "route_id"; RouteFailed, and only it, also carries
// "error", even when empty. Strings are escaped as serde_json does (only
// '"', '\\' and control characters; other characters as they are);
// json.Marshal additionally escapes '<', '>', '&', U+2028 and U+2029 unless
// the Encoder's SetEscapeHTML(false) is used. Invalid UTF-8 in the route ID
// or error text is written as U+FFFD, as encoding/json does.
//
// An entry whose event AppendBatch would refuse (unknown kind, empty or
// over-long route ID, error text on a kind other than RouteFailed or over
// MaxErrorLen) returns an error wrapping ErrInvalid.
func (e Entry) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil)
}

// AppendJSON appends the JSON of e (see MarshalJSON) to dst and returns
// the extended buffer; it allocates only to grow dst. On error (wrapping
// ErrInvalid, as for MarshalJSON) it returns dst unchanged.
func (e Entry) AppendJSON(dst []byte) ([]byte, error) {
	if err := e.Event.validate(); err != nil {
		return dst, fmt.Errorf("entry %d to JSON: %w", e.Seq, err)
	}
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"timestamp_ms":`...)
	dst = strconv.AppendInt(dst, e.TimestampMs, 10)
	dst = append(dst, `,"event":{"`...)
	dst = append(dst, kindNames[e.Event.Kind]...)
	dst = append(dst, `":{"route_id":`...)
	dst = appendJSONString(dst, e.Event.RouteID)
	if e.Event.Kind == RouteFailed {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, e.Event.Error)
	}
	return append(dst, "}}}"...), nil
}

// appendJSONString appends s as a JSON string escaped as serde_json
// escapes it, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is yet to be appended, as it is
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\uFFFD"...)
				start = i + size
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// UnmarshalJSON implements json.Unmarshaler for the shape MarshalJSON
// writes, accepting as serde_json does fields in any order, whitespace,
// escapes, and fields the shape does not have (ignored, as serde ignores
// them; so is "error" on a kind other than RouteFailed). Field and kind
// names match exactly, as in serde, not ignoring case as encoding/json
// does.
//
// It returns an error wrapping ErrInvalid, and leaves e unchanged, for
// anything else: text that is not one JSON object; a missing, null,
// repeated or wrongly typed "seq" (an integer in [0, 2^64)),
// "timestamp_ms" (an integer in [-2^63, 2^63)), "event", "route_id" or
// RouteFailed's "error"; an "event" that is not an object with exactly
// one member; an unknown kind name; and an event that AppendBatch would
// refuse (empty or over-long route ID, error text over MaxErrorLen).
// Errors from encoding/json (a syntax or type error) are wrapped too.
//
// The JSON null alone leaves e unchanged and returns nil, the convention
// for json.Unmarshaler that encoding/json follows itself.
func (e *Entry) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	var ent Entry
	var hasSeq, hasTs, hasEvent bool
	err := eachMember(data, "the entry", func(name string, raw []byte) error {
		switch name {
		case "seq":
			return decodeMember(raw, name, &hasSeq, &ent.Seq)
		case "timestamp_ms":
			return decodeMember(raw, name, &hasTs, &ent.TimestampMs)
		case "event":
			if err := once(name, &hasEvent); err != nil {
				return err
			}
			ev, err := unmarshalEvent(raw)
			ent.Event = ev
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		has  bool
	}{{"seq", hasSeq}, {"timestamp_ms", hasTs}, {"event", hasEvent}} {
		if !f.has {
			return jsonError("missing field %q", f.name)
		}
	}
	if err := ent.Event.validate(); err != nil {
		return fmt.Errorf("entry JSON: %w", err)
	}
	*e = ent
	return nil
}

// unmarshalEvent decodes the value of "event": {"<Kind>":{"route_id":…}}.
func unmarshalEvent(data []byte) (Event, error) {
	var ev Event
	kinds := 0
	err := eachMember(data, `"event"`, func(name string, raw []byte) error {
		kinds++
		if kinds > 1 {
			return jsonError("event has more than one kind (%q after %s)", name, ev.Kind)
		}
		if err := ev.Kind.UnmarshalText([]byte(name)); err != nil {
			return fmt.Errorf("entry JSON: %w", err)
		}
		var hasRoute, hasError bool
		err := eachMember(raw, strconv.Quote(name), func(field string, v []byte) error {
			switch {
			case field == "route_id":
				return decodeMember(v, field, &hasRoute, &ev.RouteID)
			case field == "error" && ev.Kind == RouteFailed:
				return decodeMember(v, field, &hasError, &ev.Error)
			}
			return nil
		})
		switch {
		case err != nil:
			return err
		case !hasRoute:
			return jsonError("%s without field \"route_id\"", name)
		case ev.Kind == RouteFailed && !hasError:
			return jsonError("%s without field \"error\"", name)
		}
		return nil
	})
	if err == nil && kinds == 0 {
		err = jsonError("event has no kind")
	}
	return ev, err
}

// jsonError returns an error wrapping ErrInvalid about an entry's JSON.
func jsonError(format string, args ...any) error {
	return fmt.Errorf("entry JSON: %w: "+format, append([]any{ErrInvalid}, args...)...)
}

// once notes in *seen that a member called name was found, an error if
// one was found before: serde refuses a repeated field.
func once(name string, seen *bool) error {
	if *seen {
		return jsonError("duplicate field %q", name)
	}
	*seen = true
	return nil
}

// decodeMember decodes the value raw of the member name into v (not from
// null, which encoding/json would let pass), once (see once).
func decodeMember(raw []byte, name string, seen *bool, v any) error {
	if err := once(name, seen); err != nil {
		return err
	}
	if bytes.Equal(raw, []byte("null")) {
		return jsonError("field %q is null", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return jsonError("field %q: %w", name, err)
	}
	return nil
}

// eachMember calls fn with the name and value of each member of the JSON
// object data, in order, stopping at fn's first error. data that is not
// one JSON object (what names it in the error) is an error wrapping
// ErrInvalid.
func eachMember(data []byte, what string, fn func(name string, raw []byte) error) error {
	if !json.Valid(data) {
		// Let encoding/json say what is wrong and where.
		var v any
		err := json.Unmarshal(data, &v)
		return jsonError("%s: %w", what, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return jsonError("%s is not an object", what)
	}
	for dec.More() {
		tok, err := dec.Token()
		name, ok := tok.(string)
		if err != nil || !ok {
			return jsonError("%s: bad member name", what)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonError("%s: member %q: %w", what, name, err)
		}
		if err := fn(name, bytes.TrimSpace(raw)); err != nil {
			return err
		}
	}
	return nil // json.Valid saw the closing '}' and nothing after it
}
