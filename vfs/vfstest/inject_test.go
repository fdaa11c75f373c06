package vfstest_test

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

func TestInjectWriteOnce(t *testing.T) {
	fs := vfstest.New()
	f := create(t, fs, "/f")
	fs.InjectError(vfstest.OpWrite, 2, syscall.EIO)
	writeAt(t, f, "a", 0)
	if n, err := f.WriteAt([]byte("b"), 1); !errors.Is(err, syscall.EIO) || n != 0 {
		t.Fatalf("2nd write = %d, %v; want EIO", n, err)
	}
	if got := readFile(t, fs, "/f"); got != "a" {
		t.Fatalf("failed write changed the file: %q", got)
	}
	writeAt(t, f, "c", 1)
	if got := readFile(t, fs, "/f"); got != "ac" {
		t.Fatalf("got %q", got)
	}
	if got := fs.Count(vfstest.OpWrite); got != 3 {
		t.Fatalf("Count(OpWrite) = %d, want 3 (failures count)", got)
	}
	if got := fs.PendingWrites("/f"); got != 2 {
		t.Fatalf("PendingWrites = %d, want 2", got)
	}
}

func TestInjectSticky(t *testing.T) {
	fs := vfstest.New()
	f := create(t, fs, "/f")
	fs.InjectStickyError(vfstest.OpSync, 1, syscall.EIO)
	for i := range 3 {
		if err := f.Sync(); !errors.Is(err, syscall.EIO) {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	fs.ClearErrors()
	mustSync(t, f)
}

func TestInjectEachOp(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		op  vfstest.Op
		run func(fs *vfstest.FS, f vfs.File) error
		// unchanged reports whether the failed op left state as before.
		unchanged func(fs *vfstest.FS) bool
	}{
		{vfstest.OpCreate, func(fs *vfstest.FS, _ vfs.File) error { _, err := fs.Create("/new"); return err },
			func(fs *vfstest.FS) bool { return !exists(fs, "/new") }},
		{vfstest.OpOpen, func(fs *vfstest.FS, _ vfs.File) error { _, err := fs.Open("/f"); return err }, nil},
		{vfstest.OpWrite, func(_ *vfstest.FS, f vfs.File) error { _, err := f.WriteAt([]byte("zz"), 0); return err },
			func(fs *vfstest.FS) bool { b, _ := fs.ReadFile("/f"); return string(b) == "data" }},
		{vfstest.OpSync, func(_ *vfstest.FS, f vfs.File) error { return f.Sync() },
			func(fs *vfstest.FS) bool { return fs.PendingWrites("/f") == 1 }},
		{vfstest.OpSyncDir, func(fs *vfstest.FS, _ vfs.File) error { return fs.SyncDir("/") },
			func(fs *vfstest.FS) bool { return fs.PendingDirOps("/") == 1 }},
		{vfstest.OpRename, func(fs *vfstest.FS, _ vfs.File) error { return fs.Rename("/f", "/g") },
			func(fs *vfstest.FS) bool { return exists(fs, "/f") && !exists(fs, "/g") }},
		{vfstest.OpRemove, func(fs *vfstest.FS, _ vfs.File) error { return fs.Remove("/f") },
			func(fs *vfstest.FS) bool { return exists(fs, "/f") }},
		{vfstest.OpTruncate, func(_ *vfstest.FS, f vfs.File) error { return f.Truncate(1) },
			func(fs *vfstest.FS) bool { b, _ := fs.ReadFile("/f"); return string(b) == "data" }},
		{vfstest.OpRead, func(_ *vfstest.FS, f vfs.File) error { _, err := f.ReadAt(make([]byte, 1), 0); return err }, nil},
		{vfstest.OpList, func(fs *vfstest.FS, _ vfs.File) error { _, err := fs.List("/"); return err }, nil},
		{vfstest.OpLock, func(fs *vfstest.FS, _ vfs.File) error {
			l, err := fs.Lock("/LOCK")
			if err == nil {
				l.Close()
			}
			return err
		}, func(fs *vfstest.FS) bool { return !exists(fs, "/LOCK") }},
		{vfstest.OpMkdir, func(fs *vfstest.FS, _ vfs.File) error { return fs.MkdirAll("/x/y", 0o755) },
			func(fs *vfstest.FS) bool { return !exists(fs, "/x") }},
		{vfstest.OpStat, func(fs *vfstest.FS, _ vfs.File) error { _, err := fs.Stat("/f"); return err }, nil},
	} {
		t.Run(tc.op.String(), func(t *testing.T) {
			fs := vfstest.New()
			f := create(t, fs, "/f")
			writeAt(t, f, "data", 0)
			before := fs.Count(tc.op)
			fs.InjectError(tc.op, 1, errBoom)
			if err := tc.run(fs, f); !errors.Is(err, errBoom) {
				t.Fatalf("first %v = %v, want injected error", tc.op, err)
			}
			if tc.unchanged != nil && !tc.unchanged(fs) {
				t.Fatalf("failed %v changed state:\n%s", tc.op, fs)
			}
			if err := tc.run(fs, f); err != nil {
				t.Fatalf("second %v = %v, want success", tc.op, err)
			}
			if got := fs.Count(tc.op); got != before+2 {
				t.Fatalf("Count(%v) = %d, want %d", tc.op, got, before+2)
			}
		})
	}
}

func TestInjectCountsFromCall(t *testing.T) {
	fs := vfstest.New()
	f := create(t, fs, "/f")
	for i := range 5 {
		writeAt(t, f, "x", int64(i))
	}
	fs.InjectError(vfstest.OpWrite, 3, syscall.EIO)
	var failed []int
	for i := range 6 {
		if _, err := f.WriteAt([]byte("y"), int64(i)); err != nil {
			failed = append(failed, i+1)
		}
	}
	if fmt.Sprint(failed) != "[3]" {
		t.Fatalf("failed writes %v, want [3]", failed)
	}
}

func TestCapacity(t *testing.T) {
	fs := vfstest.New()
	f := create(t, fs, "/f")
	fs.SetCapacity(10)
	writeAt(t, f, "0123456789", 0)
	if n, err := f.WriteAt([]byte("x"), 10); !errors.Is(err, syscall.ENOSPC) || n != 0 {
		t.Fatalf("write past capacity = %d, %v; want ENOSPC", n, err)
	}
	if err := f.Truncate(11); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("truncate past capacity = %v; want ENOSPC", err)
	}
	g := create(t, fs, "/g")
	if _, err := g.WriteAt([]byte("y"), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write to other file = %v; want ENOSPC", err)
	}
	writeAt(t, f, "ab", 3) // overwriting within the size needs no space
	if got := readFile(t, fs, "/f"); got != "012ab56789" {
		t.Fatalf("got %q", got)
	}
	fs.SetCapacity(12)
	writeAt(t, f, "x", 10)
	writeAt(t, g, "y", 0)
	if fs.Used() != 12 {
		t.Fatalf("Used = %d", fs.Used())
	}
	// Removing a file frees its space once no handle holds it.
	fs.Remove("/g")
	if fs.Used() != 12 {
		t.Fatalf("Used = %d with open handle", fs.Used())
	}
	g.Close()
	writeAt(t, f, "z", 11)
	fs.SetCapacity(-1)
	writeAt(t, f, "unlimited now", 12)
}

