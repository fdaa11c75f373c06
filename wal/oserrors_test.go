package wal_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
	"github.com/seglog/journal/wal"
)

// TestFailedSyncOnTheOSFileSystemIsStickyAndRecovered runs the log on the
// operating system's file system with an fdatasync failing (vfstest's
// ErrorFS in front of it): the append fails with ErrFailed and so does
// every later one; a reopen, without the injection, holds every
// acknowledged batch and the failed one whole or not at all.
func TestFailedSyncOnTheOSFileSystemIsStickyAndRecovered(t *testing.T) {
	dir := t.TempDir()
	efs := vfstest.WithErrors(vfs.Default())
	l, err := wal.Open(dir, wal.Options{FS: efs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, 0, 1, 2, 3)
	efs.InjectError(vfstest.OpSync, 1, syscall.EIO)
	rec := []wal.Record{{Key: []byte("k"), Value: []byte("lost or kept whole")}}
	if _, err := l.Append(wal.Batch{Records: rec}); !errors.Is(err, wal.ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("append with a failing fdatasync: %v; want ErrFailed wrapping EIO", err)
	}
	if _, err := l.Append(wal.Batch{Records: rec}); !errors.Is(err, wal.ErrFailed) {
		t.Fatalf("append after the failure: %v; want ErrFailed", err)
	}
	l.Close()

	l, err = wal.Open(dir, wal.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var n int
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != uint64(n) {
			t.Fatalf("entry %d has sequence %d", n, e.Seq)
		}
		n++
	}
	if n != 6 && n != 7 {
		t.Fatalf("reopened log holds %d entries; want the 6 acknowledged, and the failed batch whole or not at all", n)
	}
}
