package main

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/seglog/journal"
)

// dirCommands are the commands whose argument is a journal directory, as
// a script calls them (repair answers no to its question); withDir puts
// the directory in.
var dirCommands = [][]string{{"inspect"}, {"stats"}, {"verify"}, {"repair", "--yes"}, {"compact"}, {"commands"}, {"backup", "DIR", "DIR.bak"}, {"export"}}

// withDir is args with DIR in each argument replaced by dir, or dir
// appended when none holds it.
func withDir(args []string, dir string) []string {
	out := make([]string, len(args))
	found := false
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "DIR", dir)
		found = found || out[i] != a
	}
	if !found {
		out = append(out, dir)
	}
	return out
}

// writeBolt writes a file that starts as a bolt database does (a meta
// page: 16-byte page header, then the magic).
func writeBolt(t *testing.T, path string) {
	t.Helper()
	b := make([]byte, 4096)
	binary.LittleEndian.PutUint16(b[8:], 0x04) // meta page flag
	binary.LittleEndian.PutUint32(b[16:], 0xED0CDAED)
	binary.LittleEndian.PutUint32(b[20:], 2) // version
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkfiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "/") {
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Every command that reads a journal directory gives, for the same cause,
// the same one-line message naming DIR once, and exit status 3 ("could not
// check"), writing nothing into DIR; damage is status 1.
func TestEveryCommandSaysTheSameThingForTheSameCauseWithExit3(t *testing.T) {
	type cause struct {
		name  string
		setup func(t *testing.T, dir string) // dir does not exist yet
		msg   string                         // after "journal CMD: DIR: "
	}
	raftstoreLog := func(t *testing.T, dir string) string {
		// A raftstore: DIR/stable and DIR/log, a wal directory (here with
		// segments, as the journal writes them).
		mkfiles(t, dir, map[string]string{"stable": "x"})
		writeJournal(t, filepath.Join(dir, "log"), journal.Options{}, fixedBatches)
		return filepath.Join(dir, "log")
	}
	for _, c := range []cause{
		{"missing", func(t *testing.T, dir string) {}, "no such directory"},
		{"regular file", func(t *testing.T, dir string) {
			mkfiles(t, filepath.Dir(dir), map[string]string{filepath.Base(dir): "x"})
		},
			"not a directory"},
		{"empty directory", func(t *testing.T, dir string) { os.Mkdir(dir, 0o755) }, "not a journal directory (no segment files)"},
		{"other files", func(t *testing.T, dir string) { mkfiles(t, dir, map[string]string{"notes.txt": "hello"}) },
			"not a journal directory (no segment files)"},
		{"raft-wal", func(t *testing.T, dir string) {
			mkfiles(t, dir, map[string]string{"wal-meta.db": "", "00000000000000000001-0000000000000000.wal": "", "00000000000000000002-0000000000000064.wal": ""})
		}, "a raft log, not a route journal (hashicorp/raft-wal: wal-meta.db and 2 .wal segment file(s))"},
		{"raft-boltdb directory", func(t *testing.T, dir string) { os.Mkdir(dir, 0o755); writeBolt(t, filepath.Join(dir, "raft.db")) },
			"a raft log, not a route journal (hashicorp/raft-boltdb: raft.db is a bolt database)"},
		{"raft-boltdb file", func(t *testing.T, dir string) { writeBolt(t, dir) },
			"a raft log, not a route journal (hashicorp/raft-boltdb: " + "BASE is a bolt database)"},
		{"raftstore", func(t *testing.T, dir string) { raftstoreLog(t, dir) },
			"a raft log, not a route journal (raftstore: the raft log in log/, its stable store in stable)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			c.setup(t, dir)
			before := treeState(t, filepath.Dir(dir))
			want := strings.ReplaceAll(c.msg, "BASE", filepath.Base(dir))
			for _, args := range dirCommands {
				r := runBin(t, "n\n", withDir(args, dir)...)
				line := fmt.Sprintf("journal %s: %s: %s\n", args[0], dir, want)
				if r.code != 3 || r.stderr != line || r.stdout != "" {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want 3 and %q", args, r.code, r.stdout, r.stderr, line)
				}
			}
			if after := treeState(t, filepath.Dir(dir)); !mapsEqual(before, after) {
				t.Errorf("a command changed the directory")
			}
		})
	}
	t.Run("raftstore log directory", func(t *testing.T) {
		dir := raftstoreLog(t, filepath.Join(t.TempDir(), "raft"))
		before := treeState(t, filepath.Dir(dir))
		for _, args := range dirCommands {
			r := runBin(t, "n\n", withDir(args, dir)...)
			line := fmt.Sprintf("journal %s: %s: a raft log, not a route journal (the log of a raftstore directory: its stable store is ../stable)\n", args[0], dir)
			if r.code != 3 || r.stderr != line {
				t.Errorf("%v: exit %d, stderr %q; want 3 and %q", args, r.code, r.stderr, line)
			}
		}
		if after := treeState(t, filepath.Dir(dir)); !mapsEqual(before, after) {
			t.Errorf("a command changed the raft directory")
		}
	})
}

