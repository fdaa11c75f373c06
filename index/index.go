package index

import (
	"slices"
	"sort"
	"sync"

	"github.com/google/btree"

	"github.com/seglog/journal/segment"
)

// seg is one segment's frames. Readers share the backing arrays; the
// writer only ever appends past every reader's length or replaces a seg
// whole, so shared elements never change.
type seg struct {
	id    uint64
	first uint64 // first sequence number of the first frame
	last  uint64 // last sequence number in the segment
	// firsts and offs hold, per frame, its first sequence number
	// (ascending) and offset; empty in a lazy seg, whose lazy holds them.
	firsts []uint64
	offs   []uint32
	// odd holds the count and last sequence number of the frames whose
	// numbers do not run from their first to the next frame's first (or
	// the segment's last): sparse frames, which compaction or a cut left
	// with gaps. Rare; replaced, never changed, once readers may share it.
	odd map[int]oddFrame
	// lazy, when not nil: a segment added by AppendLazySegment, of n
	// frames, whose frames are read when first needed; tip is its last
	// frame, if known (Count not 0).
	lazy *lazySeg
	n    int
	tip  segment.FrameInfo
}

// Lazy is what AppendLazySegment knows of a segment before its frames are
// loaded.
type Lazy struct {
	Frames      int    // number of frames
	First, Last uint64 // first sequence number of the first frame, last of the last
	// Tip, if its Count is not 0, is the last frame: Find and FindNext
	// answer for its sequence numbers without loading the others (a
	// log's reads go to its newest entries).
	Tip segment.FrameInfo
}

// lazySeg is a sealed segment's frames, loaded once, by the first read
// that needs them (from any clone: they share it).
type lazySeg struct {
	once sync.Once
	load func() ([]segment.FrameInfo, error) // nil once called
	s    seg                                 // the loaded frames
	err  error                               // the load's error
}

// oddFrame is what Frames cannot derive of a sparse frame.
type oddFrame struct {
	count uint32
	last  uint64
}

// count is the number of frames of s.
func (s seg) count() int {
	if s.lazy != nil {
		return s.n
	}
	return len(s.firsts)
}

// loaded returns s with its frames, loading them if s is lazy.
func (s seg) loaded() (seg, error) {
	z := s.lazy
	if z == nil {
		return s, nil
	}
	z.once.Do(func() {
		frames, err := z.load()
		z.load = nil
		if err != nil {
			z.err = err
			return
		}
		z.s = newSeg(s.id, frames)
	})
	return z.s, z.err
}

func less(a, b seg) bool { return a.first < b.first }

// degree: a journal has tens to thousands of segments; small nodes suffice.
const degree = 8

// Index maps sequence numbers to frames. It is not safe for concurrent
// mutation; readers use Clone.
//
// The newest segment, the one appended to, is kept beside the tree rather
// than in it, so adding a frame is an append to two slices instead of a
// tree update; it enters the tree when a newer segment starts.
//
// A sealed segment may be lazy (AppendLazySegment): its frames are read
// when a call first needs them, and the calls that may need them return
// the read's error.
type Index struct {
	t      *btree.BTreeG[seg]
	tail   seg // the newest segment; no frames when tail.firsts is empty
	frames int
}

// flush moves the tail segment into the tree.
func (x *Index) flush() {
	if len(x.tail.firsts) > 0 {
		x.t.ReplaceOrInsert(x.tail)
		x.tail = seg{}
	}
}

// ascendAll calls fn for the segments starting at or after from, in
// order, the tail last, until fn returns false.
func (x *Index) ascendAll(from uint64, fn func(s seg) bool) {
	ok := true
	if from == 0 {
		x.t.Ascend(func(s seg) bool { ok = fn(s); return ok })
	} else {
		x.t.AscendGreaterOrEqual(key(from), func(s seg) bool { ok = fn(s); return ok })
	}
	if ok && len(x.tail.firsts) > 0 && x.tail.first >= from {
		fn(x.tail)
	}
}

// New returns an empty index.
func New() *Index {
	return &Index{t: btree.NewG(degree, less)}
}

// key returns a probe item whose first sequence number is seq.
func key(seq uint64) seg { return seg{first: seq} }

