package journal

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal/check"
)

// TestCompactAfterALostSegmentDoesNotPanic: a segment file is gone while
// the compaction checkpoint still counts the routes it held. Open refuses
// it (the manifest lists the segment); once repair accepts the loss,
// removing such a route and compacting works instead of panicking (nil
// segment counts in the compactor), in AppendBatch past the threshold and
// in Compact.
func TestCompactAfterALostSegmentDoesNotPanic(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4 << 10, CompactionThresholdEvents: 1}
	j := openT(t, dir, opts)
	for i := range 200 {
		appendT(t, j, reg(fmt.Sprintf("route-%02d", i%6)), failed(fmt.Sprintf("route-%02d", i%6), strings.Repeat("x", 100)))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, dir)
	if len(segs) < 4 {
		t.Fatalf("setup: %d segments, want at least 4", len(segs))
	}
	mid := segs[len(segs)/2]
	if err := os.Remove(mid); err != nil {
		t.Fatal(err)
	}
	os.Remove(strings.TrimSuffix(mid, ".seg") + ".idx")
	if _, err := Open(dir, opts); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(mid)) {
		t.Fatalf("Open with %s deleted: %v; want ErrCorrupt naming it", filepath.Base(mid), err)
	}
	if _, err := check.Repair(dir, nil, filepath.Join(t.TempDir(), "side")); err != nil {
		t.Fatal(err)
	}

	j = openT(t, dir, opts)
	defer j.Close()
	for r := range 6 {
		appendT(t, j, remove(fmt.Sprintf("route-%02d", r)))
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	for _, e := range loadT(t, j) {
		t.Fatalf("route %s came back after its removal: %+v", e.RouteID, e)
	}
}