func TestFailedSyncNotDurable(t *testing.T) {
	fs := vfstest.New()
	fs.WriteFile("/f", []byte("old"))
	f, _ := fs.OpenReadWrite("/f")
	writeAt(t, f, "new", 0)
	fs.InjectError(vfstest.OpSync, 1, syscall.EIO)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v", err)
	}
	if got := readFile(t, fs.CrashClone(strict), "/f"); got != "old" {
		t.Fatalf("strict crash after failed sync: %q, want old", got)
	}
	mustSync(t, f)
	if got := readFile(t, fs.CrashClone(strict), "/f"); got != "new" {
		t.Fatalf("strict crash after retried sync: %q, want new", got)
	}
}

func TestFailedSyncDirNotDurable(t *testing.T) {
	fs := vfstest.New()
	f := create(t, fs, "/f")
	mustSync(t, f)
	fs.InjectError(vfstest.OpSyncDir, 1, syscall.EIO)
	if err := fs.SyncDir("/"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("SyncDir = %v", err)
	}
	if exists(fs.CrashClone(strict), "/f") {
		t.Fatal("entry durable after failed SyncDir")
	}
	mustSyncDir(t, fs, "/")
	if !exists(fs.CrashClone(strict), "/f") {
		t.Fatal("entry not durable after SyncDir")
	}
}

// TestConcurrent runs writers, readers, syncs and crash clones at once; run
// with -race.
func TestConcurrent(t *testing.T) {
	fs := vfstest.New()
	fs.MkdirAll("/d", 0o755)
	f := create(t, fs, "/d/f")
	var cloned int
	fs.OnOp(func(op vfstest.Op, name string) {
		if op == vfstest.OpSync {
			fs.CrashClone(seeded(uint64(cloned)))
			cloned++ // only the sync goroutine syncs
		}
	})
	const writers, perWriter, recLen = 4, 200, 100
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			rec := make([]byte, recLen)
			for i := range rec {
				rec[i] = byte('a' + w)
			}
			for i := range perWriter {
				off := int64((i*writers + w) * recLen)
				if _, err := f.WriteAt(rec, off); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var bg sync.WaitGroup
	bg.Go(func() {
		buf := make([]byte, recLen)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			f.ReadAt(buf, int64(i%(writers*perWriter))*recLen)
			fs.List("/d")
			fs.Stat("/d/f")
		}
	})
	bg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := f.Sync(); err != nil {
				t.Error(err)
			}
			fs.CrashClone(strict)
		}
	})
	wg.Wait()
	close(stop)
	bg.Wait()
	mustSync(t, f)
	mustSyncDir(t, fs, "/")
	mustSyncDir(t, fs, "/d")
	got := readFile(t, fs.CrashClone(strict), "/d/f")
	if len(got) != writers*perWriter*recLen {
		t.Fatalf("size %d", len(got))
	}
	for r := range writers * perWriter {
		want := byte('a' + r%writers)
		for _, b := range []byte(got[r*recLen : (r+1)*recLen]) {
			if b != want {
				t.Fatalf("record %d holds %q, want %q", r, b, want)
			}
		}
	}
}

func TestSyncErrorLosesData(t *testing.T) {
	fs := vfstest.New()
	fs.SetSyncErrorLosesData(true)
	fs.WriteFile("/f", []byte("old"))
	f, _ := fs.OpenReadWrite("/f")
	writeAt(t, f, "new", 0)
	fs.InjectError(vfstest.OpSync, 1, syscall.EIO)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v", err)
	}
	mustSync(t, f) // "succeeds", as on Linux, without writing the lost pages
	if got := readFile(t, fs, "/f"); got != "new" {
		t.Fatalf("current content %q, want new", got)
	}
	for seed := uint64(0); seed < 20; seed++ {
		if got := readFile(t, fs.CrashClone(seeded(seed)), "/f"); got != "old" {
			t.Fatalf("seed %d: crash after lost sync: %q, want old", seed, got)
		}
	}
	writeAt(t, f, "new", 0)
	mustSync(t, f)
	if got := readFile(t, fs.CrashClone(strict), "/f"); got != "new" {
		t.Fatalf("after rewrite and sync: %q", got)
	}
}
