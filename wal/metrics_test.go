package wal

import (
	"fmt"
	"testing"

	"github.com/seglog/journal/segment"
)

// metricsAgree checks the running figures of l against the files: the
// segment count and sizes Stat lists from the directory (which is what
// Metrics promises to match without listing it), and the published count
// and size of the sealed segments against a walk of l.segs (a change of
// segs that bypassed setSegs).
func metricsAgree(t *testing.T, l *Log, when string) Metrics {
	t.Helper()
	m := l.Metrics()
	st, err := Stat(l.dir, nil)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if m.Segments != st.Segments || m.SegmentBytes != st.SegmentBytes {
		t.Errorf("%s: Metrics says %d segments of %d bytes, the directory %d of %d", when, m.Segments, m.SegmentBytes, st.Segments, st.SegmentBytes)
	}
	l.mu.Lock()
	var walked int64
	for _, sg := range l.segs[:max(len(l.segs)-1, 0)] {
		walked += sg.size
	}
	published, count := l.m.sealedBytes.Load(), int(l.m.segments.Load())
	segs := len(l.segs)
	l.mu.Unlock()
	if published != walked || count != segs {
		t.Errorf("%s: published %d segments, sealed ones of %d bytes; l.segs holds %d, sealed ones of %d", when, count, published, segs, walked)
	}
	if m.NextSeq != st.NextSeq {
		t.Errorf("%s: NextSeq %d, Stat %d", when, m.NextSeq, st.NextSeq)
	}
	return m
}

func metricRecords(tag string, n, size int, tomb bool) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Key: fmt.Appendf(nil, "%s-%d", tag, i), Value: make([]byte, size), Tombstone: tomb}
	}
	return recs
}

