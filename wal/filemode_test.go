package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Truncation, which the journal's public API does not offer, creates its
// files (the bounds file, a rewritten frame's segment) with the log's
// mode too; an invalid mode is refused before anything is created.
func TestTruncationFilesArePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows permission bits do not describe who may read a file")
	}
	for _, tc := range []struct {
		name            string
		mode            os.FileMode
		maxFile, maxDir os.FileMode
	}{
		{"default", 0, 0o600, 0o700},
		{"group readable", 0o640, 0o640, 0o750},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "made")
			dir := filepath.Join(base, "log")
			opts := Options{FileMode: tc.mode, SegmentSize: MinSegmentSize, Compression: CompressionNone, Logger: crashQuiet}
			l, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 300 {
				recs := []Record{{Key: []byte(fmt.Sprintf("k%d", i)), Value: make([]byte, 100)}, {Key: []byte("x"), Value: []byte("y")}}
				if _, err := l.Append(Batch{Records: recs}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.TruncateFront(200); err != nil {
				t.Fatal(err)
			}
			if err := l.TruncateBack(l.NextSeq() - 3); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			err = filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := os.Lstat(p)
				if err != nil {
					return err
				}
				limit := tc.maxFile
				if fi.IsDir() {
					limit = tc.maxDir
				}
				if fi.Mode().Perm()&^limit != 0 {
					t.Errorf("%s: %v, more open than %v", p, fi.Mode().Perm(), limit)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	dir := filepath.Join(t.TempDir(), "bad")
	if _, err := Open(dir, Options{FileMode: 0o644 | os.ModeSetuid}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open with a setuid mode: %v, want ErrInvalid", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused Open created %s: %v", dir, err)
	}
}
