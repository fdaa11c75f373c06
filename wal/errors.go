package wal

import (
	"errors"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// Sentinel errors, matched with errors.Is; errors carry context (file,
// offset, call) around them. Damage is a *segment.CorruptError, which
// matches ErrCorrupt and says where it is.
var (
	// ErrCorrupt: bytes on disk fail their checksum or framing in a way a
	// torn write cannot explain (shared with package segment).
	ErrCorrupt = segment.ErrCorrupt
	// ErrInvalid: the caller asked for something malformed (shared with
	// package segment).
	ErrInvalid = segment.ErrInvalid
	// ErrClosed is returned by calls on a closed Log.
	ErrClosed = errors.New("closed")
	// ErrLocked is returned by Open when another Log (in this process or
	// another) has the directory open.
	ErrLocked = vfs.ErrLocked
	// ErrFailed is wrapped by every append after a write or sync failed:
	// the log no longer knows what is on disk, so it accepts nothing more
	// until it is closed and reopened (which recovers a consistent state).
	ErrFailed = errors.New("log failed and must be reopened")
	// ErrNotFound is returned for a sequence number the log does not hold.
	ErrNotFound = errors.New("not found")
)
