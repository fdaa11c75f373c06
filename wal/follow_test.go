package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"sync"
	"testing"
	"time"

	"github.com/seglog/journal/vfs/vfstest"
)

// followWait is how long a test waits for an entry a follower must
// deliver: generous, since delivery, not speed, is what the tests prove
// (BenchmarkFollowLatency in the root package measures the latency).
const followWait = 10 * time.Second

// follower runs a follow in a goroutine, sending each entry (copied) on
// entries; err receives the error that ended the iteration (nil when ctx
// ended it) once it returned. If gate is not nil, each yield waits for a
// value from it first.
type follower struct {
	entries chan Entry
	err     chan error
}

func startFollower(ctx context.Context, l *Log, from uint64, gate <-chan struct{}) *follower {
	return startFollowing(l.Follow(ctx, from), gate)
}

// startDirFollower follows dir with FollowDir, polling every millisecond.
func startDirFollower(ctx context.Context, dir string, from uint64, gate <-chan struct{}) *follower {
	return startFollowing(FollowDir(ctx, dir, nil, from, time.Millisecond), gate)
}

func startFollowing(entries iter.Seq2[Entry, error], gate <-chan struct{}) *follower {
	f := &follower{entries: make(chan Entry, 1024), err: make(chan error, 1)}
	go func() {
		var ferr error
		for e, err := range entries {
			if err != nil {
				ferr = err
				break
			}
			if gate != nil {
				<-gate
			}
			f.entries <- copied(e)
		}
		f.err <- ferr
	}()
	return f
}

// next returns the next entry the follower yields.
func (f *follower) next(t *testing.T) Entry {
	t.Helper()
	select {
	case e := <-f.entries:
		return e
	case err := <-f.err:
		t.Fatalf("follow ended (err %v) while an entry was expected", err)
	case <-time.After(followWait):
		t.Fatalf("no entry within %v", followWait)
	}
	return Entry{}
}

// end returns the error the follow ended with, failing if it does not end.
func (f *follower) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-f.err:
		return err
	case <-time.After(followWait):
		t.Fatalf("follow did not end within %v", followWait)
		return nil
	}
}

func appendKey(t *testing.T, l *Log, key string, tomb bool) uint64 {
	t.Helper()
	seq, err := l.Append(Batch{Time: 7, Records: []Record{{Key: []byte(key), Value: []byte("v-" + key), Tombstone: tomb}}})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func TestFollowYieldsTheLogFromSeqThenEntriesAppendedLaterUntilCtxEnds(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(d.String(), func(t *testing.T) {
			l, err := Open(t.TempDir(), Options{Durability: d, Logger: crashQuiet})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for i := range 3 {
				appendKey(t, l, fmt.Sprint("old-", i), false)
			}
			ctx, cancel := context.WithCancel(context.Background())
			f := startFollower(ctx, l, 1, nil)
			for _, want := range []string{"old-1", "old-2"} {
				if e := f.next(t); string(e.Key) != want || string(e.Value) != "v-"+want || e.Time != 7 {
					t.Fatalf("got %d %q=%q at %d, want %s", e.Seq, e.Key, e.Value, e.Time, want)
				}
			}
			for i := range 5 {
				key := fmt.Sprint("new-", i)
				seq := appendKey(t, l, key, false)
				if e := f.next(t); e.Seq != seq || string(e.Key) != key {
					t.Fatalf("got %d %q, want %d %q", e.Seq, e.Key, seq, key)
				}
			}
			cancel()
			if err := f.end(t); err != nil {
				t.Fatalf("a follow ended by its context yielded %v", err)
			}
			if len(f.entries) != 0 {
				t.Fatalf("%d entries yielded after the last append", len(f.entries))
			}
		})
	}
}

