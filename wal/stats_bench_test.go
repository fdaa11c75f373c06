package wal

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/vfs"
)

// writeStatBenchLog writes a log of n single-record batches to dir as a
// route journal writes them: Eventual, default segment size, compaction on
// (threshold 10,000, so a checkpoint at every seal) or off, keys from a few
// hundred routes, no tombstones.
func writeStatBenchLog(b *testing.B, dir string, n int, compaction bool) {
	b.Helper()
	opts := Options{Durability: Eventual, Logger: crashQuiet}
	if compaction {
		opts.CompactionThreshold = 10_000
	}
	l, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	rec := []Record{{}}
	for i := range n {
		rec[0] = Record{
			Key:   fmt.Appendf(nil, "route-%04d", i%500),
			Value: fmt.Appendf(nil, `{"kind":"started","attempt":%d}`, i%7),
		}
		if _, err := l.Append(Batch{Time: 1764190000000 + int64(i), Records: rec}); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStat measures Stat on a closed log of many single-record
// batches: 5,000,000 (50,000 with -short), with compaction on (a route
// journal's setting) and off; "scan" is Stat as it was (statScan, the
// reference model), for a comparison in one run. The logs are written once, under TMPDIR
// (about 80 bytes per event each: point TMPDIR at a roomy place).
func BenchmarkStat(b *testing.B) {
	n := 5_000_000
	if testing.Short() {
		n = 50_000
	}
	root := b.TempDir() // the top level runs once; sub-benchmarks repeat
	for _, compaction := range []bool{true, false} {
		dir := filepath.Join(root, fmt.Sprint(compaction))
		writeStatBenchLog(b, dir, n, compaction)
		for _, impl := range []struct {
			name string
			stat func(string, vfs.FS) (Stats, error)
		}{{"summaries", Stat}, {"scan", statScan}} {
			b.Run(fmt.Sprintf("events=%d/compaction=%v/%s", n, compaction, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					st, err := impl.stat(dir, nil)
					if err != nil {
						b.Fatal(err)
					}
					if st.Entries != uint64(n) {
						b.Fatalf("%d entries, want %d", st.Entries, n)
					}
				}
			})
		}
	}
}