// Append adds frame fr of segment id. Frames are appended in sequence
// order: fr.First must be greater than every sequence number already
// indexed, and id must be the newest segment or a new one. Frames gives
// back fr's Count and Last, also for a sparse frame.
func (x *Index) Append(id uint64, fr segment.FrameInfo) {
	if len(x.tail.firsts) > 0 && x.tail.id != id {
		x.flush()
	}
	t := &x.tail
	if len(t.firsts) == 0 {
		t.id, t.first = id, fr.First
	} else if prev := len(t.firsts) - 1; t.last+1 != fr.First {
		// The previous frame no longer ends at the segment's last.
		t.setOdd(prev, t.frameAt(prev))
	}
	t.firsts = append(t.firsts, fr.First)
	t.offs = append(t.offs, fr.Offset)
	t.last = fr.Last
	if uint64(fr.Count) != fr.Last-fr.First+1 {
		t.setOdd(len(t.firsts)-1, fr)
	}
	x.frames++
}

// AppendFrames is Append of each of frames (ascending) of segment id, with
// room made for them at once: Open adds the newest segment so.
func (x *Index) AppendFrames(id uint64, frames []segment.FrameInfo) {
	if len(frames) == 0 {
		return
	}
	if len(x.tail.firsts) > 0 && x.tail.id != id {
		x.flush()
	}
	// Only the writer holds the tail's arrays beyond readers' lengths, so
	// moving them to larger ones changes nothing a reader sees.
	x.tail.firsts = slices.Grow(x.tail.firsts, len(frames))
	x.tail.offs = slices.Grow(x.tail.offs, len(frames))
	for _, fr := range frames {
		x.Append(id, fr)
	}
}

// setOdd records the count and last of frame i, in a new map: readers may
// hold the old one.
func (s *seg) setOdd(i int, fr segment.FrameInfo) {
	odd := make(map[int]oddFrame, len(s.odd)+1)
	for k, v := range s.odd {
		odd[k] = v
	}
	odd[i] = oddFrame{count: fr.Count, last: fr.Last}
	s.odd = odd
}

// frameAt is frame i of s (loaded).
func (s *seg) frameAt(i int) segment.FrameInfo {
	first := s.firsts[i]
	if o, ok := s.odd[i]; ok {
		return segment.FrameInfo{Offset: s.offs[i], Count: o.count, First: first, Last: o.last}
	}
	last := s.last
	if i+1 < len(s.firsts) {
		last = s.firsts[i+1] - 1
	}
	return segment.FrameInfo{Offset: s.offs[i], Count: uint32(last - first + 1), First: first, Last: last}
}

// AppendSegment adds a whole segment after every one indexed, as Append
// of each of its frames (ascending) would: Open adds sealed segments so.
func (x *Index) AppendSegment(id uint64, frames []segment.FrameInfo) {
	if len(frames) == 0 {
		return
	}
	x.flush()
	x.t.ReplaceOrInsert(newSeg(id, frames))
	x.frames += len(frames)
}

// AppendLazySegment adds a segment after every one indexed, as
// AppendSegment would, known by its summary lz until a call needs its
// frames: then load gives them, once, for
// this index and its clones. load must return the lz.Frames frames (ascending)
// from lz.First to lz.Last, or an error, which every call that needs them
// returns. Open adds sealed segments so, and reads their index files only
// when they are read; and so the newest segment's frames from before a
// Close, to which Append then adds.
func (x *Index) AppendLazySegment(id uint64, lz Lazy, load func() ([]segment.FrameInfo, error)) {
	if lz.Frames == 0 {
		return
	}
	x.flush()
	x.t.ReplaceOrInsert(seg{id: id, first: lz.First, last: lz.Last, n: lz.Frames, tip: lz.Tip, lazy: &lazySeg{load: load}})
	x.frames += lz.Frames
}

// newSeg indexes frames (ascending) of segment id.
func newSeg(id uint64, frames []segment.FrameInfo) seg {
	s := seg{id: id, first: frames[0].First, last: frames[len(frames)-1].Last, firsts: make([]uint64, len(frames)), offs: make([]uint32, len(frames))}
	for i, f := range frames {
		s.firsts[i], s.offs[i] = f.First, f.Offset
	}
	for i, f := range frames {
		if s.frameAt(i) != f {
			if s.odd == nil {
				s.odd = map[int]oddFrame{}
			}
			s.odd[i] = oddFrame{count: f.Count, last: f.Last}
		}
	}
	return s
}

