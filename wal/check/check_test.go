package check_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
	"github.com/seglog/journal/wal/check"
	"github.com/seglog/journal/wal/internal/waltest"
)

var (
	quiet    = waltest.Quiet
	writeLog = waltest.WriteLog
	repeat   = waltest.Repeat
)

func segPath(dir string, id int) string {
	return filepath.Join(dir, strings.Repeat("0", 19)+string(rune('0'+id))+".seg")
}

func idxPath(dir string, id int) string {
	return strings.TrimSuffix(segPath(dir, id), ".seg") + ".idx"
}

// frames returns the offsets of the valid frames of a segment file and
// their first sequence numbers.
func frames(t *testing.T, path string) (offs []int64, firsts []uint64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	_, err = segment.Scan(f, fi.Size(), path, func(off int64, h segment.FrameHeader, _ []byte) error {
		offs = append(offs, off)
		firsts = append(firsts, h.FirstSeq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return offs, firsts
}

func flipBit(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyClean(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, repeat(100, 3)...)
	r, err := check.Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() || len(r.Warnings) != 0 {
		t.Fatalf("damage %v, warnings %v", r.Damage, r.Warnings)
	}
	if r.Frames() != 100 || r.Entries() != 300 || len(r.Segments) < 2 {
		t.Errorf("%d frames, %d entries, %d segments", r.Frames(), r.Entries(), len(r.Segments))
	}
	for _, s := range r.Segments {
		if !s.IndexChecked {
			t.Errorf("%s: index not checked", s.File)
		}
	}
}

func TestVerifyDamagedPayload(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, repeat(100, 3)...)
	offs, _ := frames(t, segPath(dir, 1))
	flipBit(t, segPath(dir, 1), offs[2]+segment.FrameHeaderSize+5)
	r, err := check.Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Clean() || len(r.Damage) != 1 {
		t.Fatalf("damage %v, want one finding", r.Damage)
	}
	d := r.Damage[0]
	if d.File != segPath(dir, 1) || d.Offset != offs[2] || !strings.Contains(d.Detail, "checksum") {
		t.Errorf("finding %v, want %s at offset %d with a checksum error", d, segPath(dir, 1), offs[2])
	}
	if r.Segments[0].Frames != 2 {
		t.Errorf("%d valid frames before the damage, want 2", r.Segments[0].Frames)
	}
}

// A torn write at the end of the newest segment is a warning only.
func TestVerifyTornTail(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 2, 2, 2)
	path := segPath(dir, 1)
	b, _ := os.ReadFile(path)
	// Half a frame header: what a crash during a write leaves.
	b = append(b, 0x12, 0x34, 0x56, 0x78, 9, 9, 9, 9, 9, 9)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := check.Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() || len(r.Warnings) == 0 {
		t.Fatalf("damage %v, warnings %v; want a torn-tail warning only", r.Damage, r.Warnings)
	}
	var found bool
	for _, w := range r.Warnings {
		if w.File == path && strings.Contains(w.Detail, "torn tail at offset") && strings.Contains(w.Detail, "will be cut on next Open") {
			found = true
		}
	}
	if !found {
		t.Errorf("warnings %v, want a torn tail on %s", r.Warnings, path)
	}
}

// TestVerifyTornTailSaysWhatOpenCuts: the torn-tail warning says how many
// bytes Open will cut and, when the torn batch's frame header survived,
// which sequence numbers it held.
func TestVerifyTornTailSaysWhatOpenCuts(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 2, 2, 2)
	path := segPath(dir, 1)
	b, _ := os.ReadFile(path)
	offs, firsts := frames(t, path)
	last := b[offs[len(offs)-1]:]
	// The last batch again, cut short: its header whole, its payload not.
	torn := last[:len(last)-10]
	if err := os.WriteFile(path, append(b, torn...), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := check.Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("torn tail at offset %d, will be cut on next Open: %d bytes, the start of a batch of 2 records from sequence %d",
		len(b), len(torn), firsts[len(firsts)-1])
	for _, w := range r.Warnings {
		if w.File == path && strings.Contains(w.Detail, want) {
			return
		}
	}
	t.Fatalf("warnings %v; want one saying %q", r.Warnings, want)
}

// An index file whose recorded size matches its segment but whose frames
// do not is damage: Open would trust it.
func TestVerifyIndexMismatch(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, repeat(100, 3)...)
	path := segPath(dir, 1)
	offs, firsts := frames(t, path)
	fi, _ := os.Stat(path)
	var bad []segment.FrameInfo
	for i := range offs {
		fr := segment.FrameInfo{Offset: uint32(offs[i]), Count: 3, First: firsts[i], Last: firsts[i] + 2}
		if i == 3 {
			fr.Offset += 4
		}
		bad = append(bad, fr)
	}
	if err := segment.WriteIndexFile(vfs.Default(), idxPath(dir, 1), 1, fi.Size(), bad); err != nil {
		t.Fatal(err)
	}
	r, err := check.Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Clean() || r.Damage[0].File != idxPath(dir, 1) || r.Damage[0].Offset != offs[3] {
		t.Fatalf("damage %v, want the index file at offset %d", r.Damage, offs[3])
	}
	// Repair removes just the index (into the side file); nothing is cut.
	p, err := check.PlanRepair(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Cut || !slices.Equal(p.RemoveIndexes, []string{idxPath(dir, 1)}) {
		t.Fatalf("plan cuts %v, removes %v; want only the index removed", p.Cut, p.RemoveIndexes)
	}
	if _, err := check.Repair(dir, nil, filepath.Join(dir, "side.cut")); err != nil {
		t.Fatal(err)
	}
	if r, _ := check.Verify(dir, nil); !r.Clean() || r.Entries() != 300 {
		t.Errorf("after repair: damage %v, %d entries", r.Damage, r.Entries())
	}
}

func TestVerifyNotALog(t *testing.T) {
	if _, err := check.Verify(t.TempDir(), nil); !errors.Is(err, wal.ErrNotFound) {
		t.Errorf("empty dir: %v, want ErrNotFound", err)
	}
}

// readAll returns the sequence numbers in the log, reopening it.
func readAll(t *testing.T, dir string) (seqs []uint64, next uint64) {
	t.Helper()
	l, err := wal.Open(dir, wal.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	defer l.Close()
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, e.Seq)
	}
	return seqs, l.NextSeq()
}

