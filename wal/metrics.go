package wal

import (
	"time"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
)

// Metrics are an open Log's running figures, for monitoring: counters
// since Open and the state now. Reading them takes the log's lock once
// and does no I/O, so they may be read every second (see Log.Metrics).
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

// metrics are the counters behind Metrics that the log keeps itself; the
// active segment's writer counts its own syncs. Under Log.mu.
type metrics struct {
	batches, records, bytes uint64
	// syncs sums up the writers before the active one (see setActive).
	syncs segment.SyncStats
	// sealedBytes is the size of the sealed segments (every one of segs
	// but the last, the active one): updated wherever segs changes, so
	// Metrics needs no listing and no walk of segs.
	sealedBytes      int64
	compactions      uint64
	compactedSegs    uint64
	compactedRecords uint64
	compactReclaimed int64
	repackedSegs     uint64
	repackReclaimed  int64
}

// Metrics returns the log's running figures (see Metrics). It takes the
// log's lock once, for a moment (appends hold it only while they write a
// frame, not while they sync), and works after Close, returning the
// figures as Close left them.
func (l *Log) Metrics() Metrics {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := Metrics{
		Batches:             l.m.batches,
		Records:             l.m.records,
		BytesAppended:       l.m.bytes,
		Segments:            len(l.segs),
		SegmentBytes:        l.m.sealedBytes,
		Compactions:         l.m.compactions,
		CompactedSegments:   l.m.compactedSegs,
		CompactedRecords:    l.m.compactedRecords,
		CompactionReclaimed: l.m.compactReclaimed,
		RepackedSegments:    l.m.repackedSegs,
		RepackReclaimed:     l.m.repackReclaimed,
		NextSeq:             l.nextSeq,
		VisibleSeq:          l.visibleSeq,
		SyncedSeq:           l.syncedSeq,
	}
	syncs := l.m.syncs
	if l.active != nil {
		syncs.Add(l.active.SyncStats())
		m.SegmentBytes += l.active.Size()
	}
	m.Syncs, m.SyncLast, m.SyncMax = uint64(syncs.Count), syncs.Last, syncs.Max
	return m
}

// VisibleSeq returns the sequence number below which readers see every
// record (Entries, Get): one past the newest record visible, 0 when none
// is. See Metrics.VisibleSeq.
func (l *Log) VisibleSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.visibleSeq
}

// setActive makes w the active segment's writer (nil: none, during a
// truncation), first adding the syncs of the one it replaces to the
// log's. Called with l.mu held (or before l is shared).
func (l *Log) setActive(w *segment.Writer) {
	if l.active != nil && l.active != w {
		l.m.syncs.Add(l.active.SyncStats())
	}
	l.active = w
}

// sealedSize is the size of the sealed segments of segs: all but the last.
func sealedSize(segs []*seg) int64 {
	var n int64
	for i := 0; i+1 < len(segs); i++ {
		n += segs[i].size
	}
	return n
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
		l.m.compactedSegs++
		l.m.compactedRecords += res.Purged
		l.m.compactReclaimed += reclaimed
	} else {
		l.m.repackedSegs++
		l.m.repackReclaimed += reclaimed
	}
}
