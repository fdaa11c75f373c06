package wal_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
)

// TestDamagedIndexOfASealedSegmentIsRebuilt: an index file is a cache of
// its sealed segment. Damaged (a flipped byte, cut short, zeroed), it makes
// Open scan the segment, warn and write the index again, instead of
// refusing the log (issue 15, case 12); every entry reads back and the
// next Open trusts the new index. An index that is sound but records
// another size for its segment still means the segment lost or gained
// bytes, and Open refuses.
func TestDamagedIndexOfASealedSegmentIsRebuilt(t *testing.T) {
	damages := []struct {
		name string
		hurt func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x20; return b }},
		{"cut short", func(b []byte) []byte { return b[:len(b)/2] }},
		{"zeroed", func(b []byte) []byte { return make([]byte, len(b)) }},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, repeat(60, 3)...)
			idxs, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
			if len(idxs) < 2 {
				t.Fatalf("setup: %d index files", len(idxs))
			}
			victim := idxs[0]
			orig, err := os.ReadFile(victim)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(victim, d.hurt(bytes.Clone(orig)), 0o644); err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			l, err := wal.Open(dir, wal.Options{SegmentSize: wal.MinSegmentSize, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatalf("Open with a damaged index file: %v; want it rescanned", err)
			}
			n := 0
			for _, err := range l.Entries(0) {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if n != 180 {
				t.Fatalf("%d entries read back, want 180", n)
			}
			if !strings.Contains(logged.String(), filepath.Base(victim)) {
				t.Fatalf("nothing logged about %s: %q", victim, logged.String())
			}
			if got, _ := os.ReadFile(victim); !bytes.Equal(got, orig) {
				t.Fatalf("index file not written again: %d bytes, want the %d it had", len(got), len(orig))
			}
		})
	}
	t.Run("sound index recording another size", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, repeat(60, 3)...)
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		// Cut the first segment at its last frame: a valid segment, one
		// frame short of what its index recorded.
		f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		var last int64
		if _, err := segment.Scan(f, fi.Size(), segs[0], func(off int64, _ segment.FrameHeader, _ []byte) error {
			last = off
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(last); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err = wal.Open(dir, wal.Options{Logger: quiet})
		var ce *segment.CorruptError
		if !errors.As(err, &ce) || ce.File != segs[0] {
			t.Fatalf("Open of a sealed segment cut since sealing: %v; want ErrCorrupt naming %s", err, segs[0])
		}
	})
}
