package raftstore

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/seglog/journal/vfs"
)

// The store's log, stable file and directories are as private as the
// chosen mode: owner only by default.
func TestStoreFilesArePrivate(t *testing.T) {
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
			dir := filepath.Join(base, "node", "raft")
			s, err := Open(dir, Options{Logger: quiet, SegmentSize: 4 << 10, FileMode: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(mkLogs(1, 400)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteRange(1, 100); err != nil {
				t.Fatal(err)
			}
			if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// A stable store alone, in a directory of its own.
			ss, err := OpenStableStore(filepath.Join(base, "alone", "stable"), vfs.OS(tc.mode))
			if err != nil {
				t.Fatal(err)
			}
			if err := ss.Set([]byte("k"), []byte("v")); err != nil {
				t.Fatal(err)
			}
			if err := ss.Close(); err != nil {
				t.Fatal(err)
			}
			n := 0
			err = filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := os.Lstat(p)
				if err != nil {
					return err
				}
				n++
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
			if n < 8 {
				t.Fatalf("setup: only %d files and directories made", n)
			}
		})
	}
}
