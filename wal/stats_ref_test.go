package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/vfs"
)

// statScan is Stat as it was before it read index file summaries: the
// reference model. It opens a compacted view (every index file read whole,
// the compaction state built) and counts the entries by reading them all.
func statScan(dir string, fsys vfs.FS) (Stats, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	v, err := OpenCompactedView(dir, fsys)
	if err != nil {
		return Stats{}, fmt.Errorf("stat: %w", err)
	}
	defer v.Close()
	st := Stats{Dir: dir, NextSeq: v.NextSeq(), PendingRemovable: v.cs.PendingRemovable(), DeadOnDisk: v.cs.DeadOnDisk()}
	if fi, err := fsys.Stat(filepath.Join(dir, checkpointName)); err == nil {
		st.LastCheckpoint = fi.ModTime()
	}
	for e, err := range v.Entries(0) {
		if err != nil {
			return Stats{}, fmt.Errorf("stat %s: %w", dir, err)
		}
		if st.Entries == 0 {
			st.FirstSeq = e.Seq
		}
		st.Entries++
		st.LastSeq = e.Seq
	}
	if err := statFiles(fsys, dir, &st); err != nil {
		return Stats{}, err
	}
	return st, nil
}

// checkStat compares Stat with the reference model on dir.
func checkStat(t *testing.T, seed uint64, step string, dir string) {
	t.Helper()
	got, gerr := Stat(dir, nil)
	want, werr := statScan(dir, nil)
	if (gerr != nil) != (werr != nil) || got != want {
		t.Fatalf("seed %d, %s: Stat\n %+v, %v\nscan\n %+v, %v", seed, step, got, gerr, want, werr)
	}
}

// randomLog appends, compacts, truncates, rotates and reopens a log in dir
// as rng says, calling check at points in between (the log open or
// closed). A reopen may turn compaction on or off, so a log truncated
// with compaction off is opened with it (and a compacted one truncated).
func randomLog(t *testing.T, rng *rand.Rand, dir string, check func(step string)) {
	t.Helper()
	compaction := rng.IntN(3) > 0
	open := func() *Log {
		opts := Options{SegmentSize: MinSegmentSize << rng.IntN(3), Logger: crashQuiet, Inline: true}
		if compaction {
			opts.CompactionThreshold = uint64(1 + rng.IntN(40))
		}
		l, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	for step := range 40 + rng.IntN(80) {
		switch r := rng.IntN(100); {
		case r < 70:
			n := 1
			if rng.IntN(3) == 0 {
				n = 1 + rng.IntN(30)
			}
			recs := make([]Record, n)
			for i := range recs {
				recs[i] = Record{Key: fmt.Appendf(nil, "route-%d", rng.IntN(8)), Value: fmt.Appendf(nil, "v%d-%d", step, i),
					Tombstone: rng.IntN(12) == 0}
			}
			if _, err := l.Append(Batch{Time: int64(step), Records: recs}); err != nil {
				t.Fatal(err)
			}
		case r < 77 && compaction:
			if err := l.Compact(); err != nil {
				t.Fatal(err)
			}
		case r < 82 && !compaction && l.NextSeq() > 0:
			if err := l.TruncateFront(rng.Uint64N(l.NextSeq() + 3)); err != nil {
				t.Fatal(err)
			}
		case r < 86 && !compaction && l.NextSeq() > 0:
			if err := l.TruncateBack(rng.Uint64N(l.NextSeq() + 1)); err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
		case r < 93:
			check(fmt.Sprintf("step %d (open, compaction %v)", step, compaction))
		default:
			if compaction {
				l.WaitCompaction()
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("step %d (closed, compaction %v)", step, compaction))
			if rng.IntN(4) == 0 {
				compaction = !compaction
			}
			l = open()
		}
	}
	if compaction {
		l.WaitCompaction()
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed at the end")
}

// Stat gives exactly what reading every entry gives, on random logs:
// batches of one to thirty records, tombstones and compaction, truncation
// at either end, rotation, reopening with compaction on or off, while open
// and after Close.
func TestStatMatchesScan(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 15
	}
	for seed := range uint64(seeds) {
		dir := filepath.Join(t.TempDir(), "log")
		rng := rand.New(rand.NewPCG(seed, 17))
		randomLog(t, rng, dir, func(step string) {
			// Inline: nothing runs behind, the two read the same files.
			checkStat(t, seed, step, dir)
		})
	}
}

// A missing, damaged or stale index file does not change the figures:
// Stat reads the segment instead; a sealed segment cut short is damage.
func TestStatDamagedIndexFiles(t *testing.T) {
	for seed := range uint64(12) {
		dir := filepath.Join(t.TempDir(), "log")
		rng := rand.New(rand.NewPCG(seed, 18))
		randomLog(t, rng, dir, func(string) {})
		idxs, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
		if len(idxs) == 0 {
			continue
		}
		want, err := statScan(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		victim := idxs[rng.IntN(len(idxs))]
		b, _ := os.ReadFile(victim)
		switch rng.IntN(3) {
		case 0:
			os.Remove(victim)
		case 1:
			b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
			os.WriteFile(victim, b, 0o600)
		case 2:
			os.WriteFile(victim, b[:rng.IntN(len(b))], 0o600)
		}
		got, err := Stat(dir, nil)
		if err != nil {
			t.Fatalf("seed %d: %s damaged: %v", seed, filepath.Base(victim), err)
		}
		got.IndexFiles, got.IndexBytes, got.ApparentBytes, got.AllocatedBytes = want.IndexFiles, want.IndexBytes, want.ApparentBytes, want.AllocatedBytes
		if got != want {
			t.Fatalf("seed %d: %s damaged: Stat\n %+v\nwant\n %+v", seed, filepath.Base(victim), got, want)
		}
	}
	// A sealed segment that lost its tail: its index is stale, the scan
	// finds the cut, and it is damage, as for Open.
	dir := t.TempDir()
	writeTestLog(t, dir, 300)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	fi, _ := os.Stat(segs[0])
	if err := os.Truncate(segs[0], fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	if _, err := Stat(dir, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("sealed segment cut short: %v, want ErrCorrupt", err)
	}
	if _, err := statScan(dir, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("reference: sealed segment cut short: %v, want ErrCorrupt", err)
	}
	// A missing segment file in the middle.
	os.Remove(segs[1])
	if _, err := Stat(dir, nil); !errors.Is(err, ErrCorrupt) && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("segment missing: %v", err)
	}
}

// writeTestLog writes n single-record batches in small segments and
// closes the log.
func writeTestLog(t *testing.T, dir string, n int) {
	t.Helper()
	l, err := Open(dir, Options{SegmentSize: MinSegmentSize, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(Batch{Records: []Record{{Key: []byte("k"), Value: fmt.Appendf(nil, "value %d", i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
