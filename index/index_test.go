package index

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seglog/journal/segment"
)

// build indexes segments of frames of 3 entries each: segment s holds
// frames per segment, sequence numbers contiguous from 0.
func build(segs, per int) *Index {
	x := New()
	var seq uint64
	for s := 1; s <= segs; s++ {
		for f := range per {
			x.Append(uint64(s), segment.FrameInfo{Offset: uint32(32 + f*100), Count: 3, First: seq, Last: seq + 2})
			seq += 3
		}
	}
	return x
}

func TestFindEverySequenceNumber(t *testing.T) {
	x := build(4, 10)
	for seq := uint64(0); seq < 120; seq++ {
		id, off, ok := findOf(t, x, seq)
		frame := seq / 3
		if !ok || id != uint64(frame/10+1) || off != uint32(32+(frame%10)*100) {
			t.Fatalf("Find(%d) = seg %d off %d ok %v; want seg %d off %d", seq, id, off, ok, frame/10+1, 32+(frame%10)*100)
		}
	}
	if _, _, ok := findOf(t, x, 120); ok {
		t.Fatal("Find past the end succeeded")
	}
	if x.Len() != 40 || x.Segments() != 4 {
		t.Fatalf("Len %d Segments %d, want 40 and 4", x.Len(), x.Segments())
	}
}

func TestAscendFromAnywhere(t *testing.T) {
	x := build(3, 5)
	for from := uint64(0); from <= 46; from++ {
		var firsts []uint64
		x.Ascend(from, func(id uint64, first uint64, off uint32) bool {
			firsts = append(firsts, first)
			return true
		})
		wantFirst := from / 3 * 3
		wantN := max(15-int(from/3), 0)
		if len(firsts) != wantN || (wantN > 0 && firsts[0] != wantFirst) {
			t.Fatalf("Ascend(%d): frames %v; want %d frames from %d", from, firsts, wantN, wantFirst)
		}
	}
}

func TestDescendAndBounds(t *testing.T) {
	x := build(2, 3)
	var firsts []uint64
	x.Descend(func(id uint64, first uint64, off uint32) bool {
		firsts = append(firsts, first)
		return len(firsts) < 4
	})
	if want := []uint64{15, 12, 9, 6}; len(firsts) != 4 || firsts[0] != want[0] || firsts[3] != want[3] {
		t.Fatalf("Descend = %v, want %v", firsts, want)
	}
	lo, hi, ok := x.Bounds()
	if !ok || lo != 0 || hi != 17 {
		t.Fatalf("Bounds = %d, %d, %v; want 0, 17", lo, hi, ok)
	}
}

func TestSetSegmentWithGaps(t *testing.T) {
	x := build(3, 4) // seg 2 holds 12..23
	x.SetSegment(2, []segment.FrameInfo{{First: 14, Last: 19, Count: 2, Offset: 32}, {First: 20, Last: 21, Count: 1, Offset: 90}})
	cases := []struct {
		seq    uint64
		ok     bool
		id     uint64
		offset uint32
	}{{11, true, 1, 332}, {12, false, 0, 0}, {14, true, 2, 32}, {19, true, 2, 32}, {21, true, 2, 90}, {22, false, 0, 0}, {24, true, 3, 32}}
	for _, c := range cases {
		id, off, ok := findOf(t, x, c.seq)
		if ok != c.ok || (ok && (id != c.id || off != c.offset)) {
			t.Errorf("Find(%d) = %d,%d,%v; want %d,%d,%v", c.seq, id, off, ok, c.id, c.offset, c.ok)
		}
	}
	if x.Len() != 10 {
		t.Fatalf("Len = %d after replacing 4 frames by 2, want 10", x.Len())
	}
	x.SetSegment(2, nil)
	if x.Segments() != 2 || x.Len() != 8 {
		t.Fatalf("after emptying segment 2: %d segments %d frames, want 2 and 8", x.Segments(), x.Len())
	}
}

