package compactor

import (
	"unsafe"

	"github.com/google/btree"
)

// State tracks, per key, the live entries and the tombstones not yet
// applied, and per segment how many entries are on disk and how many of
// them are removed. It is not safe for concurrent use: the log mutates it
// under its lock, and readers use DeadSet snapshots.
type State struct {
	keys    map[string]*keyState
	pending []*keyState // keys with a tombstone not yet applied
	dead    *btree.BTreeG[deadItem]
	maxDead uint64 // largest applied tombstone sequence number
	live    uint64 // entries not removed
	segs    map[uint64]*SegCounts
	through uint64 // sequence number after the last observed entry
}

// SegCounts are the entries of one segment.
type SegCounts struct {
	Total uint64 // entries on disk
	Dead  uint64 // of which removed
	// Retained of the removed are tombstones a rewrite kept (see
	// CopyLive): a rewrite cannot reclaim them until no older segment
	// holds a removed entry.
	Retained uint64
}

// Reclaimable is how many of the removed entries a rewrite would drop.
func (c SegCounts) Reclaimable() uint64 { return c.Dead - min(c.Retained, c.Dead) }

type keyState struct {
	key       string
	pending   bool   // in State.pending
	live      uint64 // entries not removed
	sinceTomb uint64 // live entries after the last tombstone
	tomb      uint64 // last tombstone's sequence number (valid if hasTomb)
	hasTomb   bool
	bySeg     []segCount // live entries by segment, in sequence order
}

type segCount struct {
	seg uint64
	n   uint64
}

type deadItem struct {
	key string
	seq uint64 // entries of key with a sequence number <= seq are removed
}

func deadLess(a, b deadItem) bool { return a.key < b.key }

// NewState returns the state of an empty log.
func NewState() *State {
	return &State{
		keys: make(map[string]*keyState),
		dead: btree.NewG(16, deadLess),
		segs: make(map[uint64]*SegCounts),
	}
}

// Observe records an appended entry of segment seg. Entries must be
// observed in sequence order.
func (s *State) Observe(seg uint64, seq uint64, key []byte, tombstone bool) {
	ks, ok := s.keys[string(key)]
	if !ok {
		ks = &keyState{key: string(key)}
		s.keys[ks.key] = ks
	}
	ks.live++
	s.live++
	sc := s.segs[seg]
	if sc == nil {
		sc = &SegCounts{}
		s.segs[seg] = sc
	}
	sc.Total++
	if n := len(ks.bySeg); n > 0 && ks.bySeg[n-1].seg == seg {
		ks.bySeg[n-1].n++
	} else {
		ks.bySeg = append(ks.bySeg, segCount{seg: seg, n: 1})
	}
	if tombstone {
		ks.sinceTomb = 0
		ks.tomb, ks.hasTomb = seq, true
		if !ks.pending {
			ks.pending = true
			s.pending = append(s.pending, ks)
		}
	} else {
		ks.sinceTomb++
	}
	s.through = max(s.through, seq+1)
}

// Pending reports whether a tombstone waits to be applied: something is
// removable (a tombstone always removes at least itself).
func (s *State) Pending() bool { return len(s.pending) > 0 }

// Live is the number of entries not removed.
func (s *State) Live() uint64 { return s.live }

// Through is the sequence number after the last observed entry.
func (s *State) Through() uint64 { return s.through }

// SetThrough raises Through, for a log whose next sequence number is past
// its last entry.
func (s *State) SetThrough(next uint64) { s.through = max(s.through, next) }

// Apply applies every pending tombstone and returns how many entries it
// removed.
func (s *State) Apply() uint64 {
	var removed uint64
	for _, ks := range s.pending {
		k := ks.key
		ks.pending = false
		n := ks.live - ks.sinceTomb // the entries up to and including the tombstone
		removed += n
		ks.live -= n
		s.live -= n
		for n > 0 && len(ks.bySeg) > 0 {
			take := min(n, ks.bySeg[0].n)
			// A segment gone (deleted by a compaction whose checkpoint
			// was lost, or by repair) has nothing left to count.
			if sc := s.segs[ks.bySeg[0].seg]; sc != nil {
				sc.Dead += take
			}
			ks.bySeg[0].n -= take
			if ks.bySeg[0].n == 0 {
				ks.bySeg = ks.bySeg[1:]
			}
			n -= take
		}
		s.dead.ReplaceOrInsert(deadItem{key: k, seq: ks.tomb})
		s.maxDead = max(s.maxDead, ks.tomb)
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	return removed
}

// Rewritten records that segment seg was rewritten without the entries
// that were removed when the rewrite began, when the segment counted
// deadAtStart removed entries, and now holds kept entries, retained of
// them removed tombstones it kept (see CopyLive). Entries removed since
// stay counted as removed and on disk.
func (s *State) Rewritten(seg uint64, kept, deadAtStart, retained uint64) {
	sc := s.segs[seg]
	if sc == nil {
		return
	}
	sc.Dead -= min(deadAtStart, sc.Dead)
	sc.Dead += retained
	sc.Retained = retained
	sc.Total = max(kept, sc.Dead)
}

// Forget drops the keys that have nothing left on disk, given that every
// segment still holding a removed entry starts at or after sequence
// number dirtyFrom: keys with no live entry, no pending tombstone and no
// removal reaching dirtyFrom. It keeps the state proportional to the keys
// that matter, not to every key ever seen. It costs O(keys).
func (s *State) Forget(dirtyFrom uint64) {
	for k, ks := range s.keys {
		if ks.live != 0 || ks.pending {
			continue
		}
		if d, ok := s.dead.Get(deadItem{key: k}); ok && d.seq >= dirtyFrom {
			continue
		}
		delete(s.keys, k)
		s.dead.Delete(deadItem{key: k})
	}
}

// SegmentGone records that segment seg no longer exists on disk.
func (s *State) SegmentGone(seg uint64) { delete(s.segs, seg) }

// Segment returns the counts of segment seg.
func (s *State) Segment(seg uint64) SegCounts {
	if sc := s.segs[seg]; sc != nil {
		return *sc
	}
	return SegCounts{}
}

// SegmentIDs lists the segments with counts, in no particular order.
func (s *State) SegmentIDs() []uint64 {
	ids := make([]uint64, 0, len(s.segs))
	for id := range s.segs {
		ids = append(ids, id)
	}
	return ids
}

// Keys is the number of keys tracked.
func (s *State) Keys() int { return len(s.keys) }

// Dead returns a snapshot of the removed entries, unaffected by later
// changes to s. It costs O(1).
func (s *State) Dead() DeadSet {
	return DeadSet{t: s.dead.Clone(), max: s.maxDead, any: s.dead.Len() > 0}
}

// DeadSet answers whether an entry has been removed. The zero value
// removes nothing.
type DeadSet struct {
	t   *btree.BTreeG[deadItem]
	max uint64
	any bool
}

// IsDead reports whether the entry (seq, key) is removed.
func (d DeadSet) IsDead(seq uint64, key []byte) bool {
	if !d.any || seq > d.max {
		return false
	}
	// The probe's key aliases the caller's bytes; it is not retained.
	probe := deadItem{key: unsafe.String(unsafe.SliceData(key), len(key))}
	it, ok := d.t.Get(probe)
	return ok && seq <= it.seq
}

// Empty reports whether the set removes nothing.
func (d DeadSet) Empty() bool { return !d.any }
