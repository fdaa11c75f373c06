package keyset

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seglog/journal/vfs"
)

// memFS is an in-memory vfs.FS, for tests only, that models what a power
// cut keeps: file data is durable only up to the last Sync and directory
// entries only up to the last SyncDir. crash returns the filesystem as it
// might be after a power cut: the durable state plus, per file, a random
// prefix of the writes issued since (the last one possibly torn), and a
// random subset of the directory operations issued since that respects
// their order per name. It has one flat namespace of paths; directories
// are implicit.
type memFS struct {
	mu      sync.Mutex
	entries map[string]*memNode // current directory entries
	durable map[string]*memNode // entries as of the last SyncDir
	pending []dirOp             // since the last SyncDir, in order
}

type dirOp struct {
	kind     string // "create", "rename", "remove"
	old, new string
	node     *memNode
}

type memNode struct {
	data    []byte   // current contents
	durable []byte   // as of the last Sync
	pending []fileOp // since the last Sync, in order
}

type fileOp struct {
	truncate bool
	off      int64
	p        []byte // write data; for truncate, nil with off = size
}

func (op fileOp) apply(b []byte) []byte {
	if op.truncate {
		if op.off <= int64(len(b)) {
			return b[:op.off]
		}
		return append(b, make([]byte, op.off-int64(len(b)))...)
	}
	if end := op.off + int64(len(op.p)); end > int64(len(b)) {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[op.off:], op.p)
	return b
}

func newMemFS() *memFS {
	return &memFS{entries: map[string]*memNode{}, durable: map[string]*memNode{}}
}

// crash returns a new filesystem holding what a power cut could leave.
func (fs *memFS) crash(rng *rand.Rand) *memFS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ents := maps.Clone(fs.durable)
	// Directory operations since the last SyncDir may persist in any
	// order, except that an operation on a name persists only if every
	// earlier one on its names did.
	lost := map[string]bool{}
	for _, op := range fs.pending {
		if lost[op.old] || lost[op.new] || rng.IntN(2) == 0 {
			lost[op.old], lost[op.new] = true, true
			continue
		}
		switch op.kind {
		case "create":
			ents[op.new] = op.node
		case "rename":
			if n, ok := ents[op.old]; ok {
				ents[op.new] = n
				delete(ents, op.old)
			}
		case "remove":
			delete(ents, op.old)
		}
	}
	out := newMemFS()
	seen := map[*memNode]*memNode{}
	for name, n := range ents {
		if c, ok := seen[n]; ok {
			out.entries[name] = c
			continue
		}
		b := slices.Clone(n.durable)
		k := rng.IntN(len(n.pending) + 1)
		for i, op := range n.pending[:k] {
			if i == k-1 && !op.truncate && len(op.p) > 1 && rng.IntN(2) == 0 {
				op.p = op.p[:rng.IntN(len(op.p))] // torn write
			}
			b = op.apply(b)
		}
		c := &memNode{data: b, durable: slices.Clone(b)}
		seen[n] = c
		out.entries[name] = c
	}
	out.durable = maps.Clone(out.entries)
	return out
}

func (fs *memFS) Create(name string) (vfs.File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := &memNode{}
	fs.entries[name] = n
	fs.pending = append(fs.pending, dirOp{kind: "create", new: name, node: n})
	return &memFile{fs: fs, n: n, name: name}, nil
}

func (fs *memFS) open(name string, ro bool) (vfs.File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, ok := fs.entries[name]
	if !ok {
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	return &memFile{fs: fs, n: n, name: name, ro: ro}, nil
}

func (fs *memFS) Open(name string) (vfs.File, error)          { return fs.open(name, true) }
func (fs *memFS) OpenReadWrite(name string) (vfs.File, error) { return fs.open(name, false) }

func (fs *memFS) Rename(oldname, newname string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, ok := fs.entries[oldname]
	if !ok {
		return &os.PathError{Op: "rename", Path: oldname, Err: os.ErrNotExist}
	}
	fs.entries[newname] = n
	delete(fs.entries, oldname)
	fs.pending = append(fs.pending, dirOp{kind: "rename", old: oldname, new: newname})
	return nil
}

func (fs *memFS) Remove(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, ok := fs.entries[name]; !ok {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrNotExist}
	}
	delete(fs.entries, name)
	fs.pending = append(fs.pending, dirOp{kind: "remove", old: name})
	return nil
}

func (fs *memFS) MkdirAll(string, os.FileMode) error { return nil }

func (fs *memFS) List(dir string) ([]string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	for name := range fs.entries {
		if path.Dir(name) == path.Clean(dir) {
			out = append(out, path.Base(name))
		}
	}
	slices.Sort(out)
	return out, nil
}

func (fs *memFS) Stat(name string) (os.FileInfo, error) {
	return nil, errors.New("memFS: Stat not implemented")
}

func (fs *memFS) SyncDir(string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.durable = maps.Clone(fs.entries)
	fs.pending = nil
	return nil
}

