package wal

import (
	"fmt"
	"iter"
	"os"
	"testing"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd to count descriptors")
	}
	return len(ents)
}

// A segment file replaced by a rewrite is closed when the last snapshot
// that could read it ends, even while newer snapshots stay open: readers
// that keep overlapping do not pin every replaced file.
func TestReplacedFilesCloseWhenTheirReadersEnd(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: MinSegmentSize, CompactionThreshold: 1 << 40, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 200 {
		k := []byte(fmt.Sprint("k", i%10))
		if _, err := l.Append(Batch{Records: []Record{{Key: k, Value: make([]byte, 60)}}}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if _, err := l.Append(Batch{Records: []Record{{Key: []byte("k0"), Tombstone: true}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	hold := func() func() {
		next, stop := iter.Pull2(l.Entries(0))
		if _, err, ok := next(); !ok || err != nil {
			t.Fatalf("reading: ok=%v err=%v", ok, err)
		}
		return stop
	}
	stopA := hold() // a reader from before the rewrite
	before := openFDs(t)
	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	stopB := hold() // a reader from after it, still open
	defer stopB()
	during := openFDs(t)
	stopA()
	after := openFDs(t)
	if after >= during {
		t.Fatalf("open descriptors: %d before Compact, %d with both readers, %d after the old reader ended; want the replaced files closed once the reader that could use them ended", before, during, after)
	}
}
