package keyset

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// TestRepairKeepsEveryRecordThatVerifies: a byte flipped in one record in
// the middle of the delta makes Open refuse; Repair keeps every other
// record (those after the damage too), moves the damaged file aside, and
// the set then opens with exactly what the plan said.
func TestRepairKeepsEveryRecordThatVerifies(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if err := s.Add(fmt.Sprintf("id-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	mid := s.Mark().End / 2
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	delta := filepath.Join(dir, "c.delta")
	b, err := os.ReadFile(delta)
	if err != nil {
		t.Fatal(err)
	}
	b[mid] ^= 0x20
	if err := os.WriteFile(delta, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{Name: "c"}); !isCorrupt(err) {
		t.Fatalf("Open of the damaged set: %v; want ErrCorrupt", err)
	}
	p, err := PlanRepair(nil, dir, "c", Mark{})
	if err != nil || !p.Needed() {
		t.Fatalf("PlanRepair: %+v, %v; want a repair", p, err)
	}
	if n := len(p.Keys); n != 39 {
		t.Fatalf("the plan keeps %d IDs, want 39 (all but the damaged record's)", n)
	}
	if _, err := Repair(nil, dir, "c", Mark{}, ".damaged"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(delta + ".damaged"); err != nil {
		t.Fatalf("the damaged delta was not kept aside: %v", err)
	}
	s, err = Open(dir, Options{Name: "c"})
	if err != nil {
		t.Fatalf("Open after Repair: %v", err)
	}
	defer s.Close()
	got := map[string]struct{}{}
	for _, k := range s.Keys() {
		got[k] = struct{}{}
	}
	if !maps.Equal(got, p.Keys) {
		t.Fatalf("after Repair the set holds %d IDs, the plan %d", len(got), len(p.Keys))
	}
	if p2, err := PlanRepair(nil, dir, "c", Mark{}); err != nil || p2.Needed() {
		t.Fatalf("PlanRepair after Repair: %+v, %v; want nothing to do", p2, err)
	}
}
