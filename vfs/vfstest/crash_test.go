package vfstest_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

var strict = vfstest.CrashOptions{}

func seeded(seed uint64) vfstest.CrashOptions {
	return vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(seed, 0))}
}

func TestStrictCrash(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, fs *vfstest.FS)
		want  map[string]string // path -> content; "" value with "-" prefix key? see absent
		gone  []string
	}{
		{
			name: "unsynced write lost",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.WriteFile("/d/f", []byte("old"))
				f, _ := fs.OpenReadWrite("/d/f")
				writeAt(t, f, "NEWDATA", 0)
			},
			want: map[string]string{"/d/f": "old"},
		},
		{
			name: "synced write kept",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.WriteFile("/d/f", []byte("old"))
				f, _ := fs.OpenReadWrite("/d/f")
				writeAt(t, f, "NEWDATA", 0)
				mustSync(t, f)
				writeAt(t, f, "LATER", 7)
			},
			want: map[string]string{"/d/f": "NEWDATA"},
		},
		{
			name: "file synced, dir not synced: file gone",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.MkdirAll("/d", 0o755)
				mustSyncDir(t, fs, "/")
				f := create(t, fs, "/d/f")
				writeAt(t, f, "data", 0)
				mustSync(t, f)
			},
			gone: []string{"/d/f"},
		},
		{
			name: "mkdir not synced: dir and contents gone",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.MkdirAll("/d/e", 0o755)
				mustSyncDir(t, fs, "/d")
				f := create(t, fs, "/d/e/f")
				mustSync(t, f)
				mustSyncDir(t, fs, "/d/e")
			},
			gone: []string{"/d", "/d/e/f"},
		},
		{
			name: "dir synced, data not synced: file empty",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.MkdirAll("/d", 0o755)
				mustSyncDir(t, fs, "/")
				f := create(t, fs, "/d/f")
				writeAt(t, f, "data", 0)
				mustSyncDir(t, fs, "/d")
			},
			want: map[string]string{"/d/f": ""},
		},
		{
			name: "rename not synced: old name",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.WriteFile("/d/tmp", []byte("T"))
				fs.WriteFile("/d/f", []byte("F"))
				if err := fs.Rename("/d/tmp", "/d/f"); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]string{"/d/tmp": "T", "/d/f": "F"},
		},
		{
			name: "rename synced: new name",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.WriteFile("/d/tmp", []byte("T"))
				fs.WriteFile("/d/f", []byte("F"))
				if err := fs.Rename("/d/tmp", "/d/f"); err != nil {
					t.Fatal(err)
				}
				mustSyncDir(t, fs, "/d")
			},
			want: map[string]string{"/d/f": "T"},
			gone: []string{"/d/tmp"},
		},
		{
			name: "cross-dir rename durable via destination sync",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.WriteFile("/a/f", []byte("F"))
				fs.MkdirAll("/b", 0o755)
				mustSyncDir(t, fs, "/")
				if err := fs.Rename("/a/f", "/b/f"); err != nil {
					t.Fatal(err)
				}
				mustSyncDir(t, fs, "/b")
			},
			want: map[string]string{"/b/f": "F"},
			gone: []string{"/a/f"},
		},
		{
			name: "remove not synced: file back",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.WriteFile("/d/f", []byte("F"))
				fs.Remove("/d/f")
			},
			want: map[string]string{"/d/f": "F"},
		},
		{
			name: "unsynced truncate undone",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.WriteFile("/d/f", []byte("0123456789"))
				f, _ := fs.OpenReadWrite("/d/f")
				f.Truncate(2)
				f.Truncate(20)
			},
			want: map[string]string{"/d/f": "0123456789"},
		},
		{
			name: "write to removed file not resurrected",
			setup: func(t *testing.T, fs *vfstest.FS) {
				fs.WriteFile("/d/f", []byte("F"))
				f, _ := fs.OpenReadWrite("/d/f")
				fs.Remove("/d/f")
				mustSyncDir(t, fs, "/d")
				writeAt(t, f, "X", 0)
				mustSync(t, f)
			},
			gone: []string{"/d/f"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfstest.New()
			tc.setup(t, fs)
			before := fs.Dump()
			c := fs.CrashClone(strict)
			if fs.Dump() != before {
				t.Fatalf("CrashClone changed the original:\n%s\nnow:\n%s", before, fs.Dump())
			}
			for name, want := range tc.want {
				got, err := c.ReadFile(name)
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q\noriginal:\n%s\ncrash:\n%s", name, got, err, want, fs, c)
				}
			}
			for _, name := range tc.gone {
				if exists(c, name) {
					t.Errorf("%s survived the crash\noriginal:\n%s\ncrash:\n%s", name, fs, c)
				}
			}
			// The clone is fully durable: crashing it again changes nothing.
			if a, b := c.Dump(), c.CrashClone(strict).Dump(); a != b {
				t.Errorf("clone not durable:\n%s\nvs\n%s", a, b)
			}
		})
	}
}

