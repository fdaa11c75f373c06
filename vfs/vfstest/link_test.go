package vfstest_test

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

// A link is a second name of one file: a write through either shows in
// both, a rename over one leaves the other the old file, and removing one
// name keeps the data until the last is gone.
func TestLinkSharesOneFile(t *testing.T) {
	fs := vfstest.New()
	fs.WriteFile("/a/f", []byte("one"))
	fs.MkdirAll("/b", 0o755)
	if err := vfs.Link(fs, "/a/f", "/b/g"); err != nil {
		t.Fatal(err)
	}
	f, err := fs.OpenReadWrite("/b/g")
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, f, "two", 3)
	f.Close()
	if got := readFile(t, fs, "/a/f"); got != "onetwo" {
		t.Fatalf("/a/f = %q after a write through the link", got)
	}
	fs.WriteFile("/a/tmp", []byte("new"))
	if err := fs.Rename("/a/tmp", "/a/f"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, fs, "/b/g"); got != "onetwo" {
		t.Fatalf("/b/g = %q after a rename over the other name", got)
	}
	used := fs.Used()
	if err := fs.Remove("/a/f"); err != nil {
		t.Fatal(err)
	}
	if got := fs.Used(); got != used-3 {
		t.Fatalf("Used %d after removing the replaced name, want %d", got, used-3)
	}
	if got := readFile(t, fs, "/b/g"); got != "onetwo" {
		t.Fatalf("/b/g = %q", got)
	}
}

// Link fails as link(2) does: an existing new name, a directory or a
// missing old name; an injected error counts as OpLink; a file system
// without links (ErrorFS over one) says ErrNoLink.
func TestLinkErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		inject   bool
		want     error
	}{
		{"new name exists", "/a/f", "/a/g", false, syscall.EEXIST},
		{"directory", "/a", "/b", false, syscall.EPERM},
		{"missing", "/a/nope", "/a/h", false, os.ErrNotExist},
		{"injected", "/a/f", "/a/h", true, syscall.EXDEV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfstest.New()
			fs.WriteFile("/a/f", []byte("F"))
			fs.WriteFile("/a/g", []byte("G"))
			if tc.inject {
				fs.InjectError(vfstest.OpLink, 1, syscall.EXDEV)
			}
			err := fs.Link(tc.old, tc.new)
			var le *os.LinkError
			if !errors.Is(err, tc.want) || !errors.As(err, &le) {
				t.Fatalf("Link(%s, %s) = %v, want an *os.LinkError wrapping %v", tc.old, tc.new, err, tc.want)
			}
			if got := readFile(t, fs, "/a/g"); got != "G" {
				t.Fatalf("/a/g = %q", got)
			}
		})
	}
	if err := vfs.Link(noLinkFS{vfstest.New()}, "/a", "/b"); !errors.Is(err, vfs.ErrNoLink) {
		t.Fatalf("Link on a file system without links: %v, want ErrNoLink", err)
	}
}

// noLinkFS hides FS.Link: a file system that cannot make links.
type noLinkFS struct{ vfs.FS }

// A link's name is a directory entry: lost in a crash until its
// directory is synced, kept after, and both names then one file whose
// synced content is shared.
func TestLinkDurableOnlyAfterSyncDir(t *testing.T) {
	for _, sync := range []bool{false, true} {
		fs := vfstest.New()
		fs.WriteFile("/a/f", []byte("F"))
		fs.MkdirAll("/b", 0o755)
		mustSyncDir(t, fs, "/")
		if err := fs.Link("/a/f", "/b/g"); err != nil {
			t.Fatal(err)
		}
		if sync {
			mustSyncDir(t, fs, "/b")
		}
		c := fs.CrashClone(strict)
		if exists(c, "/b/g") != sync {
			t.Fatalf("synced %v: /b/g exists after a crash: %v\n%s", sync, !sync, c)
		}
		if got := readFile(t, c, "/a/f"); got != "F" {
			t.Fatalf("/a/f = %q after a crash", got)
		}
		if sync {
			f, err := c.OpenReadWrite("/b/g")
			if err != nil {
				t.Fatal(err)
			}
			writeAt(t, f, "X", 0)
			f.Close()
			if got := readFile(t, c, "/a/f"); got != "X" {
				t.Fatalf("after a crash the names are not one file: /a/f = %q", got)
			}
		}
	}
}
