package journal

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// Append returns the first sequence number of each batch: contiguous
// after the previous batch, the numbers Entries shows.
func TestAppendReturnsFirstSeq(t *testing.T) {
	for _, mode := range []Durability{Immediate, Eventual} {
		t.Run(mode.String(), func(t *testing.T) {
			j := openT(t, t.TempDir(), Options{Durability: mode})
			defer j.Close()
			want := uint64(0)
			for i, n := range []int{1, 3, 1, 7, 2} {
				batch := make([]Event, n)
				for k := range batch {
					batch[k] = reg(fmt.Sprintf("r%d-%d", i, k))
				}
				first, err := j.Append(batch)
				if err != nil {
					t.Fatal(err)
				}
				if first != want {
					t.Fatalf("batch %d: first %d, want %d", i, first, want)
				}
				ents := entriesT(t, j, first)
				if len(ents) != n || ents[0].Seq != first || ents[0].Event != batch[0] || ents[n-1].Seq != first+uint64(n-1) {
					t.Fatalf("batch %d: Entries(%d) = %v", i, first, ents)
				}
				want += uint64(n)
			}
			// An empty batch: nothing written, the next number returned.
			if first, err := j.Append(nil); err != nil || first != want || j.NextSeq() != want {
				t.Errorf("Append(nil) = %d, %v; NextSeq %d; want %d", first, err, j.NextSeq(), want)
			}
			// An invalid batch: nothing written, 0.
			if first, err := j.Append([]Event{reg("ok"), {Kind: RouteStarted}}); !errors.Is(err, ErrInvalid) || first != 0 || j.NextSeq() != want {
				t.Errorf("invalid batch: %d, %v; NextSeq %d", first, err, j.NextSeq())
			}
			j.Close()
			if first, err := j.Append([]Event{reg("late")}); !errors.Is(err, ErrClosed) || first != 0 {
				t.Errorf("after Close: %d, %v; want 0, ErrClosed", first, err)
			}
			// AppendBatch keeps its contract: an empty batch is a no-op,
			// even on a closed journal.
			if err := j.AppendBatch(nil); err != nil {
				t.Errorf("AppendBatch(nil) after Close: %v", err)
			}
		})
	}
}

// Concurrent appends each get their own range; together the ranges tile
// the sequence numbers without gaps.
func TestAppendConcurrentRanges(t *testing.T) {
	j := openT(t, t.TempDir(), Options{})
	defer j.Close()
	const workers, per = 8, 25
	firsts := make([][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				first, err := j.Append([]Event{reg(fmt.Sprintf("w%d-%d", w, i)), start(fmt.Sprintf("w%d-%d", w, i))})
				if err != nil {
					t.Error(err)
					return
				}
				firsts[w] = append(firsts[w], first)
			}
		})
	}
	wg.Wait()
	seen := map[uint64]string{}
	for w, fs := range firsts {
		for i, f := range fs {
			if f%2 != 0 {
				t.Fatalf("worker %d batch %d starts at %d: not on a batch boundary", w, i, f)
			}
			seen[f] = fmt.Sprintf("w%d-%d", w, i)
		}
	}
	if len(seen) != workers*per {
		t.Fatalf("%d distinct first numbers for %d batches", len(seen), workers*per)
	}
	for _, e := range entriesT(t, j, 0) {
		if want := seen[e.Seq&^1]; e.Event.RouteID != want {
			t.Fatalf("seq %d holds %s; the Append that returned %d wrote %s", e.Seq, e.Event.RouteID, e.Seq&^1, want)
		}
	}
	if n := j.NextSeq(); n != 2*workers*per {
		t.Errorf("NextSeq %d, want %d", n, 2*workers*per)
	}
}

// NextSeq and LastSeq: none for an empty journal; then the newest event,
// unchanged by compaction and by a reopen.
func TestNextSeqLastSeq(t *testing.T) {
	for _, mode := range []Durability{Immediate, Eventual} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			j := openT(t, dir, Options{Durability: mode})
			if n := j.NextSeq(); n != 0 {
				t.Errorf("empty journal: NextSeq %d, want 0", n)
			}
			if last, ok := j.LastSeq(); ok {
				t.Errorf("empty journal: LastSeq %d, true; want false", last)
			}
			appendT(t, j, reg("a"), start("a"))
			appendT(t, j, reg("b"))
			appendT(t, j, Event{Kind: RouteStopped, RouteID: "a"}, remove("a")) // seqs 3, 4
			check := func(when string) {
				t.Helper()
				if n := j.NextSeq(); n != 5 {
					t.Errorf("%s: NextSeq %d, want 5", when, n)
				}
				if last, ok := j.LastSeq(); !ok || last != 4 {
					t.Errorf("%s: LastSeq %d, %v; want 4, true", when, last, ok)
				}
			}
			check("after appends")
			if err := j.Compact(); err != nil {
				t.Fatal(err)
			}
			if got := entriesT(t, j, 0); len(got) != 1 || got[0].Event.RouteID != "b" {
				t.Fatalf("after Compact: %v", got)
			}
			check("after Compact (the newest event was removed; its number stays used)")
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			check("after Close")
			j = openT(t, dir, Options{Durability: mode})
			defer j.Close()
			check("reopened")
			if first, err := j.Append([]Event{reg("c")}); err != nil || first != 5 {
				t.Errorf("first append after reopen: %d, %v; want 5", first, err)
			}
		})
	}
}

