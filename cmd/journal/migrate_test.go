package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/seglog/journal"
)

// journal export writes what inspect --json --oldest-first prints;
// journal import reads it into a new journal, and exporting that gives
// the same bytes.
func TestExportImportExportThroughTheCLIIsByteIdentical(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "j")
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	exp := runBin(t, "", "export", dir)
	insp := runBin(t, "", "inspect", "--json", "--oldest-first", dir)
	if exp.code != 0 || exp.stderr != "" || exp.stdout != insp.stdout || strings.Count(exp.stdout, "\n") != len(flatten(fixedBatches)) {
		t.Fatalf("export: exit %d, stderr %q\n%s\ninspect --json --oldest-first:\n%s", exp.code, exp.stderr, exp.stdout, insp.stdout)
	}
	dst := filepath.Join(base, "new", "j")
	imp := runBin(t, exp.stdout, "import", dst)
	// Batches appended in one millisecond share a timestamp: one batch.
	want := regexp.MustCompile(`^imported 17 events in ([1-9]|1[0-2]) batches into ` + regexp.QuoteMeta(dst) + "\nsequence numbers: 0 to 16\n$")
	if imp.code != 0 || !want.MatchString(imp.stdout) || imp.stderr != "" {
		t.Fatalf("import: exit %d\nstdout %q\nstderr %q\nwant stdout matching %s", imp.code, imp.stdout, imp.stderr, want)
	}
	if again := runBin(t, "", "export", dst); again.code != 0 || again.stdout != exp.stdout {
		t.Fatalf("export after import differs:\n%s\nwant\n%s", again.stdout, exp.stdout)
	}
}

// import refuses, with exit 2, one line naming the input line, and
// nothing made: a gap, a reordering, a line that is not an entry, and a
// DIR that holds a journal or files.
func TestImportCommandRefuses(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	writeJournal(t, src, journal.Options{}, fixedBatches)
	lines := strings.SplitAfter(runBin(t, "", "export", src).stdout, "\n")
	mkfiles(t, base, map[string]string{"full/notes.txt": "x"})
	for _, c := range []struct {
		name, in, dir, msg string
	}{
		{"gap", lines[0] + lines[1] + lines[3], "new", "line 3: invalid argument: sequence number 3 after 1: a gap (2 missing); import keeps sequence numbers and cannot leave one"},
		{"reordering", lines[0] + lines[2] + lines[1], "new", "line 2: invalid argument: sequence number 2 after 0: a gap (1 missing); import keeps sequence numbers and cannot leave one"},
		{"repeat", lines[0] + lines[1] + lines[1], "new", "line 3: invalid argument: sequence number 1 after 1: out of order (each line's must be one more than the line before's)"},
		{"not an entry", lines[0] + "{\"seq\":1}\n", "new", `line 2: entry JSON: invalid argument: missing field "timestamp_ms"`},
		{"a journal there", lines[0], "src", "src: import writes only into a new or empty directory: it holds a journal"},
		{"files there", lines[0], "full", "full: import writes only into a new or empty directory: it holds files"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := treeState(t, base)
			dir := filepath.Join(base, c.dir)
			r := runBin(t, c.in, "import", dir)
			want := "journal import: " + strings.Replace(c.msg, c.dir+":", dir+":", 1) + "\n"
			if r.code != 2 || r.stderr != want || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", r.code, r.stdout, r.stderr, want)
			}
			if after := treeState(t, base); !mapsEqual(before, after) {
				t.Errorf("a refused import changed %s", base)
			}
		})
	}
}
