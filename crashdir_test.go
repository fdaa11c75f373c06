package journal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// crashMakingDir runs make, which builds the directory dst on fs (a
// backup, an import), with a power cut explored after each of its file
// operations: the strict crash state and two random ones (torn writes;
// then directory operations kept in any order too), seeds (18, state)
// named in failures. check is given each state's clone and whether dst
// exists in it; it returns what is wrong. Once make returned, dst must
// survive a strict crash. It fails the test on the first three failures
// and if too few states had dst, or all had it, to have covered make.
func crashMakingDir(t *testing.T, fs *vfstest.FS, dst string, check func(clone *vfstest.FS, present bool) error, make func()) {
	t.Helper()
	// The hook runs on the goroutine of each operation, the journal's
	// background work's too.
	var mu sync.Mutex
	states, present := 0, 0
	var failures []error
	try := func(clone *vfstest.FS, what string) {
		states++
		_, err := clone.Stat(dst)
		if err == nil {
			present++
		}
		if err := check(clone, err == nil); err != nil {
			failures = append(failures, fmt.Errorf("%s: %w", what, err))
		}
	}
	fs.OnOp(func(op vfstest.Op, name string) {
		mu.Lock()
		defer mu.Unlock()
		for r := -1; r < 2 && len(failures) < 3; r++ {
			var co vfstest.CrashOptions
			if r >= 0 {
				co.Rand = rand.New(rand.NewPCG(18, uint64(states)))
				co.AnyOrder = r == 1
			}
			try(fs.CrashClone(co), fmt.Sprintf("crash state %d (rand seed 18,%d: %v, any order %v) after %v %s", states, states, r >= 0, r == 1, op, name))
		}
	})
	make()
	fs.OnOp(nil)
	mu.Lock() // a hook that was running has finished
	defer mu.Unlock()
	if err := errors.Join(failures...); err != nil {
		t.Fatal(err)
	}
	before := present
	try(fs.CrashClone(vfstest.CrashOptions{}), "strict crash after it returned")
	if err := errors.Join(failures...); err != nil {
		t.Fatal(err)
	}
	if present == before {
		t.Fatalf("%s is gone after a crash once it was made", dst)
	}
	if states < 20 || present < 2 || present == states {
		t.Fatalf("%d crash states, %d with %s: the exploration did not cover making it", states, present, dst)
	}
	t.Logf("%d crash states, %d with %s", states, present, dst)
}
