package manifest

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/seglog/journal/segment"
)

// Segment is what the manifest knows of one segment file.
type Segment struct {
	ID   uint64
	Base uint64 // the first sequence number it may hold, from its file header
	// Durable: the segment's frames reach at least this offset, and every
	// byte before it was synced. For a sealed segment it is the file's
	// exact size.
	Durable int64
	// Sealed: the segment was made final (rotation, Close, compaction);
	// a sealed segment other than the newest never changes size.
	Sealed bool
	// Prev, when not 0: a compaction rewrote the segment to Durable bytes
	// and the file may still be the one it replaced, of Prev bytes (the
	// rename was not yet known done).
	Prev int64
}

// Mark is how far a file kept beside the log (not a segment; the root's
// command-ID delta) was durable when its owner last recorded it: the
// file's generation and the end of its data. Its owner holds the file to
// it at the next Open.
type Mark struct {
	Gen uint64
	End int64
}

// Hole is a range of sequence numbers (inclusive) a repair removed on
// purpose: their records are gone, and the numbers are never given out
// again.
type Hole struct{ First, Last uint64 }

// maxMarkName bounds a mark's name.
const maxMarkName = 255

// State is the manifest's content.
type State struct {
	Segments map[uint64]Segment
	Front    uint64 // records below it are truncated
	Marks    map[string]Mark
	Holes    []Hole // in the order recorded
}

// Clone returns a copy of s that shares nothing with it.
func (s State) Clone() State {
	return State{Segments: maps.Clone(s.Segments), Front: s.Front, Marks: maps.Clone(s.Marks), Holes: slices.Clone(s.Holes)}
}

// IDs returns the listed segments' numbers, ascending.
func (s State) IDs() []uint64 {
	return slices.Sorted(maps.Keys(s.Segments))
}

// Newest is the highest listed segment number (0 when none is listed).
func (s State) Newest() uint64 {
	var n uint64
	for id := range s.Segments {
		n = max(n, id)
	}
	return n
}

// Edit is one change to the manifest, applied atomically.
type Edit struct {
	Set    []Segment // segments added or changed
	Remove []uint64  // segments deleted
	Front  uint64    // the new front, when SetFront
	// SetFront says Front is part of the edit (a front may move down, as
	// a TruncateBack below it does).
	SetFront bool
	Marks    map[string]Mark // marks set (names of at most 255 bytes)
	Holes    []Hole          // holes added
}

// Empty reports whether e changes nothing.
func (e Edit) Empty() bool {
	return len(e.Set) == 0 && len(e.Remove) == 0 && !e.SetFront && len(e.Marks) == 0 && len(e.Holes) == 0
}

// Apply applies e to s.
func (s *State) Apply(e Edit) {
	if s.Segments == nil {
		s.Segments = make(map[uint64]Segment)
	}
	for _, sg := range e.Set {
		s.Segments[sg.ID] = sg
	}
	for _, id := range e.Remove {
		delete(s.Segments, id)
	}
	if e.SetFront {
		s.Front = e.Front
	}
	for name, m := range e.Marks {
		if s.Marks == nil {
			s.Marks = make(map[string]Mark)
		}
		s.Marks[name] = m
	}
	s.Holes = append(s.Holes, e.Holes...)
}

// The record kinds (the key's only byte).
const (
	kindSegment = 1
	kindRemoved = 2
	kindFront   = 3
	kindMark    = 4
	kindHole    = 5
)

const flagSealed = 1

