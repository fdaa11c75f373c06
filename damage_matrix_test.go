package journal

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seglog/journal/wal/check"
)

// TestDamageMatrix damages each kind of file a journal directory holds, in
// each way an operator's mishap does, in journals of both durability modes
// left by a clean Close and by a kill after a reopen, and holds every cell
// to issue 15's promises:
//
//   - Open refuses (or a read fails) exactly when Verify reports damage;
//   - a refused Open changes no file;
//   - an Open that succeeds returns every acknowledged event and command
//     ID (nothing is lost without a word), and never a removed route;
//   - derivable files (index files, the compaction checkpoint) cost
//     nothing: damaged or deleted, Open succeeds with everything;
//   - after repair the journal opens, the events missing are exactly the
//     lost sequence numbers repair reported (when it could decode them),
//     nothing comes back that was not live, and the command IDs are what
//     repair said it kept.
//
// Not covered: read-only files (these tests run as root, which permission
// bits do not stop).
func TestDamageMatrix(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		for _, state := range []string{"closed", "killed after reopen"} {
			base, want := damageBase(t, d, state == "killed after reopen")
			for _, file := range damageFiles(t, base) {
				for _, hurt := range damageKinds {
					name := fmt.Sprintf("%v/%s/%s/%s", d, state, file.kind, hurt.name)
					t.Run(name, func(t *testing.T) {
						dir := copyDir(t, base)
						path := filepath.Join(dir, file.name)
						if !hurt.do(t, path) {
							t.Skip("not applicable")
						}
						damageCell(t, dir, file.kind, want)
					})
				}
			}
			t.Run(fmt.Sprintf("%v/%s/stray file", d, state), func(t *testing.T) {
				dir := copyDir(t, base)
				if err := os.WriteFile(filepath.Join(dir, "stray.bin"), []byte("not the journal's"), 0o644); err != nil {
					t.Fatal(err)
				}
				damageCell(t, dir, "stray", want)
			})
		}
	}
}

// damageWant is what a journal directory holds before the damage.
type damageWant struct {
	entries []Entry
	ids     []string
	removed string // a route removed and compacted away
}

