package keyset

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func BenchmarkAdd(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			s := mustOpen(b, b.TempDir(), Options{Durability: m.d})
			defer s.Close()
			key := []byte("command-")
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := strconv.AppendInt(key[:8], int64(i), 10)
				if err := s.Add(string(k)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
	// Group commit: 32 goroutines adding with Immediate durability.
	b.Run("Immediate32", func(b *testing.B) {
		s := mustOpen(b, b.TempDir(), Options{Durability: Immediate})
		defer s.Close()
		var next atomic.Int64
		b.SetParallelism(32) // 32 * GOMAXPROCS goroutines
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Add("command-" + strconv.FormatInt(next.Add(1), 10)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		b.ReportMetric(float64(b.N)/float64(max(s.fsyncs(), 1)), "ops/fsync")
	})
}

// BenchmarkAddRemove is the command ID life cycle: an ID added when a
// command starts and removed when it ends, so the live set stays small and
// the delta is rewritten into snapshots as it goes. ops/s counts both.
func BenchmarkAddRemove(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			s := mustOpen(b, b.TempDir(), Options{Durability: m.d})
			defer s.Close()
			key := []byte("command-")
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := string(strconv.AppendInt(key[:8], int64(i), 10))
				if err := s.Add(k); err != nil {
					b.Fatal(err)
				}
				if err := s.Remove(k); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(2*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkOpen1M opens a set of 1,000,000 live keys, either all in the
// snapshot (after a rewrite) or all in the delta (pure adds never trigger
// a rewrite: the delta is then at most the live set). The parent benchmark
// runs once, so the sets are built once.
func BenchmarkOpen1M(b *testing.B) {
	const n = 1_000_000
	build := func(snapshot bool) string {
		dir := b.TempDir()
		s := mustOpen(b, dir, Options{Durability: Eventual})
		for i := range n {
			if err := s.Add("command-" + strconv.Itoa(i)); err != nil {
				b.Fatal(err)
			}
		}
		if snapshot {
			s.mu.Lock()
			err := s.rewrite()
			s.mu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
		}
		mustClose(b, s)
		return dir
	}
	snap, del := build(true), build(false)
	for _, c := range []struct{ name, dir string }{{"snapshot", snap}, {"delta", del}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				s := mustOpen(b, c.dir, Options{})
				if s.Len() != n {
					b.Fatalf("Len() = %d, want %d", s.Len(), n)
				}
				mustClose(b, s)
			}
			per := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(per*1e3, "ms/open")
			b.ReportMetric(n/per, "keys/s")
		})
	}
}
