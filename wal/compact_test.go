package wal

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/vfs/vfstest"
)

// TestCompactKeepsTheOnlyLiveRecordOfASegment: a sealed segment whose
// records are all removed but one is rewritten with that record, not
// deleted as wholly removed; the record survives Compact and a reopen,
// and the removed ones are gone.
func TestCompactKeepsTheOnlyLiveRecordOfASegment(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Compression: CompressionNone, Logger: crashQuiet}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte{'v'}, 300)
	var liveSeq uint64
	for i := range 14 { // fills segment 1 (4 KiB), the live record among them
		key := fmt.Appendf(nil, "dead-%d", i)
		if i == 4 {
			key = []byte("live")
		}
		seq, err := l.Append(Batch{Records: []Record{{Key: key, Value: val}}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			liveSeq = seq
		}
	}
	for i := range 14 {
		if i == 4 {
			continue
		}
		if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "dead-%d", i), Tombstone: true}}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.segs) < 2 || liveSeq >= l.segs[1].base || l.segs[1].base <= 5 {
		t.Fatalf("want the live record and removed ones in a sealed first segment; have %d segments", len(l.segs))
	}
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	check := func(when string, l *Log) {
		t.Helper()
		var keys []string
		for e, err := range l.Entries(0) {
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			keys = append(keys, string(e.Key))
			if bytes.HasPrefix(e.Key, []byte("dead-")) {
				t.Fatalf("%s: removed record %s (seq %d) still read", when, e.Key, e.Seq)
			}
		}
		e, err := l.Get(liveSeq)
		if err != nil || string(e.Key) != "live" {
			t.Fatalf("%s: the only live record of its segment (seq %d): %q, %v; entries now %q", when, liveSeq, e.Key, err, keys)
		}
	}
	check("after Compact", l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	check("after reopen", l2)
}

// TestFailedCheckpointWriteLeavesCoverageUnchanged: what the log takes as
// covered by a durable checkpoint (the limit of what it may rewrite) is
// exactly what the checkpoint file on disk covers. A checkpoint whose
// write fails changes neither.
func TestFailedCheckpointWriteLeavesCoverageUnchanged(t *testing.T) {
	mem := crashFS(t)
	fs := &failingRenameFS{FS: mem, target: compactor.CheckpointName}
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Compression: CompressionNone, Logger: crashQuiet, Inline: true}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	onDisk := func() uint64 {
		t.Helper()
		cs, err := compactor.ReadCheckpoint(mem, crashDir)
		if err != nil {
			t.Fatal(err)
		}
		return cs.Through()
	}
	for i := range 20 { // a few sealed segments, each with its checkpoint
		if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "k%d", i%4), Value: bytes.Repeat([]byte{'v'}, 400)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(Batch{Records: []Record{{Key: []byte("k0"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	before := onDisk()
	if before == 0 || l.cptThrough != before {
		t.Fatalf("before: checkpoint on disk covers %d, the log takes %d as covered", before, l.cptThrough)
	}
	fs.armed = true
	if err := l.Compact(); err == nil {
		t.Fatal("Compact succeeded with its checkpoint failing")
	}
	if got := onDisk(); got != before || l.cptThrough != before {
		t.Fatalf("after a failed checkpoint write: on disk %d (was %d), the log takes %d as covered", got, before, l.cptThrough)
	}
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(); got <= before || l.cptThrough != got {
		t.Fatalf("after a successful Compact: on disk %d (was %d), the log takes %d as covered", got, before, l.cptThrough)
	}
}

// rvCompactSetup builds a log with sealed segments holding removed
// records, ready for Compact to rewrite them.
func rvCompactSetup(t *testing.T, fs *vfstest.FS, opts Options) *Log {
	t.Helper()
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := l.Append(Batch{Time: int64(i), Records: []Record{
			{Key: []byte("x"), Value: bytes.Repeat([]byte{'x'}, 80)},
			{Key: []byte("d"), Value: bytes.Repeat([]byte{'d'}, 80)},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(Batch{Time: 100, Records: []Record{{Key: []byte("d"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestCompactDoesNotPublishUnsyncedRemoval: while Compact waits for a sync,
// another Append applies a triggered compaction (k's tombstone) whose batch
// is not yet durable, and that batch's fsync then fails: readers of the
// live log still see k's record. It guards against Compact publishing the
// whole applied state, including removals held back until their batch is
// durable, once its own wait returns.
func TestCompactDoesNotPublishUnsyncedRemoval(t *testing.T) {
	fs := crashFS(t)
	l, err := Open(crashDir, Options{FS: fs, CompactionThreshold: 1, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(Batch{Records: []Record{{Key: []byte("k"), Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	locked := func(f func() bool) bool { l.mu.Lock(); defer l.mu.Unlock(); return f() }
	waitFor := func(what string, f func() bool) {
		for i := 0; !locked(f); i++ {
			if i > 2000 {
				t.Errorf("timeout waiting for %s", what)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	var compactErr, xErr error
	hooked := false
	fs.OnOp(func(op vfstest.Op, name string) {
		if hooked || op != vfstest.OpSync || !strings.HasSuffix(name, segSuffix) {
			return
		}
		hooked = true
		// The fsync of batch A is done; its syncer has not taken l.mu back.
		wg.Add(2)
		go func() { defer wg.Done(); compactErr = l.Compact() }()
		waitFor("Compact to wait for the sync", func() bool { return l.working })
		next := l.NextSeq()
		go func() {
			defer wg.Done()
			_, xErr = l.Append(Batch{Records: []Record{{Key: []byte("k"), Tombstone: true}}})
		}()
		waitFor("batch X to be written", func() bool { return l.nextSeq.Load() > next })
		fs.InjectError(vfstest.OpSync, 1, syscall.EIO) // X is never made durable
	})
	if _, err := l.Append(Batch{Records: []Record{{Key: []byte("a"), Value: []byte("a")}}}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	fs.OnOp(nil)
	if xErr == nil {
		t.Fatalf("setup: batch X was acknowledged (Compact err %v)", compactErr)
	}
	got, err := ccRead(l.Entries(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.key == "k" {
			return // k's record is still visible: correct
		}
	}
	t.Fatalf("readers see k removed by batch X, which failed and was never durable (X: %v; Compact: %v); visible: %+v", xErr, compactErr, got)
}
