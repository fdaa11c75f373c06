package journal

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
	"github.com/seglog/journal/wal"
)

// Stats counts what the journal did: events and batches appended, the
// bytes they took, fsyncs (group commits under Immediate), command IDs,
// compaction's work, and the segment figures the directory shows.
func TestStats(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{SegmentSize: 4 << 10, NoRepack: true})
	defer j.Close()
	st := j.Stats()
	if st.Batches != 0 || st.Events != 0 || st.Syncs != 0 || st.Segments != 1 || st.NextSeq != 0 || st.CommandIDs != 0 || st.CommitsPerSync() != 0 {
		t.Errorf("new journal: %+v", st)
	}
	for i := range 60 {
		r := fmt.Sprintf("route-%02d", i)
		appendT(t, j, reg(r), start(r), failed(r, "a long enough error text to fill segments quickly"))
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		if err := j.AppendCommandID(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.RemoveCommandID("c2"); err != nil {
		t.Fatal(err)
	}
	st = j.Stats()
	if st.Batches != 60 || st.Events != 180 || st.NextSeq != 180 || st.SyncedSeq != 180 {
		t.Errorf("after 60 batches of 3: %d batches, %d events, next %d, synced %d", st.Batches, st.Events, st.NextSeq, st.SyncedSeq)
	}
	if last, ok := st.LastDurableSeq(); !ok || last != 179 {
		t.Errorf("LastDurableSeq %d, %v; want 179", last, ok)
	}
	// One appending goroutine under Immediate: an fdatasync per batch,
	// plus one per segment sealed.
	if st.Syncs < 60 || st.Syncs > 60+uint64(st.Segments) || st.SyncLast <= 0 || st.SyncMax < st.SyncLast {
		t.Errorf("syncs %d for 60 batches in %d segments; last %v, max %v", st.Syncs, st.Segments, st.SyncLast, st.SyncMax)
	}
	if c := st.CommitsPerSync(); c <= 0.5 || c > 1 {
		t.Errorf("commits per sync %.2f, want about 1 with one writer", c)
	}
	if st.CommandIDs != 2 || st.CommandIDSyncs != 4 {
		t.Errorf("command IDs %d (want 2), their syncs %d (want 4: one per operation under Immediate)", st.CommandIDs, st.CommandIDSyncs)
	}
	ws, err := wal.Stat(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Segments < 2 || st.Segments != ws.Segments || st.SegmentBytes != ws.SegmentBytes {
		t.Errorf("Stats: %d segments of %d bytes; the directory: %d of %d", st.Segments, st.SegmentBytes, ws.Segments, ws.SegmentBytes)
	}
	// Frames of 3 events: more than the events' bytes, less than 100 a
	// batch with its header.
	if st.BytesWritten < 60*3*8 || st.BytesWritten > 60*200 || st.BytesWritten > uint64(st.SegmentBytes) {
		t.Errorf("%d bytes written for 60 batches; segments hold %d", st.BytesWritten, st.SegmentBytes)
	}

	// Remove half the routes and compact.
	for i := 0; i < 60; i += 2 {
		appendT(t, j, remove(fmt.Sprintf("route-%02d", i)))
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	st = j.Stats()
	if st.Compactions != 1 || st.CompactedSegments == 0 || st.CompactedEvents == 0 || st.CompactionReclaimedBytes <= 0 {
		t.Errorf("after Compact: %d runs, %d segments, %d events dropped, %d bytes reclaimed", st.Compactions, st.CompactedSegments, st.CompactedEvents, st.CompactionReclaimedBytes)
	}
	if st.Batches != 90 || st.NextSeq != 210 {
		t.Errorf("after the removals: %d batches, next %d; want 90, 210", st.Batches, st.NextSeq)
	}
	if ws, err = wal.Stat(dir, nil); err != nil || st.Segments != ws.Segments || st.SegmentBytes != ws.SegmentBytes {
		t.Errorf("after Compact: Stats %d segments of %d bytes; the directory %d of %d (%v)", st.Segments, st.SegmentBytes, ws.Segments, ws.SegmentBytes, err)
	}
}

// Under Eventual the syncs are the flusher's: one per interval, covering
// many commits; SyncedSeq catches up with NextSeq at each.
func TestStatsEventual(t *testing.T) {
	fs := fxFS(t)
	j := openT(t, fxDir, Options{FS: fs, Durability: Eventual, FlushInterval: -1})
	defer j.Close()
	for i := range 100 {
		appendT(t, j, reg(fmt.Sprint(i)))
	}
	if st := j.Stats(); st.Syncs != 0 || st.SyncedSeq != 0 || st.NextSeq != 100 {
		t.Errorf("before a flush: syncs %d, synced %d, next %d", st.Syncs, st.SyncedSeq, st.NextSeq)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	st := j.Stats()
	if st.Syncs != 1 || st.SyncedSeq != 100 || st.CommitsPerSync() != 100 {
		t.Errorf("after Sync: syncs %d, synced %d, commits per sync %.1f; want 1, 100, 100", st.Syncs, st.SyncedSeq, st.CommitsPerSync())
	}
	if n := fs.Count(vfstest.OpSync); n == 0 {
		t.Error("no sync reached the filesystem")
	}
}

// Stats survives Close: the figures Close left, no command IDs.
func TestStatsAfterClose(t *testing.T) {
	j := openT(t, t.TempDir(), Options{})
	appendT(t, j, reg("a"))
	if err := j.AppendCommandID("c"); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Batches != 1 || st.NextSeq != 1 || st.CommandIDs != 0 || st.Segments != 1 {
		t.Errorf("after Close: %+v", st)
	}
}

// BenchmarkStats is the cost of one Stats call on a journal of many
// segments and command IDs; the target is at most 1 µs.
func BenchmarkStats(b *testing.B) {
	j, err := Open(b.TempDir(), Options{Durability: Eventual, FlushInterval: -1, SegmentSize: 4 << 10, NoRepack: true, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	for i := range 2000 {
		r := fmt.Sprintf("route-%04d", i)
		if err := j.AppendBatch([]Event{reg(r), start(r), failed(r, "an error text of some length")}); err != nil {
			b.Fatal(err)
		}
		if i%4 == 0 {
			if err := j.AppendCommandID(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	if st := j.Stats(); st.Segments < 40 {
		b.Fatalf("%d segments; want many", st.Segments)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = j.Stats()
	}
}

// BenchmarkStatsWhileAppending is Stats while another goroutine appends
// single events (Eventual) as fast as it can: Stats takes no lock, but
// the counters' cache lines move between the cores.
func BenchmarkStatsWhileAppending(b *testing.B) {
	j, err := Open(b.TempDir(), Options{Durability: Eventual, FlushInterval: -1, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ev := []Event{reg("busy-route")}
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := j.AppendBatch(ev); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		_ = j.Stats()
	}
	close(stop)
	<-done
}

// Stats may be called from any goroutine while appends rotate segments,
// compaction and repacking rewrite them and command IDs change (run with
// -race); its counters only grow.
func TestStatsConcurrent(t *testing.T) {
	j := openT(t, t.TempDir(), Options{Durability: Eventual, FlushInterval: MinFlushInterval, SegmentSize: 4 << 10, CompactionThresholdEvents: 200})
	defer j.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var prev Stats
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := j.Stats()
			if st.Batches < prev.Batches || st.Syncs < prev.Syncs || st.NextSeq < prev.NextSeq || st.SyncedSeq < prev.SyncedSeq || st.Compactions < prev.Compactions {
				t.Errorf("a figure went back: %+v after %+v", st, prev)
				return
			}
			if st.SyncedSeq > st.NextSeq {
				t.Errorf("synced %d beyond next %d", st.SyncedSeq, st.NextSeq)
				return
			}
			prev = st
		}
	}()
	for i := range 3000 {
		r := fmt.Sprintf("route-%d", i%50)
		ev := []Event{reg(r), start(r)}
		if i%7 == 0 {
			ev = append(ev, remove(r))
		}
		appendT(t, j, ev...)
		if i%100 == 0 {
			if err := j.AppendCommandID(r); err != nil {
				t.Fatal(err)
			}
		}
		if i == 1500 {
			if err := j.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	<-done
	if st := j.Stats(); st.Batches != 3000 || st.Compactions == 0 || st.Segments < 2 {
		t.Errorf("at the end: %d batches, %d compactions, %d segments", st.Batches, st.Compactions, st.Segments)
	}
}

// Stats, NextSeq and LastSeq take no lock: they answer while an append
// holds the log's lock through the fdatasync that seals a full segment,
// a disk being slow being when an operator wants them most.
func TestStatsAnswerDuringASealsSync(t *testing.T) {
	fs := fxFS(t)
	j := openT(t, fxDir, Options{FS: fs, Durability: Eventual, FlushInterval: -1, SegmentSize: 4 << 10, NoRepack: true})
	defer j.Close()
	inSync, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fs.DuringSync(func(name string) {
		if strings.HasSuffix(name, ".seg") { // no flusher: the first is a seal's
			once.Do(func() { close(inSync); <-release })
		}
	})
	appended := make(chan uint64)
	go func() {
		n := uint64(0)
		defer func() { appended <- n }()
		for st := j.Stats(); st.Segments < 2; st = j.Stats() {
			r := fmt.Sprintf("route-%d", n)
			if err := j.AppendBatch([]Event{reg(r), failed(r, "an error text to fill the segment")}); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	<-inSync
	got := make(chan Stats)
	go func() {
		j.NextSeq()
		j.LastSeq()
		got <- j.Stats()
	}()
	select {
	case st := <-got:
		if st.Syncs != 0 || st.SyncedSeq != 0 || st.NextSeq == 0 {
			t.Errorf("during the seal's sync: %d syncs, synced %d, next %d; want 0, 0, >0", st.Syncs, st.SyncedSeq, st.NextSeq)
		}
	case <-time.After(10 * time.Second):
		t.Error("Stats, NextSeq or LastSeq waited for the log's lock while a seal synced")
	}
	close(release)
	n := <-appended
	fs.DuringSync(nil)
	if st := j.Stats(); st.Syncs == 0 || st.SyncedSeq == 0 || st.Batches != n {
		t.Errorf("after the seal: %d syncs, synced %d, %d batches; want the seal's sync, %d batches", st.Syncs, st.SyncedSeq, st.Batches, n)
	}
}
