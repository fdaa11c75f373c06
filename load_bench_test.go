package journal

import "testing"

// loadBenchJournal returns the directory of a closed journal of n events of
// the benchmark workloads (routeBatch) appended in batches of batch
// (Eventual, default options). With b.Loop a benchmark function runs once,
// so the journal is written once.
func loadBenchJournal(b *testing.B, n, batch int) string {
	b.Helper()
	dir := b.TempDir()
	j, err := Open(dir, Options{Durability: Eventual, FlushInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += batch {
		if err := j.AppendBatch(routeBatch(i, min(batch, n-i))); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

func benchLoadAll(b *testing.B, n, batch int) {
	dir := loadBenchJournal(b, n, batch)
	j, err := Open(dir, Options{Durability: Eventual, FlushInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	b.ReportAllocs()
	b.ResetTimer()
	got := 0
	cpu0 := processCPU()
	for b.Loop() {
		evs, err := j.LoadAll()
		if err != nil {
			b.Fatal(err)
		}
		got += len(evs)
	}
	if got%n != 0 {
		b.Fatalf("loaded %d events, not a multiple of %d", got, n)
	}
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "events/s")
	if cpu1 := processCPU(); cpu0 >= 0 && cpu1 >= 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(got), "cpu-ns/event")
	}
}

// BenchmarkLoadAllSingleEvents is workload S1's LoadAll: 1,000,000
// single-event batches (50,000 with -short).
func BenchmarkLoadAllSingleEvents(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 50_000
	}
	benchLoadAll(b, n, 1)
}

// BenchmarkLoadAllBatches100 is workload X1's LoadAll at a tenth of its
// size: 1,000,000 events in batches of 100 (100,000 with -short).
func BenchmarkLoadAllBatches100(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	benchLoadAll(b, n, 100)
}
