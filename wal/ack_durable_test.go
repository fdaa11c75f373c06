package wal

import (
	"fmt"
	"sync"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// TestCrashEveryAcknowledgementIsDurable checks durability ordering in the
// crash model itself: a batch may be acknowledged only once a sync that
// began after its write has completed. Writers append concurrently while
// every fdatasync is held in flight (vfstest's DuringSync) long enough for
// the others to write and wait; writes landing then are not covered by
// that sync. At each acknowledgement (Append returning under Immediate,
// Sync returning under Eventual) the writer takes the strict crash state,
// and every such state, opened, must hold the writer's batch. A log that
// reports durability before its fdatasync, or releases a waiter with a sync
// that began before the waiter's write, fails here.
func TestCrashEveryAcknowledgementIsDurable(t *testing.T) {
	const writers, perWriter = 4, 25
	for _, tc := range []struct {
		name string
		d    Durability
	}{{"Immediate", Immediate}, {"EventualThenSync", Eventual}} {
		t.Run(tc.name, func(t *testing.T) {
			fs := crashFS(t)
			l := crashOpen(t, fs, tc.d)
			fs.YieldDuringSyncs() // the other writers write and wait meanwhile
			type ack struct {
				key   string
				state *vfstest.FS
			}
			acks := make([][]ack, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range perWriter {
						key := fmt.Sprintf("w%d-%d", w, i)
						_, err := l.Append(Batch{Records: []Record{{Key: []byte(key), Value: make([]byte, 40*(i%5))}}})
						if err == nil && tc.d == Eventual {
							err = l.Sync()
						}
						if err != nil {
							t.Errorf("writer %d batch %d: %v", w, i, err)
							return
						}
						acks[w] = append(acks[w], ack{key, fs.CrashClone(vfstest.CrashOptions{})})
					}
				})
			}
			wg.Wait()
			fs.DuringSync(nil)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for w := range writers {
				for _, a := range acks[w] {
					l2, err := Open(crashDir, Options{FS: a.state, Logger: crashQuiet})
					if err != nil {
						t.Fatalf("state taken at the acknowledgement of %s: Open: %v", a.key, err)
					}
					found := false
					for e, err := range l2.Entries(0) {
						if err != nil {
							t.Fatalf("state taken at the acknowledgement of %s: %v", a.key, err)
						}
						found = found || string(e.Key) == a.key
					}
					l2.Close()
					if !found {
						t.Fatalf("batch %s was acknowledged, but the strict crash state taken as it returned does not hold it: durability reported before a sync covering it completed", a.key)
					}
				}
			}
		})
	}
}
