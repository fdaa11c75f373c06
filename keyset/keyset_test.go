package keyset

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

var modes = []struct {
	name string
	d    Durability
}{{"Immediate", Immediate}, {"Eventual", Eventual}}

func mustOpen(t testing.TB, dir string, opts Options) *Set {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func mustClose(t testing.TB, s *Set) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// abandon simulates a process crash: the file handles go away without any
// further write or sync. (Data written before stays in the OS page cache,
// as it would after a real process crash.)
func abandon(s *Set) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.w.Close()
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func checkKeys(t testing.TB, s *Set, want map[string]bool, context string) {
	t.Helper()
	got := s.Keys()
	w := sortedKeys(want)
	if !slices.Equal(got, w) {
		t.Fatalf("%s: Keys() = %d keys %s, want %d keys %s", context, len(got), abbrev(got), len(w), abbrev(w))
	}
	if s.Len() != len(w) {
		t.Fatalf("%s: Len() = %d, want %d", context, s.Len(), len(w))
	}
}

func abbrev(keys []string) string {
	if len(keys) > 8 {
		return fmt.Sprintf("%q...", keys[:8])
	}
	return fmt.Sprintf("%q", keys)
}

// readDir returns the contents of every file in dir.
func readDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func fileSize(t testing.TB, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestBasic(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Durability: m.d}
			s := mustOpen(t, dir, opts)
			for _, op := range []struct {
				remove bool
				key    string
			}{{false, "c1"}, {false, "c2"}, {true, "c1"}, {true, "absent"}, {false, "c2"}} {
				var err error
				if op.remove {
					err = s.Remove(op.key)
				} else {
					err = s.Add(op.key)
				}
				if err != nil {
					t.Fatalf("op %+v: %v", op, err)
				}
			}
			want := map[string]bool{"c2": true}
			checkKeys(t, s, want, "before reopen")
			if !s.Has("c2") || s.Has("c1") {
				t.Fatalf("Has(c2)=%v Has(c1)=%v, want true false", s.Has("c2"), s.Has("c1"))
			}
			mustClose(t, s)
			if _, err := os.Stat(filepath.Join(dir, "keys.delta")); err != nil {
				t.Fatalf("want default file keys.delta: %v", err)
			}
			s = mustOpen(t, dir, opts)
			checkKeys(t, s, want, "after reopen")
			mustClose(t, s)
		})
	}
}

