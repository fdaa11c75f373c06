package vfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

func TestDirMode(t *testing.T) {
	for _, tc := range []struct{ file, dir os.FileMode }{
		{0, 0o700},
		{0o600, 0o700},
		{0o640, 0o750},
		{0o660, 0o770},
		{0o644, 0o755},
		{0o620, 0o720}, // bits are kept; only a read bit brings search
	} {
		if got := vfs.DirMode(tc.file); got != tc.dir {
			t.Errorf("DirMode(%o) = %o, want %o", tc.file, got, tc.dir)
		}
	}
}

func TestCheckFileMode(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0, true},
		{0o600, true},
		{0o640, true},
		{0o666, true},
		{0o400, false},
		{0o200, false},
		{0o044, false},
		{os.ModeDir | 0o700, false},
		{os.ModeSetuid | 0o600, false},
	} {
		err := vfs.CheckFileMode(tc.mode)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, vfs.ErrBadFileMode)) {
			t.Errorf("CheckFileMode(%v) = %v, want ok %v", tc.mode, err, tc.ok)
		}
	}
}

// The operating system's filesystem creates files, locks and directories
// no more open than its mode; WithFileMode picks the mode; a filesystem
// without modes is left as it is.
func TestOSCreatesWithItsMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows permission bits do not describe who may read a file")
	}
	for _, tc := range []struct {
		name       string
		fs         vfs.FS
		file, dirs os.FileMode
	}{
		{"Default", vfs.Default(), 0o600, 0o700},
		{"OS(0)", vfs.OS(0), 0o600, 0o700},
		{"OS(0o640)", vfs.OS(0o640), 0o640, 0o750},
		{"WithFileMode(nil, 0o640)", vfs.WithFileMode(nil, 0o640), 0o640, 0o750},
		{"WithFileMode(OS(0o640), 0)", vfs.WithFileMode(vfs.OS(0o640), 0), 0o600, 0o700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			d := filepath.Join(base, "x", "y")
			if err := tc.fs.MkdirAll(d, 0o777); err != nil {
				t.Fatal(err)
			}
			f, err := tc.fs.Create(filepath.Join(d, "f"))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			l, err := tc.fs.Lock(filepath.Join(d, "lock"))
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			for _, p := range []string{"x", "x/y", "x/y/f", "x/y/lock"} {
				fi, err := os.Stat(filepath.Join(base, p))
				if err != nil {
					t.Fatal(err)
				}
				max := tc.file
				if fi.IsDir() {
					max = tc.dirs
				}
				if fi.Mode().Perm()&^max != 0 {
					t.Errorf("%s: %v, more open than %v", p, fi.Mode().Perm(), max)
				}
			}
		})
	}
	sim := vfstest.New()
	if got := vfs.WithFileMode(sim, 0o640); got != vfs.FS(sim) {
		t.Errorf("WithFileMode changed a filesystem without modes: %T", got)
	}
}

func TestLooseModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows permission bits do not describe who may read a file")
	}
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"private": 0o600, "group": 0o640, "world": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		want []vfs.LooseMode
	}{
		{0, []vfs.LooseMode{
			{filepath.Join(dir, "group"), 0o640, 0o600},
			{filepath.Join(dir, "sub"), os.ModeDir | 0o750, os.ModeDir | 0o700},
			{filepath.Join(dir, "world"), 0o644, 0o600},
		}},
		{0o640, []vfs.LooseMode{{filepath.Join(dir, "world"), 0o644, 0o640}}},
		{0o644, nil},
	} {
		got, err := vfs.LooseModes(vfs.Default(), dir, tc.mode)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("LooseModes(%v) = %v, want %v", tc.mode, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("LooseModes(%v)[%d] = %v, want %v", tc.mode, i, got[i], tc.want[i])
			}
		}
	}
	// Where modes are not the journal's to choose, it does not look.
	if got, err := vfs.LooseModes(vfstest.New(), "/", 0); err != nil || got != nil {
		t.Errorf("LooseModes of a simulation = %v, %v; want none", got, err)
	}
}