// A clone does not see later appends, and the original does not see
// changes to the clone; appends racing with reads of a clone are safe.
func TestCloneIsolation(t *testing.T) {
	x := build(1, 2)
	c := x.Clone()
	done := make(chan int)
	go func() {
		n := 0
		for range 200 {
			n = 0
			c.Ascend(0, func(uint64, uint64, uint32) bool { n++; return true })
		}
		done <- n
	}()
	seed := uint64(7)
	r := rand.New(rand.NewPCG(seed, seed))
	seq := uint64(6)
	for range 1000 {
		n := uint64(r.IntN(5) + 1)
		x.Append(1, segment.FrameInfo{Count: uint32(n), First: seq, Last: seq + n - 1})
		seq += n
	}
	if n := <-done; n != 2 {
		t.Fatalf("clone saw %d frames, want the 2 it was cloned with (seed %d)", n, seed)
	}
	if x.Len() != 1002 {
		t.Fatalf("original has %d frames, want 1002", x.Len())
	}
}

// TestFramesSpanToTheNextFrame: Frames gives each frame of a segment the
// numbers up to the next frame's first, and the last frame the segment's
// last, in the segment's newest (tail) and older (tree) places alike.
func TestFramesSpanToTheNextFrame(t *testing.T) {
	x := build(3, 4) // segment s holds 12(s-1) .. 12s-1, frames of 3
	for _, id := range []uint64{2, 3} {
		frames := framesOf(t, x, id)
		if len(frames) != 4 {
			t.Fatalf("segment %d: %d frames, want 4", id, len(frames))
		}
		for i, f := range frames {
			first := 12*(id-1) + 3*uint64(i)
			want := segment.FrameInfo{Offset: uint32(32 + i*100), Count: 3, First: first, Last: first + 2}
			if f != want {
				t.Fatalf("segment %d frame %d: %+v, want %+v", id, i, f, want)
			}
		}
	}
	if f := framesOf(t, x, 9); f != nil {
		t.Fatalf("segment 9 (absent): %v, want none", f)
	}
}

// Frames gives back the count and last sequence number of sparse frames
// (gaps inside a frame, or between a frame and the next), as Append and
// AppendSegment were given them, in the tail and in the tree, and a clone
// taken before a frame made its predecessor's end odd keeps what it saw.
func TestFramesKeepSparseCountsAndLasts(t *testing.T) {
	frames := []segment.FrameInfo{
		{Offset: 32, Count: 3, First: 10, Last: 12},  // dense
		{Offset: 100, Count: 2, First: 13, Last: 20}, // a gap inside
		{Offset: 200, Count: 1, First: 25, Last: 25}, // a gap before the next
		{Offset: 300, Count: 4, First: 30, Last: 33},
		{Offset: 400, Count: 2, First: 40, Last: 50}, // sparse, the last
	}
	x := New()
	var before *Index
	for i, fr := range frames {
		if i == 3 {
			before = x.Clone() // frame 2 still ends at the segment's last
		}
		x.Append(1, fr)
	}
	if got := framesOf(t, x, 1); !slices.Equal(got, frames) {
		t.Errorf("tail: Frames = %v, want %v", got, frames)
	}
	if got := framesOf(t, before, 1); !slices.Equal(got, frames[:3]) {
		t.Errorf("clone: Frames = %v, want %v", got, frames[:3])
	}
	x.Append(2, segment.FrameInfo{Offset: 32, Count: 1, First: 60, Last: 60}) // moves segment 1 into the tree
	if got := framesOf(t, x, 1); !slices.Equal(got, frames) {
		t.Errorf("tree: Frames = %v, want %v", got, frames)
	}
	y := New()
	y.AppendSegment(1, frames)
	if got := framesOf(t, y, 1); !slices.Equal(got, frames) {
		t.Errorf("AppendSegment: Frames = %v, want %v", got, frames)
	}
}