// TestRefusedOpenChangesNoFile: a journal left by a crash (a running
// journal's files copied: the newest segment unsealed, with space grown
// ahead, no index for it) whose command-ID delta is damaged in a record
// that was synced. Open refuses it with ErrCorrupt, and before refusing it
// must not have cut the newest segment, written its index or rewritten the
// checkpoint (issue 15, case 11).
func TestRefusedOpenChangesNoFile(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{Durability: Immediate})
	for i := range 20 {
		appendT(t, j, reg(fmt.Sprintf("route-%02d", i)), start(fmt.Sprintf("route-%02d", i)))
		if err := j.AppendCommandID(fmt.Sprintf("cmd-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	crashed := copyDir(t, dir)
	j.Close()
	delta := filepath.Join(crashed, commandSetName+".delta")
	b, err := os.ReadFile(delta)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x08 // inside a record that later records show was synced
	if err := os.WriteFile(delta, b, 0o644); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, crashed)
	j2, err := Open(crashed, Options{Logger: quiet})
	if err == nil {
		j2.Close()
		t.Fatal("Open of a journal with a damaged command-ID delta succeeded; want ErrCorrupt")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v; want ErrCorrupt", err)
	}
	after := dirState(t, crashed)
	for name, content := range before {
		if after[name] != content {
			t.Errorf("refused Open changed %s (%d bytes, was %d)", name, len(after[name]), len(content))
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("refused Open created %s", name)
		}
	}
}

// TestVerifyReportsWhatOpenRefusesInTheCommandIDs: a damaged command-ID
// delta makes Open refuse the journal; Verify reports it as damage naming
// the file, where check.Verify, reading the log only, calls it clean.
func TestVerifyReportsWhatOpenRefusesInTheCommandIDs(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{Durability: Immediate})
	for i := range 20 {
		if err := j.AppendCommandID(fmt.Sprintf("cmd-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	appendT(t, j, reg("route-a"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	delta := filepath.Join(dir, commandSetName+".delta")
	b, err := os.ReadFile(delta)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x08
	if err := os.WriteFile(delta, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{Logger: quiet}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v; want ErrCorrupt", err)
	}
	r, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Clean() || r.Damage[0].File != delta {
		t.Fatalf("Verify: damage %v; want the damaged %s", r.Damage, delta)
	}
}

// TestJournalWithoutManifestIsUpgraded: a journal written before logs kept
// a manifest opens and reads as it was and gets one at Open, after which
// a lost segment is damage as in any new journal.
func TestJournalWithoutManifestIsUpgraded(t *testing.T) {
	dir := copyDir(t, beforePrefixDir)
	if _, err := os.Stat(filepath.Join(dir, "manifest.log")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s has a manifest (%v): it stands for journals written before it", beforePrefixDir, err)
	}
	loadAllOf(t, dir, Options{}, beforePrefixEvents(), "old journal")
	if _, err := os.Stat(filepath.Join(dir, "manifest.log")); err != nil {
		t.Fatalf("no manifest after Open and Close: %v", err)
	}
	loadAllOf(t, dir, Options{}, beforePrefixEvents(), "upgraded journal")
	segs := segFiles(t, dir)
	if err := os.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(segs[0])) {
		t.Fatalf("Open of the upgraded journal with %s deleted: %v; want ErrCorrupt naming it", filepath.Base(segs[0]), err)
	}
}

// TestCommandIDsCutShortOrLostAreDamage: after a clean Close the log's
// manifest records how far the command-ID delta was durable, so a delta
// cut short (at a record boundary too), or the set's files deleted, is
// ErrCorrupt naming the delta, reported by Verify, and the refused Open
// changes nothing; before, Open returned another set: acknowledged IDs
// missing, removed ones back, or none at all (issue 15, case 5).
func TestCommandIDsCutShortOrLostAreDamage(t *testing.T) {
	for _, tc := range []struct {
		name string
		hurt func(t *testing.T, delta string)
	}{
		{"delta cut to half", func(t *testing.T, delta string) {
			fi, err := os.Stat(delta)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(delta, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"delta cut before its last record", func(t *testing.T, delta string) {
			b, err := os.ReadFile(delta)
			if err != nil {
				t.Fatal(err)
			}
			res, err := segment.Scan(bytes.NewReader(b), int64(len(b)), delta, nil)
			if err != nil || res.Frames < 2 {
				t.Fatalf("setup: %+v, %v", res, err)
			}
			var last int64
			segment.Scan(bytes.NewReader(b), int64(len(b)), delta, func(off int64, _ segment.FrameHeader, _ []byte) error {
				last = off
				return nil
			})
			if err := os.Truncate(delta, last); err != nil {
				t.Fatal(err)
			}
		}},
		{"delta deleted", func(t *testing.T, delta string) {
			if err := os.Remove(delta); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j := openT(t, dir, Options{Durability: Immediate})
			appendT(t, j, reg("a"))
			for i := range 20 {
				if err := j.AppendCommandID(fmt.Sprintf("cmd-%02d", i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				if err := j.RemoveCommandID(fmt.Sprintf("cmd-%02d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			delta := filepath.Join(dir, "commands.delta")
			tc.hurt(t, delta)
			before := dirState(t, dir)
			_, err := Open(dir, Options{Logger: quiet})
			var ce *segment.CorruptError
			if !errors.As(err, &ce) || ce.File != delta {
				t.Fatalf("Open: %v; want ErrCorrupt naming %s", err, delta)
			}
			if after := dirState(t, dir); !maps.Equal(after, before) {
				t.Fatal("the refused Open changed files")
			}
			r, err := Verify(dir)
			if err != nil {
				t.Fatal(err)
			}
			if r.Clean() || r.Damage[len(r.Damage)-1].File != delta {
				t.Fatalf("Verify damage %v; want it in %s", r.Damage, delta)
			}
		})
	}
}

// TestJournalWithoutManifestHoldsSegmentsToTheirIndexes: in a journal
// written before the manifest, the index files Close wrote are what
// records the segments' sizes: a sealed segment or the newest one cut
// short is damage there too, not a torn tail (until Open writes a
// manifest, which only an Open that succeeds does).
func TestJournalWithoutManifestHoldsSegmentsToTheirIndexes(t *testing.T) {
	for _, which := range []int{0, 1} {
		name := map[int]string{0: "sealed segment", 1: "newest segment"}[which]
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, beforePrefixDir)
			segs := segFiles(t, dir)
			b, err := os.ReadFile(segs[which])
			if err != nil {
				t.Fatal(err)
			}
			// Cut at a frame boundary: the frames left are whole, so only
			// the size the index recorded tells.
			var offs []int64
			segment.Scan(bytes.NewReader(b), int64(len(b)), segs[which], func(off int64, _ segment.FrameHeader, _ []byte) error {
				offs = append(offs, off)
				return nil
			})
			if len(offs) < 2 {
				t.Fatalf("setup: %d frames", len(offs))
			}
			if err := os.Truncate(segs[which], offs[len(offs)/2]); err != nil {
				t.Fatal(err)
			}
			_, err = Open(dir, Options{Logger: quiet})
			var ce *segment.CorruptError
			if !errors.As(err, &ce) || ce.File != segs[which] {
				t.Fatalf("Open with the %s cut at a frame boundary: %v; want ErrCorrupt naming it", name, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "manifest.log")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the refused Open wrote a manifest (%v)", err)
			}
		})
	}
	// Without its index file (as a crash leaves it), a newest segment whose
	// header is damaged is taken for one a crash left half-made only when
	// nothing follows the header; with frames after it, it is damage.
	t.Run("newest segment's header damaged, index lost", func(t *testing.T) {
		dir := copyDir(t, beforePrefixDir)
		segs := segFiles(t, dir)
		newest := segs[len(segs)-1]
		if err := os.Remove(strings.TrimSuffix(newest, ".seg") + ".idx"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(newest)
		if err != nil {
			t.Fatal(err)
		}
		b[20] ^= 1
		if err := os.WriteFile(newest, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Open(dir, Options{Logger: quiet})
		var ce *segment.CorruptError
		if !errors.As(err, &ce) || ce.File != newest {
			t.Fatalf("Open: %v; want ErrCorrupt naming %s", err, newest)
		}
	})
}
