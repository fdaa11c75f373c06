package index

import (
	"errors"
	"slices"
	"testing"

	"github.com/seglog/journal/segment"
)

// lazyOf is build(segs, per) with its sealed segments (all but the last)
// added by AppendLazySegment, with their last frame as the tip if withTip;
// loads counts the loads.
func lazyOf(segs, per int, withTip bool, loads *int, err error) *Index {
	eager := build(segs, per)
	x := New()
	for _, id := range eager.SegmentIDs() {
		frames, _ := eager.Frames(id)
		if id == uint64(segs) {
			x.AppendFrames(id, frames)
			continue
		}
		lz := Lazy{Frames: len(frames), First: frames[0].First, Last: frames[len(frames)-1].Last}
		if withTip {
			lz.Tip = frames[len(frames)-1]
		}
		x.AppendLazySegment(id, lz, func() ([]segment.FrameInfo, error) {
			*loads++
			return frames, err
		})
	}
	return x
}

func TestLazySegmentIsLoadedOnceByTheFirstReadThatNeedsIt(t *testing.T) {
	loads := 0
	x, want := lazyOf(4, 10, true, &loads, nil), build(4, 10)
	c := x.Clone()
	// What the summary answers loads nothing.
	first, last, ok := x.Bounds()
	wf, wl, _ := want.Bounds()
	if !ok || first != wf || last != wl || x.Len() != want.Len() || x.Segments() != 4 {
		t.Fatalf("Bounds %d..%d Len %d Segments %d; want %d..%d, %d, 4", first, last, x.Len(), x.Segments(), wf, wl, want.Len())
	}
	if got := x.FrameCounts(); len(got) != 4 || got[1] != 10 {
		t.Fatalf("FrameCounts %v", got)
	}
	if l, ok := x.Last(2); !ok || l != 59 {
		t.Fatalf("Last(2) = %d, %v; want 59", l, ok)
	}
	// So does the tip, each segment's last frame.
	for _, seq := range []uint64{27, 29, 57, 89} {
		if g, w := triple(findOf(t, x, seq)), triple(findOf(t, want, seq)); g != w {
			t.Fatalf("Find(%d) in a tip = %v; eager index %v", seq, g, w)
		}
	}
	if loads != 0 {
		t.Fatalf("%d loads before any read of frames but the tips", loads)
	}
	for seq := uint64(0); seq < 120; seq++ {
		if g, w := triple(findOf(t, x, seq)), triple(findOf(t, want, seq)); g != w {
			t.Fatalf("Find(%d) = %v; eager index %v", seq, g, w)
		}
	}
	if loads != 3 {
		t.Fatalf("%d loads for 3 lazy segments read many times", loads)
	}
	// A clone taken before shares what was loaded.
	if !slices.Equal(framesOf(t, c, 2), framesOf(t, want, 2)) || loads != 3 {
		t.Fatalf("clone: frames differ or loaded again (%d loads)", loads)
	}
	var got, exp []uint64
	x.Ascend(7, func(_ uint64, first uint64, _ uint32) bool { got = append(got, first); return true })
	want.Ascend(7, func(_ uint64, first uint64, _ uint32) bool { exp = append(exp, first); return true })
	if !slices.Equal(got, exp) {
		t.Fatalf("Ascend(7) = %v; eager %v", got, exp)
	}
	x.DeleteSegment(1)
	if x.Len() != 30 {
		t.Fatalf("Len %d after deleting a segment of 10 frames of 40", x.Len())
	}
}

func TestLazySegmentLoadErrorIsReturnedByEveryReadThatNeedsIt(t *testing.T) {
	bad := errors.New("index file and segment both unreadable")
	loads := 0
	x := lazyOf(3, 5, false, &loads, bad)
	if _, _, _, err := x.Find(3); !errors.Is(err, bad) {
		t.Fatalf("Find in a segment that cannot load: %v", err)
	}
	if _, _, _, _, err := x.FindNext(20); !errors.Is(err, bad) {
		t.Fatalf("FindNext: %v", err)
	}
	if _, err := x.Frames(1); !errors.Is(err, bad) {
		t.Fatalf("Frames: %v", err)
	}
	if err := x.Ascend(0, func(uint64, uint64, uint32) bool { return true }); !errors.Is(err, bad) {
		t.Fatalf("Ascend: %v", err)
	}
	if err := x.Descend(func(uint64, uint64, uint32) bool { return true }); !errors.Is(err, bad) {
		t.Fatalf("Descend: %v", err)
	}
	// The newest segment reads without it.
	if id, _, ok := findOf(t, x, 40); !ok || id != 3 {
		t.Fatalf("Find in the newest segment: %d, %v", id, ok)
	}
	if loads != 2 {
		t.Fatalf("%d loads of 2 segments whose load fails; want each tried once", loads)
	}
}

func triple(id uint64, off uint32, ok bool) [3]any { return [3]any{id, off, ok} }

// TestASegmentInTwoPartsCountsOnce: the newest segment's frames from before
// Open (lazy) and those appended after, sealed into the tree by the next
// segment's first frame, are two entries of one segment: every call by id
// sees one segment.
func TestASegmentInTwoPartsCountsOnce(t *testing.T) {
	x := New()
	prefix := []segment.FrameInfo{{Offset: 32, Count: 1, First: 1, Last: 1}, {Offset: 80, Count: 1, First: 2, Last: 2}}
	x.AppendLazySegment(1, Lazy{Frames: 2, First: 1, Last: 2}, func() ([]segment.FrameInfo, error) { return prefix, nil })
	x.Append(1, segment.FrameInfo{Offset: 128, Count: 1, First: 3, Last: 3})
	x.Append(2, segment.FrameInfo{Offset: 32, Count: 1, First: 4, Last: 4}) // segment 1 into the tree
	if n, ids := x.Segments(), x.SegmentIDs(); n != 2 || !slices.Equal(ids, []uint64{1, 2}) {
		t.Fatalf("Segments %d, SegmentIDs %v; want 2 and [1 2]", n, ids)
	}
	if c := x.FrameCounts(); c[1] != 3 || c[2] != 1 {
		t.Fatalf("FrameCounts %v; want 3 and 1", c)
	}
	if got := framesOf(t, x, 1); len(got) != 3 || got[2].First != 3 {
		t.Fatalf("Frames(1) = %v", got)
	}
	if last, ok := x.Last(1); !ok || last != 3 {
		t.Fatalf("Last(1) = %d, %v; want 3", last, ok)
	}
	x.SetSegment(1, prefix[1:]) // a rewrite keeps one frame
	if n, l := x.Segments(), x.Len(); n != 2 || l != 2 {
		t.Fatalf("after SetSegment: %d segments, %d frames; want 2 and 2", n, l)
	}
}
