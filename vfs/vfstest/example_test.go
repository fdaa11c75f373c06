package vfstest_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/seglog/journal/vfs/vfstest"
)

// A crash-exploration test runs a workload and takes crash states from the
// OnOp hook; here, the strict state and a random one after every Sync.
func Example() {
	fs := vfstest.New()
	fs.MkdirAll("/log", 0o755)
	fs.SyncDir("/")
	fs.OnOp(func(op vfstest.Op, name string) {
		if op != vfstest.OpSync {
			return
		}
		for _, opts := range []vfstest.CrashOptions{{}, {Rand: rand.New(rand.NewPCG(1, 2))}} {
			c := fs.CrashClone(opts)
			data, err := c.ReadFile(name)
			fmt.Printf("crash after sync: %q %v\n", data, err)
		}
	})
	f, _ := fs.Create("/log/seg")
	f.WriteAt([]byte("rec1"), 0)
	f.Sync()           // data durable, entry not yet
	fs.SyncDir("/log") // entry durable
	f.WriteAt([]byte("rec2"), 4)
	f.Sync()
	// Output:
	// crash after sync: "" open /log/seg: no such file or directory
	// crash after sync: "" open /log/seg: no such file or directory
	// crash after sync: "rec1rec2" <nil>
	// crash after sync: "rec1rec2" <nil>
}
