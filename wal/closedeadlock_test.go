package wal

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
)

// TestCloseDuringCompactWaitingForSync: Compact waits for a sync that does
// not cover the removals it must make durable, and Close starts meanwhile.
// Close waits for Compact; Compact must then give up (ErrClosed) rather
// than wait for Close to finish, or both wait for ever.
func TestCloseDuringCompactWaitingForSync(t *testing.T) {
	fs := crashFS(t)
	l, err := Open(crashDir, Options{FS: fs, Durability: Eventual, CompactionThreshold: 1 << 40, SegmentSize: MinSegmentSize, Compression: CompressionNone, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	// A pending removal in a sealed segment: Compact then has nothing to
	// seal and waits for a sync covering the log instead.
	if _, err := l.Append(Batch{Records: []Record{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("k"), Tombstone: true}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; countSegments(t, fs) < 2; i++ {
		if _, err := l.Append(Batch{Records: []Record{{Key: []byte(fmt.Sprint("f", i)), Value: make([]byte, 100)}}}); err != nil {
			t.Fatal(err)
		}
	}
	locked := func(f func() bool) bool { l.mu.Lock(); defer l.mu.Unlock(); return f() }
	waitFor := func(what string, f func() bool) {
		for i := 0; !locked(f); i++ {
			if i > 5000 {
				t.Fatalf("setup: timeout waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	var compactErr, closeErr error
	l.WaitCompaction() // the rotation's seal job runs in the background
	var hooked atomic.Bool
	fs.OnOp(func(op vfstest.Op, name string) {
		if op != vfstest.OpSync || !strings.HasSuffix(name, segSuffix) || !hooked.CompareAndSwap(false, true) {
			return
		}
		// Sync is in fdatasync with l.mu released, covering batches up to
		// now. A later batch, then Compact, which must wait for a sync
		// covering it, then Close.
		if _, err := l.Append(Batch{Records: []Record{{Key: []byte("g"), Value: []byte("v")}}}); err != nil {
			t.Errorf("append during sync: %v", err)
		}
		wg.Add(2)
		compactDone := make(chan struct{})
		go func() { defer wg.Done(); compactErr = l.Compact(); close(compactDone) }()
		waitFor("Compact to start", func() bool {
			select {
			case <-compactDone:
				t.Logf("Compact returned before Close: %v", compactErr)
				return true
			default:
			}
			return l.working
		})
		go func() { defer wg.Done(); closeErr = l.Close() }()
		time.Sleep(10 * time.Millisecond) // let Close reach its wait for the sync
	})
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close and Compact still waiting after 10 s: deadlocked")
	}
	fs.OnOp(nil)
	if closeErr != nil {
		t.Errorf("Close: %v", closeErr)
	}
	t.Logf("Compact returned %v", compactErr)
}
