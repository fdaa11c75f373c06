package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/seglog/journal"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

var backupCommand = &command{
	name:     "backup",
	synopsis: "DIR DST [--file-mode MODE]",
	summary:  "copy a journal, consistent, into a new directory",
	help: `Copy the journal in DIR to DST, a directory that does not exist or is
empty (outside DIR): its segment files, command IDs and manifest, as of one
moment. Sealed segment files are hard-linked where the file system allows
it (no bytes copied; the journal never rewrites such a file in place, so
the backup stays as it is) and copied otherwise; the newest is copied up
to its durable end. DST opens as a journal: restore by using it (or a copy
of it) as the journal's directory.

The copy is made in DST.tmp-* beside DST and renamed to DST once complete
and synced: after a crash DST is absent or the whole backup (delete a
DST.tmp-* left behind). Hard links share disk blocks with DIR: for a
backup that must outlive the disk, give a DST on another file system.

The journal must not be open elsewhere: backup opens it, which takes its
lock, and fails if another process holds it. A process that has the
journal open backs it up with Journal.Backup, while it appends.`,
	minArgs: 2, maxArgs: 2,
	setup: func(fs *flag.FlagSet) any {
		return addFileModeFlag(fs, "the backup's files and directories get it")
	},
	run: runBackup,
}

func runBackup(e *env, args []string, fl any) int {
	dir, dst := args[0], args[1]
	if vfs.Within(dir, dst) {
		fmt.Fprintf(e.stderr, "journal backup: %s: inside %s; a backup goes outside the journal's directory\n", dst, dir)
		return exitUsage
	}
	if code, ok := newDirTarget(e, "backup", dst); !ok {
		return code
	}
	// journal.Open would create a journal in a directory without one.
	v, err := wal.OpenView(dir, nil)
	if err != nil {
		return failDir(e, "backup", dir, err)
	}
	v.Close()
	// No repack at Close: a backup leaves DIR's files as they were.
	j, err := journal.Open(dir, journal.Options{FileMode: *fl.(*os.FileMode), NoRepack: true})
	if err != nil {
		return failDir(e, "backup", dir, err)
	}
	info, err := j.Backup(dst)
	if cerr := j.Close(); err == nil && cerr != nil {
		return failDir(e, "backup", dir, cerr)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "journal backup: %v\n", err)
		if errors.Is(err, journal.ErrInvalid) {
			return exitUsage // DST filled since it was checked
		}
		return exitCode(err)
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s\n", dir, dst)
	fmt.Fprintf(e.stdout, "events:      below sequence number %d\n", info.NextSeq)
	fmt.Fprintf(e.stdout, "segments:    %d hard-linked, %d copied (%d bytes copied)\n", info.Linked, info.Copied, info.Bytes)
	fmt.Fprintf(e.stdout, "command IDs: %d\n", info.CommandIDs)
	return exitOK
}
