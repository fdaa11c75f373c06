package compactor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

type modelEntry struct {
	seq  uint64
	seg  uint64
	key  string
	tomb bool
	gone bool // purged from disk
}

// modelDead is the rule, computed by brute force: an entry is removed when
// an applied tombstone of its key has a sequence number >= its own.
func modelDead(es []modelEntry, applied int) []bool {
	dead := make([]bool, len(es))
	for i := range es {
		for j := i; j < applied; j++ {
			if es[j].tomb && es[j].key == es[i].key {
				dead[i] = true
				break
			}
		}
	}
	return dead
}

// A random history of appends, applies, purges and checkpoint round trips,
// checked against the brute-force rule after every step.
func TestStateAgainstModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		s := NewState()
		var es []modelEntry
		applied := 0
		for step := range 600 {
			switch op := r.IntN(10); {
			case op < 7: // append
				seq := uint64(len(es))
				e := modelEntry{seq: seq, seg: seq / 50, key: fmt.Sprintf("k%d", r.IntN(6)), tomb: r.IntN(5) == 0}
				es = append(es, e)
				s.Observe(e.seg, e.seq, []byte(e.key), e.tomb)
			case op < 9: // apply
				s.Apply()
				applied = len(es)
			default: // purge the removed entries of one segment, or round-trip a checkpoint
				if r.IntN(2) == 0 {
					s2, err := DecodeState(s.AppendBinary(nil))
					if err != nil {
						t.Fatalf("seed %d step %d: checkpoint round trip: %v", seed, step, err)
					}
					s = s2
					continue
				}
				dead := modelDead(es, applied)
				seg := uint64(r.IntN(len(es)/50 + 1))
				deadAtStart := s.Segment(seg).Dead
				var kept uint64
				for i := range es {
					if es[i].seg != seg || es[i].gone {
						continue
					}
					if dead[i] {
						es[i].gone = true
					} else {
						kept++
					}
				}
				s.Rewritten(seg, kept, deadAtStart, 0)
				dirtyFrom := uint64(len(es))
				for i := range es {
					if dead[i] && !es[i].gone {
						dirtyFrom = min(dirtyFrom, uint64(es[i].seg)*50)
					}
				}
				s.Forget(dirtyFrom)
			}
			dead := modelDead(es, applied)
			d := s.Dead()
			var live uint64
			segs := map[uint64]SegCounts{}
			for i, e := range es {
				if !dead[i] {
					live++
				}
				if e.gone {
					continue
				}
				if got := d.IsDead(e.seq, []byte(e.key)); got != dead[i] {
					t.Fatalf("seed %d step %d: IsDead(%d, %s) = %v, want %v", seed, step, e.seq, e.key, got, dead[i])
				}
				c := segs[e.seg]
				c.Total++
				if dead[i] {
					c.Dead++
				}
				segs[e.seg] = c
			}
			if s.Live() != live {
				t.Fatalf("seed %d step %d: Live() = %d, want %d", seed, step, s.Live(), live)
			}
			for id, want := range segs {
				if got := s.Segment(id); got != want {
					t.Fatalf("seed %d step %d: segment %d counts %+v, want %+v", seed, step, id, got, want)
				}
			}
			pending := false
			for i := applied; i < len(es); i++ {
				pending = pending || es[i].tomb
			}
			if s.Pending() != pending {
				t.Fatalf("seed %d step %d: Pending() = %v, want %v", seed, step, s.Pending(), pending)
			}
		}
	}
}

// Keys with nothing left on disk are forgotten, so the state stays
// proportional to the keys that matter.
func TestIdleKeysAreForgotten(t *testing.T) {
	s := NewState()
	for i := range 1000 {
		k := []byte(fmt.Sprintf("route-%d", i))
		s.Observe(0, uint64(2*i), k, false)
		s.Observe(0, uint64(2*i+1), k, true)
	}
	s.Apply()
	if s.Live() != 0 || s.Keys() != 1000 {
		t.Fatalf("after applying: live %d keys %d; want 0 live, 1000 keys still on disk", s.Live(), s.Keys())
	}
	s.Rewritten(0, 0, 2000, 0)
	s.Forget(2000) // no removed record left on disk
	if s.Keys() != 0 || !s.Dead().Empty() {
		t.Fatalf("after purging everything: %d keys tracked, dead set empty %v; want none", s.Keys(), s.Dead().Empty())
	}
}

func TestDecodeStateRejectsDamage(t *testing.T) {
	s := NewState()
	s.Observe(1, 0, []byte("a"), false)
	s.Observe(1, 1, []byte("a"), true)
	s.Apply()
	good := s.AppendBinary(nil)
	for cut := range len(good) {
		if _, err := DecodeState(good[:cut]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: got %v, want ErrCorrupt", cut, err)
		}
	}
	if _, err := DecodeState(append(append([]byte{}, good...), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: got %v, want ErrCorrupt", err)
	}
	huge := []byte{0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, err := DecodeState(huge); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("huge key count: got %v, want ErrCorrupt", err)
	}
}

// TestApplyAfterSegmentGoneDoesNotPanic: a key's entries sit in a segment
// the state has been told is gone (deleted by a compaction whose checkpoint
// was lost, or by repair); a tombstone for the key then applies without a
// nil dereference, and the gone segment is not counted again.
func TestApplyAfterSegmentGoneDoesNotPanic(t *testing.T) {
	s := NewState()
	s.Observe(1, 10, []byte("route-a"), false)
	s.Observe(2, 20, []byte("route-a"), false)
	s.SegmentGone(1)
	s.Observe(3, 30, []byte("route-a"), true)
	s.Apply()
	if got := s.Segment(1); got != (SegCounts{}) {
		t.Fatalf("gone segment 1 counted again: %+v", got)
	}
	if got := s.Segment(2); got.Dead != 1 {
		t.Fatalf("segment 2: %+v; want its entry dead", got)
	}
	if !s.Dead().IsDead(20, []byte("route-a")) {
		t.Fatal("the applied tombstone does not remove the entry at 20")
	}
}
