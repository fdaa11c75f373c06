package wal

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkGet reads random records of 256 bytes from a log of 100,000
// written in batches of 64 (a raft log store's GetLog, uncompressed as
// the raft store writes by default).
func BenchmarkGet(b *testing.B) {
	l, err := Open(b.TempDir(), Options{Durability: Eventual, Compression: CompressionNone})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const n, batch = 100_000, 64
	val := make([]byte, 256)
	recs := make([]Record, batch)
	for i := range recs {
		recs[i].Value = val
	}
	for i := 0; i < n; i += batch {
		if err := l.AppendAt(uint64(i+1), Batch{Records: recs}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Get(1 + rng.Uint64N(l.LastSeq())); err != nil {
			b.Fatal(err)
		}
	}
}