func (fs *memFS) Lock(string) (io.Closer, error) {
	return nil, errors.New("memFS: Lock not implemented")
}

type memFile struct {
	fs     *memFS
	n      *memNode
	name   string
	ro     bool
	closed bool
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	k := copy(p, f.n.data[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

func (f *memFile) mutate(op fileOp) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.ro || f.closed {
		return fmt.Errorf("memFS: %s not writable", f.name)
	}
	f.n.data = op.apply(f.n.data)
	f.n.pending = append(f.n.pending, op)
	return nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.mutate(fileOp{off: off, p: slices.Clone(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (f *memFile) Truncate(size int64) error {
	return f.mutate(fileOp{truncate: true, off: size})
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	for _, op := range f.n.pending {
		f.n.durable = op.apply(f.n.durable)
	}
	f.n.pending = nil
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.n.data)), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.closed = true
	return nil
}

// TestPowerLoss runs seeded random histories on memFS, cuts the power at a
// random moment — between operations or at a random step of a snapshot
// rewrite — and checks the recovered set: with Immediate durability it is
// exactly the state after the last acknowledged operation (or after the
// one in flight); with Eventual it is the state after some prefix of the
// history at least as long as the last Sync.
func TestPowerLoss(t *testing.T) {
	seeds := 120
	if testing.Short() {
		seeds = 20
	}
	deadline := time.Now().Add(6 * time.Second)
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		if time.Now().After(deadline) {
			t.Logf("stopping after %d seeds (time budget)", seed-1)
			break
		}
		powerLossRun(t, seed)
	}
}

func powerLossRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	fs := newMemFS()
	const dir = "/db"
	mode := Immediate
	if seed%2 == 1 {
		mode = Eventual
	}
	opts := Options{FS: fs, Durability: mode}
	// History so far, replayed by reopening after earlier crashes.
	states := []map[string]bool{{}} // states[i]: after i ops
	synced := 0                     // ops known durable
	for round := range 3 {
		s, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("seed %d round %d: Open: %v", seed, round, err)
		}
		cur := maps.Clone(states[len(states)-1])
		// Crash inside the k-th rewrite of this round at a random step,
		// or after a random number of operations.
		crashRewrite, crashStep := -1, rewriteStep(0)
		if rng.IntN(3) > 0 {
			crashRewrite, crashStep = rng.IntN(2), rewriteStep(rng.IntN(int(numSteps)))
		}
		nops := rng.IntN(3000)
		rewrites := 0
		s.hook = func(st rewriteStep) error {
			if rewrites == crashRewrite && st == crashStep {
				return errCrash
			}
			if st == stepDeltaReset {
				rewrites++
			}
			return nil
		}
		keyspace := 2 + rng.IntN(30)
		inFlight := false
		for i := 0; i < nops || crashRewrite >= 0; i++ {
			if i > 20_000 {
				t.Fatalf("seed %d: no crash after %d ops", seed, i)
			}
			k := fmt.Sprintf("k%d", rng.IntN(keyspace))
			if cur[k] {
				err = s.Remove(k)
				delete(cur, k)
			} else {
				err = s.Add(k)
				cur[k] = true
			}
			states = append(states, maps.Clone(cur))
			if err != nil {
				if !errors.Is(err, errCrash) {
					t.Fatalf("seed %d: op: %v", seed, err)
				}
				inFlight = true
				break
			}
			if mode == Immediate {
				synced = len(states) - 1
			} else if rng.IntN(200) == 0 {
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
				synced = len(states) - 1
			}
		}
		if !inFlight && crashRewrite >= 0 {
			t.Fatalf("seed %d: crash point never reached", seed)
		}
		fs = fs.crash(rng)
		opts.FS = fs
		abandon(s)
		s, err = Open(dir, opts)
		if err != nil {
			t.Fatalf("seed %d round %d (%v, crash in rewrite %d at %v): Open after power cut: %v", seed, round, mode, crashRewrite, crashStep, err)
		}
		got := map[string]bool{}
		for _, k := range s.Keys() {
			got[k] = true
		}
		lo := synced
		if inFlight && mode == Immediate {
			lo = len(states) - 2 // the op in flight may be lost
		}
		match := -1
		for i := len(states) - 1; i >= lo; i-- {
			if maps.Equal(states[i], got) {
				match = i
				break
			}
		}
		if match < 0 {
			t.Fatalf("seed %d round %d (%v, crash in rewrite %d at %v): recovered %d keys %v, want the state after op %d..%d of %d (durable %d): last %v",
				seed, round, mode, crashRewrite, crashStep, len(got), sortedKeys(got), lo, len(states)-1, len(states)-1, synced, sortedKeys(states[len(states)-1]))
		}
		// Continue from what survived.
		states = append(states[:match+1:match+1], maps.Clone(got))
		synced = len(states) - 1
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		states = states[len(states)-1:]
		synced = 0
	}
}
