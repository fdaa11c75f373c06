package manifest

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

const dir = "/log"

func seg(id uint64, durable int64, sealed bool) Segment {
	return Segment{ID: id, Base: id * 100, Durable: durable, Sealed: sealed}
}

func load(t *testing.T, fs *vfstest.FS) *Loaded {
	t.Helper()
	ld, err := Load(fs, dir)
	if err != nil {
		t.Fatal(err)
	}
	return ld
}

// TestEditsSurviveReopen: every edit Apply returned is read back by Load,
// in order (a later record for a segment replaces an earlier one, a
// removal forgets it).
func TestEditsSurviveReopen(t *testing.T) {
	fs := vfstest.New()
	fs.MkdirAll(dir, 0o755)
	m, err := Create(fs, dir, State{})
	if err != nil {
		t.Fatal(err)
	}
	edits := []Edit{
		{Set: []Segment{seg(1, segment.FileHeaderSize, false)}},
		{Set: []Segment{seg(1, 4000, true), seg(2, segment.FileHeaderSize, false)}},
		{Front: 150, SetFront: true, Remove: []uint64{1}},
		{Set: []Segment{{ID: 2, Base: 200, Durable: 900, Sealed: true, Prev: 1200}}},
		{Marks: map[string]Mark{"commands": {Gen: 3, End: 4096}, "other": {Gen: 1, End: 32}}},
		{Marks: map[string]Mark{"commands": {Gen: 4, End: 32}}},
		{Holes: []Hole{{First: 10, Last: 11}, {First: 40, Last: 40}}},
	}
	var want State
	for _, e := range edits {
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
		want.Apply(e)
	}
	m.Close()
	ld := load(t, fs)
	if !ld.Found || !reflect.DeepEqual(ld.State, want) || ld.TornAt != 0 {
		t.Fatalf("Load = %+v (found %v, torn at %d), want %+v", ld.State, ld.Found, ld.TornAt, want)
	}
}

// TestTornLastEditIsDroppedAndCut: a crash while an edit was written (its
// frame cut anywhere) leaves the edits before it; the next edit goes after
// them, and the cut edit never reappears.
func TestTornLastEditIsDroppedAndCut(t *testing.T) {
	fs := vfstest.New()
	fs.MkdirAll(dir, 0o755)
	m, _ := Create(fs, dir, State{})
	first := Edit{Set: []Segment{seg(1, 500, false)}}
	if err := m.Apply(first); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, Name)
	before, _ := fs.ReadFile(path)
	if err := m.Apply(Edit{Set: []Segment{seg(1, 900, true), seg(2, 32, false)}}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	full, _ := fs.ReadFile(path)
	for cut := len(before) + 1; cut < len(full); cut++ {
		c := fs.CrashClone(vfstest.CrashOptions{})
		c.WriteFile(path, full[:cut])
		ld, err := Load(c, dir)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		var want State
		want.Apply(first)
		if !reflect.DeepEqual(ld.State, want) || ld.TornAt != int64(len(before)) {
			t.Fatalf("cut at %d: %+v torn at %d; want %+v torn at %d", cut, ld.State, ld.TornAt, want, len(before))
		}
		m := ld.Open()
		next := Edit{Front: 7, SetFront: true}
		if err := m.Apply(next); err != nil {
			t.Fatal(err)
		}
		m.Close()
		want.Apply(next)
		if ld := load(t, c); !reflect.DeepEqual(ld.State, want) || ld.TornAt != 0 {
			t.Fatalf("cut at %d, after the next edit: %+v torn at %d; want %+v", cut, ld.State, ld.TornAt, want)
		}
	}
}

// TestDamageBeforeTheLastEditIsCorrupt: a flipped byte in an edit that a
// later edit follows is damage naming the file, not a torn tail.
func TestDamageBeforeTheLastEditIsCorrupt(t *testing.T) {
	fs := vfstest.New()
	fs.MkdirAll(dir, 0o755)
	m, _ := Create(fs, dir, State{})
	for i := range 5 {
		if err := m.Apply(Edit{Set: []Segment{seg(uint64(i+1), 900, true)}}); err != nil {
			t.Fatal(err)
		}
	}
	m.Close()
	path := filepath.Join(dir, Name)
	b, _ := fs.ReadFile(path)
	b[len(b)/2] ^= 1
	fs.WriteFile(path, b)
	_, err := Load(fs, dir)
	var ce *segment.CorruptError
	if !errors.As(err, &ce) || ce.File != path {
		t.Fatalf("Load: %v; want ErrCorrupt naming %s", err, path)
	}
}

// TestOpenWithoutEditsWritesNothing: opening a manifest and closing it
// without an edit leaves the file as it was (Open of a cleanly closed log
// writes nothing).
func TestOpenWithoutEditsWritesNothing(t *testing.T) {
	fs := vfstest.New()
	fs.MkdirAll(dir, 0o755)
	m, _ := Create(fs, dir, State{})
	m.Apply(Edit{Set: []Segment{seg(1, 900, true)}})
	m.Close()
	path := filepath.Join(dir, Name)
	before, _ := fs.ReadFile(path)
	load(t, fs).Open().Close()
	if after, _ := fs.ReadFile(path); string(after) != string(before) {
		t.Fatal("an Open without edits changed the manifest")
	}
}

