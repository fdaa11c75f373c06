package wal

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// benchLog writes n records of 200 bytes, one per batch, into a log with
// segments of segSize bytes, and returns it open.
func benchLog(b *testing.B, n int, segSize int64) *Log {
	b.Helper()
	l, err := Open(b.TempDir(), Options{Durability: Eventual, Compression: CompressionNone, SegmentSize: segSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	val := make([]byte, 200)
	for range n {
		if _, err := l.Append(Batch{Records: []Record{{Key: []byte("route-1"), Value: val}}}); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

// segmentCases are the logs the segment benchmarks read: 40,000 records
// in a few default-sized segments, and in about 2,000 of the smallest
// (far more than a process keeps open by default: workload F1's shape).
var segmentCases = []struct {
	name    string
	segSize int64
}{
	{"segs=few", DefaultSegmentSize},
	{"segs=2000", MinSegmentSize},
}

// BenchmarkSegmentsGet reads random records one at a time (Get), and
// reports the median latency.
func BenchmarkSegmentsGet(b *testing.B) {
	for _, c := range segmentCases {
		b.Run(c.name, func(b *testing.B) {
			l := benchLog(b, 40_000, c.segSize)
			rng := rand.New(rand.NewPCG(1, 2))
			last := l.NextSeq() - 1
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if _, err := l.Get(1 + rng.Uint64N(last)); err != nil {
					b.Fatal(err)
				}
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t0))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		})
	}
}

// BenchmarkSegmentsScan reads the whole log with Entries.
func BenchmarkSegmentsScan(b *testing.B) {
	for _, c := range segmentCases {
		b.Run(c.name, func(b *testing.B) {
			l := benchLog(b, 40_000, c.segSize)
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				for _, err := range l.Entries(0) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != 40_000 {
					b.Fatalf("scan read %d entries, want 40000", n)
				}
			}
		})
	}
}