// SetSegment replaces every frame of segment id, an older segment than the
// one appended to, with frames (sorted by First, all within the segment's
// former range). With no frames the segment is dropped.
func (x *Index) SetSegment(id uint64, frames []segment.FrameInfo) {
	x.DeleteSegment(id)
	if len(frames) == 0 {
		return
	}
	x.t.ReplaceOrInsert(newSeg(id, frames))
	x.frames += len(frames)
}

// DeleteSegment drops every frame of segment id.
func (x *Index) DeleteSegment(id uint64) {
	if len(x.tail.firsts) > 0 && x.tail.id == id {
		x.frames -= len(x.tail.firsts)
		x.tail = seg{}
	}
	for _, s := range x.parts(id) {
		x.t.Delete(s)
		x.frames -= s.count()
	}
}

// parts returns the entries of segment id, in order: one, but for the
// newest segment, whose frames from before Open may be a lazy entry in the
// tree (AppendLazySegment) and the rest the tail.
func (x *Index) parts(id uint64) []seg {
	var out []seg
	x.ascendAll(0, func(s seg) bool {
		if s.id == id {
			out = append(out, s)
		}
		return true
	})
	return out
}

// Frames returns the frames of segment id, each with the count and last
// sequence number it was indexed with; an error only when they had to be
// loaded (see AppendLazySegment) and could not.
func (x *Index) Frames(id uint64) ([]segment.FrameInfo, error) {
	var out []segment.FrameInfo
	for _, s := range x.parts(id) {
		s, err := s.loaded()
		if err != nil {
			return nil, err
		}
		for i := range s.firsts {
			out = append(out, s.frameAt(i))
		}
	}
	return out, nil
}

// Last returns the last sequence number of segment id without loading its
// frames; ok is false when id holds no frames.
func (x *Index) Last(id uint64) (last uint64, ok bool) {
	p := x.parts(id)
	if len(p) == 0 {
		return 0, false
	}
	return p[len(p)-1].last, true
}

// NewestFrames is the number of frames of segment id, the newest segment
// (the one Append adds to); 0 if id is not the newest.
func (x *Index) NewestFrames(id uint64) int {
	n := 0
	if len(x.tail.firsts) > 0 {
		if x.tail.id != id {
			return 0
		}
		n = len(x.tail.firsts)
	}
	if m, ok := x.t.Max(); ok && m.id == id {
		n += m.count()
	}
	return n
}

// NewestFramesFrom appends to dst the frames of segment id, the newest
// segment, from its i-th (as NewestFrames counts them) on; none if id is
// not the newest. Its frames from before Open are loaded only if i lies
// among them (see AppendLazySegment); the error is the load's.
func (x *Index) NewestFramesFrom(dst []segment.FrameInfo, id uint64, i int) ([]segment.FrameInfo, error) {
	var parts []seg
	if m, ok := x.t.Max(); ok && m.id == id && (len(x.tail.firsts) == 0 || x.tail.id == id) {
		parts = append(parts, m)
	}
	if len(x.tail.firsts) > 0 && x.tail.id == id {
		parts = append(parts, x.tail)
	}
	n := -i
	for _, s := range parts {
		n += s.count()
	}
	// Room for all at once: a segment sealed has a million frames.
	dst = slices.Grow(dst, max(n, 0))
	for _, s := range parts {
		if i >= s.count() {
			i -= s.count()
			continue
		}
		s, err := s.loaded()
		if err != nil {
			return dst, err
		}
		for ; i < len(s.firsts); i++ {
			dst = append(dst, s.frameAt(i))
		}
		i -= len(s.firsts)
	}
	return dst, nil
}

// FrameCounts returns the number of frames of each segment, by id.
func (x *Index) FrameCounts() map[uint64]int {
	out := make(map[uint64]int, x.Segments())
	x.ascendAll(0, func(s seg) bool {
		out[s.id] += s.count()
		return true
	})
	return out
}

// Len is the number of frames.
func (x *Index) Len() int { return x.frames }

// Segments is the number of segments holding frames (one segment's parts,
// adjacent in order, counted once: see parts).
func (x *Index) Segments() int {
	n, prev := 0, uint64(0)
	x.ascendAll(0, func(s seg) bool {
		if n == 0 || s.id != prev {
			n++
		}
		prev = s.id
		return true
	})
	return n
}

