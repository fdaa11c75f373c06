package keyset

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seglog/journal/segment"
)

// TestReadKeysSeesWhatOpenWouldWithoutChangingAFile: with the set open and
// after snapshot rewrites, ReadKeys returns the set's keys, leaves a torn
// delta tail out, and writes nothing; missing files and a snapshot without
// its delta are told apart.
func TestReadKeysSeesWhatOpenWouldWithoutChangingAFile(t *testing.T) {
	dir := t.TempDir()
	if _, found, err := ReadKeys(nil, dir, "c"); found || err != nil {
		t.Fatalf("ReadKeys of a directory without the set: found %v, %v; want not found, nil", found, err)
	}
	s := mustOpen(t, dir, Options{Name: "c", Durability: Eventual})
	for i := range 3000 { // enough operations for snapshot rewrites
		if err := s.Add(fmt.Sprint("k", i%700)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := s.Remove(fmt.Sprint("k", (i+350)%700)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	want := s.Keys()
	slices.Sort(want)
	before := readDir(t, dir)
	keys, found, err := ReadKeys(nil, dir, "c")
	if err != nil || !found {
		t.Fatalf("ReadKeys of the open set: found %v, %v", found, err)
	}
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, want) {
		t.Fatalf("ReadKeys gave %d keys, the set holds %d", len(got), len(want))
	}
	if after := readDir(t, dir); !maps.EqualFunc(before, after, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatal("ReadKeys changed the set's files")
	}
	s.Close()

	// A torn last operation: garbage after the delta's frames.
	delta := filepath.Join(dir, "c.delta")
	f, err := os.OpenFile(delta, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0x11, 0x22, 0x33})
	f.Close()
	if keys, _, err := ReadKeys(nil, dir, "c"); err != nil || len(keys) != len(want) {
		t.Fatalf("ReadKeys with a torn delta tail: %d keys, %v; want the %d keys", len(keys), err, len(want))
	}
	if err := os.Remove(delta); err != nil {
		t.Fatal(err)
	}
	if _, found, err := ReadKeys(nil, dir, "c"); !found || !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("ReadKeys of a snapshot without its delta: found %v, %v; want ErrCorrupt", found, err)
	}
}
