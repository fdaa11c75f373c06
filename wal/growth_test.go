package wal

import (
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs/vfstest"
)

// Under Immediate a new segment's first step of zeros is durable with its
// header (segment.CreateGrown), so that the first commit's fdatasync has
// only its frame to write; under Eventual the first frame grows it
// (segment.Create) and the flusher's sync writes it, not the appending
// goroutine that rotates.
func TestNewSegmentIsGrownAheadOnlyUnderImmediate(t *testing.T) {
	for _, tc := range []struct {
		d    Durability
		want int64
	}{
		{Immediate, segment.FileHeaderSize + 1<<20},
		{Eventual, segment.FileHeaderSize},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			fs := vfstest.New()
			l, err := Open("/log", Options{FS: fs, Durability: tc.d, Logger: crashQuiet})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			f, err := fs.CrashClone(vfstest.CrashOptions{}).Open(segName("/log", 1))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got, err := f.Size(); err != nil || got != tc.want {
				t.Fatalf("durable size of the new segment after Open: %d (%v); want %d", got, err, tc.want)
			}
		})
	}
}
