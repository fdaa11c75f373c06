package wal_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
)

// TestNewestSegmentDamagedAfterCloseIsCorrupt: after a clean Close the
// newest segment's index file records what Close sealed, so the newest
// segment cut short or read back as zeros is damage naming it (Open
// refuses and changes nothing), not a torn tail to cut or a half-created
// file to recreate, which would lose acknowledged entries (issue 15, cases
// 2 and 4). The manifest knows it too when the index file is lost.
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
		for _, dropIndex := range []bool{false, true} {
			name := tc.name + map[bool]string{false: ", index kept", true: ", index lost"}[dropIndex]
			t.Run(name, func(t *testing.T) { newestDamagedAfterClose(t, tc.hurt, dropIndex) })
		}
	}
}

func newestDamagedAfterClose(t *testing.T, hurt func(t *testing.T, path string, size int64), dropIndex bool) {
	dir := t.TempDir()
	writeLog(t, dir, repeat(60, 3)...)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	newest := segs[len(segs)-1]
	fi, err := os.Stat(newest)
	if err != nil {
		t.Fatal(err)
	}
	if dropIndex {
		// The manifest still knows what Close sealed.
		os.Remove(strings.TrimSuffix(newest, ".seg") + ".idx")
	}
	hurt(t, newest, fi.Size())
	before, _ := os.ReadFile(newest)
	_, err = wal.Open(dir, wal.Options{Logger: quiet})
	var ce *segment.CorruptError
	if !errors.As(err, &ce) || ce.File != newest {
		t.Fatalf("Open: %v; want ErrCorrupt naming %s", err, newest)
	}
	if after, _ := os.ReadFile(newest); string(after) != string(before) {
		t.Fatal("the refused Open changed the newest segment")
	}
}
