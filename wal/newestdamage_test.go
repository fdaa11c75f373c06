package wal_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
)

// TestNewestSegmentDamagedAfterCloseIsCorrupt: after a clean Close the
// newest segment's index file records what Close sealed, so the newest
// segment cut short or read back as zeros is damage naming it (Open
// refuses and changes nothing), not a torn tail to cut or a half-created
// file to recreate, which would lose acknowledged entries (issue 15, cases
// 2 and 4).
func TestNewestSegmentDamagedAfterCloseIsCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name string
		hurt func(t *testing.T, path string, size int64)
	}{
		{"cut to half", func(t *testing.T, path string, size int64) {
			if err := os.Truncate(path, size/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"read back as zeros", func(t *testing.T, path string, size int64) {
			if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, repeat(60, 3)...)
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			newest := segs[len(segs)-1]
			fi, err := os.Stat(newest)
			if err != nil {
				t.Fatal(err)
			}
			tc.hurt(t, newest, fi.Size())
			before, _ := os.ReadFile(newest)
			_, err = wal.Open(dir, wal.Options{Logger: quiet})
			var ce *segment.CorruptError
			if !errors.As(err, &ce) || ce.File != newest {
				t.Fatalf("Open: %v; want ErrCorrupt naming %s", err, newest)
			}
			if after, _ := os.ReadFile(newest); string(after) != string(before) {
				t.Fatal("the refused Open changed the newest segment")
			}
		})
	}
}