// TestRepairCutAtDamage: the CutAtDamage mode cuts the log at its first
// damaged frame, removes the later segments, and saves every byte removed.
func TestRepairCutAtDamage(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, repeat(100, 3)...) // 3 entries per frame
	path := segPath(dir, 1)
	offs, firsts := frames(t, path)
	orig, _ := os.ReadFile(path)
	seg2, _ := os.ReadFile(segPath(dir, 2))
	flipBit(t, path, offs[4]+segment.FrameHeaderSize+1)

	p, err := check.PlanRepairMode(dir, nil, check.CutAtDamage)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Cut || p.CutFile != path || p.CutOffset != offs[4] || p.KeptEntries != 12 || p.KeptLastSeq != 11 {
		t.Fatalf("plan: cut %v %s at %d, kept %d up to %d; want %s at %d, 12 up to 11", p.Cut, p.CutFile, p.CutOffset, p.KeptEntries, p.KeptLastSeq, path, offs[4])
	}
	if !p.SeqsKnown() || p.LostEntries() != 300-12 || p.LostFrames() != 96 || !p.Lost[0].Damaged || p.Lost[0].First != firsts[4] {
		t.Fatalf("plan: lost %d frames, %d entries, known %v, first %+v", p.LostFrames(), p.LostEntries(), p.SeqsKnown(), p.Lost[0])
	}
	if got := p.LostSeqs(); !slices.Equal(got, []check.SeqRange{{12, 299}}) {
		t.Errorf("lost seqs %v, want 12..299", got)
	}
	side := filepath.Join(dir, "repair-1.cut")
	rep, err := check.RepairWith(dir, nil, side, check.CutAtDamage)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SidePath != side {
		t.Errorf("side path %q", rep.SidePath)
	}
	seqs, next := readAll(t, dir)
	if len(seqs) != 12 || seqs[11] != 11 || next != 300 {
		t.Errorf("after repair: seqs %v, next %d; want 0..11, next 300", seqs, next)
	}
	pieces, err := check.ReadSideFile(side, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pieces[0].Name != filepath.Base(path) || pieces[0].Offset != offs[4] {
		t.Fatalf("first piece %s at %d", pieces[0].Name, pieces[0].Offset)
	}
	want := slices.Clone(orig[offs[4]:])
	want[segment.FrameHeaderSize+1] ^= 0x10
	if !bytes.Equal(pieces[0].Data, want) {
		t.Errorf("first piece does not hold the cut bytes")
	}
	var found bool
	for _, pc := range pieces {
		if pc.Name == filepath.Base(segPath(dir, 2)) {
			found = bytes.Equal(pc.Data, seg2) && pc.Offset == 0
		}
	}
	if !found {
		t.Errorf("side file lacks segment 2 whole")
	}
	if r, err := check.Verify(dir, nil); err != nil || !r.Clean() {
		t.Errorf("verify after repair: %v %v", r.Damage, err)
	}
}

