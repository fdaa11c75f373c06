package journal

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/seglog/journal/keyset"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/check"
)

// skipModesOnWindows skips a test of permission bits where they do not
// say who may read a file.
func skipModesOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("Windows permission bits do not describe who may read a file")
	}
}

// driveJournal makes a journal in a new directory under base (with its
// missing parents) and takes it through everything that creates files:
// rotation, compaction, a command-ID snapshot rewrite, a reopen, repair of
// a deleted segment (with its side file in base), repair of the command
// IDs and a backup into base/backups/b (parents made by Backup). It
// returns the journal's directory.
func driveJournal(t *testing.T, base string, mode os.FileMode) string {
	t.Helper()
	dir := filepath.Join(base, "a", "journal")
	opts := Options{SegmentSize: 1, CompactionThresholdEvents: 50, FileMode: mode}
	j := openT(t, dir, opts)
	for i := range 400 {
		r := fmt.Sprintf("route-%02d", i%8)
		appendT(t, j, reg(r), failed(r, "User 'audit' is not authorized to read from queue AUDIT.IN"))
		if i%40 == 39 {
			appendT(t, j, remove(r))
		}
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	// Over 1024 operations in the delta, with an empty set: a rewrite.
	for i := range 700 {
		id := fmt.Sprintf("cmd-%d", i)
		if err := j.AppendCommandID(id); err != nil {
			t.Fatal(err)
		}
		if err := j.RemoveCommandID(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.AppendCommandID("kept"); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, commandSetName+".snap")); err != nil {
		t.Fatalf("setup: no command ID snapshot was written: %v", err)
	}
	j = openT(t, dir, opts)
	for i := range 50 {
		appendT(t, j, start(fmt.Sprintf("late-%d", i)))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	// Repair: a segment deleted from the middle, and damaged command IDs.
	segs := segFiles(t, dir)
	if len(segs) < 4 {
		t.Fatalf("setup: %d segments, want at least 4", len(segs))
	}
	mid := segs[len(segs)/2]
	if err := os.Remove(mid); err != nil {
		t.Fatal(err)
	}
	os.Remove(strings.TrimSuffix(mid, ".seg") + ".idx")
	if err := os.Truncate(filepath.Join(dir, commandSetName+".snap"), 40); err != nil {
		t.Fatal(err)
	}
	// The default through the calls without a mode, a mode through those
	// with one.
	var repairFS vfs.FS
	repairIDs := RepairCommandIDs
	if mode != 0 {
		repairFS = vfs.OS(mode)
		repairIDs = func(dir, suffix string) (keyset.RepairPlan, error) {
			return RepairCommandIDsFileMode(dir, suffix, mode)
		}
	}
	if _, err := check.Repair(dir, repairFS, filepath.Join(dir, "repair.cut")); err != nil {
		t.Fatal(err)
	}
	if p, err := repairIDs(dir, ".damaged"); err != nil || !p.Needed() {
		t.Fatalf("command ID repair: %v (needed %v)", err, p.Needed())
	}
	j = openT(t, dir, opts)
	appendT(t, j, reg("after-repair"))
	backupT(t, j, filepath.Join(base, "backups", "b"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// eachMade calls fn with the mode of base and of every file and directory
// under it (symbolic links not followed).
func eachMade(t *testing.T, base string, fn func(path string, fi os.FileInfo)) {
	t.Helper()
	err := filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fn(p, fi)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// modeViolations lists every file and directory under base whose
// permission bits go beyond fileMode (dirMode for directories).
func modeViolations(t *testing.T, base string, fileMode, dirMode os.FileMode) []string {
	t.Helper()
	var bad []string
	eachMade(t, base, func(p string, fi os.FileInfo) {
		allowed := fileMode
		if fi.IsDir() {
			allowed = dirMode
		}
		if perm := fi.Mode().Perm(); perm&^allowed != 0 {
			bad = append(bad, fmt.Sprintf("%s: %v, more than %v", p, perm, allowed))
		}
	})
	return bad
}

// Every file and directory the journal makes, through every operation that
// makes one, is as private as the chosen mode: owner only by default.
func TestFilesArePrivate(t *testing.T) {
	skipModesOnWindows(t)
	for _, tc := range []struct {
		name             string
		mode             os.FileMode
		maxFile, maxDirs os.FileMode
	}{
		{"default", 0, 0o600, 0o700},
		{"group readable", 0o640, 0o640, 0o750},
		{"owner only", 0o600, 0o600, 0o700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "made")
			dir := driveJournal(t, base, tc.mode)
			names, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) < 6 {
				t.Fatalf("setup: only %d files in %s", len(names), dir)
			}
			for _, v := range modeViolations(t, base, tc.maxFile, tc.maxDirs) {
				t.Error(v)
			}
		})
	}
}

func TestFileModeInvalid(t *testing.T) {
	for _, m := range []os.FileMode{0o400, 0o200, 0o1600, os.ModeDir | 0o700, 0o4600} {
		_, err := Open(filepath.Join(t.TempDir(), "j"), Options{FileMode: m, Logger: quiet})
		if err == nil || !strings.Contains(err.Error(), ErrInvalid.Error()) {
			t.Errorf("FileMode %v: Open gave %v, want ErrInvalid", m, err)
		}
	}
}

// recordingHandler keeps the records logged through it.
type recordingHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// warnings returns the text of each warning: its message and attributes.
func (h *recordingHandler) warnings() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level != slog.LevelWarn {
			continue
		}
		s := r.Message
		r.Attrs(func(a slog.Attr) bool {
			s += " " + a.String()
			return true
		})
		out = append(out, s)
	}
	return out
}

// An existing journal more open than its mode is reported, path and mode,
// by Open (a warning; nothing is changed) and by Verify.
func TestOpenWarnsOfOpenModes(t *testing.T) {
	skipModesOnWindows(t)
	dir := filepath.Join(t.TempDir(), "j")
	j := openT(t, dir, Options{})
	appendT(t, j, reg("r"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	seg := segFiles(t, dir)[0]
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(seg, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		mode os.FileMode
		want []string // paths warned of
	}{
		{"default", 0, []string{dir, seg}},
		{"group readable", 0o640, []string{dir, seg}},
		{"as open as they are", 0o644, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &recordingHandler{}
			j, err := Open(dir, Options{FileMode: tc.mode, Logger: slog.New(h)})
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			ws := h.warnings()
			if len(ws) != len(tc.want) {
				t.Fatalf("warnings %q, want one for each of %q", ws, tc.want)
			}
			for _, p := range tc.want {
				mode := "-rw-r--r--"
				if p == dir {
					mode = "drwxr-xr-x"
				}
				if !slices.ContainsFunc(ws, func(w string) bool {
					return strings.Contains(w, "path="+p+" ") && strings.Contains(w, mode)
				}) {
					t.Errorf("no warning names %s and its mode %s: %q", p, mode, ws)
				}
			}
			r, err := VerifyFileMode(dir, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Clean() {
				t.Fatalf("Verify reports damage: %+v", r.Damage)
			}
			var warned []string
			for _, w := range r.Warnings {
				warned = append(warned, w.File)
			}
			slices.Sort(warned)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(warned, want) {
				t.Errorf("Verify warns of %q, want %q", warned, want)
			}
		})
	}
	// Nothing was changed.
	for p, want := range map[string]os.FileMode{dir: 0o755, seg: 0o644} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is now %v, want it left at %v", p, fi.Mode().Perm(), want)
		}
	}
}
