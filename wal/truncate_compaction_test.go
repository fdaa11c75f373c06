package wal

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// Truncation needs compaction off, but a log may be compacted in one
// session, truncated in the next with compaction off and opened with
// compaction again. The compaction state the third session starts from
// must describe the records on disk after the truncation: none of the
// records the truncation removed (their numbers reused by new records, or
// below the front) may count, and every record written since must.
//
// Each case runs the three sessions; reading every entry of the last one
// must give want, and LiveHint, Stat and the reference scan must agree
// with what the read gives, before and after a compaction.
func TestReopenWithCompactionAfterTruncatingWithCompactionOff(t *testing.T) {
	type op struct {
		key   string
		tomb  bool
		front uint64 // TruncateFront(front) when > 0
		back  int64  // TruncateBack(back) when >= 0
	}
	put := func(k string) op { return op{key: k, back: -1} }
	del := func(k string) op { return op{key: k, tomb: true, back: -1} }
	front := func(seq uint64) op { return op{front: seq, back: -1} }
	back := func(seq int64) op { return op{back: seq} }
	compact := op{back: -1}
	cases := []struct {
		name    string
		on, off []op   // the sessions with compaction on, then off
		applyAt uint64 // the first session's CompactionThreshold; 0: only Compact applies
		want    []string
		after   []string // what the last session reads after Compact
	}{{
		// The checkpoint removes b up to sequence 2; sequence 1 is b
		// again, written after the cut.
		name:  "TruncateBack reuses a number an applied tombstone covered",
		on:    []op{put("a"), put("b"), del("b"), compact, put("c")},
		off:   []op{back(0), put("b"), put("x")},
		want:  []string{"0 a", "1 b", "2 x"},
		after: []string{"0 a", "1 b", "2 x"},
	}, {
		// The same with the removal applied by the append of the
		// tombstone: the removed records are still on disk, and so is
		// the removal in the checkpoint.
		name:    "TruncateBack reuses a number an applied tombstone covers on disk",
		on:      []op{put("a"), put("b"), del("b"), put("c")},
		applyAt: 1,
		off:     []op{back(0), put("b"), put("x")},
		want:    []string{"0 a", "1 b", "2 x"},
		after:   []string{"0 a", "1 b", "2 x"},
	}, {
		// The tombstone of x at 2 is written after the cut, over numbers
		// the checkpoint covers: compaction must still apply it.
		name:  "TruncateBack then a tombstone under the checkpoint's numbers",
		on:    []op{put("a"), put("b"), put("c"), put("d")},
		off:   []op{back(0), put("x"), del("x"), put("y")},
		want:  []string{"0 a", "1 x", "2 x(tombstone)", "3 y"},
		after: []string{"0 a", "3 y"},
	}, {
		// Records below the front stay on disk in a segment that also
		// holds kept ones; they are not live.
		name:  "TruncateFront inside a segment",
		on:    []op{put("a"), put("a"), put("b"), put("c")},
		off:   []op{front(2), put("d")},
		want:  []string{"2 b", "3 c", "4 d"},
		after: []string{"2 b", "3 c", "4 d"},
	}, {
		// A tombstone below the front removed nothing a reader sees.
		name:  "TruncateFront past a tombstone",
		on:    []op{put("a"), del("a"), put("a"), put("b")},
		off:   []op{front(2)},
		want:  []string{"2 a", "3 b"},
		after: []string{"2 a", "3 b"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			run := func(threshold uint64, ops []op) {
				opts := Options{Logger: crashQuiet, Inline: true, CompactionThreshold: threshold}
				l, err := Open(dir, opts)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range ops {
					switch {
					case o.front > 0:
						err = l.TruncateFront(o.front)
					case o.back >= 0:
						err = l.TruncateBack(uint64(o.back))
					case o.key == "":
						err = l.Compact()
					default:
						_, err = l.Append(Batch{Records: []Record{{Key: []byte(o.key), Value: []byte(o.key), Tombstone: o.tomb}}})
					}
					if err != nil {
						t.Fatalf("%+v: %v", o, err)
					}
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			run(cmp.Or(tc.applyAt, 1<<40), tc.on)
			run(0, tc.off)
			l, err := Open(dir, Options{Logger: crashQuiet, Inline: true, CompactionThreshold: 1 << 40})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			check := func(when string, want []string) {
				t.Helper()
				var got []string
				for e, err := range l.Entries(0) {
					if err != nil {
						t.Fatal(err)
					}
					s := fmt.Sprintf("%d %s", e.Seq, e.Key)
					if e.Tombstone {
						s += "(tombstone)"
					}
					got = append(got, s)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: entries %q, want %q", when, got, want)
				}
				if n := l.LiveHint(); n != len(got) {
					t.Errorf("%s: LiveHint %d, a read gives %d", when, n, len(got))
				}
				st, err := Stat(dir, nil)
				if err != nil || st.Entries != uint64(len(got)) {
					t.Errorf("%s: Stat gives %d entries (%v), a read %d", when, st.Entries, err, len(got))
				}
				checkStat(t, 0, when, dir)
			}
			check("opened", tc.want)
			if err := l.Compact(); err != nil {
				t.Fatal(err)
			}
			check("compacted", tc.after)
		})
	}
}

// Compaction leaves gaps in the sequence numbers: a frame whose first
// records were removed starts after the end of the frame before it.
// TruncateBack inside such a frame, with compaction off, keeps the
// records of it below the cut under their own numbers, after the gap.
func TestTruncateBackInsideAFrameAfterACompactionGap(t *testing.T) {
	dir := t.TempDir()
	// Uncompressed frames too large to repack, so the frames stay as
	// written.
	opts := Options{SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Compression: CompressionNone, Inline: true, Logger: crashQuiet}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(k string) Record { return Record{Key: []byte(k), Value: bytes.Repeat([]byte(k), 300)} }
	fill := func(k string) { // until a new segment starts
		t.Helper()
		for seg := l.active.ID(); l.active.ID() == seg; {
			if _, err := l.Append(Batch{Records: []Record{rec(k)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// a, then records of b up to the first of the second segment, then c
	// and d in one frame, then the tombstone of b. The rewrites leave a
	// in the first segment and a frame of c and d, after a gap, in the
	// second.
	if _, err := l.Append(Batch{Records: []Record{rec("a")}}); err != nil {
		t.Fatal(err)
	}
	fill("b")
	c := l.NextSeq()
	for _, batch := range []Batch{{Records: []Record{rec("c"), rec("d")}}, {Records: []Record{{Key: []byte("b"), Tombstone: true}}}} {
		if _, err := l.Append(batch); err != nil {
			t.Fatal(err)
		}
	}
	fill("f")
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(c - 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("setup: Get(%d) after compaction: %v, want ErrNotFound", c-1, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts.CompactionThreshold = 0 // truncation needs compaction off
	if l, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateBack(c); err != nil { // c stays, d goes
		t.Fatalf("TruncateBack(%d) inside the frame starting at %d after a gap: %v", c, c, err)
	}
	for _, reopen := range []bool{false, true} {
		if reopen {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if l, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for e, err := range l.Entries(0) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d %s", e.Seq, e.Key))
		}
		if want := []string{"0 a", fmt.Sprintf("%d c", c)}; !slices.Equal(got, want) {
			t.Errorf("reopened %v: entries %q, want %q", reopen, got, want)
		}
		if n := l.NextSeq(); n != c+1 {
			t.Errorf("reopened %v: NextSeq %d, want %d", reopen, n, c+1)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkStat(t, 0, "closed after the cut", dir)
}

// TestTruncationRemovesACheckpointOnlyWhereOneWasLeft: a truncation with
// compaction off removes the checkpoint an earlier session with compaction
// on left, once; a log that never had one (the raft store's) makes no
// removal at all for it, whatever it truncates.
func TestTruncationRemovesACheckpointOnlyWhereOneWasLeft(t *testing.T) {
	for _, withCpt := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoint left: %v", withCpt), func(t *testing.T) {
			fs := crashFS(t)
			opts := Options{FS: fs, SegmentSize: MinSegmentSize, Inline: true, Logger: crashQuiet}
			first := opts
			if withCpt {
				first.CompactionThreshold = 1 << 30
			}
			l, err := Open(crashDir, first)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				if _, err := l.Append(Batch{Records: []Record{{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")}}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if l, err = Open(crashDir, opts); err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			removes := fs.Count(vfstest.OpRemove)
			for _, seq := range []uint64{3, 6, 9} {
				if err := l.TruncateFront(seq); err != nil {
					t.Fatal(err)
				}
			}
			want := 0
			if withCpt {
				want = 1
			}
			if got := fs.Count(vfstest.OpRemove) - removes; got != want {
				t.Fatalf("three front truncations removed %d files; want %d", got, want)
			}
			if _, err := fs.Stat(filepath.Join(crashDir, checkpointName)); err == nil {
				t.Fatal("the checkpoint is still there")
			}
		})
	}
}