// TestGrownManifestIsRewritten: many edits make the file a snapshot again
// (it stays small) with the same state, and a new generation.
func TestGrownManifestIsRewritten(t *testing.T) {
	fs := vfstest.New()
	fs.MkdirAll(dir, 0o755)
	m, _ := Create(fs, dir, State{})
	var want State
	for i := range 5000 {
		id := uint64(i%3 + 1)
		e := Edit{Set: []Segment{seg(id, int64(100+i), false)}, Front: uint64(i), SetFront: true}
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
		want.Apply(e)
	}
	m.Close()
	b, _ := fs.ReadFile(filepath.Join(dir, Name))
	if len(b) > 2*minRewrite {
		t.Fatalf("manifest of 3 segments is %d bytes after 5000 edits; want it rewritten", len(b))
	}
	ld := load(t, fs)
	if !reflect.DeepEqual(ld.State, want) || ld.gen < 2 {
		t.Fatalf("after rewrites: %+v generation %d; want %+v, generation > 1", ld.State, ld.gen, want)
	}
}

// TestMalformedRecordsAreCorrupt: records a valid frame holds but the
// manifest does not know are damage, never applied.
func TestMalformedRecordsAreCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		key, value []byte
	}{
		{"unknown kind", []byte{9}, []byte{1}},
		{"long key", []byte{kindFront, 0}, []byte{1}},
		{"missing field", []byte{kindSegment}, []byte{1, 2, 3}},
		{"trailing field", []byte{kindRemoved}, []byte{1, 2}},
		{"durable inside the header", []byte{kindSegment}, []byte{1, 2, 3, 0, 0}},
		{"unknown flag", []byte{kindSegment}, []byte{1, 2, 64, 2, 0}},
		{"bad number", []byte{kindFront}, []byte{0x80}},
		{"mark name past the end", []byte{kindMark}, []byte{9, 'a', 1, 1}},
		{"hole backwards", []byte{kindHole}, []byte{5, 4}},
		{"mark without end", []byte{kindMark}, []byte{1, 'a', 1}},
		{"mark with trailing bytes", []byte{kindMark}, []byte{1, 'a', 1, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			if err := s.applyEntry(tc.key, tc.value, false); err == nil {
				t.Fatalf("applyEntry(%v, %v) = nil, state %+v; want an error", tc.key, tc.value, s)
			}
		})
	}
}

// TestRecoveredLastEditIsSyncedWithTheNext: after a kill, the last edit
// (which no later record confirms durable) is written again and made
// durable by the same fsync as the next edit, one in all; a power cut at
// any step of that, torn at random, leaves every edit Apply had returned,
// and the next one whole or not at all.
func TestRecoveredLastEditIsSyncedWithTheNext(t *testing.T) {
	fs := vfstest.New()
	if err := vfs.MkdirDurable(fs, dir, 0o755); err != nil { // (its entry too: the crash clones)
		t.Fatal(err)
	}
	m, _ := Create(fs, dir, State{})
	edits := []Edit{{Set: []Segment{seg(1, 500, false)}}, {Set: []Segment{seg(1, 900, true), seg(2, 32, false)}}}
	for _, e := range edits {
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	// Killed: m is never closed. Reopened:
	path := filepath.Join(dir, Name)
	ld := load(t, fs)
	if ld.res.MaxSynced >= ld.res.End {
		t.Fatalf("setup: the last edit is confirmed (durable to %d of %d)", ld.res.MaxSynced, ld.res.End)
	}
	var before, after State
	for _, e := range edits {
		before.Apply(e)
	}
	next := Edit{Front: 7, SetFront: true}
	after = before.Clone()
	after.Apply(next)
	syncs, seed := 0, uint64(1)
	fs.OnOp(func(op vfstest.Op, name string) {
		if name != path {
			return
		}
		if op == vfstest.OpSync {
			syncs++
		}
		for range 8 {
			seed++
			c := fs.CrashClone(vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(seed, seed))})
			got, err := Load(c, dir)
			if err != nil {
				t.Fatalf("crash after %v of %s (seed %d): %v", op, name, seed, err)
			}
			if !reflect.DeepEqual(got.State, before) && !reflect.DeepEqual(got.State, after) {
				t.Fatalf("crash after %v of %s (seed %d): %+v; want %+v or %+v", op, name, seed, got.State, before, after)
			}
		}
	})
	m2 := ld.Open()
	if err := m2.Apply(next); err != nil {
		t.Fatal(err)
	}
	fs.OnOp(nil)
	if syncs != 1 {
		t.Fatalf("%d fsyncs of the manifest for the recovered edit and the next; want 1", syncs)
	}
	if got := load(t, fs.CrashClone(vfstest.CrashOptions{})); !reflect.DeepEqual(got.State, after) {
		t.Fatalf("after the next edit: %+v; want %+v", got.State, after)
	}
}