// TestNewestFramesFromListsTheNewestSegmentFromAFrame: the frames of the
// newest segment from any position, whether they sit in the tail, in the
// tree or in both, with sparse frames' counts and lasts; nothing for an
// older segment.
func TestNewestFramesFromListsTheNewestSegmentFromAFrame(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		x := New()
		x.Append(1, segment.FrameInfo{Offset: 32, Count: 2, First: 1, Last: 2})
		var want []segment.FrameInfo
		seq := uint64(3)
		for i := range 10 {
			fr := segment.FrameInfo{Offset: uint32(32 + 100*i), Count: 1, First: seq, Last: seq}
			if i%4 == 3 {
				fr.Count, fr.Last = 2, seq+5 // sparse
			}
			want = append(want, fr)
			seq = fr.Last + 1
			if lazy && i < 6 {
				if i == 5 { // the first six as Open adds them after a Close
					prefix := slices.Clone(want)
					x.AppendLazySegment(2, Lazy{Frames: 6, First: prefix[0].First, Last: prefix[5].Last}, func() ([]segment.FrameInfo, error) { return prefix, nil })
				}
				continue
			}
			x.Append(2, fr)
			if i == 5 {
				x.flush() // the first six in the tree, the rest in the tail
			}
		}
		for i := 0; i <= len(want); i++ {
			got, err := x.NewestFramesFrom(nil, 2, i)
			if err != nil || len(got) != len(want)-i || (len(got) > 0 && !slices.Equal(got, want[i:])) {
				t.Fatalf("lazy %v, from %d: %v, %v; want %v", lazy, i, got, err, want[i:])
			}
		}
		if got, _ := x.NewestFramesFrom(nil, 1, 0); len(got) != 0 {
			t.Fatalf("lazy %v: segment 1 is not the newest, got %v", lazy, got)
		}
		// The two entries of segment 2 are one segment to every call by id.
		if got := framesOf(t, x, 2); !slices.Equal(got, want) {
			t.Fatalf("lazy %v: Frames(2) = %v, want %v", lazy, got, want)
		}
		if x.Segments() != 2 || !slices.Equal(x.SegmentIDs(), []uint64{1, 2}) || x.FrameCounts()[2] != 10 || x.NewestFrames(2) != 10 {
			t.Fatalf("lazy %v: Segments %d, SegmentIDs %v, FrameCounts %v, NewestFrames %d; want 2, [1 2], 10 and 10",
				lazy, x.Segments(), x.SegmentIDs(), x.FrameCounts(), x.NewestFrames(2))
		}
		if last, ok := x.Last(2); !ok || last != want[9].Last {
			t.Fatalf("lazy %v: Last(2) = %d, %v; want %d", lazy, last, ok, want[9].Last)
		}
		x.DeleteSegment(2)
		if x.Len() != 1 || x.Segments() != 1 {
			t.Fatalf("lazy %v: after DeleteSegment(2), %d frames in %d segments; want 1 in 1", lazy, x.Len(), x.Segments())
		}
	}
}

// TestAppendFramesIsAppendOfEach: AppendFrames indexes a newest segment
// (sparse frames included) as Append of each frame does, and a clone taken
// before it still sees what it was cloned with.
func TestAppendFramesIsAppendOfEach(t *testing.T) {
	frames := []segment.FrameInfo{
		{Offset: 32, Count: 2, First: 10, Last: 11},
		{Offset: 90, Count: 2, First: 14, Last: 20}, // sparse
		{Offset: 150, Count: 1, First: 21, Last: 21},
	}
	want, got := build(2, 3), build(2, 3)
	c := got.Clone()
	for _, fr := range frames {
		want.Append(3, fr)
	}
	got.AppendFrames(3, frames)
	if !slices.Equal(framesOf(t, got, 3), framesOf(t, want, 3)) || got.Len() != want.Len() {
		t.Fatalf("AppendFrames: %+v (%d frames); Append of each: %+v (%d)", framesOf(t, got, 3), got.Len(), framesOf(t, want, 3), want.Len())
	}
	if id, off, ok := findOf(t, got, 15); !ok || id != 3 || off != 90 {
		t.Fatalf("Find(15) = %d, %d, %v; want segment 3 at 90", id, off, ok)
	}
	if n := len(framesOf(t, c, 3)); n != 0 || c.Len() != 6 {
		t.Fatalf("a clone taken before sees %d frames of segment 3 and %d in all; want 0 and 6", n, c.Len())
	}
}

// framesOf is x.Frames(id), failing t on an error.
func framesOf(t *testing.T, x *Index, id uint64) []segment.FrameInfo {
	t.Helper()
	frames, err := x.Frames(id)
	if err != nil {
		t.Fatalf("Frames(%d): %v", id, err)
	}
	return frames
}

// findOf is x.Find(seq), failing t on an error.
func findOf(t *testing.T, x *Index, seq uint64) (id uint64, off uint32, ok bool) {
	t.Helper()
	id, off, ok, err := x.Find(seq)
	if err != nil {
		t.Fatalf("Find(%d): %v", seq, err)
	}
	return id, off, ok
}