func TestName(t *testing.T) {
	dir := t.TempDir()
	a := mustOpen(t, dir, Options{Name: "a", Durability: Eventual})
	b := mustOpen(t, dir, Options{Name: "b", Durability: Eventual})
	if err := a.Add("x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Add("y"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, a)
	mustClose(t, b)
	a = mustOpen(t, dir, Options{Name: "a"})
	defer a.Close()
	checkKeys(t, a, map[string]bool{"x": true}, "set a")
	if _, err := os.Stat(filepath.Join(dir, "b.delta")); err != nil {
		t.Fatalf("want file b.delta: %v", err)
	}
}

// TestRandomHistory runs a long seeded random history against a map model,
// reopening (and switching durability) every few thousand operations.
func TestRandomHistory(t *testing.T) {
	const seed = 20240601
	const total = 100_000
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	model := map[string]bool{}
	rewrites, reopens := 0, 0
	keyspace := 3000
	done := 0
	for session := 0; done < total; session++ {
		d := Eventual
		n := 5000 + rng.IntN(10000)
		if session%3 == 1 {
			d, n = Immediate, 300 // fsync per op: keep it short
		}
		if session%4 == 2 {
			keyspace = 20 + rng.IntN(200) // small live set: many rollovers
		} else {
			keyspace = 3000
		}
		s := mustOpen(t, dir, Options{Durability: d, MaxKeySize: 64})
		checkKeys(t, s, model, fmt.Sprintf("seed %d: after reopen %d (op %d)", seed, reopens, done))
		for i := 0; i < n && done < total; i++ {
			k := randKey(rng, keyspace)
			var err error
			if rng.IntN(100) < 55 {
				err = s.Add(k)
				model[k] = true
			} else {
				err = s.Remove(k)
				delete(model, k)
			}
			if err != nil {
				t.Fatalf("seed %d op %d: %v", seed, done, err)
			}
			if s.Has(k) != model[k] {
				t.Fatalf("seed %d op %d: Has(%q) = %v, want %v", seed, done, k, s.Has(k), model[k])
			}
			done++
		}
		checkKeys(t, s, model, fmt.Sprintf("seed %d: before close %d (op %d)", seed, reopens, done))
		rewrites += s.rewrites
		if rng.IntN(2) == 0 {
			mustClose(t, s)
		} else {
			abandon(s) // process crash: everything was written to the OS
		}
		reopens++
	}
	s := mustOpen(t, dir, Options{})
	checkKeys(t, s, model, fmt.Sprintf("seed %d: final reopen", seed))
	mustClose(t, s)
	if rewrites < 5 {
		t.Fatalf("seed %d: %d snapshot rewrites in %d ops, want at least 5", seed, rewrites, total)
	}
	t.Logf("seed %d: %d ops, %d reopens, %d rewrites, %d live keys", seed, total, reopens, rewrites, len(model))
}

// randKey returns one of n keys of varying length, some with bytes that
// sort differently as bytes than as runes.
func randKey(rng *rand.Rand, n int) string {
	i := rng.IntN(n)
	switch i % 4 {
	case 0:
		return fmt.Sprintf("cmd-%d", i)
	case 1:
		return fmt.Sprintf("\xff%d\x00", i)
	case 2:
		return strings.Repeat("k", 1+i%40) + fmt.Sprint(i)
	default:
		return fmt.Sprintf("%x", i)
	}
}

// TestFilesBounded checks that many add/remove cycles over a small live set
// keep the files proportional to the live set.
func TestFilesBounded(t *testing.T) {
	for _, live := range []int{0, 10, 1000} {
		t.Run(fmt.Sprintf("live=%d", live), func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{Durability: Eventual})
			defer s.Close()
			const keyLen = 12
			for i := range live {
				if err := s.Add(fmt.Sprintf("live-%06d", i)); err != nil {
					t.Fatal(err)
				}
			}
			// Per record: frame header, key, two varints.
			rec := int64(segment.FrameHeaderSize + keyLen + 2)
			bound := 2*segment.FileHeaderSize + int64(max(2*(live+1), minRewriteOps)+1)*rec +
				int64(live+1)*(keyLen+2) + segment.FrameHeaderSize
			var maxSeen int64
			for i := range 30_000 {
				k := fmt.Sprintf("tmp-%07d", i)
				if err := s.Add(k); err != nil {
					t.Fatal(err)
				}
				if err := s.Remove(k); err != nil {
					t.Fatal(err)
				}
				if i%250 == 0 {
					size := fileSize(t, filepath.Join(dir, "keys.delta"))
					if i > 2*minRewriteOps {
						size += fileSize(t, filepath.Join(dir, "keys.snap"))
					}
					maxSeen = max(maxSeen, size)
					if size > bound {
						t.Fatalf("after %d cycles with %d live keys: snap+delta = %d bytes, want <= %d", i, live, size, bound)
					}
				}
			}
			if s.rewrites == 0 {
				t.Fatalf("no snapshot rewrite in 60000 ops, want several")
			}
			t.Logf("live %d: max snap+delta %d bytes (bound %d), %d rewrites", live, maxSeen, bound, s.rewrites)
		})
	}
}

