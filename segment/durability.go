package segment

import (
	"fmt"
	"strings"
)

// Durability says when a write counts as done relative to stable storage.
// The log (package wal), the command ID set (package keyset) and the
// journal above them share this one type.
type Durability uint8

const (
	// Immediate: a write returns once it is on stable storage (fdatasync);
	// concurrent writes share one fdatasync (group commit).
	Immediate Durability = iota
	// Eventual: a write returns once it is handed to the operating system,
	// without fdatasync: it survives the process being killed, not a power
	// cut, until a later sync.
	Eventual
)

// name is the text of d, as its constant is named (and as the replaced
// system's JournalDurability serialises), or "" for an unknown value.
func (d Durability) name() string {
	switch d {
	case Immediate:
		return "Immediate"
	case Eventual:
		return "Eventual"
	}
	return ""
}

// String returns "Immediate" or "Eventual", or "Durability(N)" for an
// unknown value.
func (d Durability) String() string {
	if n := d.name(); n != "" {
		return n
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}

// MarshalText implements encoding.TextMarshaler, so JSON and config
// files show "Immediate" or "Eventual" rather than a number. An unknown
// value returns an error wrapping ErrInvalid.
func (d Durability) MarshalText() ([]byte, error) {
	if n := d.name(); n != "" {
		return []byte(n), nil
	}
	return nil, fmt.Errorf("%w: unknown durability %d", ErrInvalid, uint8(d))
}

// UnmarshalText implements encoding.TextUnmarshaler: it accepts what
// MarshalText returns, ignoring letter case ("immediate" too). Any other
// text returns an error wrapping ErrInvalid and leaves d unchanged.
func (d *Durability) UnmarshalText(text []byte) error {
	for v := Immediate; v <= Eventual; v++ {
		if strings.EqualFold(string(text), v.name()) {
			*d = v
			return nil
		}
	}
	return fmt.Errorf("%w: unknown durability %q (want Immediate or Eventual)", ErrInvalid, text)
}
