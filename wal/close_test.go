package wal

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

// TestCloseWaitsForCompact: Close, called while Compact (in another
// goroutine) is rewriting a segment, does not return while that rewrite is
// under way, so Compact does no file operation after Close has released the
// directory. It guards against a Compact that goes on renaming and writing
// files beside a new Open of the same directory.
func TestCloseWaitsForCompact(t *testing.T) {
	fs := crashFS(t)
	opts := Options{FS: fs, SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Logger: crashQuiet}
	l := rvCompactSetup(t, fs, opts)

	var mu sync.Mutex
	closeReturned := false
	var afterClose []string
	hooked := false
	fs.OnOp(func(op vfstest.Op, name string) {
		mu.Lock()
		if closeReturned {
			afterClose = append(afterClose, op.String()+" "+name)
		}
		first := !hooked && op == vfstest.OpSync && strings.HasSuffix(name, segSuffix+tmpSuffix)
		if first {
			hooked = true
		}
		mu.Unlock()
		if !first {
			return
		}
		// Compact has copied the first segment to its temp file; Close now.
		done := make(chan error, 1)
		go func() { done <- l.Close() }()
		select {
		case <-done:
			mu.Lock()
			closeReturned = true
			mu.Unlock()
		case <-time.After(500 * time.Millisecond):
			// Close waits for Compact: correct behaviour.
		}
	})
	cerr := l.Compact()
	fs.OnOp(nil)
	if !hooked {
		t.Fatal("setup: Compact rewrote nothing")
	}
	mu.Lock()
	defer mu.Unlock()
	if closeReturned {
		t.Fatalf("Close returned while Compact was rewriting a segment; Compact (err %v) then did %d file operations in the unlocked directory: %v", cerr, len(afterClose), afterClose)
	}
}

// rvMapFS wraps the OS filesystem, counts live memory maps and can fail
// every fsync.
type rvMapFS struct {
	vfs.FS
	mu       sync.Mutex
	live     int
	failSync bool
}

type rvMapFile struct {
	vfs.File
	fs *rvMapFS
}

func (f *rvMapFS) wrap(file vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &rvMapFile{File: file, fs: f}, nil
}
func (f *rvMapFS) Create(name string) (vfs.File, error) { return f.wrap(f.FS.Create(name)) }
func (f *rvMapFS) OpenReadWrite(name string) (vfs.File, error) {
	return f.wrap(f.FS.OpenReadWrite(name))
}

func (f *rvMapFile) Sync() error {
	f.fs.mu.Lock()
	fail := f.fs.failSync
	f.fs.mu.Unlock()
	if fail {
		return syscall.EIO
	}
	return f.File.Sync()
}

func (f *rvMapFile) Map(length int64) ([]byte, error) {
	mp, ok := f.File.(vfs.Mapper)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	m, err := mp.Map(length)
	if err == nil {
		f.fs.mu.Lock()
		f.fs.live++
		f.fs.mu.Unlock()
	}
	return m, err
}

func (f *rvMapFile) Unmap(m []byte) error {
	f.fs.mu.Lock()
	f.fs.live--
	f.fs.mu.Unlock()
	return f.File.(vfs.Mapper).Unmap(m)
}

// TestCloseAfterFailureReleasesMappings: Close of a log that has failed
// (an fsync during Append returned EIO) leaves no memory mapping live. It
// guards against Close unmapping the active segment only through seal,
// which a failed log skips, so the mapping (SegmentSize bytes) stayed for
// the life of the process.
func TestCloseAfterFailureReleasesMappings(t *testing.T) {
	requireMaps(t)
	fs := &rvMapFS{FS: vfs.Default()}
	l, err := Open(t.TempDir(), Options{FS: fs, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Batch{Records: rvRecs("k", 1, 10)}); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	if fs.live != 1 {
		fs.mu.Unlock()
		t.Fatalf("setup: %d live mappings, want the active segment's", fs.live)
	}
	fs.failSync = true
	fs.mu.Unlock()
	if _, err := l.Append(Batch{Records: rvRecs("k", 1, 10)}); err == nil {
		t.Fatal("setup: append did not fail")
	}
	l.Close()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.live != 0 {
		t.Fatalf("%d memory mapping(s) still live after Close of a failed log", fs.live)
	}
}
