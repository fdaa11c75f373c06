package wal

import (
	"sync/atomic"
	"time"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
)

// Metrics are an open Log's running figures, for monitoring: counters
// since Open and the state now. Reading them takes no lock and does no
// I/O, so they may be read at any rate, even while an append, a seal or a
// rewrite holds the log's lock through an fdatasync (see Log.Metrics).
// Stat describes a log directory from its files instead, open or not.
type Metrics struct {
	// Batches and Records are what Append (and AppendAt) wrote since
	// Open; BytesAppended the bytes their frames took in segment files
	// (frame headers included, after compression). Rewrites by compaction
	// and repacking are not counted.
	Batches       uint64
	Records       uint64
	BytesAppended uint64

	// Syncs is the number of fdatasyncs of segment data since Open: group
	// commits (Immediate), Sync calls that had something to write, and the
	// sync of a segment sealed at rotation or Close. SyncLast and SyncMax
	// are how long the latest and the longest took (0 before the first).
	Syncs    uint64
	SyncLast time.Duration
	SyncMax  time.Duration

	// Segments is the number of segment files, the active one included;
	// SegmentBytes their sizes: the sealed segments' plus the active
	// segment's file, which grows ahead of its data in steps of up to 16
	// MiB (given back when it is sealed). It is the figure Stat's
	// SegmentBytes reads from the directory; index files are not counted.
	Segments     int
	SegmentBytes int64

	// Compaction since Open. Compactions counts the passes (in the
	// background or by Compact) that rewrote or deleted at least one
	// sealed segment to drop removed records; CompactedSegments the
	// segments so rewritten or deleted, CompactedRecords the records they
	// dropped, CompactionReclaimed the bytes by which they shrank.
	Compactions         uint64
	CompactedSegments   uint64
	CompactedRecords    uint64
	CompactionReclaimed int64
	// RepackedSegments counts the sealed segments repacked since Open (see
	// Options.NoRepack), RepackReclaimed the bytes by which they shrank.
	RepackedSegments uint64
	RepackReclaimed  int64

	// NextSeq is the sequence number the next record will get. Readers see
	// the records below VisibleSeq; those below SyncedSeq are durable.
	// Under Eventual VisibleSeq is NextSeq (a record is visible once
	// written) and SyncedSeq trails it until the next Sync; under
	// Immediate a record becomes visible once durable, so VisibleSeq and
	// SyncedSeq trail NextSeq only while appends wait for their fdatasync.
	// After Open all three are one past the newest record recovered.
	NextSeq    uint64
	VisibleSeq uint64
	SyncedSeq  uint64
}

// metrics are the counters behind Metrics. Each is counted where the
// work is done, under l.mu like the state it describes, in atomics, so
// that Metrics reads them without the lock; the active segment's writers
// count their fdatasyncs in syncs themselves.
type metrics struct {
	batches, records, bytes atomic.Uint64
	syncs                   segment.SyncCounter
	// active is l.active, for the size of its file (setActive).
	active atomic.Pointer[segment.Writer]
	// segments is len(l.segs), sealedBytes the size of the sealed
	// segments (every one of segs but the last, the active one): set
	// wherever segs changes (setSegs), so Metrics needs no listing and no
	// walk of segs.
	segments, sealedBytes atomic.Int64
	compactions           atomic.Uint64
	compactedSegs         atomic.Uint64
	compactedRecords      atomic.Uint64
	compactReclaimed      atomic.Int64
	repackedSegs          atomic.Uint64
	repackReclaimed       atomic.Int64
}

// Metrics returns the log's running figures (see Metrics). It takes no
// lock: the figures are read one after the other, not as one snapshot,
// so while a segment is sealed or rewritten the segment figures may be
// off by that segment for the moment. Each counter only grows; SyncedSeq
// is read before NextSeq, so it is not past it unless TruncateBack ran
// meanwhile. It works after Close, returning the figures as Close left
// them.
func (l *Log) Metrics() Metrics {
	m := Metrics{
		SyncedSeq:           l.syncedSeq.Load(),
		VisibleSeq:          l.visibleSeq.Load(),
		NextSeq:             l.nextSeq.Load(),
		Batches:             l.m.batches.Load(),
		Records:             l.m.records.Load(),
		BytesAppended:       l.m.bytes.Load(),
		Segments:            int(l.m.segments.Load()),
		SegmentBytes:        l.m.sealedBytes.Load(),
		Compactions:         l.m.compactions.Load(),
		CompactedSegments:   l.m.compactedSegs.Load(),
		CompactedRecords:    l.m.compactedRecords.Load(),
		CompactionReclaimed: l.m.compactReclaimed.Load(),
		RepackedSegments:    l.m.repackedSegs.Load(),
		RepackReclaimed:     l.m.repackReclaimed.Load(),
	}
	if w := l.m.active.Load(); w != nil {
		m.SegmentBytes += w.Size()
	}
	syncs := l.m.syncs.Load()
	m.Syncs, m.SyncLast, m.SyncMax = uint64(syncs.Count), syncs.Last, syncs.Max
	return m
}

// VisibleSeq returns the sequence number below which readers see every
// record (Entries, Get): one past the newest record visible, 0 when none
// is. See Metrics.VisibleSeq. It takes no lock.
func (l *Log) VisibleSeq() uint64 { return l.visibleSeq.Load() }

// setSegs makes segs the log's segments (sealed ones, then the active
// one) and publishes their count and the sealed ones' size for Metrics.
// Called with l.mu held (or before l is shared).
func (l *Log) setSegs(segs []*seg) {
	l.segs = segs
	var sealed int64
	for i := 0; i+1 < len(segs); i++ {
		sealed += segs[i].size
	}
	l.m.segments.Store(int64(len(segs)))
	l.m.sealedBytes.Store(sealed)
}

// newSize is the size a rewrite with result res leaves its segment: 0
// when nothing survived and the file was deleted.
func newSize(res compactor.CopyResult) int64 {
	if res.Empty() {
		return 0
	}
	return res.Size
}

// countRewrite counts the rewrite of the sealed segment s to res, by a
// compaction (compact) or a repack. Called with l.mu held, as the
// rewrite's result is swapped in.
func (l *Log) countRewrite(s *seg, res compactor.CopyResult, compact bool) {
	reclaimed := s.size - newSize(res)
	if compact {
		l.m.compactedSegs.Add(1)
		l.m.compactedRecords.Add(res.Purged)
		l.m.compactReclaimed.Add(reclaimed)
	} else {
		l.m.repackedSegs.Add(1)
		l.m.repackReclaimed.Add(reclaimed)
	}
}