// Appends, rotations, compaction, repacking, truncation at both ends and
// Close keep Metrics' segment figures equal to the directory's, and the
// counters count what happened.
func TestMetricsFollowTheFiles(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Compression: CompressionNone, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := metricsAgree(t, l, "empty")
	if m.Batches != 0 || m.Records != 0 || m.BytesAppended != 0 || m.Segments != 1 || m.NextSeq != 0 {
		t.Errorf("empty log: %+v", m)
	}

	// Batches of big records: several segments.
	var frames int64
	for i := range 40 {
		if _, err := l.Append(Batch{Records: metricRecords(fmt.Sprint("big", i), 3, 100, false)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sg := range l.segs {
		frames += int64(l.idx.FrameCounts()[sg.id])
	}
	m = metricsAgree(t, l, "after rotations")
	if m.Batches != 40 || m.Records != 120 || m.NextSeq != 120 || m.VisibleSeq != 120 || m.SyncedSeq != 120 {
		t.Errorf("after 40 batches of 3: %d batches, %d records, next %d, visible %d, synced %d", m.Batches, m.Records, m.NextSeq, m.VisibleSeq, m.SyncedSeq)
	}
	if m.Segments < 3 {
		t.Fatalf("%d segments; want several", m.Segments)
	}
	// Every frame appended is in a segment, after its file header.
	var data int64
	for _, sg := range l.segs[:len(l.segs)-1] {
		data += sg.size - segment.FileHeaderSize
	}
	data += l.active.Offset() - segment.FileHeaderSize
	if int64(m.BytesAppended) != data || frames != 40 {
		t.Errorf("%d bytes appended in %d frames; the segments hold %d bytes of frames", m.BytesAppended, frames, data)
	}
	// Immediate: a sync per append (group commit of one), and one for
	// each segment sealed, whose syncs outlive its writer.
	if m.Syncs < 40 || m.SyncMax < m.SyncLast || m.SyncLast <= 0 {
		t.Errorf("syncs %d (want at least 40), last %v, max %v", m.Syncs, m.SyncLast, m.SyncMax)
	}

	// Remove most: compaction rewrites or deletes the sealed segments.
	for i := range 35 {
		if _, err := l.Append(Batch{Records: metricRecords(fmt.Sprint("big", i), 3, 0, true)}); err != nil {
			t.Fatal(err)
		}
	}
	before := metricsAgree(t, l, "before Compact")
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	m = metricsAgree(t, l, "after Compact")
	if m.Compactions != 1 || m.CompactedSegments == 0 || m.CompactedRecords == 0 || m.CompactionReclaimed <= 0 {
		t.Errorf("after Compact: %d compactions, %d segments, %d records, %d bytes reclaimed", m.Compactions, m.CompactedSegments, m.CompactedRecords, m.CompactionReclaimed)
	}
	if m.SegmentBytes >= before.SegmentBytes {
		t.Errorf("segments %d bytes after Compact, %d before", m.SegmentBytes, before.SegmentBytes)
	}

	// Small batches, then a repack of the sealed segments they filled.
	for i := range 600 {
		if _, err := l.Append(Batch{Records: metricRecords(fmt.Sprint("small", i), 1, 2, false)}); err != nil {
			t.Fatal(err)
		}
	}
	l.WaitCompaction()
	l.repackNow(t)
	m = metricsAgree(t, l, "after repack")
	if m.RepackedSegments == 0 || m.RepackReclaimed <= 0 {
		t.Errorf("after a repack: %d segments repacked, %d bytes reclaimed", m.RepackedSegments, m.RepackReclaimed)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	metricsAgree(t, l, "after Close")

	// Truncation needs compaction off.
	l, err = Open(dir, Options{SegmentSize: MinSegmentSize, Compression: CompressionNone, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m = metricsAgree(t, l, "reopened")
	if m.Batches != 0 || m.Syncs != 0 || m.Compactions != 0 || m.NextSeq != m.SyncedSeq {
		t.Errorf("reopened: counters start again: %+v", m)
	}
	if err := l.TruncateFront(m.NextSeq - 100); err != nil {
		t.Fatal(err)
	}
	metricsAgree(t, l, "after TruncateFront")
	if err := l.TruncateBack(m.NextSeq - 50); err != nil {
		t.Fatal(err)
	}
	m = metricsAgree(t, l, "after TruncateBack")
	if m.NextSeq != m.VisibleSeq || m.NextSeq == 0 {
		t.Errorf("after TruncateBack: next %d, visible %d", m.NextSeq, m.VisibleSeq)
	}
	syncs := m.Syncs
	if _, err := l.Append(Batch{Records: metricRecords("last", 1, 2, false)}); err != nil {
		t.Fatal(err)
	}
	if m = metricsAgree(t, l, "after an append"); m.Syncs <= syncs {
		t.Errorf("an Immediate append after a truncation: syncs %d, %d before; the new writer's are counted", m.Syncs, syncs)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	metricsAgree(t, l, "after Close")
}

// Under Eventual nothing is synced until Sync; a Sync with nothing new
// runs no fdatasync; VisibleSeq runs ahead of SyncedSeq meanwhile.
func TestMetricsEventual(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Eventual, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 10 {
		if _, err := l.Append(Batch{Records: metricRecords(fmt.Sprint(i), 2, 10, false)}); err != nil {
			t.Fatal(err)
		}
	}
	m := l.Metrics()
	if m.Syncs != 0 || m.NextSeq != 20 || m.VisibleSeq != 20 || m.SyncedSeq != 0 || m.SyncLast != 0 {
		t.Errorf("after Eventual appends: syncs %d, next %d, visible %d, synced %d, last sync %v", m.Syncs, m.NextSeq, m.VisibleSeq, m.SyncedSeq, m.SyncLast)
	}
	for range 2 {
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	m = l.Metrics()
	if m.Syncs != 1 || m.SyncedSeq != 20 || m.SyncLast <= 0 || m.SyncMax != m.SyncLast {
		t.Errorf("after two Syncs: syncs %d (want 1), synced %d, last %v, max %v", m.Syncs, m.SyncedSeq, m.SyncLast, m.SyncMax)
	}
	if got := l.VisibleSeq(); got != 20 {
		t.Errorf("VisibleSeq %d, want 20", got)
	}
}

// Metrics is cheap: loads of atomics, whatever the segment count.
func BenchmarkMetrics(b *testing.B) {
	l, err := Open(b.TempDir(), Options{SegmentSize: MinSegmentSize, Durability: Eventual, Logger: crashQuiet, NoRepack: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for i := range 500 {
		if _, err := l.Append(Batch{Records: metricRecords(fmt.Sprint(i), 4, 100, false)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Metrics()
	}
}