// Under Immediate an event is visible once durable: while an append waits
// for its fdatasync, LastSeq trails NextSeq-1, and the Append's return
// makes it visible. Under Eventual LastSeq is NextSeq-1 at once.
func TestLastSeqTrailsWhileImmediateSyncs(t *testing.T) {
	fs := fxFS(t)
	j := openT(t, fxDir, Options{FS: fs})
	defer j.Close()
	appendT(t, j, reg("a"))
	inSync, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fs.DuringSync(func(name string) {
		if strings.HasSuffix(name, ".seg") {
			once.Do(func() { close(inSync); <-release })
		}
	})
	done := make(chan uint64)
	go func() {
		first, err := j.Append([]Event{reg("b"), reg("c")})
		if err != nil {
			t.Error(err)
		}
		done <- first
	}()
	<-inSync
	if n, last := j.NextSeq(), lastSeqT(t, j); n != 3 || last != 0 {
		t.Errorf("while the batch syncs: NextSeq %d, LastSeq %d; want 3, 0", n, last)
	}
	if st := j.Stats(); st.SyncedSeq != 1 || st.NextSeq != 3 {
		t.Errorf("while the batch syncs: Stats NextSeq %d, SyncedSeq %d; want 3, 1", st.NextSeq, st.SyncedSeq)
	}
	close(release)
	if first := <-done; first != 1 {
		t.Errorf("Append returned %d, want 1", first)
	}
	fs.DuringSync(nil)
	if last := lastSeqT(t, j); last != 2 {
		t.Errorf("after Append returned: LastSeq %d, want 2", last)
	}

	e := openT(t, t.TempDir(), Options{Durability: Eventual, FlushInterval: -1})
	defer e.Close()
	appendT(t, e, reg("a"), reg("b"))
	if st := e.Stats(); lastSeqT(t, e) != 1 || st.SyncedSeq != 0 {
		t.Errorf("Eventual: LastSeq %d, SyncedSeq %d; want 1 (visible at once), 0 (not synced)", lastSeqT(t, e), st.SyncedSeq)
	}
	if _, ok := e.Stats().LastDurableSeq(); ok {
		t.Error("Eventual before any sync: LastDurableSeq reports one")
	}
}

func lastSeqT(t *testing.T, j *Journal) uint64 {
	t.Helper()
	last, ok := j.LastSeq()
	if !ok {
		t.Fatal("LastSeq: none")
	}
	return last
}

// After a power cut under Eventual, NextSeq continues after the newest
// batch that survived: the numbers of lost batches are given out again.
// Under Immediate every acknowledged number survives, so none is.
func TestNextSeqAfterPowerCut(t *testing.T) {
	for _, mode := range []Durability{Immediate, Eventual} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := fxFS(t)
			j := openT(t, fxDir, Options{FS: fs, Durability: mode, FlushInterval: -1})
			appendT(t, j, reg("a"), reg("b"))
			appendT(t, j, reg("c"))
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
			appendT(t, j, reg("d"), reg("e"))
			st := j.Stats()
			crashed := fs.CrashClone(vfstest.CrashOptions{}) // only what was synced
			j.Close()

			wantNext := uint64(5) // Immediate: every acknowledged batch
			if mode == Eventual {
				wantNext = 3 // the batch after the Sync is lost
			}
			if st.SyncedSeq != wantNext {
				t.Errorf("before the cut: SyncedSeq %d, want %d", st.SyncedSeq, wantNext)
			}
			j2 := openT(t, fxDir, Options{FS: crashed, Durability: mode})
			defer j2.Close()
			if n := j2.NextSeq(); n != wantNext {
				t.Errorf("after the cut: NextSeq %d, want %d", n, wantNext)
			}
			if last := lastSeqT(t, j2); last != wantNext-1 {
				t.Errorf("after the cut: LastSeq %d, want %d", last, wantNext-1)
			}
			if st := j2.Stats(); st.SyncedSeq != wantNext {
				t.Errorf("after the cut: SyncedSeq %d, want %d (what Open recovered is durable)", st.SyncedSeq, wantNext)
			}
			if first, err := j2.Append([]Event{reg("f")}); err != nil || first != wantNext {
				t.Errorf("first append after the cut: %d, %v; want %d", first, err, wantNext)
			}
		})
	}
}
