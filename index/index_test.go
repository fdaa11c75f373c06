package index

import (
	"math/rand/v2"
	"testing"
)

// build indexes segments of frames of 3 entries each: segment s holds
// frames per segment, sequence numbers contiguous from 0.
func build(segs, per int) *Index {
	x := New()
	var seq uint64
	for s := 1; s <= segs; s++ {
		for f := range per {
			x.Append(uint64(s), seq, seq+2, uint32(32+f*100))
			seq += 3
		}
	}
	return x
}

func TestFindEverySequenceNumber(t *testing.T) {
	x := build(4, 10)
	for seq := uint64(0); seq < 120; seq++ {
		id, off, ok := x.Find(seq)
		frame := seq / 3
		if !ok || id != uint64(frame/10+1) || off != uint32(32+(frame%10)*100) {
			t.Fatalf("Find(%d) = seg %d off %d ok %v; want seg %d off %d", seq, id, off, ok, frame/10+1, 32+(frame%10)*100)
		}
	}
	if _, _, ok := x.Find(120); ok {
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
		x.Ascend(from, func(id uint64, f Frame) bool {
			firsts = append(firsts, f.First)
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
	x.Descend(func(id uint64, f Frame) bool {
		firsts = append(firsts, f.First)
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
	x.SetSegment(2, []Frame{{First: 14, Off: 32}, {First: 20, Off: 90}}, 21)
	cases := []struct {
		seq    uint64
		ok     bool
		id     uint64
		offset uint32
	}{{11, true, 1, 332}, {12, false, 0, 0}, {14, true, 2, 32}, {19, true, 2, 32}, {21, true, 2, 90}, {22, false, 0, 0}, {24, true, 3, 32}}
	for _, c := range cases {
		id, off, ok := x.Find(c.seq)
		if ok != c.ok || (ok && (id != c.id || off != c.offset)) {
			t.Errorf("Find(%d) = %d,%d,%v; want %d,%d,%v", c.seq, id, off, ok, c.id, c.offset, c.ok)
		}
	}
	if x.Len() != 10 {
		t.Fatalf("Len = %d after replacing 4 frames by 2, want 10", x.Len())
	}
	x.SetSegment(2, nil, 0)
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
			c.Ascend(0, func(uint64, Frame) bool { n++; return true })
		}
		done <- n
	}()
	seed := uint64(7)
	r := rand.New(rand.NewPCG(seed, seed))
	seq := uint64(6)
	for range 1000 {
		n := uint64(r.IntN(5) + 1)
		x.Append(1, seq, seq+n-1, 0)
		seq += n
	}
	if n := <-done; n != 2 {
		t.Fatalf("clone saw %d frames, want the 2 it was cloned with (seed %d)", n, seed)
	}
	if x.Len() != 1002 {
		t.Fatalf("original has %d frames, want 1002", x.Len())
	}
}