// A journal open in another process: the read commands work; those that
// change it say so, once, with status 3, and change nothing.
func TestLockedJournalIsExit3WithOneMessage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AppendBatch(fixedBatches[0]); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, dir)
	for _, args := range [][]string{{"repair", "--yes"}, {"compact"}, {"backup", "DIR", "DIR.bak"}} {
		r := runBin(t, "", withDir(args, dir)...)
		line := fmt.Sprintf("journal %s: %s: open in another process (its lock is held); close it first\n", args[0], dir)
		if r.code != 3 || r.stderr != line || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 3 and %q", args, r.code, r.stdout, r.stderr, line)
		}
	}
	if after := dirState(t, dir); !mapsEqual(before, after) {
		t.Errorf("repair or compact of a locked journal changed it")
	}
}

func TestUnreadableDirectoryIsExit3(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any directory")
	}
	dir := filepath.Join(t.TempDir(), "j")
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	for _, args := range dirCommands {
		r := runBin(t, "n\n", withDir(args, dir)...)
		if r.code != 3 || !strings.HasPrefix(r.stderr, fmt.Sprintf("journal %s: %s: permission denied", args[0], dir)) {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// explain words a permission error met deep in a read as the cause about
// DIR, naming the file it could not read.
func TestExplainPermissionNamesDirOnce(t *testing.T) {
	dir := t.TempDir()
	err := fmt.Errorf("stat: read %s: %w", dir, &fs.PathError{Op: "open", Path: filepath.Join(dir, "bounds.meta"), Err: fs.ErrPermission})
	got := explain(dir, err)
	want := dir + ": permission denied (reading " + filepath.Join(dir, "bounds.meta") + ")"
	if got.Error() != want || exitCode(got) != exitNoLook {
		t.Errorf("explain = %q (exit %d), want %q (exit 3)", got, exitCode(got), want)
	}
}

// Damage is status 1 from every command that meets it, and its message
// names the file and offset once, without the library's call chain.
func TestDamageIsExit1WithThePlaceOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	seg, off, _ := damagedJournal(t, dir)
	for _, args := range [][]string{{"verify"}, {"inspect"}} {
		r := runBin(t, "", append(args, dir)...)
		if r.code != 1 {
			t.Errorf("%v of a damaged journal: exit %d, want 1\n%s", args, r.code, r.stderr)
		}
	}
	r := runBin(t, "", "inspect", dir)
	want := regexp.MustCompile(`^journal inspect: ` + regexp.QuoteMeta(fmt.Sprintf("%s at offset %d: corrupt data: ", seg, off)) +
		`.*\(run 'journal verify ` + regexp.QuoteMeta(dir) + `' for details\)\n$`)
	if !want.MatchString(r.stderr) || strings.Count(r.stderr, "journal") != 2 {
		t.Errorf("inspect of a damaged journal: stderr %q, want it to match %s", r.stderr, want)
	}
}

// --help documents the exit statuses; --version prints the build's.
func TestHelpDocumentsExitCodesAndVersionPrints(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"inspect", "--help"}, {"demo", "--help"}} {
		r := runBin(t, "", args...)
		for _, want := range []string{"exit status:", "0  ok", "1  damage found", "2  usage", "3  could not check"} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("%v: exit %d, no %q in:\n%s", args, r.code, want, r.stdout)
			}
		}
	}
	r := runBin(t, "", "--version")
	if r.code != 0 || !regexp.MustCompile(`^journal (v\d+\.\d+\.\d+\S*|\(devel\)( [0-9a-f]{12}( \(modified\))?)?)\n$`).MatchString(r.stdout) {
		t.Errorf("--version: exit %d, stdout %q", r.code, r.stdout)
	}
}

// treeState captures every file's content under dir, by relative path
// (directories as "/").
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			m[rel] = "/"
			return nil
		}
		b, err := os.ReadFile(p)
		m[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