// TestRandomCrashTornWrites checks that every sector touched by an unsynced
// write reads back either all old or all new, that both outcomes occur, and
// that synced data is always intact.
func TestRandomCrashTornWrites(t *testing.T) {
	const durableLen = 3000
	old := bytes.Repeat([]byte{'o'}, durableLen)
	fs := vfstest.New()
	fs.WriteFile("/d/f", old)
	f, _ := fs.OpenReadWrite("/d/f")
	synced := []byte(strings.Repeat("S", 700))
	writeAt(t, f, string(synced), 0)
	mustSync(t, f)
	// One unsynced write from 1000 to 4100 spanning partial and whole sectors
	// and extending the file.
	const off, n = 1000, 3100
	newData := bytes.Repeat([]byte{'n'}, n)
	if _, err := f.WriteAt(newData, off); err != nil {
		t.Fatal(err)
	}
	if got := fs.PendingWrites("/d/f"); got != 1 {
		t.Fatalf("PendingWrites = %d, want 1", got)
	}

	type piece struct{ lo, hi int }
	var pieces []piece
	for s := off; s < off+n; {
		e := min((s/vfstest.SectorSize+1)*vfstest.SectorSize, off+n)
		pieces = append(pieces, piece{s, e})
		s = e
	}
	sawOld := make([]bool, len(pieces))
	sawNew := make([]bool, len(pieces))
	sizes := map[int]bool{}
	for seed := uint64(0); seed < 400; seed++ {
		c := fs.CrashClone(seeded(seed))
		got, err := c.ReadFile("/d/f")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		sizes[len(got)] = true
		if len(got) < durableLen || len(got) > off+n {
			t.Fatalf("seed %d: size %d outside [%d, %d]", seed, len(got), durableLen, off+n)
		}
		if !bytes.Equal(got[:len(synced)], synced) || !bytes.Equal(got[len(synced):off], old[len(synced):off]) {
			t.Fatalf("seed %d: bytes outside the unsynced write changed\n%s", seed, c)
		}
		for i, p := range pieces {
			lo, hi := p.lo, min(p.hi, len(got))
			if lo >= hi {
				sawOld[i] = true // beyond the crash size: old (absent) content
				continue
			}
			seg := got[lo:hi]
			var oldSeg []byte
			for j := lo; j < hi; j++ {
				if j < durableLen {
					oldSeg = append(oldSeg, 'o')
				} else {
					oldSeg = append(oldSeg, 0)
				}
			}
			switch {
			case bytes.Equal(seg, newData[lo-off:hi-off]):
				sawNew[i] = true
			case bytes.Equal(seg, oldSeg):
				sawOld[i] = true
			default:
				t.Fatalf("seed %d: sector [%d,%d) is neither old nor new: %q", seed, lo, hi, seg)
			}
		}
		// Determinism.
		again, _ := fs.CrashClone(seeded(seed)).ReadFile("/d/f")
		if !bytes.Equal(got, again) {
			t.Fatalf("seed %d: crash state not deterministic", seed)
		}
	}
	for i, p := range pieces {
		if !sawOld[i] || !sawNew[i] {
			t.Errorf("sector [%d,%d): saw old %v, new %v over 400 seeds", p.lo, p.hi, sawOld[i], sawNew[i])
		}
	}
	if !sizes[durableLen] || !sizes[off+n] {
		t.Errorf("sizes seen %v: want both %d and %d", sizes, durableLen, off+n)
	}
	// The original is undisturbed.
	cur, _ := fs.ReadFile("/d/f")
	if len(cur) != off+n || !bytes.Equal(cur[off:], newData) {
		t.Fatal("original changed by CrashClone")
	}
	mustSync(t, f)
	for seed := uint64(0); seed < 20; seed++ {
		got, _ := fs.CrashClone(seeded(seed)).ReadFile("/d/f")
		if !bytes.Equal(got, cur) {
			t.Fatalf("seed %d: synced data not intact", seed)
		}
	}
}

