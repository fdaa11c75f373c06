package vfs_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

// A staged directory goes where nothing is, or an empty directory is,
// and nowhere else: a file or a directory holding anything is refused
// with ErrNotEmpty, at StageDir and again at Commit (filled meanwhile),
// and left as it was.
func TestStagedDirOnlyReplacesNothingOrAnEmptyDirectory(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(fs *vfstest.FS)
		late      bool // dst is filled after StageDir, before Commit
		wantStage error
	}{
		{"absent, missing parents", func(*vfstest.FS) {}, false, nil},
		{"empty directory", func(fs *vfstest.FS) { fs.MkdirAll("/p/dst", 0o700) }, false, nil},
		{"file", func(fs *vfstest.FS) { fs.WriteFile("/p/dst", []byte("x")) }, false, vfs.ErrNotEmpty},
		{"directory with a file", func(fs *vfstest.FS) { fs.WriteFile("/p/dst/f", []byte("x")) }, false, vfs.ErrNotEmpty},
		{"filled before Commit", func(fs *vfstest.FS) { fs.MkdirAll("/p/dst", 0o700) }, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfstest.New()
			tc.setup(fs)
			before := fs.Dump()
			st, err := vfs.StageDir(fs, "/p/dst", 0o700)
			if !errors.Is(err, tc.wantStage) || (err == nil) != (tc.wantStage == nil) {
				t.Fatalf("StageDir: %v, want %v", err, tc.wantStage)
			}
			if err != nil {
				if fs.Dump() != before {
					t.Fatalf("a refused StageDir changed the file system:\n%s\nwas:\n%s", fs.Dump(), before)
				}
				return
			}
			if filepath.Dir(st.Tmp) != "/p" {
				t.Fatalf("Tmp %s is not beside /p/dst", st.Tmp)
			}
			if err := fs.WriteFile(filepath.Join(st.Tmp, "made"), []byte("m")); err != nil {
				t.Fatal(err)
			}
			if tc.late {
				fs.WriteFile("/p/dst/other", []byte("o"))
			}
			err = st.Commit()
			st.Abort()
			names, _ := fs.List("/p")
			if tc.late {
				if !errors.Is(err, vfs.ErrNotEmpty) {
					t.Fatalf("Commit onto a directory filled meanwhile: %v, want ErrNotEmpty", err)
				}
				if got, _ := fs.List("/p/dst"); !slices.Equal(got, []string{"other"}) || !slices.Equal(names, []string{"dst"}) {
					t.Fatalf("after a refused Commit: /p holds %v, /p/dst %v", names, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := fs.ReadFile("/p/dst/made"); string(got) != "m" || !slices.Equal(names, []string{"dst"}) {
				t.Fatalf("after Commit: /p holds %v, /p/dst/made %q", names, got)
			}
		})
	}
}

// A crash at any operation of a staged directory's life leaves the
// destination absent or whole, never part of it; once Commit returned it
// survives.
func TestStagedDirIsWholeOrAbsentAfterACrash(t *testing.T) {
	fs := vfstest.New()
	states := 0
	var bad []string
	check := func(c *vfstest.FS, what string) {
		states++
		names, err := c.List("/p/dst")
		if err == nil && !slices.Equal(names, []string{"a", "b"}) {
			bad = append(bad, fmt.Sprintf("%s: /p/dst holds %v", what, names))
		}
		for _, n := range names {
			if got, _ := c.ReadFile("/p/dst/" + n); string(got) != n {
				bad = append(bad, fmt.Sprintf("%s: /p/dst/%s holds %q", what, n, got))
			}
		}
	}
	fs.OnOp(func(op vfstest.Op, name string) {
		check(fs.CrashClone(vfstest.CrashOptions{}), fmt.Sprintf("after %v %s", op, name))
	})
	st, err := vfs.StageDir(fs, "/p/dst", 0o700)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		f, err := fs.Create(filepath.Join(st.Tmp, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte(n), 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	fs.OnOp(nil)
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	c := fs.CrashClone(vfstest.CrashOptions{})
	if names, _ := c.List("/p/dst"); !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("after Commit returned and a crash, /p/dst holds %v", names)
	}
	if states < 8 {
		t.Fatalf("only %d crash states", states)
	}
}