// records encodes e as the records of one frame.
func (e Edit) records() []segment.Record {
	recs := make([]segment.Record, 0, len(e.Set)+len(e.Remove)+1)
	for _, sg := range e.Set {
		var flags uint64
		if sg.Sealed {
			flags |= flagSealed
		}
		v := binary.AppendUvarint(nil, sg.ID)
		v = binary.AppendUvarint(v, sg.Base)
		v = binary.AppendUvarint(v, uint64(sg.Durable))
		v = binary.AppendUvarint(v, flags)
		v = binary.AppendUvarint(v, uint64(sg.Prev))
		recs = append(recs, segment.Record{Key: []byte{kindSegment}, Value: v})
	}
	for _, id := range e.Remove {
		recs = append(recs, segment.Record{Key: []byte{kindRemoved}, Value: binary.AppendUvarint(nil, id)})
	}
	if e.SetFront {
		recs = append(recs, segment.Record{Key: []byte{kindFront}, Value: binary.AppendUvarint(nil, e.Front)})
	}
	for _, name := range slices.Sorted(maps.Keys(e.Marks)) {
		m := e.Marks[name]
		v := binary.AppendUvarint(nil, uint64(len(name)))
		v = append(v, name...)
		v = binary.AppendUvarint(v, m.Gen)
		v = binary.AppendUvarint(v, uint64(m.End))
		recs = append(recs, segment.Record{Key: []byte{kindMark}, Value: v})
	}
	for _, h := range e.Holes {
		v := binary.AppendUvarint(nil, h.First)
		recs = append(recs, segment.Record{Key: []byte{kindHole}, Value: binary.AppendUvarint(v, h.Last)})
	}
	return recs
}

// snapshot is the edit that builds s from nothing.
func (s State) snapshot() Edit {
	e := Edit{Front: s.Front, SetFront: true, Marks: s.Marks, Holes: s.Holes}
	for _, id := range s.IDs() {
		e.Set = append(e.Set, s.Segments[id])
	}
	return e
}

// applyEntry applies one decoded record to s; a malformed one is an error
// (the caller adds file and offset).
func (s *State) applyEntry(key, value []byte, tomb bool) error {
	if len(key) != 1 || tomb {
		return fmt.Errorf("record with key of %d bytes", len(key))
	}
	if key[0] == kindMark {
		n, k := binary.Uvarint(value)
		if k <= 0 || n > maxMarkName || n > uint64(len(value)-k) {
			return fmt.Errorf("mark record: malformed name")
		}
		name := string(value[k : k+int(n)])
		value = value[k+int(n):]
		gen, k1 := binary.Uvarint(value)
		if k1 <= 0 {
			return fmt.Errorf("mark record %q: malformed generation", name)
		}
		end, k2 := binary.Uvarint(value[k1:])
		if k2 <= 0 || k1+k2 != len(value) || end > segment.MaxSegmentSize {
			return fmt.Errorf("mark record %q: malformed end", name)
		}
		s.Apply(Edit{Marks: map[string]Mark{name: {Gen: gen, End: int64(end)}}})
		return nil
	}
	var vals [5]uint64
	n := 0
	for p := value; len(p) > 0; n++ {
		if n == len(vals) {
			return fmt.Errorf("record of kind %d has trailing bytes", key[0])
		}
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return fmt.Errorf("record of kind %d: malformed number", key[0])
		}
		vals[n], p = v, p[k:]
	}
	want := map[byte]int{kindSegment: 5, kindRemoved: 1, kindFront: 1, kindHole: 2}[key[0]]
	if want == 0 {
		return fmt.Errorf("unknown record kind %d", key[0])
	}
	if n != want {
		return fmt.Errorf("record of kind %d has %d fields, want %d", key[0], n, want)
	}
	switch key[0] {
	case kindSegment:
		sg := Segment{ID: vals[0], Base: vals[1], Durable: int64(vals[2]), Sealed: vals[3]&flagSealed != 0, Prev: int64(vals[4])}
		if vals[3]&^flagSealed != 0 || vals[2] > segment.MaxSegmentSize || vals[4] > segment.MaxSegmentSize || sg.Durable < segment.FileHeaderSize {
			return fmt.Errorf("segment record %d out of range (durable %d, flags %d, prev %d)", sg.ID, vals[2], vals[3], vals[4])
		}
		s.Apply(Edit{Set: []Segment{sg}})
	case kindRemoved:
		s.Apply(Edit{Remove: []uint64{vals[0]}})
	case kindFront:
		s.Apply(Edit{Front: vals[0], SetFront: true})
	case kindHole:
		if vals[0] > vals[1] {
			return fmt.Errorf("hole %d..%d: first after last", vals[0], vals[1])
		}
		s.Apply(Edit{Holes: []Hole{{First: vals[0], Last: vals[1]}}})
	}
	return nil
}
