package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seglog/journal"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/check"
)

type repairFlags struct {
	yes      bool
	cut      bool
	fileMode *os.FileMode
}

var repairCommand = &command{
	name:     "repair",
	synopsis: "DIR [--yes] [--cut] [--file-mode MODE]",
	summary:  "make a damaged journal open again, losing only its damaged records",
	help: `Make a damaged journal in DIR open again, losing only what is damaged: each
damaged segment is rewritten with every record that still verifies, before
and after the damage (a damaged file header is rebuilt), and every other
segment is kept. The sequence numbers of the lost records are a hole; new
events continue after the last one. With --cut the journal is instead cut
at its first damaged record and every later segment removed, leaving no
hole.

Before acting it prints what is lost (records, events, sequence numbers)
and asks for confirmation unless --yes. Everything cut is first saved in
a side file DIR/repair-<unix-time>.cut (format: see check.RepairLocked). The
journal must not be open elsewhere: repair takes its lock.

Damaged command IDs are rebuilt from every record that still verifies;
their damaged files are kept beside them, renamed with the side file's
name as a suffix.

Every file repair writes (the side file, rewritten segments and command
IDs, a new manifest) gets --file-mode, 0600 unless told: give the mode
the journal is opened with.

A journal that is clean (or only has a torn tail, which Open cuts by
itself) is left alone.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		f := &repairFlags{}
		fs.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
		fs.BoolVar(&f.cut, "cut", false, "cut at the first damaged record, removing every later segment")
		f.fileMode = addFileModeFlag(fs, "the files repair writes get it")
		return f
	},
	run: runRepair,
}

func runRepair(e *env, args []string, fl any) int {
	f := fl.(*repairFlags)
	dir := args[0]
	lock, err := vfs.Default().Lock(dir)
	if err != nil {
		return failDir(e, "repair", dir, err)
	}
	defer lock.Close()

	mode := check.KeepIntact
	if f.cut {
		mode = check.CutAtDamage
	}
	plan, err := check.PlanRepairMode(dir, nil, mode)
	if err != nil {
		return failDir(e, "repair", dir, err)
	}
	cplan, err := journal.PlanCommandIDRepair(dir)
	if err != nil {
		return failDir(e, "repair", dir, err)
	}
	w := e.stdout
	if !plan.Needed() && !cplan.Needed() {
		fmt.Fprintf(w, "nothing to repair: %s has no damage\n", dir)
		return 0
	}
	side := sidePath(dir)
	suffix := "." + strings.TrimSuffix(filepath.Base(side), ".cut")
	if plan.Needed() {
		printPlan(w, plan, side)
	}
	if cplan.Needed() {
		fmt.Fprintf(w, "commands: %s\n", cplan.Damage)
		fmt.Fprintf(w, "          kept: %d command IDs (every record that verifies); the files are kept aside as", len(cplan.Keys))
		for _, f := range cplan.Files {
			fmt.Fprintf(w, " %s", filepath.Base(f)+suffix)
		}
		fmt.Fprintln(w)
	}
	if !f.yes {
		fmt.Fprintf(w, "Repair %s? [y/N] ", dir)
		if !confirmed(e.stdin) {
			fmt.Fprintln(w)
			fmt.Fprintf(e.stderr, "journal repair: aborted; nothing changed\n")
			return 1
		}
	}
	if plan.Needed() {
		rep, err := check.RepairLockedMode(dir, vfs.OS(*f.fileMode), side, mode)
		if err != nil {
			return failDir(e, "repair", dir, err)
		}
		fmt.Fprintf(w, "repaired %s: %d bytes saved in %s\n", dir, rep.SideBytes, rep.SidePath)
	}
	if cplan.Needed() {
		// After the log's repair, which keeps the command IDs' mark.
		cp, err := journal.RepairCommandIDsFileMode(dir, suffix, *f.fileMode)
		if err != nil {
			return failDir(e, "repair", dir, err)
		}
		fmt.Fprintf(w, "repaired the command IDs of %s: %d kept\n", dir, len(cp.Keys))
	}
	return 0
}

// sidePath picks an unused side file name in dir.
func sidePath(dir string) string {
	base := fmt.Sprintf("repair-%d", time.Now().Unix())
	p := filepath.Join(dir, base+".cut")
	for i := 2; ; i++ {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			return p
		}
		p = filepath.Join(dir, fmt.Sprintf("%s-%d.cut", base, i))
	}
}

func confirmed(r io.Reader) bool {
	line, _ := bufio.NewReader(r).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

func joinRanges(rs []check.SeqRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// printPlan tells exactly what the repair would do and lose.
func printPlan(w io.Writer, p check.RepairPlan, side string) {
	if p.Cut {
		fmt.Fprintf(w, "damage:   %s at offset %d: %s\n", p.CutFile, p.CutOffset, p.Reason)
		fmt.Fprintf(w, "cut:      %s from offset %d", p.CutFile, p.CutOffset)
		if p.CutOffset < 32 {
			fmt.Fprintf(w, " (its header is damaged: the file is removed)")
		}
		fmt.Fprintln(w)
		for _, s := range p.RemoveSegments {
			fmt.Fprintf(w, "remove:   %s (later segment)\n", s)
		}
	}
	for _, rw := range p.Rewrites {
		fmt.Fprintf(w, "rewrite:  %s keeping %d records that verify, %d bytes lost", rw.File, len(rw.Kept), rw.RemovedBytes)
		if rw.HeaderRebuilt {
			fmt.Fprintf(w, " (its damaged header is rebuilt: starts at seq %d)", rw.Header.Base)
		}
		fmt.Fprintln(w)
	}
	if len(p.Rewrites) > 0 {
		fmt.Fprintf(w, "damage:   %s\n", p.Reason)
	}
	for _, s := range p.RemoveIndexes {
		fmt.Fprintf(w, "remove:   %s (index file)\n", s)
	}
	if p.RemoveBounds != "" {
		fmt.Fprintf(w, "remove:   %s (damaged: a truncation it may record is not carried out)\n", p.RemoveBounds)
	}
	if p.Manifest != "" {
		fmt.Fprintf(w, "manifest: %s\n", p.Manifest)
		fmt.Fprintf(w, "          written anew from the segments the repair leaves: what it lists and the directory lacks is lost\n")
	}
	if p.KeptEntries > 0 {
		fmt.Fprintf(w, "kept:     %d records, %d events (seqs up to %d)\n", p.KeptFrames, p.KeptEntries, p.KeptLastSeq)
	} else {
		fmt.Fprintf(w, "kept:     %d records, 0 events\n", p.KeptFrames)
	}
	if p.Cut || len(p.Rewrites) > 0 {
		lost := "no sequence numbers"
		if rs := p.LostSeqs(); len(rs) > 0 {
			lost = "seqs " + joinRanges(rs)
		}
		fmt.Fprintf(w, "lost:     %d records, %d events, %s (%d bytes cut)\n", p.LostFrames(), p.LostEntries(), lost, p.CutBytes)
		for _, lf := range p.Lost {
			if lf.Damaged {
				fmt.Fprintf(w, "          the damaged record at offset %d held %d events (seqs %d..%d per its header); its contents are unreadable\n",
					lf.Offset, lf.Count, lf.First, lf.Last)
			}
		}
		if !p.SeqsKnown() {
			fmt.Fprintf(w, "          %d cut bytes could not be decoded: the sequence numbers they held cannot be determined", p.Undecoded)
			if gaps := p.SeqGaps(); p.Cut && len(gaps) > 0 {
				fmt.Fprintf(w, " (missing from the records found: %s)", joinRanges(gaps))
			}
			fmt.Fprintln(w)
		}
		if p.NewSegment != "" {
			fmt.Fprintf(w, "continue: new appends start at seq %d (an empty segment %s records it)\n", p.NextSeq, p.NewSegment)
		} else {
			fmt.Fprintf(w, "continue: new appends start at seq %d\n", p.NextSeq)
		}
	}
	fmt.Fprintf(w, "save:     everything removed goes to %s\n", side)
}