func TestFollowFromPastTheEndWaitsForThatSeq(t *testing.T) {
	l, err := Open(t.TempDir(), Options{Durability: Eventual, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendKey(t, l, "a", false) // 0
	f := startFollower(t.Context(), l, 2, nil)
	appendKey(t, l, "b", false) // 1: before from
	appendKey(t, l, "c", false) // 2
	if e := f.next(t); e.Seq != 2 || string(e.Key) != "c" {
		t.Fatalf("got %d %q, want 2 c", e.Seq, e.Key)
	}
}

func TestFollowEndsAtOnceWithoutErrorOnACancelledContext(t *testing.T) {
	l, err := Open(t.TempDir(), Options{Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendKey(t, l, "a", false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for e, err := range l.Follow(ctx, 0) {
		t.Fatalf("a follow with a cancelled context yielded %d %q %v", e.Seq, e.Key, err)
	}
}

func TestFollowCloseWakesTheFollowerWithErrClosed(t *testing.T) {
	l, err := Open(t.TempDir(), Options{Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	appendKey(t, l, "a", false)
	f := startFollower(t.Context(), l, 0, nil)
	f.next(t) // now waiting
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.end(t); !errors.Is(err, ErrClosed) {
		t.Fatalf("follow ended with %v, want ErrClosed", err)
	}
	for _, err := range l.Follow(t.Context(), 0) {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Follow on a closed log yielded %v, want ErrClosed", err)
		}
	}
}

func TestFollowTruncateBackEndsItWithErrNotFound(t *testing.T) {
	l, err := Open(t.TempDir(), Options{Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 5 {
		appendKey(t, l, fmt.Sprint(i), false)
	}
	f := startFollower(t.Context(), l, 0, nil)
	for range 5 {
		f.next(t)
	}
	if err := l.TruncateBack(1); err != nil {
		t.Fatal(err)
	}
	appendKey(t, l, "reused-2", false)
	if err := f.end(t); !errors.Is(err, ErrNotFound) {
		t.Fatalf("follow ended with %v, want ErrNotFound", err)
	}
}

// TestFollowSkipsEntriesCompactedBeforeItReachedThem: a follower held in
// the middle of the log does not yield, once it goes on, the entries a
// compaction removed meanwhile, as Entries would not; it yields what
// came after them.
func TestFollowSkipsEntriesCompactedBeforeItReachedThem(t *testing.T) {
	l, err := Open(t.TempDir(), Options{Durability: Eventual, CompactionThreshold: 1, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendKey(t, l, "a", false)
	gate := make(chan struct{})
	f := startFollower(t.Context(), l, 0, gate)
	// The follower's first snapshot (holding only "a") must come before
	// "gone": it then waits at the gate with "a" while "gone" is appended
	// and compacted away. (It makes followWake when it takes it.)
	for waitingFollower := false; !waitingFollower; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		waitingFollower = l.followWake != nil
		l.mu.Unlock()
	}
	appendKey(t, l, "gone", false)
	appendKey(t, l, "gone", true) // removes both "gone" records
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	appendKey(t, l, "c", false)
	var got []string
	for range 2 {
		gate <- struct{}{}
		got = append(got, string(f.next(t).Key))
	}
	if fmt.Sprint(got) != "[a c]" {
		t.Fatalf("follower yielded %q, want [a c]", got)
	}
}

// TestFollowSurvivesRotationAndCompaction: while segments rotate every few
// batches and compaction rewrites and deletes sealed ones, a follower
// yields, in order and once each, every entry that is still live at the
// end, and only entries that were appended.
func TestFollowSurvivesRotationAndCompaction(t *testing.T) {
	l, err := Open(t.TempDir(), Options{Durability: Eventual, SegmentSize: MinSegmentSize, CompactionThreshold: 1, Compression: CompressionNone, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	f := startFollower(ctx, l, 0, nil)
	val := bytes.Repeat([]byte{'x'}, 300)
	appended := map[uint64]string{}
	const n = 200
	for i := range n {
		key := fmt.Sprint("k", i%20)
		tomb := i%20 == 19 && i%40 == 19 // removes k19 now and then
		seq, err := l.Append(Batch{Records: []Record{{Key: []byte(key), Value: fmt.Appendf(val[:0:0], "%s-%d", val, i), Tombstone: tomb}}})
		if err != nil {
			t.Fatal(err)
		}
		appended[seq] = fmt.Sprintf("%s-%d", val, i)
		if i%50 == 49 {
			if err := l.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkFollowed(t, f, l, appended)
	cancel()
	if err := f.end(t); err != nil {
		t.Fatal(err)
	}
}

// checkFollowed reads f until it yielded l's last live entry: each entry
// must have been appended (appended maps its sequence number to its
// value), in order, once, and every live entry of l must come. l must
// have rotated to segment 10 at least.
func checkFollowed(t *testing.T, f *follower, l *Log, appended map[uint64]string) {
	t.Helper()
	live := liveSeqs(t, l)
	yielded := map[uint64]bool{}
	prev := int64(-1)
	for prev < int64(live[len(live)-1]) {
		e := f.next(t)
		if int64(e.Seq) <= prev {
			t.Fatalf("sequence %d yielded after %d", e.Seq, prev)
		}
		if want, ok := appended[e.Seq]; !ok || string(e.Value) != want {
			t.Fatalf("sequence %d yielded with a value that was not appended there", e.Seq)
		}
		yielded[e.Seq], prev = true, int64(e.Seq)
	}
	if id := l.segs[len(l.segs)-1].id; id < 10 {
		t.Fatalf("the newest segment is %d: the test did not rotate enough", id)
	}
	for _, seq := range live {
		if !yielded[seq] {
			t.Errorf("live entry %d was never yielded", seq)
		}
	}
}

// liveSeqs returns the sequence numbers l.Entries(0) yields, at least one.
func liveSeqs(t *testing.T, l *Log) []uint64 {
	t.Helper()
	var live []uint64
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, e.Seq)
	}
	if len(live) == 0 {
		t.Fatal("no live entry")
	}
	return live
}

// TestCrashFollowYieldsOnlyDurableEntries: under Immediate a follower
// yields an entry only once it is durable. Writers append concurrently
// while every fdatasync is held in flight; at each entry the follower
// yields the strict crash state is taken, and every such state, opened,
// must hold that entry. A follower reading batches written but not yet
// synced fails here.
func TestCrashFollowYieldsOnlyDurableEntries(t *testing.T) {
	const writers, perWriter = 3, 15
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	fs.YieldDuringSyncs()
	type seen struct {
		key   string
		state *vfstest.FS
	}
	var states []seen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var ferr error
		for e, err := range l.Follow(ctx, 0) {
			if err != nil {
				ferr = err
				break
			}
			states = append(states, seen{string(e.Key), fs.CrashClone(vfstest.CrashOptions{})})
			if len(states) == writers*perWriter {
				break
			}
		}
		done <- ferr
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "w%d-%d", w, i)}}}); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(followWait):
		t.Fatal("the follower did not yield every appended entry")
	}
	cancel()
	fs.DuringSync(nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		l2, err := Open(crashDir, Options{FS: s.state, Logger: crashQuiet})
		if err != nil {
			t.Fatalf("state taken as %s was yielded: Open: %v", s.key, err)
		}
		found := false
		for e, err := range l2.Entries(0) {
			if err != nil {
				t.Fatal(err)
			}
			found = found || string(e.Key) == s.key
		}
		l2.Close()
		if !found {
			t.Fatalf("%s was yielded, but the crash state taken as it was yielded does not hold it", s.key)
		}
	}
}

// TestFollowDirSurvivesRotationCompactionAndReopen: a lock-free follower
// of a directory yields, in order and once each, only appended entries,
// and every entry still live at the end, while the writer rotates 4 KiB
// segments, compacts (rewriting and deleting sealed segments), repacks,
// and closes and reopens the log.
func TestFollowDirSurvivesRotationCompactionAndReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Durability: Eventual, SegmentSize: MinSegmentSize, CompactionThreshold: 1, Compression: CompressionNone, Logger: crashQuiet}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close() }()
	appendKey(t, l, "first", false)
	ctx, cancel := context.WithCancel(context.Background())
	f := startDirFollower(ctx, dir, 0, nil)
	val := bytes.Repeat([]byte{'x'}, 300)
	appended := map[uint64]string{0: "v-first"}
	const n = 300
	for i := range n {
		key := fmt.Sprint("k", i%20)
		tomb := i%40 == 19
		v := fmt.Sprintf("%s-%d", val, i)
		seq, err := l.Append(Batch{Records: []Record{{Key: []byte(key), Value: []byte(v), Tombstone: tomb}}})
		if err != nil {
			t.Fatal(err)
		}
		appended[seq] = v
		switch i % 100 {
		case 49:
			if err := l.Compact(); err != nil {
				t.Fatal(err)
			}
		case 99:
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if l, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkFollowed(t, f, l, appended)
	cancel()
	if err := f.end(t); err != nil {
		t.Fatal(err)
	}
}

// TestFollowDirSkipsEntriesCompactedBeforeItReadThem: entries a compaction
// removed before the directory follower read them are not yielded.
func TestFollowDirSkipsEntriesCompactedBeforeItReadThem(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{Durability: Eventual, CompactionThreshold: 1, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendKey(t, l, "a", false)
	gate := make(chan struct{})
	f := startDirFollower(t.Context(), dir, 0, gate)
	gate <- struct{}{} // a, read by the view; the follower now waits to send it
	appendKey(t, l, "gone", false)
	appendKey(t, l, "gone", true)
	appendKey(t, l, "c", false)
	got := []string{string(f.next(t).Key)}
	gate <- struct{}{}
	got = append(got, string(f.next(t).Key))
	if fmt.Sprint(got) != "[a c]" {
		t.Fatalf("follower yielded %q, want [a c]", got)
	}
}

func TestFollowDirOfAMissingDirFails(t *testing.T) {
	for _, err := range FollowDir(t.Context(), t.TempDir()+"/none", nil, 0, 0) {
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want fs.ErrNotExist", err)
		}
		return
	}
	t.Fatal("FollowDir of a missing directory yielded nothing")
}
