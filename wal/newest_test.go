package wal

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/seglog/journal/vfs"
)

// viewNewest is what Newest replaced: a View of the whole log, newest first.
func viewNewest(t *testing.T, dir string) []string {
	t.Helper()
	v, err := OpenCompactedView(dir, nil)
	if err != nil {
		t.Fatalf("OpenCompactedView: %v", err)
	}
	defer v.Close()
	var out []string
	for e, err := range v.Newest() {
		if err != nil {
			t.Fatalf("View.Newest: %v", err)
		}
		out = append(out, fmtEntry(e))
	}
	return out
}

func walkNewest(t *testing.T, dir string, fsys vfs.FS) []string {
	t.Helper()
	var out []string
	for e, err := range Newest(dir, fsys) {
		if err != nil {
			t.Fatalf("Newest: %v", err)
		}
		out = append(out, fmtEntry(e))
	}
	return out
}

func fmtEntry(e Entry) string {
	return fmt.Sprintf("%d@%d %q=%q t%v", e.Seq, e.Time, e.Key, e.Value, e.Tombstone)
}

// Newest yields what a View of the whole log yields, on logs with many
// segments, batches of several sizes, compaction, a truncated front, an
// open writer, a reopened sealed segment and missing, stale or damaged
// index files.
func TestNewestMatchesView(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed*7))
			dir := t.TempDir()
			// Truncation or compaction: a log has one or the other.
			truncate := r.IntN(3) == 0
			opts := Options{SegmentSize: MinSegmentSize, CompactionThreshold: uint64(1 + r.IntN(200)), Inline: true, Durability: Eventual}
			if truncate {
				opts.CompactionThreshold = 0
			}
			l, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			appendSome := func(l *Log, n int) {
				for range n {
					var recs []Record
					for range 1 + r.IntN(4) {
						k := fmt.Sprintf("k%d", r.IntN(20))
						recs = append(recs, Record{Key: []byte(k), Value: []byte(fmt.Sprint(r.IntN(1000))), Tombstone: r.IntN(15) == 0})
					}
					if _, err := l.Append(Batch{Time: r.Int64N(1 << 40), Records: recs}); err != nil {
						t.Fatalf("seed %d: append: %v", seed, err)
					}
				}
			}
			appendSome(l, 300+r.IntN(500))
			if truncate {
				if err := l.TruncateFront(l.FirstSeq() + uint64(r.IntN(200))); err != nil {
					t.Fatalf("seed %d: TruncateFront: %v", seed, err)
				}
				if err := l.TruncateBack(l.LastSeq() - uint64(r.IntN(20))); err != nil {
					t.Fatalf("seed %d: TruncateBack: %v", seed, err)
				}
			}
			check := func(what string) {
				t.Helper()
				want, got := viewNewest(t, dir), walkNewest(t, dir, nil)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("seed %d, %s: Newest gives %d entries, the view %d:\n%v\nwant\n%v", seed, what, len(got), len(want), got, want)
				}
			}
			check("open writer")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			check("closed")
			// A sealed segment appended to again, then index files a cache
			// cannot be trusted for.
			if l, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
			appendSome(l, 10)
			check("reopened writer")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			idxs, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
			for _, name := range idxs {
				switch r.IntN(4) {
				case 0:
					os.Remove(name)
				case 1:
					b, _ := os.ReadFile(name)
					if len(b) > 40 {
						b[40+r.IntN(len(b)-40)] ^= 0x55 // in the frame list: its checksum fails
						os.WriteFile(name, b, 0o644)
					}
				}
			}
			check("index files damaged")
		})
	}
}

// Reading the newest entries of a closed log reads a bounded number of
// bytes, whatever the log's size (Inspect with a Limit read every index
// file whole).
func TestNewestReadsBoundedBytes(t *testing.T) {
	var reads []int64
	for _, n := range []int{2_000, 40_000} {
		dir := t.TempDir()
		l, err := Open(dir, Options{SegmentSize: 256 << 10, CompactionThreshold: 1000, Durability: Eventual})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := l.Append(Batch{Time: int64(i), Records: []Record{{Key: []byte(fmt.Sprintf("route-%d", i%100)), Value: []byte{1}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		var read atomic.Int64
		k := 0
		for e, err := range Newest(dir, readCountFS{FS: vfs.Default(), read: &read, exts: []string{segSuffix, idxSuffix}}) {
			if err != nil {
				t.Fatal(err)
			}
			if want := uint64(n - 1 - k); e.Seq != want {
				t.Fatalf("entry %d is sequence %d, want %d", k, e.Seq, want)
			}
			if k++; k == 10 {
				break
			}
		}
		reads = append(reads, read.Load())
	}
	if reads[1] > reads[0]+1024 || reads[1] > 16<<10 {
		t.Errorf("newest 10 entries read %d bytes of a 2,000-entry log and %d of a 40,000-entry one", reads[0], reads[1])
	}
}
