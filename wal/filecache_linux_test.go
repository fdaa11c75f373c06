package wal

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
)

// fileLimitChild names the environment variable that makes the test binary
// the child of TestTenThousandSegmentsUnderFileLimit: the directory of the
// log it reads.
const fileLimitChild = "WAL_FILE_LIMIT_CHILD"

const (
	limitSegments = 10_000
	limitValue    = 1900 // two records fill a 4 KiB segment
)

// TestTenThousandSegmentsUnderFileLimit opens, reads whole and appends to
// a log of 10,000 segments in a process whose RLIMIT_NOFILE is 256 (a
// child: the test binary run again), which one descriptor per segment
// made impossible.
func TestTenThousandSegmentsUnderFileLimit(t *testing.T) {
	if dir := os.Getenv(fileLimitChild); dir != "" {
		underFileLimit(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("writes 10,000 segments")
	}
	// Written in memory (fast: no fsync per rotation), then copied out,
	// to tmpfs where there is one.
	t0 := time.Now()
	mem := vfstest.New()
	l, err := Open("/log", Options{FS: mem, SegmentSize: MinSegmentSize, Compression: CompressionNone, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < limitSegments; {
		seq := l.NextSeq()
		if _, err := l.Append(Batch{Records: []Record{{Value: limitRecord(seq)}}}); err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		n = len(l.segs)
		l.mu.Unlock()
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if base, err = os.MkdirTemp("/dev/shm", "wal-file-limit-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(base) })
	}
	dir := filepath.Join(base, "log")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names, err := mem.List("/log")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := readFileBytes(mem, "/log/"+n)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d files written in %v", len(names), time.Since(t0))

	cmd := exec.Command(os.Args[0], "-test.run=^TestTenThousandSegmentsUnderFileLimit$", "-test.v")
	cmd.Env = append(os.Environ(), fileLimitChild+"="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

func limitRecord(seq uint64) []byte {
	v := make([]byte, limitValue)
	copy(v, fmt.Sprint("record-", seq))
	return v
}

// underFileLimit is the child: with RLIMIT_NOFILE 256 it opens the log in
// dir, reads every record, appends a few more segments' worth, and closes.
func underFileLimit(t *testing.T, dir string) {
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	l, err := Open(dir, Options{SegmentSize: MinSegmentSize, Compression: CompressionNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("opened in %v", time.Since(t0))
	l.mu.Lock()
	segs := len(l.segs)
	l.mu.Unlock()
	if segs < limitSegments {
		t.Fatalf("%d segments, want %d", segs, limitSegments)
	}
	t0 = time.Now()
	next := l.FirstSeq()
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != next || string(e.Value) != string(limitRecord(e.Seq)) {
			t.Fatalf("entry %d (%.12q), want %d", e.Seq, e.Value, next)
		}
		next++
	}
	if next != l.NextSeq() {
		t.Fatalf("read up to %d, log ends at %d", next, l.NextSeq())
	}
	for seq := l.FirstSeq(); seq < next; seq += 97 {
		if e, err := l.Get(seq); err != nil || string(e.Value) != string(limitRecord(seq)) {
			t.Fatalf("Get(%d) = %.12q, %v", seq, e.Value, err)
		}
	}
	t.Logf("read %d records in %v", next-l.FirstSeq(), time.Since(t0))
	for range 20 {
		if _, err := l.Append(Batch{Records: []Record{{Value: limitRecord(l.NextSeq())}}}); err != nil {
			t.Fatal(err)
		}
	}
	open, peak := l.files.stats()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("segment files open: %d now, %d at most; process descriptors: %d", open, peak, len(fds))
	if peak > DefaultMaxOpenSegments {
		t.Fatalf("%d segment files open at once, bound %d", peak, DefaultMaxOpenSegments)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
