package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/seglog/journal"
)

// journal backup DIR DST makes DST a journal with DIR's entries and
// command IDs, says what it linked and copied, and leaves DIR's segment
// and command-ID files as they were (no repack; its Open and Close add
// records to the manifest, as any Open does); the backup's files get
// --file-mode.
func TestBackupCommandCopiesTheJournal(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "j")
	var batches [][]journal.Event
	for range 30 {
		batches = append(batches, fixedBatches...)
	}
	writeJournal(t, dir, journal.Options{SegmentSize: 1, NoRepack: true}, batches)
	writeCommandIDs(t, dir, fixedCommandIDs, "gone")
	before := dirState(t, dir)
	dst := filepath.Join(base, "backups", "b")
	r := runBin(t, "", "backup", dir, dst, "--file-mode", "0640")
	want := regexp.MustCompile(`^backed up ` + regexp.QuoteMeta(dir) + ` to ` + regexp.QuoteMeta(dst) + `
events:      below sequence number 510
segments:    [1-9]\d* hard-linked, 1 copied \(\d+ bytes copied\)
command IDs: 4
$`)
	if r.code != 0 || !want.MatchString(r.stdout) || r.stderr != "" {
		t.Fatalf("backup: exit %d\nstdout %q\nstderr %q\nwant stdout matching %s", r.code, r.stdout, r.stderr, want)
	}
	after := dirState(t, dir)
	delete(before, "manifest.log")
	delete(after, "manifest.log")
	if !mapsEqual(before, after) {
		t.Error("backup changed DIR's segment or command-ID files")
	}
	for _, args := range [][]string{{"inspect", "--json"}, {"commands"}} {
		a, b := runBin(t, "", append(args, dir)...), runBin(t, "", append(args, dst)...)
		if a.code != 0 || b.code != 0 || a.stdout != strings.ReplaceAll(b.stdout, dst, dir) {
			t.Errorf("%v: DIR (exit %d)\n%s\nDST (exit %d)\n%s", args, a.code, a.stdout, b.code, b.stdout)
		}
	}
	// Verify warns of any file or directory more open than its mode.
	if r := runBin(t, "", "verify", dst, "--file-mode", "0640"); r.code != 0 || strings.Contains(r.stdout, "warning") {
		t.Errorf("verify of the backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// backup refuses a DST that holds anything (a journal, a file, files) or
// lies inside DIR, and a missing DST, with exit 2 and one line, writing
// nothing; an empty directory is a DST it fills.
func TestBackupCommandRefusesDST(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "j")
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	other := filepath.Join(base, "other")
	writeJournal(t, other, journal.Options{}, fixedBatches[:1])
	mkfiles(t, base, map[string]string{"file": "x", "full/notes.txt": "x", "empty/": ""})
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{other}, other + ": backup writes only into a new or empty directory: it holds a journal"},
		{[]string{filepath.Join(base, "file")}, filepath.Join(base, "file") + ": backup writes only into a new or empty directory: it is a file"},
		{[]string{filepath.Join(base, "full")}, filepath.Join(base, "full") + ": backup writes only into a new or empty directory: it holds files"},
		{[]string{filepath.Join(dir, "b")}, filepath.Join(dir, "b") + ": inside " + dir + "; a backup goes outside the journal's directory"},
		{nil, "missing DST\n\nusage: journal backup DIR DST [--file-mode MODE]\n"},
	} {
		before := treeState(t, base)
		r := runBin(t, "", append([]string{"backup", dir}, c.args...)...)
		if line := "journal backup: " + c.msg + "\n"; r.code != 2 || !strings.HasPrefix(r.stderr, line) || strings.Count(r.stderr, "journal backup:") != 1 || r.stdout != "" {
			t.Errorf("backup %v: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, r.code, r.stdout, r.stderr, line)
		}
		if after := treeState(t, base); !mapsEqual(before, after) {
			t.Errorf("backup %v changed %s", c.args, base)
		}
	}
	r := runBin(t, "", "backup", dir, filepath.Join(base, "empty"))
	if r.code != 0 {
		t.Fatalf("backup into an empty directory: exit %d, %s", r.code, r.stderr)
	}
	if a, b := runBin(t, "", "export", dir), runBin(t, "", "export", filepath.Join(base, "empty")); a.stdout != b.stdout || a.code != 0 {
		t.Errorf("the backup in an empty directory exports differently:\n%s\nvs\n%s", b.stdout, a.stdout)
	}
}
