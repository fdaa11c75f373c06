package wal_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
	"github.com/seglog/journal/wal"
	"github.com/seglog/journal/wal/internal/waltest"
)

var (
	quiet         = waltest.Quiet
	writeLog      = waltest.WriteLog
	appendBatches = waltest.AppendBatches
	repeat        = waltest.Repeat
)

func TestStat(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, repeat(100, 3)...)
	st, err := wal.Stat(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 300 || st.FirstSeq != 0 || st.LastSeq != 299 || st.NextSeq != 300 {
		t.Errorf("entries %d, seqs %d..%d, next %d; want 300, 0..299, 300", st.Entries, st.FirstSeq, st.LastSeq, st.NextSeq)
	}
	if st.Segments < 2 {
		t.Errorf("%d segments, want several (segment size %d)", st.Segments, wal.MinSegmentSize)
	}
	var segBytes, all int64
	var segs int
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, _ := e.Info()
		switch filepath.Ext(e.Name()) {
		case ".seg":
			segs++
			segBytes += fi.Size()
			all += fi.Size()
		case ".idx":
			all += fi.Size()
		}
	}
	if st.Segments != segs || st.SegmentBytes != segBytes || st.ApparentBytes != all {
		t.Errorf("segments %d (%d bytes), apparent %d; files say %d (%d bytes), %d", st.Segments, st.SegmentBytes, st.ApparentBytes, segs, segBytes, all)
	}
	if st.AllocatedBytes <= 0 {
		t.Errorf("allocated bytes %d on the OS filesystem", st.AllocatedBytes)
	}
	if got, want := st.ApparentBytesPerEntry(), float64(all)/300; got != want {
		t.Errorf("apparent bytes per entry %v, want %v", got, want)
	}
}

// Stat takes no lock: it works while the log is open and being appended to.
func TestStatWhileOpen(t *testing.T) {
	dir := t.TempDir()
	l, err := wal.Open(dir, wal.Options{SegmentSize: wal.MinSegmentSize, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendBatches(t, l, 0, 1, 2, 3)
	st, err := wal.Stat(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 6 || st.NextSeq != 6 {
		t.Errorf("entries %d, next %d; want 6, 6", st.Entries, st.NextSeq)
	}
	appendBatches(t, l, 1, 4)
	if st, err = wal.Stat(dir, nil); err != nil || st.Entries != 10 {
		t.Errorf("after another append: %d entries, %v; want 10", st.Entries, err)
	}
}

func TestStatNotALog(t *testing.T) {
	if _, err := wal.Stat(t.TempDir(), nil); !errors.Is(err, wal.ErrNotFound) {
		t.Errorf("empty dir: %v, want ErrNotFound", err)
	}
	if _, err := wal.Stat(filepath.Join(t.TempDir(), "missing"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v, want fs.ErrNotExist", err)
	}
}

// On a filesystem that does not report blocks, AllocatedBytes is -1.
func TestStatAllocatedUnknown(t *testing.T) {
	mem := vfstest.New()
	l, err := wal.Open("/log", wal.Options{FS: mem, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, 0, 2)
	l.Close()
	st, err := wal.Stat("/log", mem)
	if err != nil {
		t.Fatal(err)
	}
	if st.AllocatedBytes != -1 || st.AllocatedBytesPerEntry() != 0 || st.Entries != 2 {
		t.Errorf("allocated %d (per entry %v), entries %d; want -1 (0), 2", st.AllocatedBytes, st.AllocatedBytesPerEntry(), st.Entries)
	}
}

func appendKeyed(t *testing.T, l *wal.Log, key string, n int, tombstone bool) {
	t.Helper()
	var recs []wal.Record
	for i := range n {
		recs = append(recs, wal.Record{Key: []byte(key), Value: fmt.Appendf(nil, "v%d", i), Tombstone: tombstone && i == n-1})
	}
	if _, err := l.Append(wal.Batch{Time: 1764190000000, Records: recs}); err != nil {
		t.Fatal(err)
	}
}

func statOK(t *testing.T, dir string) wal.Stats {
	t.Helper()
	st, err := wal.Stat(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Entries counts live entries only; the compaction figures follow pending
// tombstones, applied removals still on disk and the checkpoint.
func TestStatCompaction(t *testing.T) {
	dir := t.TempDir()
	// A high threshold: tombstones stay pending until Compact.
	l, err := wal.Open(dir, wal.Options{CompactionThreshold: 1000, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendKeyed(t, l, "a", 3, false)
	appendKeyed(t, l, "b", 2, false)
	appendKeyed(t, l, "a", 2, true) // removes a's 5 entries once applied
	appendKeyed(t, l, "a", 1, false)
	st := statOK(t, dir)
	if st.Entries != 8 || st.PendingRemovable != 5 || st.DeadOnDisk != 0 || st.Removable() != 5 {
		t.Errorf("before compaction: entries %d, pending %d, dead on disk %d, removable %d; want 8, 5, 0, 5",
			st.Entries, st.PendingRemovable, st.DeadOnDisk, st.Removable())
	}
	if !st.LastCheckpoint.IsZero() {
		t.Errorf("checkpoint time %v before any checkpoint", st.LastCheckpoint)
	}
	start := time.Now().Add(-time.Second) // filesystem timestamps are coarse
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	st = statOK(t, dir)
	if st.Entries != 3 || st.FirstSeq != 3 || st.LastSeq != 7 || st.NextSeq != 8 || st.Removable() != 0 {
		t.Errorf("after Compact: entries %d (seqs %d..%d, next %d), removable %d; want 3 (3..7, 8), 0",
			st.Entries, st.FirstSeq, st.LastSeq, st.NextSeq, st.Removable())
	}
	if st.LastCheckpoint.Before(start) || st.LastCheckpoint.After(time.Now().Add(time.Second)) {
		t.Errorf("checkpoint time %v, want about now", st.LastCheckpoint)
	}
	if got, want := st.ApparentBytesPerEntry(), float64(st.ApparentBytes)/3; got != want {
		t.Errorf("apparent bytes per entry %v, want %v (per live entry)", got, want)
	}
}

// A removal applied by an append (threshold reached) hides the entries at
// once; their records stay on disk in the active segment.
func TestStatDeadOnDisk(t *testing.T) {
	dir := t.TempDir()
	l, err := wal.Open(dir, wal.Options{CompactionThreshold: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendKeyed(t, l, "a", 3, false)
	appendKeyed(t, l, "b", 2, false)
	appendKeyed(t, l, "a", 1, true)
	st := statOK(t, dir)
	if st.Entries != 2 || st.PendingRemovable != 0 || st.DeadOnDisk != 4 || st.Removable() != 4 {
		t.Errorf("entries %d, pending %d, dead on disk %d; want 2, 0, 4", st.Entries, st.PendingRemovable, st.DeadOnDisk)
	}
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	if st := statOK(t, dir); st.Entries != 2 || st.DeadOnDisk != 0 {
		t.Errorf("after Compact: entries %d, dead on disk %d; want 2, 0", st.Entries, st.DeadOnDisk)
	}
}
