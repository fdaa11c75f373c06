package wal_test

import (
	"testing"

	"github.com/seglog/journal/wal"
)

// BenchmarkTruncateFrontWithinSegment: a TruncateFront that deletes no
// segment (the raft store's DeleteRange of a few entries at the front):
// what it costs is recording the front durably.
func BenchmarkTruncateFrontWithinSegment(b *testing.B) {
	l, err := wal.Open(b.TempDir(), wal.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := make([]wal.Record, 100)
	for i := range recs {
		recs[i] = wal.Record{Key: []byte("k"), Value: make([]byte, 200)}
	}
	for range (b.N + 1 + 99) / 100 {
		if _, err := l.Append(wal.Batch{Records: recs}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if err := l.TruncateFront(uint64(i + 1)); err != nil {
			b.Fatal(err)
		}
	}
}