// damageBase writes a journal with several segments, a removed and
// compacted route and command IDs with a snapshot and a delta; killed:
// closed by a kill (its files copied while open) after a reopen.
func damageBase(t *testing.T, d Durability, killed bool) (string, damageWant) {
	t.Helper()
	src := t.TempDir()
	opts := Options{Durability: d, SegmentSize: 4 << 10, Logger: quiet, FlushInterval: -1}
	j := openT(t, src, opts)
	for i := range 200 {
		r := fmt.Sprintf("route-%02d", i%7)
		if i > 20 && r == "route-03" {
			r = "route-late" // route-03 stays removed
		}
		appendT(t, j, reg(r), start(r), failed(r, "connection refused by host-"+r))
		if i == 20 {
			appendT(t, j, remove("route-03"))
			if err := j.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 600 {
		if err := j.AppendCommandID(fmt.Sprintf("cmd-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 520 {
		if err := j.RemoveCommandID(fmt.Sprintf("cmd-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	dir := src
	if killed {
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
		crash := copyDir(t, src)
		j.Close()
		j = openT(t, crash, opts)
		loadT(t, j)
		appendT(t, j, reg("after-reopen"))
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
		dir = copyDir(t, crash) // killed again
		j.Close()
	} else if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// What it holds, read from a copy.
	j = openT(t, copyDir(t, dir), Options{Logger: quiet})
	defer j.Close()
	w := damageWant{entries: entriesT(t, j, 0), removed: "route-03"}
	ids, err := j.LoadCommandIDs()
	if err != nil {
		t.Fatal(err)
	}
	w.ids = ids
	if _, err := os.Stat(filepath.Join(dir, "commands.snap")); err != nil {
		t.Fatalf("setup: no command-ID snapshot: %v", err)
	}
	return dir, w
}

type damageFile struct{ kind, name string }

// damageFiles names one file of each kind in dir.
func damageFiles(t *testing.T, dir string) []damageFile {
	t.Helper()
	segs := segFiles(t, dir)
	if len(segs) < 3 {
		t.Fatalf("setup: %d segments", len(segs))
	}
	idx, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
	if len(idx) == 0 {
		t.Fatal("setup: no index file")
	}
	return []damageFile{
		{"oldest segment", filepath.Base(segs[0])},
		{"newest segment", filepath.Base(segs[len(segs)-1])},
		{"index file", filepath.Base(idx[0])},
		{"manifest", "manifest.log"},
		{"compaction checkpoint", "compaction.cpt"},
		{"command snapshot", "commands.snap"},
		{"command delta", "commands.delta"},
	}
}

var damageKinds = []struct {
	name string
	do   func(t *testing.T, path string) bool // false: not applicable
}{
	{"bit flip", func(t *testing.T, path string) bool {
		return rewriteFile(t, path, func(b []byte) []byte {
			b[len(b)/2] ^= 0x04
			return b
		})
	}},
	{"cut to half", func(t *testing.T, path string) bool {
		return rewriteFile(t, path, func(b []byte) []byte { return b[:len(b)/2] })
	}},
	{"4 KiB zeroed at the start", func(t *testing.T, path string) bool {
		return rewriteFile(t, path, func(b []byte) []byte {
			clear(b[:min(4096, len(b))])
			return b
		})
	}},
	{"4 KiB zeroed in the body", func(t *testing.T, path string) bool {
		return rewriteFile(t, path, func(b []byte) []byte {
			clear(b[len(b)/2 : min(len(b)/2+4096, len(b))])
			return b
		})
	}},
	{"deleted", func(t *testing.T, path string) bool {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		return true
	}},
}

// rewriteFile replaces the file at path with f of its content; false when
// that changes nothing.
func rewriteFile(t *testing.T, path string, f func([]byte) []byte) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nb := f(slices.Clone(b))
	if string(nb) == string(b) {
		return false
	}
	if err := os.WriteFile(path, nb, 0o644); err != nil {
		t.Fatal(err)
	}
	return true
}

// damageCell holds the damaged journal in dir to the promises.
func damageCell(t *testing.T, dir, kind string, want damageWant) {
	t.Helper()
	r, err := Verify(dir)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	before := dirState(t, dir)
	got, ids, oerr := openAndRead(dir)
	refused := oerr != nil
	if refused != !r.Clean() {
		t.Fatalf("Open and read: %v; Verify damage %v: want both to agree", oerr, r.Damage)
	}
	if refused {
		if oerr != nil && !errors.Is(oerr, ErrCorrupt) {
			t.Fatalf("refused with %v, want ErrCorrupt", oerr)
		}
		if after := dirState(t, dir); !maps.Equal(after, before) && !openedBeforeReadFailed(oerr) {
			t.Fatal("the refused Open changed files")
		}
	}
	switch kind {
	case "index file", "compaction checkpoint", "stray":
		if refused {
			t.Fatalf("a derivable or unknown file cost the journal: %v", oerr)
		}
	}
	if !refused {
		holdsAll(t, got, ids, want)
		return
	}
	// Repair, as journal repair --yes does.
	plan, err := check.PlanRepair(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cplan, err := PlanCommandIDRepair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Needed() && !cplan.Needed() {
		t.Fatalf("Verify reports damage %v, but repair has nothing to do", r.Damage)
	}
	if _, err := check.Repair(dir, nil, filepath.Join(t.TempDir(), "side")); err != nil {
		t.Fatal(err)
	}
	if _, err := RepairCommandIDs(dir, ".damaged"); err != nil {
		t.Fatal(err)
	}
	got, ids, oerr = openAndRead(dir)
	if oerr != nil {
		t.Fatalf("after repair: %v", oerr)
	}
	// Nothing that was not live comes back, and what is gone is what
	// repair said.
	live := map[uint64]Entry{}
	for _, e := range want.entries {
		live[e.Seq] = e
	}
	have := map[uint64]bool{}
	for _, e := range got {
		if w, ok := live[e.Seq]; !ok || w.Event != e.Event {
			t.Fatalf("after repair seq %d holds %+v, which was not live", e.Seq, e)
		}
		have[e.Seq] = true
	}
	if plan.SeqsKnown() && plan.Manifest == "" {
		lost := map[uint64]bool{}
		for _, rg := range plan.LostSeqs() {
			for s := rg.First; s <= rg.Last; s++ {
				lost[s] = true
			}
		}
		for seq := range live {
			if !have[seq] && !lost[seq] {
				t.Fatalf("after repair seq %d is gone, and repair did not say so (lost %v)", seq, plan.LostSeqs())
			}
		}
	}
	if cplan.Needed() {
		if !slices.Equal(ids, slices.Sorted(maps.Keys(cplan.Keys))) {
			t.Fatalf("after repair %d command IDs, repair said it keeps %d", len(ids), len(cplan.Keys))
		}
	} else if !slices.Equal(ids, want.ids) {
		t.Fatalf("after a repair of the log the command IDs changed: %d, want %d", len(ids), len(want.ids))
	}
}

// openAndRead opens dir and reads its events and command IDs; the error is
// Open's or a read's.
func openAndRead(dir string) ([]Entry, []string, error) {
	j, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		return nil, nil, err
	}
	defer j.Close()
	var got []Entry
	for e, err := range j.Entries(0) {
		if err != nil {
			return nil, nil, &readError{err}
		}
		got = append(got, e)
	}
	ids, err := j.LoadCommandIDs()
	if err != nil {
		return nil, nil, &readError{err}
	}
	return got, ids, nil
}

// readError is a read that failed after Open succeeded (Open may have
// recovered files then: only a refused Open must change nothing).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

func openedBeforeReadFailed(err error) bool {
	var re *readError
	return errors.As(err, &re)
}

// holdsAll checks that an Open that succeeded returns everything.
func holdsAll(t *testing.T, got []Entry, ids []string, want damageWant) {
	t.Helper()
	if len(got) != len(want.entries) {
		t.Fatalf("Open succeeded with %d events, want the %d acknowledged", len(got), len(want.entries))
	}
	for i := range got {
		if got[i].Seq != want.entries[i].Seq || got[i].Event != want.entries[i].Event {
			t.Fatalf("event %d: %+v, want %+v", i, got[i], want.entries[i])
		}
		if got[i].Event.RouteID == want.removed {
			t.Fatalf("removed route %s came back: %+v", want.removed, got[i])
		}
	}
	if !slices.Equal(ids, want.ids) {
		t.Fatalf("Open succeeded with %d command IDs, want the %d acknowledged", len(ids), len(want.ids))
	}
}
