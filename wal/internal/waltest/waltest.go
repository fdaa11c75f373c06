package waltest

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seglog/journal/wal"
)

// Quiet is a logger that drops everything.
var Quiet = slog.New(slog.DiscardHandler)

// WriteLog appends batches of sizes[i] records each to a new log in dir
// (small segments, so it rotates) and closes it.
func WriteLog(t testing.TB, dir string, sizes ...int) {
	t.Helper()
	l, err := wal.Open(dir, wal.Options{SegmentSize: wal.MinSegmentSize, Logger: Quiet})
	if err != nil {
		t.Fatal(err)
	}
	AppendBatches(t, l, 0, sizes...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// AppendBatches appends batches of sizes[i] records each to l; tag goes
// into the keys.
func AppendBatches(t testing.TB, l *wal.Log, tag int, sizes ...int) {
	t.Helper()
	for b, n := range sizes {
		var recs []wal.Record
		for i := range n {
			recs = append(recs, wal.Record{
				Key:   fmt.Appendf(nil, "route-%d-%d", tag, b),
				Value: fmt.Appendf(nil, "value %d of batch %d: %s", i, b, strings.Repeat("x", 40)),
			})
		}
		if _, err := l.Append(wal.Batch{Time: 1764190000000 + int64(b), Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
}

// Repeat is n copies of v.
func Repeat(n, v int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// CopyDir copies the regular files of src into a new temporary directory,
// as a process killed now would leave them (page cache included), and
// returns it.
func CopyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
