package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadIDsT(t *testing.T, j *Journal) []string {
	t.Helper()
	ids, err := j.LoadCommandIDs()
	if err != nil {
		t.Fatalf("LoadCommandIDs: %v", err)
	}
	return ids
}

// The replaced system's case: add c1, add c2, remove c1 leaves [c2]; the
// set survives reopening, in both durability modes.
func TestCommandIDLifecycle(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			dir := t.TempDir()
			j := openT(t, dir, Options{Durability: d})
			for _, step := range []struct {
				add bool
				id  string
			}{{true, "c1"}, {true, "c2"}, {false, "c1"}} {
				var err error
				if step.add {
					err = j.AppendCommandID(step.id)
				} else {
					err = j.RemoveCommandID(step.id)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := loadIDsT(t, j); !slices.Equal(got, []string{"c2"}) {
				t.Fatalf("LoadCommandIDs = %v, want [c2]", got)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			j = openT(t, dir, Options{Durability: d})
			defer j.Close()
			if got := loadIDsT(t, j); !slices.Equal(got, []string{"c2"}) {
				t.Fatalf("after reopen LoadCommandIDs = %v, want [c2]", got)
			}
		})
	}
}

func TestCommandIDSetSemanticsAndOrder(t *testing.T) {
	j := openT(t, t.TempDir(), Options{})
	defer j.Close()
	if got := loadIDsT(t, j); got == nil || len(got) != 0 {
		t.Fatalf("empty journal: LoadCommandIDs = %#v, want an empty, non-nil slice", got)
	}
	for _, id := range []string{"b", "a", "b", "Z", "ä", "a"} {
		if err := j.AppendCommandID(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.RemoveCommandID("never-added"); err != nil {
		t.Fatalf("removing an absent ID: %v, want no error", err)
	}
	if got, want := loadIDsT(t, j), []string{"Z", "a", "b", "ä"}; !slices.Equal(got, want) {
		t.Fatalf("LoadCommandIDs = %q, want %q (set, byte order)", got, want)
	}
}

func TestCommandIDInvalidAndClosed(t *testing.T) {
	j := openT(t, t.TempDir(), Options{})
	for name, id := range map[string]string{"empty": "", "over 4 KiB": strings.Repeat("x", 4097)} {
		if err := j.AppendCommandID(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("AppendCommandID(%s): got %v, want ErrInvalid", name, err)
		}
		if err := j.RemoveCommandID(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("RemoveCommandID(%s): got %v, want ErrInvalid", name, err)
		}
	}
	if err := j.AppendCommandID(strings.Repeat("x", 4096)); err != nil {
		t.Errorf("an ID of exactly 4 KiB: %v, want accepted", err)
	}
	j.Close()
	if err := j.AppendCommandID("c"); !errors.Is(err, ErrClosed) {
		t.Errorf("AppendCommandID after Close: %v, want ErrClosed", err)
	}
	if err := j.RemoveCommandID("c"); !errors.Is(err, ErrClosed) {
		t.Errorf("RemoveCommandID after Close: %v, want ErrClosed", err)
	}
	if _, err := j.LoadCommandIDs(); !errors.Is(err, ErrClosed) {
		t.Errorf("LoadCommandIDs after Close: %v, want ErrClosed", err)
	}
}

// Command IDs and events live side by side without disturbing each other.
func TestCommandIDsBesideEvents(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{SegmentSize: 4096})
	var want []string
	for i := range 3000 {
		id := fmt.Sprintf("cmd-%05d", i)
		if err := j.AppendCommandID(id); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			appendT(t, j, reg(id))
		}
		if i%2 == 0 {
			if err := j.RemoveCommandID(id); err != nil {
				t.Fatal(err)
			}
		} else {
			want = append(want, id)
		}
	}
	j.Close()
	j = openT(t, dir, Options{})
	defer j.Close()
	if got := loadIDsT(t, j); !slices.Equal(got, want) {
		t.Fatalf("after reopen: %d IDs, want %d", len(got), len(want))
	}
	if n := len(loadT(t, j)); n != 1000 {
		t.Fatalf("%d events, want 1000", n)
	}
}

// TestReadCommandIDsWhileOpenAndOnNoJournal: ReadCommandIDs reads the
// live IDs, sorted, while the journal is open, without its lock; a journal
// that never stored one has none; a directory holding no journal, or a
// regular file, gives ErrNotJournal and a missing path fs.ErrNotExist.
func TestReadCommandIDsWhileOpenAndOnNoJournal(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if ids, err := ReadCommandIDs(dir); err != nil || len(ids) != 0 {
		t.Fatalf("a journal without command IDs: %q, %v; want none", ids, err)
	}
	for _, id := range []string{"c", "a", "b"} {
		if err := j.AppendCommandID(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.RemoveCommandID("b"); err != nil {
		t.Fatal(err)
	}
	if ids, err := ReadCommandIDs(dir); err != nil || !slices.Equal(ids, []string{"a", "c"}) {
		t.Fatalf("ReadCommandIDs while open: %q, %v; want [a c]", ids, err)
	}
	if _, err := ReadCommandIDs(t.TempDir()); !errors.Is(err, ErrNotJournal) {
		t.Fatalf("ReadCommandIDs of an empty directory: %v, want ErrNotJournal", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCommandIDs(file); !errors.Is(err, ErrNotJournal) {
		t.Fatalf("ReadCommandIDs of a regular file: %v, want ErrNotJournal", err)
	}
	if _, err := ReadCommandIDs(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadCommandIDs of a missing directory: %v, want fs.ErrNotExist", err)
	}
}
