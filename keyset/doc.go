// Package keyset is a durable set of byte-string keys, kept in memory and
// stored on disk as a snapshot plus a delta log.
//
// It is a generic engine layer: it knows nothing about what the keys mean.
//
// # Files
//
// Inside the directory given to [Open], a set named N (see [Options.Name])
// owns these files, all in the segment format of package segment (a 32-byte
// file header followed by checksummed frames):
//
//	N.snap   the whole set at some point. File header: ID = generation G
//	         (>= 1), Base = number of keys. Frames of at most ~1 MiB of
//	         payload, one entry per key (value empty, no tombstone), in no
//	         particular order; FirstSeq numbers the keys 0, 1, 2, ...
//	N.delta  the operations since that snapshot. File header: ID = the same
//	         generation G, Base = 0. One frame per operation, one entry each:
//	         the key, tombstone set for Remove. FirstSeq numbers the
//	         operations 1, 2, 3, ... within the file.
//	N.snap.tmp, N.delta.tmp
//	         temporaries of a rewrite in progress; removed by Open.
//
// With no snapshot the generation is 0 and the snapshot is the empty set.
// The state is the snapshot with the delta applied in order, provided the
// delta's generation equals the snapshot's. A delta of an older generation
// is left over from a rewrite interrupted after the new snapshot was in
// place: the snapshot already contains all of its operations, so it is
// ignored and replaced. A delta of a newer generation than the snapshot (or
// a snapshot without a delta) means a file was lost, and Open reports
// corruption.
//
// # Rewrite
//
// When the delta holds more than max(2*Len, 1024) operations (or more than
// 1 GiB), the next Add or Remove writes a new snapshot of generation G+1:
// to N.snap.tmp, fdatasync, rename over N.snap, fsync the directory; then a
// fresh, empty delta of generation G+1 is created as N.delta.tmp (header
// synced), renamed over N.delta and the directory synced again. The first
// directory sync orders the two renames: the new delta can only become
// visible after the new snapshot is durable, so a crash at any point leaves
// either (old snapshot G, delta G) — the state before the rewrite, complete,
// since every operation is in that delta — or (new snapshot G+1, delta G),
// whose stale delta Open ignores, or (new snapshot G+1, empty delta G+1).
// All three describe exactly the same set. An old delta is never applied on
// top of a newer snapshot, and no operation is ever lost, because the
// snapshot is made from the in-memory set, which includes every operation
// written to the delta it replaces. The delta is replaced by rename rather
// than truncated in place so that its header, which carries the
// generation, is never half-written.
//
// Files therefore stay proportional to the live set, and each operation
// costs amortized O(1) I/O.
package keyset
