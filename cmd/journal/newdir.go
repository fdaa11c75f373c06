package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

// errNotNewDir is wrapped by the refusals of a directory a command makes
// (demo's journal, a backup, an import) when something is there already.
var errNotNewDir = errors.New("writes only into a new or empty directory")

// checkNewDir says whether command name may make its directory at dir:
// only if nothing is there or an empty directory, so that it never adds
// to, replaces or mixes with what is there. Its refusals wrap
// errNotNewDir and say what is there.
func checkNewDir(name, dir string) error {
	err := vfs.CheckNewDir(vfs.Default(), dir)
	if !errors.Is(err, vfs.ErrNotEmpty) {
		return err
	}
	what := "it holds files"
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		what = "it is a file"
	} else if v, err := wal.OpenView(dir, nil); err == nil {
		v.Close()
		what = "it holds a journal"
	}
	return fmt.Errorf("%s: %s %w: %s", dir, name, errNotNewDir, what)
}

// newDirTarget checks dir for command name (checkNewDir) and, if it is
// refused, prints why: exit status 2 for something there, 3 for a failure
// to look. ok is false when it was refused.
func newDirTarget(e *env, name, dir string) (code int, ok bool) {
	err := checkNewDir(name, dir)
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, errNotNewDir):
		fmt.Fprintf(e.stderr, "journal %s: %v\n", name, err)
		return exitUsage, false
	}
	return failDir(e, name, dir, err), false
}