// Clone returns a snapshot that later changes to x do not affect (and vice
// versa). It costs O(1); tree nodes are copied lazily on write, and the
// tail's slices are shared: the writer only appends past the clone's
// length.
func (x *Index) Clone() *Index {
	c := &Index{t: x.t.Clone(), tail: x.tail, frames: x.frames}
	c.tail.firsts = slices.Clip(c.tail.firsts)
	c.tail.offs = slices.Clip(c.tail.offs)
	return c
}

// Find returns the segment and offset of the frame that may hold seq: the
// frame with the greatest first sequence number <= seq, within a segment
// whose range covers seq. ok is false when no frame can hold seq; err is
// set when the segment's frames had to be loaded and could not.
func (x *Index) Find(seq uint64) (id uint64, off uint32, ok bool, err error) {
	id, off, _, ok, err = x.FindNext(seq)
	return id, off, ok, err
}

// FindNext is Find that also returns where the frame ends when that is
// known: the offset of the next frame in the same segment, or 0 for the
// segment's last frame.
func (x *Index) FindNext(seq uint64) (id uint64, off, next uint32, ok bool, err error) {
	look := func(s seg) bool {
		if seq > s.last {
			return false
		}
		if s.lazy != nil && s.tip.Count > 0 && seq >= s.tip.First {
			id, off, ok = s.id, s.tip.Offset, true
			return false
		}
		if s, err = s.loaded(); err != nil {
			return false
		}
		i := sort.Search(len(s.firsts), func(i int) bool { return s.firsts[i] > seq }) - 1
		id, off, ok = s.id, s.offs[i], true
		if i+1 < len(s.offs) {
			next = s.offs[i+1]
		}
		return false
	}
	if len(x.tail.firsts) > 0 && x.tail.first <= seq {
		look(x.tail)
		return id, off, next, ok, err
	}
	x.t.DescendLessOrEqual(key(seq), look)
	return id, off, next, ok, err
}

// Ascend calls fn for every frame that may hold sequence numbers >= from,
// in order, with its segment, first sequence number and offset, until fn
// returns false. Its error is that of loading a segment's frames.
func (x *Index) Ascend(from uint64, fn func(id uint64, first uint64, off uint32) bool) error {
	start := from
	if len(x.tail.firsts) > 0 && x.tail.first <= from {
		start = x.tail.first
	} else {
		x.t.DescendLessOrEqual(key(from), func(s seg) bool {
			start = s.first
			return false
		})
	}
	var err error
	x.ascendAll(start, func(s seg) bool {
		if s.last < from {
			return true
		}
		if s, err = s.loaded(); err != nil {
			return false
		}
		i := 0
		if from > s.first {
			i = max(sort.Search(len(s.firsts), func(i int) bool { return s.firsts[i] > from })-1, 0)
		}
		for ; i < len(s.firsts); i++ {
			if !fn(s.id, s.firsts[i], s.offs[i]) {
				return false
			}
		}
		return true
	})
	return err
}

// Descend calls fn for every frame from the newest to the oldest until fn
// returns false. Its error is that of loading a segment's frames.
func (x *Index) Descend(fn func(id uint64, first uint64, off uint32) bool) error {
	if len(x.tail.firsts) > 0 {
		s := x.tail
		for i := len(s.firsts) - 1; i >= 0; i-- {
			if !fn(s.id, s.firsts[i], s.offs[i]) {
				return nil
			}
		}
	}
	var err error
	x.t.Descend(func(s seg) bool {
		if s, err = s.loaded(); err != nil {
			return false
		}
		for i := len(s.firsts) - 1; i >= 0; i-- {
			if !fn(s.id, s.firsts[i], s.offs[i]) {
				return false
			}
		}
		return true
	})
	return err
}

// Bounds returns the first and last indexed sequence numbers.
func (x *Index) Bounds() (first, last uint64, ok bool) {
	lo, okTree := x.t.Min()
	hi, _ := x.t.Max()
	if len(x.tail.firsts) > 0 {
		hi = x.tail
		if !okTree {
			lo = x.tail
		}
		return lo.first, hi.last, true
	}
	if !okTree {
		return 0, 0, false
	}
	return lo.first, hi.last, true
}

// SegmentIDs lists the segments holding frames, in order.
func (x *Index) SegmentIDs() []uint64 {
	var ids []uint64
	x.ascendAll(0, func(s seg) bool {
		if len(ids) == 0 || ids[len(ids)-1] != s.id {
			ids = append(ids, s.id)
		}
		return true
	})
	return slices.Clip(ids)
}
