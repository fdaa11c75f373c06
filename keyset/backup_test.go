package keyset

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// A backup opens, held to the mark Backup returned, as the set at the
// call: every Add and Remove before it, durable or not, in a fresh set
// (generation 0) and after rewrites; the copy and the source then change
// independently.
func TestBackupOpensAsTheSetAtTheCall(t *testing.T) {
	for _, m := range modes {
		for _, ops := range []int{0, 10, 3000} {
			t.Run(fmt.Sprintf("%s/%d ops", m.name, ops), func(t *testing.T) {
				src := t.TempDir()
				s := mustOpen(t, src, Options{Durability: m.d})
				defer mustClose(t, s)
				for i := range ops {
					if err := s.Add(fmt.Sprint("k", i)); err != nil {
						t.Fatal(err)
					}
					if i%3 == 2 {
						if err := s.Remove(fmt.Sprint("k", i-1)); err != nil {
							t.Fatal(err)
						}
					}
				}
				want := s.Keys()
				dst := t.TempDir()
				mark, n, err := s.Backup(dst)
				if err != nil {
					t.Fatal(err)
				}
				if n != len(want) {
					t.Fatalf("Backup says %d keys, the set holds %d", n, len(want))
				}
				if err := s.Add("source-only"); err != nil {
					t.Fatal(err)
				}
				c := mustOpen(t, dst, Options{Durability: m.d, Durable: mark})
				if got := c.Keys(); !slices.Equal(got, want) {
					t.Fatalf("the copy holds %d keys, want %d", len(got), len(want))
				}
				if err := c.Add("copy-only"); err != nil {
					t.Fatal(err)
				}
				mustClose(t, c)
				if s.Has("copy-only") {
					t.Fatal("an Add to the copy shows in the source")
				}
				if mark.Gen == 0 {
					t.Fatalf("mark %+v: generation 0 holds nothing to check", mark)
				}
			})
		}
	}
}

// Backup after Close returns ErrClosed and writes nothing.
func TestBackupAfterCloseIsErrClosed(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	mustClose(t, s)
	dst := t.TempDir()
	if _, _, err := s.Backup(dst); !errors.Is(err, ErrClosed) {
		t.Fatalf("Backup after Close: %v, want ErrClosed", err)
	}
	if names, _ := filepath.Glob(filepath.Join(dst, "*")); len(names) != 0 {
		t.Fatalf("Backup after Close wrote %v", names)
	}
}
