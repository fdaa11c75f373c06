package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/seglog/journal"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
)

// Exit statuses, the same for every command (see exitHelp).
const (
	exitOK     = 0 // done; for verify, no damage found
	exitDamage = 1 // damage found (verify, or a command that met it)
	exitUsage  = 2 // bad arguments, a directory demo, backup or import refuses to write into, or import's input refused
	exitNoLook = 3 // could not check: see the causes below
)

// exitHelp documents the exit statuses for --help.
const exitHelp = `exit status:
  0  ok (verify: no damage found)
  1  damage found (verify, or a command that met damaged data)
  2  usage: bad arguments, a directory demo, backup or import will not write
     into (a file, a journal, a directory holding files), or a line of
     import's input it refuses
  3  could not check: DIR is missing, not a directory, not a journal, a raft
     log, open in another process (lock held), or not readable (permission),
     or another I/O error
`

// The causes the CLI reports about DIR, each with one message, the same
// from every command. A dirError wraps one of them.
var (
	errNoDir      = errors.New("no such directory")
	errNotDir     = errors.New("not a directory")
	errPermission = errors.New("permission denied")
	errNotJournal = journal.ErrNotJournal
	errLockedDir  = journal.ErrLocked
	errRaftDir    = errors.New("a raft log, not a route journal")
)

// dirError is a cause about DIR, said once: "DIR: cause[ (detail)]".
type dirError struct {
	Dir    string
	Cause  error  // one of the causes above
	Detail string // what was found, or what to do; may be empty
}

func (e *dirError) Error() string {
	msg := e.Cause.Error()
	if e.Cause == errLockedDir {
		msg = "open in another process (its lock is held); close it first"
	}
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Dir, msg, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Dir, msg)
}

func (e *dirError) Unwrap() error { return e.Cause }

// checkDir says why dir cannot be read as a journal before any command
// touches it: missing, not a directory, unreadable, or a raft log
// directory. It reads only; nil means go on (whether dir holds a journal
// is the library's to say).
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return explain(dir, err)
	}
	if !fi.IsDir() {
		if what := raftFile(dir); what != "" {
			return &dirError{Dir: dir, Cause: errRaftDir, Detail: what}
		}
		return &dirError{Dir: dir, Cause: errNotDir}
	}
	f, err := os.Open(dir)
	if err != nil {
		return explain(dir, err)
	}
	_, err = f.ReadDir(1)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return explain(dir, err)
	}
	if what := raftDir(dir); what != "" {
		return &dirError{Dir: dir, Cause: errRaftDir, Detail: what}
	}
	return nil
}

// explain turns an error met reading the journal in dir into the CLI's
// message for its cause: a *dirError for the causes above, damage as the
// place and what is wrong (plus a hint), anything else as it is.
func explain(dir string, err error) error {
	var de *dirError
	var ce *segment.CorruptError
	switch {
	case err == nil || errors.As(err, &de):
		return err
	case errors.Is(err, journal.ErrLocked):
		return &dirError{Dir: dir, Cause: errLockedDir}
	case errors.Is(err, journal.ErrCorrupt):
		if errors.As(err, &ce) {
			err = ce
		}
		return fmt.Errorf("%w (run 'journal verify %s' for details)", err, dir)
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return &dirError{Dir: dir, Cause: errNoDir}
		}
		return err // a file went away while being read
	case errors.Is(err, fs.ErrPermission):
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path != dir {
			return &dirError{Dir: dir, Cause: errPermission, Detail: "reading " + pe.Path}
		}
		return &dirError{Dir: dir, Cause: errPermission}
	case errors.Is(err, syscall.ENOTDIR):
		return &dirError{Dir: dir, Cause: errNotDir}
	case errors.Is(err, journal.ErrNotJournal), errors.Is(err, wal.ErrNotFound):
		// Every read the CLI makes is of a whole directory, where
		// ErrNotFound means no segment.
		return &dirError{Dir: dir, Cause: errNotJournal, Detail: "no segment files"}
	}
	return err
}

// exitCode is the exit status for an error explain returned.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, journal.ErrCorrupt):
		return exitDamage
	}
	return exitNoLook
}

// failDir prints err, as explain words it for dir, for command name and
// returns its exit status.
func failDir(e *env, name, dir string, err error) int {
	err = explain(dir, err)
	fmt.Fprintf(e.stderr, "journal %s: %v\n", name, err)
	return exitCode(err)
}

func init() {
	for _, c := range []*command{inspectCommand, statsCommand, verifyCommand, repairCommand, compactCommand, commandsCommand, backupCommand, exportCommand} {
		c.journalDir = true
	}
}