// TestRandomCrashOverlappingWrites checks that with several unsynced writes
// to the same bytes every byte reads back as the durable value or the value
// of one of the writes, never anything else.
func TestRandomCrashOverlappingWrites(t *testing.T) {
	fs := vfstest.New()
	fs.WriteFile("/f", bytes.Repeat([]byte{'0'}, 2048))
	f, _ := fs.OpenReadWrite("/f")
	writeAt(t, f, strings.Repeat("1", 1500), 100)
	writeAt(t, f, strings.Repeat("2", 1500), 900)
	f.Truncate(2000)
	writeAt(t, f, strings.Repeat("3", 600), 1900)
	seen := map[byte]bool{}
	for seed := uint64(0); seed < 300; seed++ {
		got, err := fs.CrashClone(seeded(seed)).ReadFile("/f")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 2500 {
			t.Fatalf("seed %d: size %d", seed, len(got))
		}
		for i, b := range got {
			ok := b == '0' && i < 2048 || b == 0 && i >= 2000 ||
				b == '1' && i >= 100 && i < 1600 || b == '2' && i >= 900 && i < 2400 || b == '3' && i >= 1900
			if !ok {
				t.Fatalf("seed %d: byte %d = %q impossible", seed, i, b)
			}
			seen[b] = true
		}
	}
	for _, b := range []byte{'0', '1', '2', '3', 0} {
		if !seen[b] {
			t.Errorf("never saw %q", b)
		}
	}
}

// TestRandomCrashDirPrefix checks that a directory's unsynced entry
// operations survive as a prefix, and every prefix occurs.
func TestRandomCrashDirPrefix(t *testing.T) {
	fs := vfstest.New()
	fs.MkdirAll("/d", 0o755)
	mustSyncDir(t, fs, "/")
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		f := create(t, fs, "/d/"+n)
		writeAt(t, f, n, 0)
		mustSync(t, f)
	}
	if got := fs.PendingDirOps("/d"); got != len(names) {
		t.Fatalf("PendingDirOps = %d", got)
	}
	seen := map[int]bool{}
	for seed := uint64(0); seed < 100; seed++ {
		c := fs.CrashClone(seeded(seed))
		got, err := c.List("/d")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !slices.Equal(got, names[:len(got)]) {
			t.Fatalf("seed %d: entries %v are not a prefix of %v", seed, got, names)
		}
		for _, n := range got {
			if s := readFile(t, c, "/d/"+n); s != n {
				t.Fatalf("seed %d: %s = %q", seed, n, s)
			}
		}
		seen[len(got)] = true
	}
	if len(seen) != len(names)+1 {
		t.Errorf("prefix lengths seen: %v", seen)
	}
}

// TestRandomCrashCrossDirRename checks that a rename across directories is
// all-or-nothing in every crash state, also when other operations surround it.
func TestRandomCrashCrossDirRename(t *testing.T) {
	fs := vfstest.New()
	fs.WriteFile("/a/f", []byte("F"))
	fs.WriteFile("/b/x", []byte("X"))
	create(t, fs, "/a/before").Close()
	create(t, fs, "/b/before").Close()
	if err := fs.Rename("/a/f", "/b/f"); err != nil {
		t.Fatal(err)
	}
	create(t, fs, "/a/after").Close()
	create(t, fs, "/b/after").Close()
	outcomes := map[string]bool{}
	for seed := uint64(0); seed < 200; seed++ {
		c := fs.CrashClone(seeded(seed))
		inA, inB := exists(c, "/a/f"), exists(c, "/b/f")
		if inA == inB {
			t.Fatalf("seed %d: /a/f %v, /b/f %v: rename half applied\n%s", seed, inA, inB, c)
		}
		// Prefix: a later op implies the rename happened, which implies the
		// earlier ops in both directories.
		if (exists(c, "/a/after") || exists(c, "/b/after")) && !inB {
			t.Fatalf("seed %d: op after rename kept without rename\n%s", seed, c)
		}
		if inB && (!exists(c, "/a/before") || !exists(c, "/b/before")) {
			t.Fatalf("seed %d: rename kept without earlier ops\n%s", seed, c)
		}
		outcomes[fmt.Sprint(inA)] = true
	}
	if len(outcomes) != 2 {
		t.Errorf("outcomes: %v", outcomes)
	}
	// Syncing only the source makes both halves durable.
	mustSyncDir(t, fs, "/a")
	for seed := uint64(0); seed < 50; seed++ {
		c := fs.CrashClone(seeded(seed))
		if exists(c, "/a/f") || !exists(c, "/b/f") || !exists(c, "/b/before") {
			t.Fatalf("seed %d: after SyncDir(/a) rename not durable\n%s", seed, c)
		}
	}
	if fs.PendingDirOps("/b") != 1 {
		t.Fatalf("PendingDirOps(/b) = %d, want 1 (the create after the rename)\n%s", fs.PendingDirOps("/b"), fs)
	}
}

