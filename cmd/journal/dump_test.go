package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/seglog/journal"
)

// dump lists every frame of every segment with its checksums verified,
// and with --records every record, read through package segment.
func TestDumpListsFramesAndRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	writeJournal(t, dir, journal.Options{NoRepack: true, Compression: journal.CompressionNone}, fixedBatches)
	r := runBin(t, "", "dump", dir, "--records")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	frameRE := regexp.MustCompile(`(?m)^frame    offset (\d+) size (\d+) seqs (\d+)\.\.(\d+) records (\d+) time \S+ codec none flags \S+ crc ok$`)
	frames := frameRE.FindAllStringSubmatch(r.stdout, -1)
	if len(frames) != len(fixedBatches) {
		t.Fatalf("%d frames listed, want %d (one per batch):\n%s", len(frames), len(fixedBatches), r.stdout)
	}
	seq := 0
	for i, m := range frames {
		first, _ := strconv.Atoi(m[3])
		n, _ := strconv.Atoi(m[5])
		if first != seq || n != len(fixedBatches[i]) {
			t.Errorf("frame %d: seqs from %d, %d records; want from %d, %d", i, first, n, seq, len(fixedBatches[i]))
		}
		seq += n
	}
	for i, e := range flatten(fixedBatches) {
		want := fmt.Sprintf("  record seq %d time ", i)
		if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, fmt.Sprintf("key %q", e.RouteID)) {
			t.Errorf("no record line for seq %d (%s)", i, e.RouteID)
		}
	}
	// One segment by number, from an offset: only its later frames.
	off := frames[3][1]
	r = runBin(t, "", "dump", dir, "1", "--from", off)
	if got := len(frameRE.FindAllString(r.stdout, -1)); r.code != 0 || got != len(fixedBatches)-3 {
		t.Errorf("dump 1 --from %s: exit %d, %d frames, want %d", off, r.code, got, len(fixedBatches)-3)
	}
}

// A frame that does not verify is printed as BAD with its offset, and the
// exit status is 1; a missing segment is a usage error, a missing
// directory status 3.
func TestDumpShowsBadChecksumsWithExit1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	seg, off, _ := damagedJournal(t, dir)
	r := runBin(t, "", "dump", dir, filepath.Base(seg))
	want := fmt.Sprintf("BAD      %s at offset %d: corrupt data", seg, off)
	if r.code != 1 || !strings.Contains(r.stdout, want) || strings.Count(r.stdout, "crc ok") != 5 {
		t.Errorf("exit %d, want 1 and %q after 5 good frames:\n%s", r.code, want, r.stdout)
	}
	if r := runBin(t, "", "dump", dir, "99"); r.code != 2 {
		t.Errorf("dump of a missing segment: exit %d, stderr %q", r.code, r.stderr)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if r := runBin(t, "", "dump", missing); r.code != 3 || r.stderr != "journal dump: "+missing+": no such directory\n" {
		t.Errorf("dump of a missing directory: exit %d, stderr %q", r.code, r.stderr)
	}
}