// With CutAtDamage, damage to the header of a sealed segment cuts that
// whole file.
func TestRepairCutAtDamagedHeader(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, repeat(100, 3)...)
	_, firsts2 := frames(t, segPath(dir, 2))
	flipBit(t, segPath(dir, 2), 20) // the id field
	p, err := check.PlanRepairMode(dir, nil, check.CutAtDamage)
	if err != nil {
		t.Fatal(err)
	}
	if p.CutFile != segPath(dir, 2) || p.CutOffset != 0 {
		t.Fatalf("plan cuts %s at %d", p.CutFile, p.CutOffset)
	}
	if _, err := check.RepairWith(dir, nil, filepath.Join(dir, "x.cut"), check.CutAtDamage); err != nil {
		t.Fatal(err)
	}
	seqs, next := readAll(t, dir)
	if len(seqs) == 0 || seqs[len(seqs)-1] != firsts2[0]-1 || next != 300 {
		t.Errorf("after repair: %d seqs up to %v, next %d; want up to %d, next 300", len(seqs), seqs[len(seqs)-1], next, firsts2[0]-1)
	}
}

func TestRepairLockedAndClean(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 1, 2, 3)
	p, err := check.PlanRepair(dir, nil)
	if err != nil || p.Needed() {
		t.Fatalf("clean log: needed %v, %v", p.Needed(), err)
	}
	rep, err := check.Repair(dir, nil, filepath.Join(dir, "x.cut"))
	if err != nil || rep.SidePath != "" {
		t.Fatalf("clean log: side %q, %v", rep.SidePath, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.cut")); !os.IsNotExist(err) {
		t.Errorf("side file written for a clean log")
	}
	l, err := wal.Open(dir, wal.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := check.Repair(dir, nil, filepath.Join(dir, "x.cut")); !errors.Is(err, wal.ErrLocked) {
		t.Errorf("repair of an open log: %v, want ErrLocked", err)
	}
}

// TestRepairKeepsIntactFrames: one flipped bit in a frame of the oldest of
// several segments costs that frame only (its 3 entries, their sequence
// numbers reported exactly), not the rest of the segment and every later
// one; a flipped bit in a segment's file header costs nothing (the header
// is rebuilt). The log opens after it, continues after its last sequence
// number and Verify is clean (issue 15, case 9).
func TestRepairKeepsIntactFrames(t *testing.T) {
	for _, tc := range []struct {
		name     string
		seg      int
		at       func(offs []int64) int64
		lost     uint64
		lostSeqs []check.SeqRange
	}{
		{"payload bit in the oldest segment", 1, func(offs []int64) int64 { return offs[4] + segment.FrameHeaderSize + 1 }, 3, []check.SeqRange{{12, 14}}},
		{"frame header bit in the oldest segment", 1, func(offs []int64) int64 { return offs[4] + 17 }, 3, []check.SeqRange{{12, 14}}},
		{"file header bit of a sealed segment", 2, func([]int64) int64 { return 20 }, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, repeat(100, 3)...) // 3 entries per frame
			before, next := readAll(t, dir)
			offs, _ := frames(t, segPath(dir, tc.seg))
			flipBit(t, segPath(dir, tc.seg), tc.at(offs))
			p, err := check.PlanRepair(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Needed() || p.Cut || len(p.RemoveSegments) != 0 || len(p.Rewrites) != 1 || p.Rewrites[0].File != segPath(dir, tc.seg) {
				t.Fatalf("plan: %+v; want segment %d rewritten and nothing else removed", p, tc.seg)
			}
			if p.KeptEntries != 300-tc.lost {
				t.Fatalf("plan keeps %d entries, want %d", p.KeptEntries, 300-tc.lost)
			}
			if tc.lostSeqs != nil && !slices.Equal(p.LostSeqs(), tc.lostSeqs) {
				t.Fatalf("plan loses seqs %v, want %v", p.LostSeqs(), tc.lostSeqs)
			}
			if _, err := check.Repair(dir, nil, filepath.Join(t.TempDir(), "side")); err != nil {
				t.Fatal(err)
			}
			after, nextAfter := readAll(t, dir)
			if uint64(len(after)) != 300-tc.lost || nextAfter != next {
				t.Fatalf("after repair %d entries, next %d; want %d, next %d", len(after), nextAfter, 300-tc.lost, next)
			}
			for _, seq := range after {
				if !slices.Contains(before, seq) {
					t.Fatalf("sequence %d after repair was never written", seq)
				}
			}
			r, err := check.Verify(dir, nil)
			if err != nil || !r.Clean() {
				t.Fatalf("Verify after repair: %v, damage %v", err, r.Damage)
			}
			var holes []check.SeqRange
			for _, h := range r.Holes {
				holes = append(holes, check.SeqRange{First: h.First, Last: h.Last})
			}
			if !slices.Equal(holes, tc.lostSeqs) {
				t.Fatalf("Verify after repair reports holes %v, want %v (the known lost numbers)", holes, tc.lostSeqs)
			}
		})
	}
}
