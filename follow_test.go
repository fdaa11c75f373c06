package journal

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"
)

// followWait bounds how long a test waits for a delivery it requires:
// generous, as the tests prove delivery; BenchmarkFollowLatency measures
// how fast it is.
const followWait = 10 * time.Second

// followJ runs a follow in a goroutine: its entries on the first channel,
// the error that ended it (nil for ctx) on the second.
func followJ(follow iter.Seq2[Entry, error]) (<-chan Entry, <-chan error) {
	entries, end := make(chan Entry, 1024), make(chan error, 1)
	go func() {
		var ferr error
		for e, err := range follow {
			if err != nil {
				ferr = err
				break
			}
			entries <- e
		}
		end <- ferr
	}()
	return entries, end
}

func receive(t *testing.T, entries <-chan Entry) Entry {
	t.Helper()
	select {
	case e := <-entries:
		return e
	case <-time.After(followWait):
		t.Fatalf("no entry within %v", followWait)
		return Entry{}
	}
}

func TestFollowYieldsStoredEventsThenNewOnesAcrossRotations(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(d.String(), func(t *testing.T) {
			j := openT(t, t.TempDir(), Options{Durability: d, SegmentSize: 4 << 10, Compression: CompressionNone})
			defer j.Close()
			appendT(t, j, reg("r0"), start("r0"))
			ctx, cancel := context.WithCancel(context.Background())
			entries, end := followJ(j.Follow(ctx, 1))
			if e := receive(t, entries); e.Seq != 1 || e.Event != start("r0") {
				t.Fatalf("first entry %+v, want seq 1 %v", e, start("r0"))
			}
			// 4 KiB segments: the events below fill several.
			for i := range 60 {
				ev := failed(fmt.Sprint("r", i), string(make([]byte, 200)))
				appendT(t, j, ev)
				if e := receive(t, entries); e.Seq != uint64(i)+2 || e.Event != ev {
					t.Fatalf("entry %d: %+v, want seq %d %v", i, e, i+2, ev)
				}
			}
			cancel()
			select {
			case err := <-end:
				if err != nil {
					t.Fatalf("a follow ended by its context yielded %v", err)
				}
			case <-time.After(followWait):
				t.Fatal("follow did not end with its context")
			}
			if n := len(segFiles(t, j.log.Dir())); n < 3 {
				t.Fatalf("%d segment files: the test did not rotate", n)
			}
		})
	}
}

func TestFollowSkipsARemovedRoutesEventsCompactedBeforeReached(t *testing.T) {
	j := openT(t, t.TempDir(), Options{CompactionThresholdEvents: 1})
	defer j.Close()
	appendT(t, j, reg("keep"))
	appendT(t, j, reg("gone"), start("gone"))
	appendT(t, j, remove("gone"))
	appendT(t, j, start("keep"))
	var got []Event
	for e, err := range j.Follow(t.Context(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if got = append(got, e.Event); len(got) == 2 {
			break
		}
	}
	if want := []Event{reg("keep"), start("keep")}; !slices.Equal(got, want) {
		t.Fatalf("followed %v, want %v", got, want)
	}
}

func TestFollowCloseEndsItWithErrClosed(t *testing.T) {
	j := openT(t, t.TempDir(), Options{})
	appendT(t, j, reg("r"))
	entries, end := followJ(j.Follow(t.Context(), 0))
	receive(t, entries)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-end:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("follow ended with %v, want ErrClosed", err)
		}
	case <-time.After(followWait):
		t.Fatal("Close did not end the follow")
	}
}

// BenchmarkFollowLatency measures how long an appended event takes to
// reach a follower in the same process: from before AppendBatch to the
// follower's loop body, one event at a time, reported as p50 and p99 in
// microseconds. Under Immediate it includes the fdatasync.
func BenchmarkFollowLatency(b *testing.B) {
	for _, d := range []Durability{Eventual, Immediate} {
		b.Run(d.String(), func(b *testing.B) {
			j, err := Open(b.TempDir(), Options{Durability: d, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			arrived := make(chan time.Time)
			go func() {
				for _, err := range j.Follow(ctx, 0) {
					if err != nil {
						return
					}
					arrived <- time.Now()
				}
			}()
			ev := []Event{start("orders-in")}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				if err := j.AppendBatch(ev); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, (<-arrived).Sub(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}

func TestFollowDirStreamsWhatAnotherHandleAppends(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{Durability: Eventual, SegmentSize: 4 << 10, Compression: CompressionNone})
	defer j.Close()
	appendT(t, j, reg("r0"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entries, end := followJ(FollowDir(ctx, dir, 0))
	want := []Event{reg("r0")}
	for i := range 40 { // several 4 KiB segments
		want = append(want, failed(fmt.Sprint("r", i), string(make([]byte, 200))))
		appendT(t, j, want[len(want)-1])
	}
	for i, w := range want {
		if e := receive(t, entries); e.Seq != uint64(i) || e.Event != w {
			t.Fatalf("entry %d: %+v, want %v", i, e, w)
		}
	}
	cancel()
	if err := <-end; err != nil {
		t.Fatalf("a follow ended by its context yielded %v", err)
	}
}

func TestFollowDirOfANonJournalIsErrNotJournal(t *testing.T) {
	for _, err := range FollowDir(t.Context(), t.TempDir(), 0) {
		if !errors.Is(err, ErrNotJournal) {
			t.Fatalf("got %v, want ErrNotJournal", err)
		}
		return
	}
	t.Fatal("nothing yielded")
}
