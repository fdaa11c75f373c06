package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seglog/journal"
)

// demo never writes into a directory that holds anything: a journal (it
// appended, compacted and removed command IDs there) or other files, nor
// over a file; it refuses with exit status 2 and changes nothing.
func TestDemoRefusesAJournalOrNonEmptyDirectoryAndWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		what  string
	}{
		{"journal", func(t *testing.T, dir string) {
			writeJournal(t, dir, journal.Options{}, fixedBatches)
			writeCommandIDs(t, dir, []string{"start-http-orders-in"})
		}, "it holds a journal"},
		{"other files", func(t *testing.T, dir string) { mkfiles(t, dir, map[string]string{"notes.txt": "keep me"}) }, "it holds files"},
		{"raft-wal", func(t *testing.T, dir string) { mkfiles(t, dir, map[string]string{"wal-meta.db": "", "1.wal": ""}) }, "it holds files"},
		{"file", func(t *testing.T, dir string) {
			mkfiles(t, filepath.Dir(dir), map[string]string{filepath.Base(dir): "x"})
		}, "it is a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			tc.setup(t, dir)
			before := treeState(t, filepath.Dir(dir))
			r := runBin(t, "", "demo", dir)
			want := "journal demo: " + dir + ": demo writes only into a new or empty directory: " + tc.what + "\n"
			if r.code != 2 || r.stderr != want || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", r.code, r.stdout, r.stderr, want)
			}
			if after := treeState(t, filepath.Dir(dir)); !mapsEqual(before, after) {
				t.Errorf("demo changed %s", dir)
			}
		})
	}
	// An empty directory is fine.
	dir := t.TempDir()
	if r := runBin(t, "", "demo", dir); r.code != 0 {
		t.Errorf("demo into an empty directory: exit %d, stderr %s", r.code, r.stderr)
	}
}

// Without DIR, demo removes the directory it made under the temporary
// directory, unless --keep.
func TestDemoWithoutDirRemovesItsTempDirUnlessKeep(t *testing.T) {
	for _, tc := range []struct {
		args []string
		keep bool
	}{{[]string{"demo"}, false}, {[]string{"demo", "--keep"}, true}} {
		tmp := t.TempDir()
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, errb.String())
		}
		left, _ := filepath.Glob(filepath.Join(tmp, "journal-demo-*"))
		if tc.keep {
			if len(left) != 1 || !strings.Contains(out.String(), "\nkept "+left[0]+"\n") {
				t.Errorf("%v: left %v, output ends %q", tc.args, left, tail(out.String()))
			}
			continue
		}
		if len(left) != 0 || !strings.Contains(out.String(), "\nremoved "+filepath.Join(tmp, "journal-demo-")) {
			t.Errorf("%v: left %v, output ends %q", tc.args, left, tail(out.String()))
		}
	}
}

func tail(s string) string { return s[max(0, len(s)-200):] }
