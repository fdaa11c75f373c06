package journal

import (
	"fmt"
	"strconv"
)

// EventKind is the lifecycle step a route event records. As text
// (MarshalText, UnmarshalText, so also in JSON) it is its name, e.g.
// "RouteStarted"; unknown names and values are errors wrapping ErrInvalid.
type EventKind uint8

// The route lifecycle events. Their numeric values are stored on disk and
// never change.
const (
	RouteRegistered EventKind = iota + 1
	RouteStartRequested
	RouteStarted
	RouteFailed
	RouteStopped
	RouteSuspended
	RouteResumed
	RouteReloaded
	RouteRemoved
)

var kindNames = [...]string{
	RouteRegistered:     "RouteRegistered",
	RouteStartRequested: "RouteStartRequested",
	RouteStarted:        "RouteStarted",
	RouteFailed:         "RouteFailed",
	RouteStopped:        "RouteStopped",
	RouteSuspended:      "RouteSuspended",
	RouteResumed:        "RouteResumed",
	RouteReloaded:       "RouteReloaded",
	RouteRemoved:        "RouteRemoved",
}

// String returns the kind's name, e.g. "RouteRegistered", or
// "EventKind(N)" for an unknown value.
func (k EventKind) String() string {
	if k.valid() {
		return kindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

func (k EventKind) valid() bool { return k >= RouteRegistered && k <= RouteRemoved }

// ParseEventKind returns the kind named s (as String returns it).
// Unknown names return an error wrapping ErrInvalid.
func ParseEventKind(s string) (EventKind, error) {
	if k, ok := kindNamed(s); ok {
		return k, nil
	}
	return 0, fmt.Errorf("%w: unknown event kind %q", ErrInvalid, s)
}

// kindNamed returns the kind named name, if there is one.
func kindNamed(name string) (EventKind, bool) {
	for k := RouteRegistered; k <= RouteRemoved; k++ {
		if kindNames[k] == name {
			return k, true
		}
	}
	return 0, false
}

// MaxRouteIDLen bounds a route ID, in bytes.
const MaxRouteIDLen = 4096

// MaxErrorLen bounds the Error text of a RouteFailed event, in bytes.
const MaxErrorLen = 64 << 10

// Event is one route lifecycle event.
type Event struct {
	Kind    EventKind
	RouteID string
	Error   string // RouteFailed only
}

// Entry is an event as stored: with its sequence number and the time its
// batch was appended. Its JSON (MarshalJSON, AppendJSON, UnmarshalJSON) is
// the replaced system's entry, e.g.
//
//	{"seq":7,"timestamp_ms":1764190000000,"event":{"RouteStarted":{"route_id":"r1"}}}
type Entry struct {
	Seq         uint64
	TimestampMs int64
	Event       Event
}

// validate checks an event before it is written.
func (e Event) validate() error {
	switch {
	case !e.Kind.valid():
		return fmt.Errorf("%w: unknown event kind %d", ErrInvalid, e.Kind)
	case e.RouteID == "":
		return fmt.Errorf("%w: %s with empty route ID", ErrInvalid, e.Kind)
	case len(e.RouteID) > MaxRouteIDLen:
		return fmt.Errorf("%w: route ID of %d bytes (limit %d)", ErrInvalid, len(e.RouteID), MaxRouteIDLen)
	case e.Error != "" && e.Kind != RouteFailed:
		return fmt.Errorf("%w: %s for route %q has an Error; only RouteFailed may", ErrInvalid, e.Kind, e.RouteID)
	case len(e.Error) > MaxErrorLen:
		return fmt.Errorf("%w: error text of %d bytes (limit %d)", ErrInvalid, len(e.Error), MaxErrorLen)
	}
	return nil
}

// An event is stored as a log record: the key is the route ID, the value
// the kind byte followed by the error text, and RouteRemoved is a tombstone
// (compaction removes the route's events up to it, itself included).

// appendValue appends the stored value of e to dst.
func appendValue(dst []byte, e Event) []byte {
	dst = append(dst, byte(e.Kind))
	return append(dst, e.Error...)
}

// checkRecord checks a stored record and returns its event's kind; a
// record no event encodes to gives an error wrapping ErrCorrupt.
func checkRecord(key, value []byte, tombstone bool) (EventKind, error) {
	if len(value) == 0 {
		return 0, fmt.Errorf("%w: event without kind", ErrCorrupt)
	}
	k := EventKind(value[0])
	if !k.valid() {
		return 0, fmt.Errorf("%w: unknown event kind %d", ErrCorrupt, value[0])
	}
	if len(key) == 0 || len(key) > MaxRouteIDLen {
		return 0, fmt.Errorf("%w: %s with route ID of %d bytes", ErrCorrupt, k, len(key))
	}
	if tombstone != (k == RouteRemoved) {
		return 0, fmt.Errorf("%w: %s with tombstone flag %v", ErrCorrupt, k, tombstone)
	}
	if len(value) > 1 && k != RouteFailed {
		return 0, fmt.Errorf("%w: %s with error text", ErrCorrupt, k)
	}
	if len(value)-1 > MaxErrorLen {
		return 0, fmt.Errorf("%w: error text of %d bytes (limit %d)", ErrCorrupt, len(value)-1, MaxErrorLen)
	}
	return k, nil
}

// decodeEvent rebuilds an event from a stored record. intern, if not nil,
// deduplicates route ID strings across calls. (LoadAll and Entries use an
// eventDecoder, which also bounds and blocks its strings.)
func decodeEvent(key, value []byte, tombstone bool, intern map[string]string) (Event, error) {
	k, err := checkRecord(key, value, tombstone)
	if err != nil {
		return Event{}, err
	}
	ev := Event{Kind: k, RouteID: internString(intern, key)}
	if len(value) > 1 {
		ev.Error = internString(intern, value[1:])
	}
	return ev, nil
}

// internString returns b as a string, shared through intern when it is
// not nil. The table stops growing at a bound, so distinct values (unique
// error texts) cost no more than plain strings.
func internString(intern map[string]string, b []byte) string {
	if intern == nil {
		return string(b)
	}
	if s, ok := intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(intern) < 1<<16 {
		intern[s] = s
	}
	return s
}
