package wal

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// TestOpenOfClosedLogSyncsNothing: a log sealed by Close opens, and closes
// again when nothing was appended, without a single fsync or change to a
// file (a restart's latency; read-only uses of the log).
func TestOpenOfClosedLogSyncsNothing(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	crashAppend(t, l, 30, "a")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ops := []vfstest.Op{vfstest.OpSync, vfstest.OpSyncDir, vfstest.OpRemove, vfstest.OpTruncate, vfstest.OpWrite, vfstest.OpCreate, vfstest.OpRename}
	count := func() map[vfstest.Op]int {
		m := map[vfstest.Op]int{}
		for _, op := range ops {
			m[op] = fs.Count(op)
		}
		return m
	}
	before := count()
	l = crashOpen(t, fs, Immediate)
	if _, err := l.Get(5); err != nil {
		t.Fatal(err)
	}
	afterOpen := count()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	afterClose := count()
	for _, op := range ops {
		if got := afterOpen[op] - before[op]; got != 0 {
			t.Errorf("Open of a closed log did %d %v operations, want none", got, op)
		}
		if got := afterClose[op] - afterOpen[op]; got != 0 {
			t.Errorf("Close with nothing appended did %d %v operations, want none", got, op)
		}
	}
	// And the log is as it was: reopening finds every record.
	l = crashOpen(t, fs, Immediate)
	defer l.Close()
	if n := l.NextSeq(); n != 90 {
		t.Fatalf("after an untouched open and close, NextSeq %d, want 90", n)
	}
}

// TestCrashRotationAfterReopenKeepsIndexesTrue reopens a closed log, whose
// newest segment keeps the index file Close wrote, and appends through
// several rotations, taking a crash state after every file operation:
// every state opens (a stale index never outlives the segment's turn as
// the newest) and holds every acknowledged batch.
func TestCrashRotationAfterReopenKeepsIndexesTrue(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, Durability: Immediate, SegmentSize: MinSegmentSize, Logger: crashQuiet, Inline: true, Compression: CompressionNone}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	crashAppend(t, l, 5, "a")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(crashDir, opts); err != nil {
		t.Fatal(err)
	}
	if !indexExists(fs, crashDir, l.active.ID()) {
		t.Fatal("setup: the reopened newest segment has no index file from Close")
	}
	acked := l.NextSeq()
	states, failures := 0, 0
	fs.OnOp(func(op vfstest.Op, name string) {
		for r := -1; r < 2; r++ {
			var co vfstest.CrashOptions
			if r >= 0 {
				co.Rand = rand.New(rand.NewPCG(7, uint64(states)))
			}
			states++
			clone := fs.CrashClone(co)
			o := opts
			o.FS = clone
			l2, err := Open(crashDir, o)
			if err == nil {
				var n uint64
				for _, err = range l2.Entries(0) {
					if err != nil {
						break
					}
					n++
				}
				if err == nil && n < acked {
					err = fmt.Errorf("%d entries, want at least the %d acknowledged", n, acked)
				}
				l2.Close()
			}
			if err != nil {
				failures++
				if failures <= 3 {
					t.Errorf("crash state %d after %v %s: %v", states, op, name, err)
				}
			}
		}
	})
	for i := range 40 {
		var recs []Record
		for k := range 3 {
			recs = append(recs, Record{Key: fmt.Appendf(nil, "b-%d-%d", i, k), Value: make([]byte, 100)})
		}
		if _, err := l.Append(Batch{Records: recs}); err != nil {
			t.Fatal(err)
		}
		acked = l.NextSeq()
	}
	fs.OnOp(nil)
	if n := countSegments(t, fs); n < 3 {
		t.Fatalf("setup: %d segments after the appends, want rotations", n)
	}
	t.Logf("%d crash states", states)
	l.Close()
}

// TestOpenRemovesRewriteTempFiles: a crash while Compact rewrites a segment
// leaves the segment's temporary copy in the directory; after the next Open
// and Close no temporary file is left. It guards against temporary files
// that no Open removes, whose space stays lost until the same segment is
// rewritten again.
func TestOpenRemovesRewriteTempFiles(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Logger: crashQuiet}
	l := rvCompactSetup(t, fs, opts)
	var clone *vfstest.FS
	fs.OnOp(func(op vfstest.Op, name string) {
		if clone == nil && op == vfstest.OpSync && strings.HasSuffix(name, segSuffix+tmpSuffix) {
			fs.SyncDir(crashDir) // the temp file's entry reached the disk
			clone = fs.CrashClone(vfstest.CrashOptions{})
		}
	})
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	fs.OnOp(nil)
	l.Close()
	opts.FS = clone
	l2, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	names, _ := clone.List(crashDir)
	for _, n := range names {
		if strings.HasSuffix(n, tmpSuffix) {
			t.Fatalf("%s left in the log directory after Open and Close (all: %v)", n, names)
		}
	}
}
