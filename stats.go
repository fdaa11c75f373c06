package journal

import "time"

// Stats are an open Journal's running figures: counters since Open and
// the state now, as Journal.Stats returns them. Each figure is kept by the
// part of the engine that does the work (the log counts appends, syncs,
// segments and rewrites; the command ID set its IDs); Stats only gathers
// them.
type Stats struct {
	// Batches and Events are what Append and AppendBatch wrote since
	// Open; BytesWritten the bytes those batches took in segment files
	// (frame headers included, after compression). Rewrites by compaction
	// and repacking are not counted.
	Batches      uint64
	Events       uint64
	BytesWritten uint64

	// Syncs is the number of fdatasyncs of the event log since Open: group
	// commits under Immediate (concurrent appends share one), flushes
	// under Eventual (the background flusher, Sync) that had something
	// to write, and the sync of each segment sealed. SyncLast and SyncMax
	// are how long the latest and the longest took (0 before the first).
	// CommitsPerSync divides Batches by Syncs.
	Syncs    uint64
	SyncLast time.Duration
	SyncMax  time.Duration

	// Segments is the number of segment files, the active one included,
	// and SegmentBytes their total size: what `journal stats` lists as
	// segments, kept as a running figure (no directory listing). The
	// active segment's file grows ahead of its data in steps of up to 16
	// MiB, given back when it is sealed; index files (about 12 bytes per
	// stored frame) are not counted.
	Segments     int
	SegmentBytes int64

	// Compaction since Open. Compactions counts the passes (in the
	// background, or by Compact) that rewrote or deleted at least one
	// segment file to drop the events of removed routes; CompactedSegments
	// the files so rewritten or deleted, CompactedEvents the events
	// dropped from them, CompactionReclaimedBytes the bytes by which they
	// shrank.
	Compactions              uint64
	CompactedSegments        uint64
	CompactedEvents          uint64
	CompactionReclaimedBytes int64
	// RepackedSegments counts the sealed segments rewritten with small
	// batches packed together (see Options.NoRepack) since Open,
	// RepackReclaimedBytes the bytes by which they shrank.
	RepackedSegments     uint64
	RepackReclaimedBytes int64

	// CommandIDs is the number of live command IDs; CommandIDSyncs the
	// fdatasyncs of their file since Open (one per AppendCommandID or
	// RemoveCommandID under Immediate, unless concurrent calls share it).
	CommandIDs     int
	CommandIDSyncs uint64

	// NextSeq is NextSeq(). Every event with a sequence number below
	// SyncedSeq is durable: under Immediate, every acknowledged batch;
	// under Eventual, those the last flush covered (LastDurableSeq says
	// which event that is). At Open, everything recovered is durable.
	NextSeq   uint64
	SyncedSeq uint64
}

// CommitsPerSync is Batches divided by Syncs: under Immediate, how many
// appends an fdatasync covers on average (group commit); 0 before the
// first sync.
func (s Stats) CommitsPerSync() float64 {
	if s.Syncs == 0 {
		return 0
	}
	return float64(s.Batches) / float64(s.Syncs)
}

// LastDurableSeq is the sequence number of the newest durable event (one
// a power cut cannot take), and false when none is: SyncedSeq-1.
func (s Stats) LastDurableSeq() (seq uint64, ok bool) {
	if s.SyncedSeq == 0 {
		return 0, false
	}
	return s.SyncedSeq - 1, true
}

// Stats returns the journal's running figures. It does no I/O and takes
// no lock (the figures are atomics), so it costs well under a microsecond
// (BenchmarkStats), may be called as often as a dashboard likes and
// answers even while the disk holds an append, a segment seal or a
// rewrite in an fdatasync: that is when SyncLast and SyncMax matter. The
// figures are read one after the other, not as one snapshot: each
// counter only grows, but the segment figures may be off by the segment
// being sealed or rewritten at that moment. After Close it returns the
// figures Close left, with no command IDs.
//
// For a journal another process has open, `journal stats DIR` (wal.Stat)
// reads the same segment figures and more from the directory.
func (j *Journal) Stats() Stats {
	m := j.log.Metrics()
	return Stats{
		Batches:                  m.Batches,
		Events:                   m.Records,
		BytesWritten:             m.BytesAppended,
		Syncs:                    m.Syncs,
		SyncLast:                 m.SyncLast,
		SyncMax:                  m.SyncMax,
		Segments:                 m.Segments,
		SegmentBytes:             m.SegmentBytes,
		Compactions:              m.Compactions,
		CompactedSegments:        m.CompactedSegments,
		CompactedEvents:          m.CompactedRecords,
		CompactionReclaimedBytes: m.CompactionReclaimed,
		RepackedSegments:         m.RepackedSegments,
		RepackReclaimedBytes:     m.RepackReclaimed,
		CommandIDs:               j.cmds.Len(),
		CommandIDSyncs:           uint64(j.cmds.Syncs()),
		NextSeq:                  m.NextSeq,
		SyncedSeq:                m.SyncedSeq,
	}
}
