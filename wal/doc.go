// Package wal is a directory of rotating segment files forming one ordered
// log of entries: it assigns sequence numbers, makes appends durable (one
// fdatasync per group of concurrent commits, or none), recovers after a
// crash, and serves reads from an in-memory index while appends go on.
//
// It knows entries (a key, a value and a tombstone flag), batches and
// sequence numbers; what the bytes mean is the caller's business. Besides
// the route journal's append-only use it is a general record log: callers
// may own the numbering (AppendAt) and cut the log at either end
// (TruncateFront, TruncateBack), as a consensus log store needs.
//
// # Files
//
// A log directory holds the files below; while a Log has it open, the
// directory itself carries an exclusive flock.
//
//	<id:020d>.seg             segment files (package segment), ids ascending
//	<id:020d>.idx             frame index of a sealed segment, so Open need
//	                          not re-read it
//	<id:020d>.tidx            the active segment's frames a sync made
//	                          durable, a chunk per MiB (segment.TailIndex):
//	                          Open after a crash scans only past it; never
//	                          synced, deleted by Open and at sealing
//	manifest.log              every segment that must exist, how far each
//	                          is durable, and the truncation front (package
//	                          wal/manifest; listing.go says when it is
//	                          written); the only file Open cannot derive
//	bounds.meta               a TruncateBack in progress (and, in a
//	                          directory without a manifest, the front)
//	compaction.cpt            the compaction state as of a sequence number
//	                          (package compactor), with compaction on; a
//	                          cache that only shortens Open's replay
//	*.tmp                     a file being replaced (temporary, fsync,
//	                          rename, directory fsync); one left by a crash
//	                          was never renamed into use and Open removes it
//
// Other files in the directory (the root package's command ID set) are not
// the log's, and it never touches them. files.go names them all.
//
// Only the newest segment (the one with the highest id) is ever appended
// to. A segment is synced and sealed before the next one is created, so
// damage in any older segment is damage to durable data.
//
// # Damage
//
// Open refuses a directory with damage it cannot explain by a crash:
// a segment the manifest lists that is missing, a sealed segment whose size
// is not the one recorded, a segment whose frames end before the boundary
// recorded as durable (only bytes past it can be a torn write), bad bytes
// in frames a later frame records as durable. Index files and the
// compaction checkpoint are caches: a damaged index is rebuilt from its
// segment. A directory written before logs kept a manifest opens as it did
// and gets one. Inspect reads a directory with the same loader, without
// modifying it; package wal/check builds verification and repair on it.
package wal
