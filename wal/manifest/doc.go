// Package manifest is a log directory's durable record of what must exist:
// every segment with the sequence number it starts at and how many of its
// bytes are known durable, and the truncation front. Open checks the
// directory against it, so a deleted segment, a sealed segment that lost
// or gained bytes, and damage inside bytes once synced are reported as
// damage instead of being taken for a crash's torn tail.
//
// The manifest is a small log of edits in the segment file format (one
// frame per edit, written and synced by segment.Writer), rewritten as one
// snapshot when it has grown well past its state. An edit is synced
// before the change it describes is relied on: a torn last edit (a crash
// while writing it) describes a change that had not happened yet, or one
// that the next Open recognises (see the wal package).
//
// # Edits
//
// Each frame holds the records of one edit. A record's key is one byte,
// its kind; its value is uvarints:
//
//	kind 1 segment:  id, base, durable, flags (1: sealed), prev
//	kind 2 removed:  id
//	kind 3 front:    front
//	kind 4 mark:     name length, name bytes, generation, end
//	kind 5 hole:     first, last
//
// A segment record replaces what the manifest knew of that segment; a
// removed record forgets it; a front record sets the front; a mark record
// replaces the mark of that name; a hole record adds a hole. Records are
// applied in order. Anything else is damage.
package manifest
