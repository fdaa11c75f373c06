package segment

import "fmt"

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

// String returns "Immediate" or "Eventual".
func (d Durability) String() string {
	switch d {
	case Immediate:
		return "Immediate"
	case Eventual:
		return "Eventual"
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}