// TestTornDeltaTail cuts the delta at every byte of its last frame, alone
// or followed by garbage or zeros: Open must keep exactly the earlier ops.
func TestTornDeltaTail(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			delta := filepath.Join(dir, "keys.delta")
			s := mustOpen(t, dir, Options{Durability: m.d})
			model := map[string]bool{}
			for i := range 20 {
				k := fmt.Sprintf("c%d", i)
				if err := s.Add(k); err != nil {
					t.Fatal(err)
				}
				model[k] = true
			}
			if err := s.Remove("c3"); err != nil {
				t.Fatal(err)
			}
			delete(model, "c3")
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			start := fileSize(t, delta)
			if err := s.Add("last"); err != nil {
				t.Fatal(err)
			}
			mustClose(t, s)
			orig, err := os.ReadFile(delta)
			if err != nil {
				t.Fatal(err)
			}
			end := int64(len(orig))
			rng := rand.New(rand.NewPCG(7, 7))
			garbage := make([]byte, 100)
			for i := range garbage {
				garbage[i] = byte(rng.Uint32() | 1)
			}
			tails := []struct {
				name string
				b    []byte
			}{{"nothing", nil}, {"garbage", garbage}, {"zeros", make([]byte, 600)}}
			for cut := start; cut < end; cut++ {
				for _, tail := range tails {
					ctx := fmt.Sprintf("cut at %d of last frame [%d,%d) + %s", cut, start, end, tail.name)
					b := append(slices.Clone(orig[:cut]), tail.b...)
					if err := os.WriteFile(delta, b, 0o644); err != nil {
						t.Fatal(err)
					}
					s, err := Open(dir, Options{Durability: m.d})
					if err != nil {
						t.Fatalf("%s: Open: %v, want success", ctx, err)
					}
					want := model
					if len(b) >= len(orig) && bytes.Equal(b[:len(orig)], orig) {
						// The tail restored the cut bytes (the frame ends
						// with a zero value length): the frame is whole.
						want = maps.Clone(model)
						want["last"] = true
					}
					checkKeys(t, s, want, ctx)
					// Still writable, and the cut is durable.
					if err := s.Add("after"); err != nil {
						t.Fatalf("%s: Add after recovery: %v", ctx, err)
					}
					mustClose(t, s)
					s = mustOpen(t, dir, Options{})
					want = maps.Clone(want)
					want["after"] = true
					checkKeys(t, s, want, ctx+", reopened after another Add")
					mustClose(t, s)
				}
			}
		})
	}
}

