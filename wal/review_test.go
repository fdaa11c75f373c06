package wal

// Review tests: each reproduces one bug found in review and is skipped so
// the suite stays green. Remove the t.Skip to see it fail.

import (
	"bytes"
	"fmt"
	"github.com/seglog/journal/vfs"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
)

func rvRecs(key string, n, size int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Key: []byte(key), Value: bytes.Repeat([]byte{key[0]}, size)}
	}
	return recs
}

func rvKeys(t *testing.T, l *Log) map[string]int {
	t.Helper()
	got, err := ccRead(l.Entries(0))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, r := range got {
		m[r.key]++
	}
	return m
}

// After a crash, recover sets cptThrough to the replayed state's Through,
// which buildState raised to ld.nextSeq (log.go recover: `l.cptThrough =
// cs.Through()`), although the checkpoint on disk only covers an older
// sequence number. candidate() then treats sealed segments that the
// durable checkpoint does NOT cover as covered and rewrites (or deletes)
// them. A rewritten segment has lost its tombstones and its FlagCompact
// frames, so after another crash before the next checkpoint the replay
// from the old checkpoint no longer applies the removal: entries of the
// removed key that live in a segment that was not rewritten come back.
func TestReviewRecoveredCheckpointCoverageIsOverstated(t *testing.T) {
	fs := crashFS(t)
	// Uncompressed: the segment layout below counts encoded bytes.
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 5, Logger: crashQuiet, Inline: true, Compression: CompressionNone}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Segment 1: two "a" records and many live "b" records (not worth a rewrite).
	if _, err := l.Append(Batch{Time: 1, Records: append(rvRecs("a", 2, 100), rvRecs("b", 25, 100)...)}); err != nil {
		t.Fatal(err)
	}
	// Segment 2: more "a" records and a's tombstone; the batch applies
	// compaction (live >= 5), so segment 2 is wholly dead.
	recs := append(rvRecs("a", 20, 100), Record{Key: []byte("a"), Tombstone: true})
	if _, err := l.Append(Batch{Time: 2, Records: recs}); err != nil {
		t.Fatal(err)
	}
	if l.active.ID() != 2 {
		t.Fatalf("setup: active segment %d, want 2", l.active.ID())
	}
	// Rotating to segment 3: crash once segment 3 is durably created,
	// before segment 2's index and checkpoint are written.
	var clone *vfstest.FS
	created := false
	fs.OnOp(func(op vfstest.Op, name string) {
		if op == vfstest.OpCreate && strings.HasSuffix(name, fmt.Sprintf("%020d%s", 3, segSuffix)) {
			created = true
		}
		if created && clone == nil && op == vfstest.OpSyncDir {
			clone = fs.CrashClone(vfstest.CrashOptions{})
		}
	})
	if _, err := l.Append(Batch{Time: 3, Records: rvRecs("b", 1, 3000)}); err != nil {
		t.Fatal(err)
	}
	fs.OnOp(nil)
	l.Close()
	if clone == nil {
		t.Fatal("setup: no crash state taken")
	}

	// Session 2 on the crash state: a triggered compaction (no rotation)
	// kicks the rewriter, which deletes segment 2 although the durable
	// checkpoint only covers segment 1. Crash before the pass's checkpoint.
	opts.FS = clone
	l2, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := rvKeys(t, l2)["a"]; n != 0 {
		t.Fatalf("setup: %d a records visible after first reopen", n)
	}
	var clone2 *vfstest.FS
	clone.OnOp(func(op vfstest.Op, name string) {
		if clone2 == nil && op == vfstest.OpCreate && strings.HasSuffix(name, ".cpt.tmp") {
			clone2 = clone.CrashClone(vfstest.CrashOptions{})
		}
	})
	if _, err := l2.Append(Batch{Time: 4, Records: []Record{{Key: []byte("c"), Value: []byte("c")}, {Key: []byte("c"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	clone.OnOp(nil)
	l2.Close()
	if clone2 == nil {
		// The segment sealed after the checkpoint is not rewritten until a
		// checkpoint covers it: no rewrite, nothing to crash in.
		clone2 = clone.CrashClone(vfstest.CrashOptions{})
	}
	opts.FS = clone2
	l3, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if n := rvKeys(t, l3)["a"]; n != 0 {
		t.Fatalf("%d records of the removed key \"a\" came back after a crash following a post-recovery rewrite", n)
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

// Close waits for appends in progress (l.syncing) and for the background
// worker (l.bg), but not for a Compact running in the caller's goroutine
// (l.rewriting). Compact's rewriteSegment does its file work without
// l.mu, so it goes on renaming the segment, removing and writing the index
// after Close has closed every file and released the directory lock; a
// new Open of the directory can then run beside it (its removeTemps can
// delete the old Compact's index temp file, its load can read a segment
// mid-replacement). log.go Close / compact.go Compact.
func TestReviewCloseDoesNotWaitForCompact(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Logger: crashQuiet}
	l := rvCompactSetup(t, fs, opts)

	var mu sync.Mutex
	closeReturned := false
	var afterClose []string
	hooked := false
	fs.OnOp(func(op vfstest.Op, name string) {
		mu.Lock()
		if closeReturned {
			afterClose = append(afterClose, op.String()+" "+name)
		}
		first := !hooked && op == vfstest.OpSync && strings.HasSuffix(name, segSuffix+tmpSuffix)
		if first {
			hooked = true
		}
		mu.Unlock()
		if !first {
			return
		}
		// Compact has copied the first segment to its temp file; Close now.
		done := make(chan error, 1)
		go func() { done <- l.Close() }()
		select {
		case <-done:
			mu.Lock()
			closeReturned = true
			mu.Unlock()
		case <-time.After(500 * time.Millisecond):
			// Close waits for Compact: correct behaviour.
		}
	})
	cerr := l.Compact()
	fs.OnOp(nil)
	if !hooked {
		t.Fatal("setup: Compact rewrote nothing")
	}
	mu.Lock()
	defer mu.Unlock()
	if closeReturned {
		t.Fatalf("Close returned while Compact was rewriting a segment; Compact (err %v) then did %d file operations in the unlocked directory: %v", cerr, len(afterClose), afterClose)
	}
}

// rvStatHookFS calls onStat before a Stat of a name with the given suffix.
type rvStatHookFS struct {
	*vfstest.FS
	suffix string
	onStat func()
}

func (f *rvStatHookFS) Stat(name string) (os.FileInfo, error) {
	if strings.HasSuffix(name, f.suffix) && f.onStat != nil {
		f.onStat()
		f.onStat = nil
	}
	return f.FS.Stat(name)
}

// load (used lock-free by OpenView / OpenCompactedView / Inspect on a live
// log) calls ReadIndexFile, scans the segment when there is no index, and
// only then asks indexExists: if the writer's background seal finished the
// index in between (the window is a whole segment scan), a sealed segment
// whose index matches it exactly is reported as ErrCorrupt ("sealed
// segment's size does not match its index"), and OpenCompactedView does
// not retry. load.go, `if !last && indexExists(...)`. The same happens when
// a rewrite replaces a segment and its index under the view.
func TestReviewViewSeesIndexAppearAsCorruption(t *testing.T) {
	fs := crashFS(t)
	release := make(chan struct{})
	blocked := make(chan struct{})
	var once sync.Once
	fs.OnOp(func(op vfstest.Op, name string) {
		if op == vfstest.OpCreate && strings.HasSuffix(name, fmt.Sprintf("%020d%s%s", 1, idxSuffix, tmpSuffix)) {
			once.Do(func() { close(blocked); <-release })
		}
	})
	l, err := Open(crashDir, Options{FS: fs, SegmentSize: MinSegmentSize, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; l.active.ID() < 2; i++ {
		if _, err := l.Append(Batch{Time: int64(i), Records: rvRecs("k", 1, 500)}); err != nil {
			t.Fatal(err)
		}
	}
	<-blocked // the background is writing segment 1's index; the view starts now
	hfs := &rvStatHookFS{FS: fs, suffix: fmt.Sprintf("%020d%s", 1, idxSuffix), onStat: func() {
		close(release)
		l.WaitCompaction() // the background finished: the index is in place
	}}
	v, err := OpenView(crashDir, hfs)
	if hfs.onStat != nil {
		close(release) // the window was not reached; do not leave the background blocked
	}
	if err != nil {
		t.Fatalf("view of a healthy live log: %v", err)
	}
	v.Close()
}

// rvMapFS wraps the OS filesystem, counts live memory maps and can fail
// every fsync.
type rvMapFS struct {
	vfs.FS
	mu       sync.Mutex
	live     int
	failSync bool
}

type rvMapFile struct {
	vfs.File
	fs *rvMapFS
}

func (f *rvMapFS) wrap(file vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &rvMapFile{File: file, fs: f}, nil
}
func (f *rvMapFS) Create(name string) (vfs.File, error) { return f.wrap(f.FS.Create(name)) }
func (f *rvMapFS) OpenReadWrite(name string) (vfs.File, error) {
	return f.wrap(f.FS.OpenReadWrite(name))
}

func (f *rvMapFile) Sync() error {
	f.fs.mu.Lock()
	fail := f.fs.failSync
	f.fs.mu.Unlock()
	if fail {
		return syscall.EIO
	}
	return f.File.Sync()
}

func (f *rvMapFile) Map(length int64) ([]byte, error) {
	m, err := f.File.(vfs.Mapper).Map(length)
	if err == nil {
		f.fs.mu.Lock()
		f.fs.live++
		f.fs.mu.Unlock()
	}
	return m, err
}

func (f *rvMapFile) Unmap(m []byte) error {
	f.fs.mu.Lock()
	f.fs.live--
	f.fs.mu.Unlock()
	return f.File.(vfs.Mapper).Unmap(m)
}

// Log.Close unmaps the active segment only through seal(); when the log
// has failed (l.failed != nil), or when writing a queued seal job or the
// seal itself fails before Writer.Unmap, Close closes the file and leaves
// the shared mapping (SegmentSize bytes, 64 MiB by default) mapped for the
// life of the process. log.go Close. The same leak on Open's error paths:
// recover's badLast branch returns createSegment's error without closing
// the other segments' files.
func TestReviewCloseAfterFailureLeaksMapping(t *testing.T) {
	fs := &rvMapFS{FS: vfs.Default()}
	l, err := Open(t.TempDir(), Options{FS: fs, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Batch{Records: rvRecs("k", 1, 10)}); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	if fs.live != 1 {
		fs.mu.Unlock()
		t.Skipf("setup: %d live mappings (mmap unsupported here?)", fs.live)
	}
	fs.failSync = true
	fs.mu.Unlock()
	if _, err := l.Append(Batch{Records: rvRecs("k", 1, 10)}); err == nil {
		t.Fatal("setup: append did not fail")
	}
	l.Close()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.live != 0 {
		t.Fatalf("%d memory mapping(s) still live after Close of a failed log", fs.live)
	}
}

// Compact publishes the whole applied state to readers once its own
// waitSynced returns (compact.go: `l.deadQ = nil; l.dead = l.cs.Dead()`).
// waitSynced released l.mu while another Append applied a triggered
// compaction whose batch is not synced yet; under Immediate that removal
// sits in deadQ until its batch is durable, but Compact drops the queue and
// makes it visible at once. Here that batch's fsync then fails: the batch
// is never acknowledged and a power cut drops it, yet readers of the live
// log already see its removal (without its tombstone, which is beyond
// visibleSeq).
func TestReviewCompactPublishesUnsyncedRemoval(t *testing.T) {
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
		waitFor("Compact to wait for the sync", func() bool { return l.rewriting })
		next := l.NextSeq()
		go func() {
			defer wg.Done()
			_, xErr = l.Append(Batch{Records: []Record{{Key: []byte("k"), Tombstone: true}}})
		}()
		waitFor("batch X to be written", func() bool { return l.nextSeq > next })
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

// removeTemps deletes only "*.idx.tmp". A crash during a rewrite leaves
// "<seg>.seg.tmp" (up to a whole segment) and one during a checkpoint
// write "compaction.cpt.tmp"; no Open ever removes them, so the space is
// lost until the same segment happens to be rewritten again. log.go
// removeTemps.
func TestReviewOpenLeavesRewriteTempFiles(t *testing.T) {
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
