package journal

import (
	"hash/maphash"
	"unsafe"
)

// A journal has few distinct route IDs (a runtime has hundreds of routes)
// and few distinct error texts, repeated over millions of events. An
// eventDecoder turns stored records into events sharing one string per
// distinct value, and places the strings it makes in large blocks rather
// than one allocation each. Its tables are bounded, so a journal of
// millions of distinct IDs costs no more than plain strings.
type eventDecoder struct {
	routes strtab
	errs   strtab
	arena  arena
}

// newEventDecoder returns a decoder whose string blocks are chunk bytes;
// missesInArena also puts the values the tables do not keep (past their
// bound) into the blocks: right when every result stays alive together
// (LoadAll), not when a caller may keep one result of many (Entries),
// where a block would stay alive for one short string.
func newEventDecoder(chunk int, missesInArena bool) *eventDecoder {
	d := &eventDecoder{arena: arena{chunk: chunk}}
	seed := maphash.MakeSeed()
	d.routes = strtab{seed: seed, maxSlots: maxRouteSlots, arena: &d.arena, missesInArena: missesInArena}
	d.errs = strtab{seed: seed, maxSlots: maxErrorSlots, arena: &d.arena, missesInArena: missesInArena}
	return d
}

// Bounds of the decoder's tables, in slots (at most half of them hold a
// string): 16,384 distinct route IDs and 2,048 distinct error texts are
// shared, the rest are allocated as they come. The table of route IDs then
// takes 1 MiB at most.
const (
	maxRouteSlots = 1 << 15
	maxErrorSlots = 1 << 12
)

// decode rebuilds the event of a stored record into *ev (see
// decodeEvent), which is left unchanged on error.
func (d *eventDecoder) decode(ev *Event, key, value []byte, tombstone bool) error {
	k, err := checkRecord(key, value, tombstone)
	if err != nil {
		return err
	}
	ev.Kind, ev.RouteID, ev.Error = k, d.routes.get(key), ""
	if len(value) > 1 {
		ev.Error = d.errs.get(value[1:])
	}
	return nil
}

// strtab is a bounded set of strings, an open-addressing hash table: get
// returns the string equal to its bytes, made once.
type strtab struct {
	seed maphash.Seed // hashes values
	// slots holds the strings, a power of two of them; tags holds for each
	// slot 0 (empty) or a byte of its string's hash with the top bit set,
	// so that a probe compares only strings whose tag matches.
	slots         []string
	tags          []uint8
	n             int // strings held
	maxSlots      int
	arena         *arena
	missesInArena bool
}

// get returns b as a string, the same one for equal bytes while the table
// holds it. b must not be empty. The string never aliases b.
func (t *strtab) get(b []byte) string {
	if t.slots == nil {
		t.slots, t.tags = make([]string, 64), make([]uint8, 64)
	}
	mask := uint64(len(t.slots) - 1)
	h := t.hash(b)
	tag := slotTag(h)
	i := h & mask
	// Linear probing to the first empty slot: the table is never more
	// than half full, and the seeded hash keeps clusters short whatever
	// the values.
probe:
	for {
		switch t.tags[i] {
		case 0:
			if t.n >= t.maxSlots/2 {
				break probe // full: keep what it has, share nothing new
			}
			s := t.arena.string(b)
			t.slots[i], t.tags[i] = s, tag
			t.n++
			if t.n*2 > len(t.slots) && len(t.slots) < t.maxSlots {
				t.grow()
			}
			return s
		case tag:
			if s := t.slots[i]; s == string(b) {
				return s
			}
		}
		i = (i + 1) & mask
	}
	if t.missesInArena {
		return t.arena.string(b)
	}
	return string(b)
}

// slotTag is the tag of a string of hash h: never 0, and from other bits
// than those that choose its slot.
func slotTag(h uint64) uint8 { return uint8(h>>56) | 0x80 }

// grow doubles the table.
func (t *strtab) grow() {
	old := t.slots
	t.slots, t.tags = make([]string, 2*len(old)), make([]uint8, 2*len(old))
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s == "" {
			continue
		}
		h := t.hash(unsafe.Slice(unsafe.StringData(s), len(s)))
		i := h & mask
		for t.tags[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i], t.tags[i] = s, slotTag(h)
	}
}

// hash hashes b with the table's seed.
func (t *strtab) hash(b []byte) uint64 {
	return maphash.Bytes(t.seed, b)
}

// arena hands out strings placed in blocks of chunk bytes, which are never
// written again once a string is in them: a block lives as long as any of
// its strings. With chunk 0 every string is allocated on its own.
type arena struct {
	chunk int
	buf   []byte
}

// string returns a string holding a copy of b.
func (a *arena) string(b []byte) string {
	n := len(b)
	if n == 0 || n > a.chunk/4 {
		// A long value gets memory of its own, so that no block is left
		// more than a quarter empty.
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, a.chunk)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], n)
}
