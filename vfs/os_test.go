package vfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/seglog/journal/vfs"
)

func TestDefaultLockIsExclusiveWithinTheProcess(t *testing.T) {
	fs := vfs.Default()
	for _, kind := range []string{"directory", "file"} {
		t.Run(kind, func(t *testing.T) {
			name := t.TempDir()
			if kind == "file" {
				name = filepath.Join(name, "lockfile")
			}
			l, err := fs.Lock(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fs.Lock(name); !errors.Is(err, vfs.ErrLocked) {
				t.Fatalf("second Lock: %v, want ErrLocked", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2, err := fs.Lock(name)
			if err != nil {
				t.Fatalf("Lock after release: %v", err)
			}
			l2.Close()
		})
	}
}

func TestDefaultFileWritesSyncsAndReadsBack(t *testing.T) {
	fs := vfs.Default()
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("hello"), 3); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	r, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.Size(); err != nil || n != 8 {
		t.Fatalf("Size = %d, %v; want 8", n, err)
	}
	got := make([]byte, 8)
	if _, err := r.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if string(got) != "\x00\x00\x00hello" {
		t.Fatalf("read %q", got)
	}
	if _, err := r.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("a file from Open accepted a write")
	}
	if err := fs.SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SyncDir of a missing directory: %v", err)
	}
}

// A compaction renames a rewritten segment over one a reader still holds
// open, and a truncation removes one: both must work with files open (on
// Windows that takes FILE_SHARE_DELETE).
func TestDefaultRenamesAndRemovesOpenFiles(t *testing.T) {
	fs := vfs.Default()
	dir := t.TempDir()
	old, tmp := filepath.Join(dir, "seg"), filepath.Join(dir, "seg.tmp")
	if err := vfs.ReplaceFile(fs, old, []byte("old")); err != nil {
		t.Fatal(err)
	}
	held, err := fs.Open(old)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := vfs.ReplaceFile(fs, old, []byte("new!")); err != nil {
		t.Fatalf("replace an open file: %v", err)
	}
	if _, err := fs.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	buf := make([]byte, 3)
	if _, err := held.ReadAt(buf, 0); err != nil || string(buf) != "old" {
		t.Fatalf("the open handle reads %q, %v; want the old content", buf, err)
	}
	if err := fs.Remove(old); err != nil {
		t.Fatalf("remove an open file: %v", err)
	}
}

func TestAllocatedBytesCoversWrittenData(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	n, ok := vfs.AllocatedBytes(fi)
	if !ok {
		if runtime.GOOS == "windows" {
			t.Skip("Windows does not report allocated bytes")
		}
		t.Fatalf("no allocated bytes on %s", runtime.GOOS)
	}
	if n < 64<<10 {
		t.Fatalf("AllocatedBytes = %d for 64 KiB of written data", n)
	}
}