// TestCrashAtEveryOp takes crash clones from the OnOp hook, as a crash
// exploration test does, and checks each against what had been synced.
func TestCrashAtEveryOp(t *testing.T) {
	fs := vfstest.New()
	fs.MkdirAll("/log", 0o755)
	mustSyncDir(t, fs, "/")
	var acked []byte // data known durable
	var states int
	fs.OnOp(func(op vfstest.Op, name string) {
		for seed := uint64(0); seed < 3; seed++ {
			c := fs.CrashClone(seeded(uint64(states)*3 + seed))
			got, err := c.ReadFile("/log/seg")
			if err != nil {
				if len(acked) > 0 {
					t.Fatalf("after %v %s: acknowledged file gone: %v", op, name, err)
				}
				continue
			}
			if !bytes.HasPrefix(got, acked) {
				t.Fatalf("after %v %s: acknowledged data lost: %q lacks prefix %q", op, name, got, acked)
			}
		}
		states++
	})
	f := create(t, fs, "/log/seg")
	var off int64
	for i := range 20 {
		rec := fmt.Sprintf("record-%02d;", i)
		writeAt(t, f, rec, off)
		off += int64(len(rec))
		if i%4 == 3 {
			mustSync(t, f)
			if i == 3 {
				mustSyncDir(t, fs, "/log")
			}
			acked, _ = fs.ReadFile("/log/seg")
		}
	}
	fs.OnOp(nil)
	if want := 1 + 20 + 5 + 1; states != want {
		t.Errorf("hook ran %d times, want %d", states, want)
	}
}

// TestSyncCoversOnlyWritesCompletedBeforeIt holds a Sync in flight
// (DuringSync) while another write lands: the strict crash state after that
// Sync has the first write and not the second, and only the next Sync makes
// the second durable. A log that releases a waiter whose write came after
// a sync began is caught by this rule.
func TestSyncCoversOnlyWritesCompletedBeforeIt(t *testing.T) {
	fs := vfstest.New()
	fs.WriteFile("/f", []byte("...."))
	f, err := fs.OpenReadWrite("/f")
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, f, "A", 0)
	var inFlight []string
	fs.DuringSync(func(name string) {
		fs.DuringSync(nil)
		inFlight = append(inFlight, name)
		writeAt(t, f, "B", 1)
		if got, _ := fs.CrashClone(strict).ReadFile("/f"); string(got) != "...." {
			t.Errorf("strict state while the sync is in flight: %q, want %q", got, "....")
		}
	})
	mustSync(t, f)
	if len(inFlight) != 1 || inFlight[0] != "/f" {
		t.Fatalf("DuringSync called for %q, want once for /f", inFlight)
	}
	if got, _ := fs.CrashClone(strict).ReadFile("/f"); string(got) != "A..." {
		t.Fatalf("strict state after the sync: %q, want %q (the write made during it is not covered)", got, "A...")
	}
	mustSync(t, f)
	if got, _ := fs.CrashClone(strict).ReadFile("/f"); string(got) != "AB.." {
		t.Fatalf("strict state after a second sync: %q, want %q", got, "AB..")
	}
}

// TestAnyOrderKeepsLaterEntryWithoutEarlier: two renames in one directory
// with no directory sync between them. A prefix crash state can never keep
// the second without the first; with AnyOrder some seed does, and every
// state still keeps each rename whole.
func TestAnyOrderKeepsLaterEntryWithoutEarlier(t *testing.T) {
	fs := vfstest.New()
	fs.WriteFile("/d/a.tmp", []byte("A"))
	fs.WriteFile("/d/b.tmp", []byte("B"))
	if err := fs.Rename("/d/a.tmp", "/d/a"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename("/d/b.tmp", "/d/b"); err != nil {
		t.Fatal(err)
	}
	secondOnly := map[bool]int{}
	for seed := range uint64(64) {
		for _, anyOrder := range []bool{false, true} {
			c := fs.CrashClone(vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(seed, 0)), AnyOrder: anyOrder})
			_, errA := c.Stat("/d/a")
			_, errATmp := c.Stat("/d/a.tmp")
			_, errB := c.Stat("/d/b")
			if (errA == nil) == (errATmp == nil) {
				t.Fatalf("seed=%d anyOrder=%v: rename of a kept in part: a %v, a.tmp %v", seed, anyOrder, errA, errATmp)
			}
			if errB == nil && errA != nil {
				secondOnly[anyOrder]++
			}
		}
	}
	if secondOnly[false] != 0 {
		t.Fatalf("prefix crash states kept the second rename without the first %d times", secondOnly[false])
	}
	if secondOnly[true] == 0 {
		t.Fatal("no AnyOrder crash state of 64 kept the second rename without the first")
	}
}
