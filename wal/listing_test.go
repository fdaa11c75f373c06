package wal_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
	"github.com/seglog/journal/wal/check"
	"github.com/seglog/journal/wal/internal/waltest"
)

// The manifest (wal/manifest) records which segments must exist and how
// far each is durable; these tests are issue 15's cases that only it can
// tell from a crash.

// TestDeletedSegmentIsDamage: a segment file deleted (oldest, middle or
// newest) after a clean Close is damage: Open refuses naming it and
// changes nothing, Inspect reports it, and repair makes the log open
// again with every other segment kept (issue 15, case 3).
func TestDeletedSegmentIsDamage(t *testing.T) {
	for _, which := range []string{"oldest", "middle", "newest"} {
		t.Run(which, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, repeat(150, 3)...)
			in, err := wal.Inspect(dir, nil)
			if err != nil || len(in.Segments) < 3 {
				t.Fatalf("setup: %v, %v", in, err)
			}
			i := map[string]int{"oldest": 0, "middle": len(in.Segments) / 2, "newest": len(in.Segments) - 1}[which]
			gone, goneEntries := in.Segments[i].File, in.Segments[i].Entries
			if err := os.Remove(gone); err != nil {
				t.Fatal(err)
			}
			os.Remove(strings.TrimSuffix(gone, ".seg") + ".idx")
			before := dirState(t, dir)
			_, err = wal.Open(dir, wal.Options{Logger: quiet})
			var ce *segment.CorruptError
			if !errors.As(err, &ce) || ce.File != gone {
				t.Fatalf("Open: %v; want ErrCorrupt naming %s", err, gone)
			}
			if after := dirState(t, dir); !slices.Equal(after, before) {
				t.Fatalf("the refused Open changed the directory:\n%v\n%v", before, after)
			}
			in, err = wal.Inspect(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Damage) == 0 || in.Damage[0].File != gone || in.ManifestProblem == "" {
				t.Fatalf("Inspect: damage %v, manifest problem %q; want the missing %s", in.Damage, in.ManifestProblem, gone)
			}
			if _, err := check.Repair(dir, nil, filepath.Join(t.TempDir(), "side")); err != nil {
				t.Fatal(err)
			}
			l, err := wal.Open(dir, wal.Options{Logger: quiet})
			if err != nil {
				t.Fatalf("Open after repair: %v", err)
			}
			defer l.Close()
			n := 0
			for _, err := range l.Entries(0) {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if want := 450 - int(goneEntries); n != want {
				t.Fatalf("after repair %d of 450 entries remain, want %d: only the deleted segment's %d lost", n, want, goneEntries)
			}
		})
	}
}

// TestSyncedDataDamagedAfterCrashAndReopenIsCorrupt: a log left by a
// killed process is reopened (its tail recovered and synced), read whole
// and closed; then a byte in its frames flips and the index file is lost.
// The frames before and after the damage were durable, so Open refuses
// naming the damage instead of cutting the segment there as a torn tail,
// and Inspect calls it damage (issue 15, case 1).
func TestSyncedDataDamagedAfterCrashAndReopenIsCorrupt(t *testing.T) {
	src := t.TempDir()
	l, err := wal.Open(src, wal.Options{Durability: wal.Eventual, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if _, err := l.Append(wal.Batch{Time: int64(i), Records: []wal.Record{{Key: fmt.Appendf(nil, "route-%d", i%7), Value: []byte("started")}}}); err != nil {
			t.Fatal(err)
		}
	}
	dir := waltest.CopyDir(t, src) // as kill -9 leaves it
	l.Close()
	l, err = wal.Open(dir, wal.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2000 {
		t.Fatalf("reopened crash image holds %d entries, want 2000", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := wal.SegmentPath(dir, 1)
	os.Remove(strings.TrimSuffix(seg, ".seg") + ".idx")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[1000] ^= 0x10
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = wal.Open(dir, wal.Options{Logger: quiet})
	var ce *segment.CorruptError
	if !errors.As(err, &ce) || ce.File != seg || ce.Offset > 1000 {
		t.Fatalf("Open: %v; want ErrCorrupt in %s at or before offset 1000", err, seg)
	}
	if after, _ := os.ReadFile(seg); string(after) != string(b) {
		t.Fatal("the refused Open changed the segment")
	}
	in, err := wal.Inspect(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Damage) == 0 || in.Damage[0].File != seg || len(in.Warnings) != 0 {
		t.Fatalf("Inspect: damage %v, warnings %v; want damage in %s and no torn tail", in.Damage, in.Warnings, seg)
	}
}

// TestTruncatedRecordsStayGoneWithoutTheBoundsFile: the front a
// TruncateFront set is in the manifest, so losing the bounds file does not
// bring truncated records back (issue 15, case 7).
func TestTruncatedRecordsStayGoneWithoutTheBoundsFile(t *testing.T) {
	dir := t.TempDir()
	l, err := wal.Open(dir, wal.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, 0, repeat(10, 5)...)
	if err := l.TruncateFront(30); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "bounds.meta"))
	l, err = wal.Open(dir, wal.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if first := l.FirstSeq(); first != 30 {
		t.Fatalf("FirstSeq after reopen = %d, want 30", first)
	}
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq < 30 {
			t.Fatalf("truncated record %d came back", e.Seq)
		}
	}
}

// dirState lists dir's files with their sizes and checksums.
func dirState(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %08x", e.Name(), len(b), segment.Checksum(b)))
	}
	return out
}
