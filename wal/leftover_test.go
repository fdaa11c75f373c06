package wal

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
	"github.com/seglog/journal/wal/manifest"
)

// TestLeftoversGoOnlyOnceTheRemovalIsDurable: a process killed after it
// wrote the manifest record removing a segment, before that record's
// fsync returned and before it deleted the files, leaves the record in the
// page cache only. Open deletes the files the record removes; a power cut
// while it does must not keep the deletion and lose the record, which
// would leave the manifest listing a segment that is gone: Open makes the
// record durable first. Random crash states after every step of Open.
func TestLeftoversGoOnlyOnceTheRemovalIsDurable(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	crashAppend(t, l, 200, "a")
	if len(l.segs) < 3 {
		t.Fatalf("setup: %d segments", len(l.segs))
	}
	mpath := filepath.Join(crashDir, manifest.Name)
	gone := []string{segName(crashDir, l.segs[0].id), idxName(crashDir, l.segs[0].id)}
	var saved [][]byte
	for _, n := range gone {
		b, err := fs.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		saved = append(saved, b)
	}
	before, _ := fs.ReadFile(mpath)
	if err := l.TruncateFront(l.segs[1].base); err != nil {
		t.Fatal(err)
	}
	after, _ := fs.ReadFile(mpath)
	if len(after) <= len(before) {
		t.Fatal("setup: TruncateFront recorded nothing")
	}
	// Killed (l is never closed): the state as above, but the removal's
	// record not yet synced and the files not yet deleted.
	killed := fs.CrashClone(vfstest.CrashOptions{})
	for i, n := range gone {
		if err := killed.WriteFile(n, saved[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := killed.WriteFile(mpath, before); err != nil {
		t.Fatal(err)
	}
	f, err := killed.OpenReadWrite(mpath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(after[len(before):], int64(len(before))); err != nil {
		t.Fatal(err)
	}
	f.Close()

	seed := uint64(0)
	killed.OnOp(func(op vfstest.Op, name string) {
		for range 4 {
			seed++
			c := killed.CrashClone(vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(seed, 7))})
			l2, err := Open(crashDir, Options{FS: c, SegmentSize: MinSegmentSize, Logger: crashQuiet, Inline: true})
			if err != nil {
				t.Fatalf("power cut after %v of %s during Open (seed %d): %v", op, name, seed, err)
			}
			l2.Close()
		}
	})
	l2, err := Open(crashDir, Options{FS: killed, SegmentSize: MinSegmentSize, Logger: crashQuiet, Inline: true})
	if err != nil {
		t.Fatal(err)
	}
	killed.OnOp(nil)
	defer l2.Close()
	if _, err := killed.ReadFile(gone[0]); err == nil {
		t.Fatal("Open left the segment the manifest's removal left")
	}
}