// TestCorruptDelta flips bits in an early delta frame followed by valid
// frames: Open must fail with ErrCorrupt and change nothing.
func TestCorruptDelta(t *testing.T) {
	dir0 := t.TempDir()
	delta := filepath.Join(dir0, "keys.delta")
	s := mustOpen(t, dir0, Options{Durability: Immediate})
	var offs []int64
	for i := range 10 {
		offs = append(offs, fileSize(t, delta))
		if err := s.Add(fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, s)
	orig := readDir(t, dir0)
	frame := offs[3]
	cases := []struct {
		name string
		off  int64
	}{
		{"header crc", frame},
		{"length", frame + 4},
		{"payload crc", frame + 8},
		{"first seq", frame + 16},
		{"payload", frame + segment.FrameHeaderSize + 1},
		{"file header", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range orig {
				b = slices.Clone(b)
				if name == "keys.delta" {
					b[c.off] ^= 0x10
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := readDir(t, dir)
			_, err := Open(dir, Options{})
			if !errors.Is(err, segment.ErrCorrupt) {
				t.Fatalf("bit flipped at %d (%s): Open error %v, want one wrapping segment.ErrCorrupt", c.off, c.name, err)
			}
			if !strings.Contains(err.Error(), "keys.delta") {
				t.Errorf("error %q does not name the file", err)
			}
			after := readDir(t, dir)
			if !mapsEqual(before, after) {
				t.Fatalf("Open with corrupt delta changed the files")
			}
		})
	}
}

func mapsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// forceRewrite toggles a key until a snapshot rewrite happened.
func forceRewrite(t testing.TB, s *Set) {
	t.Helper()
	n := s.rewrites
	for i := 0; s.rewrites == n; i++ {
		if i > 10*minRewriteOps {
			t.Fatalf("no rewrite after %d ops", i)
		}
		if err := s.Add("toggle"); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove("toggle"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCorruptSnapshot damages the snapshot (or loses a file): Open must fail
// with ErrCorrupt and change nothing.
func TestCorruptSnapshot(t *testing.T) {
	dir0 := t.TempDir()
	s := mustOpen(t, dir0, Options{Durability: Eventual})
	for i := range 100 {
		if err := s.Add(fmt.Sprintf("key-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	forceRewrite(t, s)
	if err := s.Add("in-delta"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	orig := readDir(t, dir0)
	if len(orig["keys.snap"]) < 200 {
		t.Fatalf("snapshot of %d bytes, want the 100 keys", len(orig["keys.snap"]))
	}
	oldDelta := func() []byte { // a delta of generation 0
		d := t.TempDir()
		s := mustOpen(t, d, Options{})
		s.Add("x")
		mustClose(t, s)
		b, _ := os.ReadFile(filepath.Join(d, "keys.delta"))
		return b
	}()
	cases := []struct {
		name   string
		mutate func(files map[string][]byte)
	}{
		{"snap file header", func(f map[string][]byte) { f["keys.snap"][20] ^= 1 }},
		{"snap frame header", func(f map[string][]byte) { f["keys.snap"][segment.FileHeaderSize+5] ^= 1 }},
		{"snap payload", func(f map[string][]byte) { f["keys.snap"][len(f["keys.snap"])-3] ^= 1 }},
		{"snap truncated mid frame", func(f map[string][]byte) { f["keys.snap"] = f["keys.snap"][:len(f["keys.snap"])-7] }},
		{"snap truncated to header", func(f map[string][]byte) { f["keys.snap"] = f["keys.snap"][:segment.FileHeaderSize] }},
		{"snap empty", func(f map[string][]byte) { f["keys.snap"] = nil }},
		{"delta missing", func(f map[string][]byte) { delete(f, "keys.delta") }},
		{"snap missing", func(f map[string][]byte) { delete(f, "keys.snap") }},
		{"delta header", func(f map[string][]byte) { f["keys.delta"][17] ^= 1 }},
		{"delta from other generation", func(f map[string][]byte) {
			// Snapshot of generation 1 with a delta claiming a newer one.
			b := slices.Clone(f["keys.delta"])
			segment.PutFileHeader(b, segment.FileHeader{ID: 99})
			f["keys.delta"] = b
		}},
		{"old delta without snapshot", func(f map[string][]byte) {
			delete(f, "keys.snap")
			f["keys.delta"] = slices.Clone(oldDelta)
			segment.PutFileHeader(f["keys.delta"], segment.FileHeader{ID: 1})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string][]byte{}
			for k, v := range orig {
				files[k] = slices.Clone(v)
			}
			c.mutate(files)
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := readDir(t, dir)
			_, err := Open(dir, Options{})
			if !errors.Is(err, segment.ErrCorrupt) {
				t.Fatalf("%s: Open error %v, want one wrapping segment.ErrCorrupt", c.name, err)
			}
			if !mapsEqual(before, readDir(t, dir)) {
				t.Fatalf("%s: Open changed the files", c.name)
			}
		})
	}
}

var errCrash = errors.New("simulated crash")

// TestCrashDuringRewrite stops a snapshot rewrite after each of its steps,
// as a crash would, and checks that reopening gives exactly the model.
func TestCrashDuringRewrite(t *testing.T) {
	for _, m := range modes {
		for step := range numSteps {
			t.Run(fmt.Sprintf("%s/after %v", m.name, step), func(t *testing.T) {
				dir := t.TempDir()
				opts := Options{Durability: m.d}
				s := mustOpen(t, dir, opts)
				model := map[string]bool{}
				for i := range 50 {
					k := fmt.Sprintf("c%d", i)
					if err := s.Add(k); err != nil {
						t.Fatal(err)
					}
					model[k] = true
				}
				// A first rewrite so that the crash hits generation 1 -> 2,
				// with removals that an old delta replayed out of order
				// would undo.
				forceRewrite(t, s)
				for i := range 10 {
					k := fmt.Sprintf("c%d", i)
					if err := s.Remove(k); err != nil {
						t.Fatal(err)
					}
					delete(model, k)
				}
				gen := s.gen
				var hit atomic.Bool
				s.hook = func(st rewriteStep) error {
					if st == step {
						hit.Store(true)
						return errCrash
					}
					return nil
				}
				var err error
				for i := 0; err == nil; i++ {
					if i > 4*minRewriteOps {
						t.Fatalf("no rewrite after %d ops", i)
					}
					k := fmt.Sprintf("t%d", i%7)
					if model[k] {
						err = s.Remove(k)
						delete(model, k) // written before the rewrite starts
					} else {
						err = s.Add(k)
						model[k] = true
					}
				}
				if !errors.Is(err, errCrash) || !hit.Load() {
					t.Fatalf("op error %v, want the simulated crash at %v", err, step)
				}
				if err := s.Add("refused"); !errors.Is(err, errCrash) {
					t.Fatalf("Add after failed rewrite: %v, want sticky error wrapping the crash", err)
				}
				abandon(s)

				s = mustOpen(t, dir, opts)
				checkKeys(t, s, model, fmt.Sprintf("reopen after crash %v", step))
				wantGen := gen
				if step >= stepRenamed {
					wantGen = gen + 1
				}
				if s.gen != wantGen {
					t.Fatalf("generation after reopen %d, want %d", s.gen, wantGen)
				}
				for _, tmp := range []string{"keys.snap.tmp", "keys.delta.tmp"} {
					if _, err := os.Stat(filepath.Join(dir, tmp)); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("%s after Open: %v, want removed", tmp, err)
					}
				}
				// Keep going across another rewrite and reopen.
				if err := s.Add("post"); err != nil {
					t.Fatal(err)
				}
				model["post"] = true
				forceRewrite(t, s)
				if err := s.Remove("c20"); err != nil {
					t.Fatal(err)
				}
				delete(model, "c20")
				mustClose(t, s)
				s = mustOpen(t, dir, opts)
				checkKeys(t, s, model, "second reopen")
				mustClose(t, s)
			})
		}
	}
}

// TestConcurrentImmediate adds from 32 goroutines with group commit.
func TestConcurrentImmediate(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Durability: Immediate})
	const workers, per = 32, 25
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // concurrent readers
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = s.Keys()
				_ = s.Has("w0-0")
				_ = s.Len()
			}
		}
	}()
	errs := make(chan error, workers*per)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := s.Add(fmt.Sprintf("w%d-%d", w, i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Add: %v", err)
	}
	syncs := s.fsyncs()
	abandon(s) // acknowledged Immediate ops need no Close
	t.Logf("%d Immediate adds from %d goroutines took %d fsyncs", workers*per, workers, syncs)
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	if s.Len() != workers*per {
		t.Fatalf("after reopen Len() = %d, want %d", s.Len(), workers*per)
	}
	for w := range workers {
		for i := range per {
			if k := fmt.Sprintf("w%d-%d", w, i); !s.Has(k) {
				t.Fatalf("after reopen %q missing", k)
			}
		}
	}
}

// TestConcurrentRewrite runs concurrent Immediate and no-op operations
// across snapshot rewrites.
func TestConcurrentRewrite(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Durability: Immediate})
	const workers, per = 8, 400
	var wg sync.WaitGroup
	final := make([]map[string]bool, workers)
	errs := make(chan error, workers)
	for w := range workers {
		final[w] = map[string]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for range per {
				k := fmt.Sprintf("w%d-%d", w, rng.IntN(5))
				var err error
				if rng.IntN(2) == 0 {
					err = s.Add(k)
					final[w][k] = true
				} else {
					err = s.Remove(k)
					delete(final[w], k)
				}
				if err != nil {
					errs <- err
					return
				}
				if rng.IntN(50) == 0 {
					if err := s.Sync(); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d rewrites, %d fsyncs", s.rewrites, s.fsyncs())
	abandon(s)
	model := map[string]bool{}
	for _, f := range final {
		for k := range f {
			model[k] = true
		}
	}
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	checkKeys(t, s, model, "after concurrent ops and reopen")
}

func TestInvalid(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxKeySize: 8})
	defer s.Close()
	if err := s.Add("ok"); err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, filepath.Join(dir, "keys.delta"))
	for _, c := range []struct {
		name string
		op   func(string) error
		key  string
	}{
		{"Add empty", s.Add, ""},
		{"Remove empty", s.Remove, ""},
		{"Add too long", s.Add, "123456789"},
		{"Remove too long", s.Remove, "123456789"},
	} {
		if err := c.op(c.key); !errors.Is(err, segment.ErrInvalid) {
			t.Errorf("%s: error %v, want one wrapping segment.ErrInvalid", c.name, err)
		}
	}
	if got := fileSize(t, filepath.Join(dir, "keys.delta")); got != size {
		t.Fatalf("invalid ops changed the delta size from %d to %d", size, got)
	}
	if err := s.Add("12345678"); err != nil {
		t.Fatalf("key of exactly MaxKeySize: %v, want success", err)
	}
	checkKeys(t, s, map[string]bool{"ok": true, "12345678": true}, "after invalid ops")

	for _, c := range []struct {
		name string
		opts Options
	}{
		{"negative MaxKeySize", Options{MaxKeySize: -1}},
		{"huge MaxKeySize", Options{MaxKeySize: 2 << 20}},
		{"name with slash", Options{Name: "a/b"}},
		{"bad durability", Options{Durability: 7}},
	} {
		if _, err := Open(t.TempDir(), c.opts); !errors.Is(err, segment.ErrInvalid) {
			t.Errorf("Open with %s: error %v, want one wrapping segment.ErrInvalid", c.name, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing"), Options{}); err == nil {
		t.Errorf("Open of a missing directory succeeded, want an error")
	}
	// Default limit is 4096.
	d := mustOpen(t, t.TempDir(), Options{})
	defer d.Close()
	if err := d.Add(strings.Repeat("x", 4096)); err != nil {
		t.Errorf("4096-byte key with default limit: %v", err)
	}
	if err := d.Add(strings.Repeat("x", 4097)); !errors.Is(err, segment.ErrInvalid) {
		t.Errorf("4097-byte key with default limit: %v, want ErrInvalid", err)
	}
}

func TestClosed(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	if err := s.Add("a"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	for _, c := range []struct {
		name string
		f    func() error
	}{
		{"Add", func() error { return s.Add("b") }},
		{"Add present", func() error { return s.Add("a") }},
		{"Remove", func() error { return s.Remove("a") }},
		{"Sync", s.Sync},
		{"Close", s.Close},
	} {
		if err := c.f(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.name, err)
		}
	}
	if s.Has("a") || s.Len() != 0 || s.Keys() != nil {
		t.Errorf("after Close: Has=%v Len=%d Keys=%v, want false 0 nil", s.Has("a"), s.Len(), s.Keys())
	}
}

func TestLeftoverTempRemoved(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	s.Add("a")
	mustClose(t, s)
	for _, n := range []string{"keys.snap.tmp", "keys.delta.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("half-written junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	checkKeys(t, s, map[string]bool{"a": true}, "with leftover temporaries")
	for _, n := range []string{"keys.snap.tmp", "keys.delta.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want removed by Open", n, err)
		}
	}
}

// faultFS fails Sync or WriteAt of files it opened once armed.
type faultFS struct {
	vfs.FS
	failSync, failWrite atomic.Bool
}

var errInjected = errors.New("injected I/O error")

type faultFile struct {
	vfs.File
	fs *faultFS
}

func (f faultFile) Sync() error {
	if f.fs.failSync.Load() {
		return errInjected
	}
	return f.File.Sync()
}

func (f faultFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fs.failWrite.Load() {
		n, _ := f.File.WriteAt(p[:len(p)/2], off) // torn
		return n, errInjected
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFS) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return faultFile{file, f}, nil
}

func (f *faultFS) OpenReadWrite(name string) (vfs.File, error) {
	file, err := f.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return faultFile{file, f}, nil
}

func TestStickyError(t *testing.T) {
	for _, c := range []struct {
		name   string
		d      Durability
		arm    func(*faultFS)
		hasBad bool // whether the failed key is in memory afterwards
	}{
		{"sync fails", Immediate, func(f *faultFS) { f.failSync.Store(true) }, true},
		{"write fails", Immediate, func(f *faultFS) { f.failWrite.Store(true) }, false},
		{"write fails eventual", Eventual, func(f *faultFS) { f.failWrite.Store(true) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := &faultFS{FS: vfs.Default()}
			s := mustOpen(t, dir, Options{Durability: c.d, FS: fs})
			for _, k := range []string{"a", "b"} {
				if err := s.Add(k); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			c.arm(fs)
			if err := s.Add("bad"); !errors.Is(err, errInjected) {
				t.Fatalf("Add with failing I/O: %v, want the injected error", err)
			}
			if s.Has("bad") != c.hasBad {
				t.Fatalf("Has(bad) = %v, want %v", s.Has("bad"), c.hasBad)
			}
			fs.failSync.Store(false)
			fs.failWrite.Store(false)
			for _, op := range []struct {
				name string
				f    func() error
			}{
				{"Add", func() error { return s.Add("c") }},
				{"Add present", func() error { return s.Add("a") }},
				{"Remove", func() error { return s.Remove("a") }},
				{"Sync", s.Sync},
				{"Close", s.Close},
			} {
				if err := op.f(); !errors.Is(err, errInjected) {
					t.Fatalf("%s after failure: %v, want sticky error wrapping the injected one", op.name, err)
				}
			}
			if err := s.Add("c"); !errors.Is(err, ErrClosed) {
				t.Fatalf("Add after Close: %v, want ErrClosed", err)
			}
			s = mustOpen(t, dir, Options{})
			defer s.Close()
			if !s.Has("a") || !s.Has("b") || s.Has("c") {
				t.Fatalf("after reopen Keys() = %q, want a and b (and maybe bad), not c", s.Keys())
			}
		})
	}
}

// Len and Syncs count across snapshot rewrites (each new delta's syncs
// add to the old ones') and take no lock: they return while another
// goroutine holds the set's lock, as a rewrite does through its fsyncs.
func TestLenAndSyncsAcrossRewrites(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{Durability: Immediate})
	for _, k := range []string{"a", "b", "c"} {
		if err := s.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	if n, syncs := s.Len(), s.Syncs(); n != 3 || syncs != 3 {
		t.Fatalf("after 3 Immediate adds: Len %d, Syncs %d; want 3, 3", n, syncs)
	}
	forceRewrite(t, s)
	before := s.Syncs()
	if err := s.Add("d"); err != nil {
		t.Fatal(err)
	}
	if n, syncs := s.Len(), s.Syncs(); n != 4 || syncs != before+1 {
		t.Errorf("an add after a rewrite: Len %d, Syncs %d; want 4, %d (the new delta's sync counted)", n, syncs, before+1)
	}
	s.mu.Lock()
	got := make(chan [2]int)
	go func() { got <- [2]int{s.Len(), s.Syncs()} }()
	select {
	case g := <-got:
		if g != [2]int{4, before + 1} {
			t.Errorf("with the lock held: Len, Syncs = %v", g)
		}
	case <-time.After(10 * time.Second):
		t.Error("Len or Syncs waited for the set's lock")
	}
	s.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 0 {
		t.Errorf("after Close: Len %d, want 0", n)
	}
}
