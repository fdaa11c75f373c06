package vfstest_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

// TestErrorFSFailsInjectedOperationsOfTheOSFileSystem: in front of the
// operating system's file system, an injected error fails exactly the
// operation it was injected for, wrapped with the path, changes nothing,
// and counts; a sticky one fails every later operation of its kind until
// cleared.
func TestErrorFSFailsInjectedOperationsOfTheOSFileSystem(t *testing.T) {
	dir := t.TempDir()
	fs := vfstest.WithErrors(vfs.Default())
	name := filepath.Join(dir, "f")
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs.InjectError(vfstest.OpWrite, 2, syscall.EIO)
	if _, err := f.WriteAt([]byte("one"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("two"), 3)
	var pe *os.PathError
	if !errors.Is(err, syscall.EIO) || !errors.As(err, &pe) || pe.Path != name {
		t.Fatalf("second write: %v; want EIO wrapped with %s", err, name)
	}
	if b, _ := os.ReadFile(name); string(b) != "one" {
		t.Fatalf("file holds %q after the failed write; want %q", b, "one")
	}
	if _, err := f.WriteAt([]byte("two"), 3); err != nil {
		t.Fatalf("third write (the injection fired once): %v", err)
	}
	if n := fs.Count(vfstest.OpWrite); n != 3 {
		t.Fatalf("Count(OpWrite) = %d, want 3", n)
	}

	fs.InjectStickyError(vfstest.OpRename, 1, syscall.EIO)
	for range 2 {
		if err := fs.Rename(name, name+".new"); !errors.Is(err, syscall.EIO) {
			t.Fatalf("rename under a sticky error: %v, want EIO", err)
		}
	}
	if _, err := os.Stat(name); err != nil {
		t.Fatalf("the failed renames moved the file: %v", err)
	}
	fs.ClearErrors()
	if err := fs.Rename(name, name+".new"); err != nil {
		t.Fatalf("rename after ClearErrors: %v", err)
	}
}
