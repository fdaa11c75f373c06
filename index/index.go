// Package index is the in-memory map from sequence numbers to the frames
// that hold them: a B-tree (github.com/google/btree) of frame locations.
//
// It holds one item per frame, not per entry, so a journal written in
// batches costs a fraction of a byte of index per event. Snapshots are
// copy-on-write clones: a reader takes one in O(1) and iterates it while the
// writer keeps adding frames.
package index

import "github.com/google/btree"

// Loc locates one frame: the sequence numbers it holds and where it is.
type Loc struct {
	First uint64 // first sequence number in the frame
	Last  uint64 // last sequence number in the frame
	Seg   uint32 // segment number
	Off   uint32 // offset of the frame in its segment
}

// degree keeps nodes a few cache lines wide; measured, not critical.
const degree = 32

func less(a, b Loc) bool { return a.First < b.First }

// Index maps sequence numbers to frames. It is not safe for concurrent
// mutation; readers use Clone.
type Index struct {
	t *btree.BTreeG[Loc]
}

// New returns an empty index.
func New() *Index {
	return &Index{t: btree.NewG(degree, less)}
}

// Add inserts or replaces the frame starting at l.First.
func (x *Index) Add(l Loc) { x.t.ReplaceOrInsert(l) }

// Delete removes the frame starting at first, reporting whether it existed.
func (x *Index) Delete(first uint64) bool {
	_, ok := x.t.Delete(Loc{First: first})
	return ok
}

// Len is the number of frames.
func (x *Index) Len() int { return x.t.Len() }

// Clone returns a snapshot that later changes to x do not affect (and vice
// versa). It costs O(1); nodes are copied lazily on write.
func (x *Index) Clone() *Index { return &Index{t: x.t.Clone()} }

// Find returns the frame that holds seq, if any.
func (x *Index) Find(seq uint64) (Loc, bool) {
	var got Loc
	var ok bool
	x.t.DescendLessOrEqual(Loc{First: seq}, func(l Loc) bool {
		got, ok = l, seq <= l.Last
		return false
	})
	return got, ok
}

// Ascend calls fn for every frame that may hold sequence numbers >= from,
// in order, until fn returns false.
func (x *Index) Ascend(from uint64, fn func(Loc) bool) {
	start := from
	if l, ok := x.Find(from); ok {
		start = l.First
	}
	x.t.AscendGreaterOrEqual(Loc{First: start}, fn)
}

// Descend calls fn for every frame from the newest to the oldest until fn
// returns false.
func (x *Index) Descend(fn func(Loc) bool) { x.t.Descend(fn) }

// Min and Max return the oldest and newest frames.
func (x *Index) Min() (Loc, bool) { return x.t.Min() }

// Max returns the newest frame.
func (x *Index) Max() (Loc, bool) { return x.t.Max() }
