// Package segment defines one segment file of the log: its on-disk format,
// a writer that appends frames to it, and readers that scan it and tell a
// torn tail (a write in flight at a crash) from real damage.
//
// It owns the file's bytes. Encoder is the one place records become a
// frame (entry encoding, prefix keys, compression, checksum); Writer is the
// one place a frame header is written, and it owns the file's durability:
// group commit (Sync), the sticky failure after a failed write or
// fdatasync, sealing, and recovery of the newest file's tail (Recover).
// The write-ahead log, the compactor's copies and the command-ID set all
// write through them.
//
// # File layout
//
// A segment starts with a 32-byte file header:
//
//	0  magic     [8]byte  "SEGLOG\x00\x01"
//	8  version   uint16   1
//	10 flags     uint16   FileCompacted, FileTracked
//	12 crc       uint32   CRC-32C of the header with this field zeroed
//	16 id        uint64   segment number
//	24 base      uint64   next sequence number when the segment was created,
//	                      so the sequence survives removal of every entry
//
// followed by frames, back to back. A frame holds one atomically appended
// batch of entries (or, with FlagTimed, the entries of several batches a
// rewrite packed together) and starts with a 40-byte header:
//
//	0  hcrc      uint32   CRC-32C of header bytes [4,40): a damaged length is
//	                      detected here, never mistaken for the end of the log
//	4  length    uint32   payload length in bytes
//	8  pcrc      uint32   CRC-32C of the payload
//	12 synced    uint32   offset in this segment up to which data was durable
//	                      when the frame was written (see Scan)
//	16 first     uint64   sequence number of the first entry
//	24 time      int64    batch timestamp, Unix milliseconds (with FlagTimed,
//	                      the first entry's)
//	32 count     uint32   number of entries (at least 1)
//	36 codec     uint8    payload encoding: CodecNone, CodecS2, CodecZstd
//	                      (a compressed payload is described in codec.go)
//	37 flags     uint8    FlagSparse, FlagCompact, FlagPrefix, FlagTimed
//	38 reserved  uint16   zero
//
// All integers are little-endian. The payload is the entries, each:
//
//	[uvarint time]         only with FlagTimed: the entry's timestamp as a
//	                       zigzag delta from the previous entry's (from the
//	                       header's time for the first entry)
//	[uvarint delta]        only with FlagSparse, not for the first entry:
//	                       seq = previous seq + 1 + delta
//	[uvarint shared]       only with FlagPrefix: how many leading bytes the
//	                       key shares with the previous entry's key in the
//	                       frame (0 for the first entry)
//	uvarint keyLen<<1 | tombstone
//	key   [keyLen]byte     with FlagPrefix only the key's bytes after the
//	                       shared ones
//	uvarint valueLen
//	value [valueLen]byte
//
// Without FlagSparse the entries' sequence numbers are first, first+1, ...
// Without FlagTimed every entry has the header's time.
// With FlagPrefix the whole key is the previous key's first shared bytes
// followed by the stored bytes (LevelDB-style prefix compression: keys of a
// batch repeat their route prefix); a shared count longer than the previous
// key is corrupt, and the keys of one frame add up to at most
// MaxFrameKeyBytes, which bounds what a reader rebuilds. The flags combine
// freely, and frames with and without FlagPrefix may follow each other in
// one segment.
//
// With a codec other than CodecNone the payload holds those entries
// compressed; length and pcrc describe the stored (compressed) bytes.
//
// After the last frame the file holds zeros (preallocated space) or ends. A
// frame header that is all zeros marks the end of the written data.
package segment
