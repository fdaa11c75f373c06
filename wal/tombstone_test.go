package wal

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/vfs/vfstest"
)

// TestRemovalSurvivesALostCheckpoint: a tombstone whose key still has a
// removed record in an older segment that compaction has not rewritten
// stays on disk when its own segment is rewritten or deleted, so the
// compaction state rebuilt from the segments after the checkpoint is lost
// or damaged still removes the record (issue 15, cases 6 and 8).
func TestRemovalSurvivesALostCheckpoint(t *testing.T) {
	for _, hurt := range []string{"deleted", "damaged"} {
		t.Run(hurt, func(t *testing.T) {
			fs := crashFS(t)
			l, opts := writeKeptTombstone(t, fs)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			cpt := filepath.Join(crashDir, compactor.CheckpointName)
			if hurt == "deleted" {
				if err := fs.Remove(cpt); err != nil {
					t.Fatal(err)
				}
			} else {
				b, err := fs.ReadFile(cpt)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0x40
				fs.WriteFile(cpt, b)
			}
			l, err := Open(crashDir, opts)
			if err != nil {
				t.Fatalf("Open with the checkpoint %s: %v", hurt, err)
			}
			defer l.Close()
			for e, err := range l.Entries(0) {
				if err != nil {
					t.Fatal(err)
				}
				if string(e.Key) == "removed" {
					t.Fatalf("the removed record (seq %d) came back with the checkpoint %s", e.Seq, hurt)
				}
			}
		})
	}
}

// writeKeptTombstone writes a log whose first segment holds a removed
// record among records that stay (never worth a rewrite) and whose later
// segment, wholly removed but for the tombstone that removed it, was
// rewritten keeping that tombstone.
func writeKeptTombstone(t *testing.T, fs *vfstest.FS) (*Log, Options) {
	t.Helper()
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 1, Inline: true, Compression: CompressionNone, Logger: crashQuiet}
	l, err := Open(crashDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte{'v'}, 300)
	put := func(key string, tomb bool) {
		t.Helper()
		r := Record{Key: []byte(key), Tombstone: tomb}
		if !tomb {
			r.Value = val
		}
		if _, err := l.Append(Batch{Records: []Record{r}}); err != nil {
			t.Fatal(err)
		}
	}
	// Segment 1: the record to remove among records that stay,
	// so it is never worth rewriting.
	put("removed", false)
	for i := range 12 {
		put(fmt.Sprintf("kept-%d", i), false)
	}
	// A later segment holds the tombstone and records that a
	// later tombstone removes: wholly removed, it is deleted.
	for len(l.segs) < 2 {
		put("kept-0", false)
	}
	put("removed", true)
	for i := range 12 {
		put(fmt.Sprintf("churn-%d", i), false)
	}
	for i := range 12 {
		put(fmt.Sprintf("churn-%d", i), true)
	}
	for range 40 { // rotate past them, let the rewrites run
		put("kept-1", false)
	}
	l.WaitCompaction()
	if c := l.cs.Segment(l.segs[0].id); c.Dead == 0 || rewriteWorthy(c, false) {
		t.Fatalf("setup: first segment counts %+v, want a removed record not worth a rewrite", c)
	}
	return l, opts
}

// TestCompactDropsKeptTombstonesOnceOlderSegmentsAreClean: Compact rewrites
// the older segment first, after which no segment needs the kept
// tombstone, and the same pass drops it.
func TestCompactDropsKeptTombstonesOnceOlderSegmentsAreClean(t *testing.T) {
	l, _ := writeKeptTombstone(t, crashFS(t))
	defer l.Close()
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	var onDisk uint64
	for _, s := range l.segs {
		c := l.cs.Segment(s.id)
		if c.Dead != 0 || c.Retained != 0 {
			t.Fatalf("segment %d counts %+v after Compact; want nothing removed left", s.id, c)
		}
		onDisk += c.Total
	}
	if onDisk != l.cs.Live() {
		t.Fatalf("%d records on disk after Compact, %d live: want only live ones", onDisk, l.cs.Live())
	}
}
