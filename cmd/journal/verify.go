package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/seglog/journal"
	"github.com/seglog/journal/wal/check"
)

type verifyFlags struct {
	fileMode *os.FileMode
}

var verifyCommand = &command{
	name:     "verify",
	synopsis: "DIR [--file-mode MODE]",
	summary:  "check every record's framing and checksum",
	help: `Check the journal in DIR as Open reads it: every segment file's header and
the framing and both checksums of every record in it (index files are not
trusted), that sequence numbers increase and segments follow each other,
that each index file Open would trust lists its segment's records exactly,
and the command ID files.

Each damaged file is printed with the offset of its first damaged record,
then what 'journal repair' would do and lose, and the exit status is 1. A torn tail at the end of the newest segment (a
write cut short by a crash) is a warning: the next Open cuts it; the exit
status is 0 when nothing else is wrong. So is the directory or a file in
it more open than --file-mode allows (its directory mode adding the
search bit to each read bit): others on the machine may read the error
texts and command IDs the journal holds.

It takes no lock: it works while another process has the journal open (a
batch being written at that moment may show up as a torn tail).`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		return &verifyFlags{fileMode: addFileModeFlag(fs, "a file or directory more open than it is a warning")}
	},
	run: runVerify,
}

func runVerify(e *env, args []string, fl any) int {
	r, err := journal.VerifyFileMode(args[0], *fl.(*verifyFlags).fileMode)
	if err != nil {
		return failDir(e, "verify", args[0], err)
	}
	w := e.stdout
	for _, s := range r.Segments {
		if damagedFile(r, s.File) || (s.Index != "" && damagedFile(r, s.Index)) {
			continue
		}
		seqs := "no records"
		if s.Frames > 0 {
			seqs = fmt.Sprintf("seqs %d..%d", s.First, s.Last)
		}
		idx := ""
		if s.IndexChecked {
			idx = ", index ok"
		}
		fmt.Fprintf(w, "ok       %s: %d records, %d events, %s%s\n", s.File, s.Frames, s.Entries, seqs, idx)
	}
	for _, d := range r.Damage {
		fmt.Fprintf(w, "DAMAGED  %s at offset %d: %s\n", d.File, d.Offset, d.Detail)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "warning  %s: %s\n", wn.File, wn.Detail)
	}
	for _, h := range r.Holes {
		fmt.Fprintf(w, "hole     seqs %s: removed by a repair (known, not damage)\n", check.SeqRange{First: h.First, Last: h.Last})
	}
	if !r.Clean() {
		fmt.Fprintf(w, "damaged: %d problem(s) in %d segment(s)\n", len(r.Damage), len(r.Segments))
		// What repair would do and cost, from the same plan it runs.
		fmt.Fprintf(w, "'journal repair %s' would:\n", args[0])
		if plan, err := check.PlanRepair(args[0], nil); err == nil && plan.Needed() {
			printPlan(w, plan, "a side file in "+args[0])
		}
		if cplan, err := journal.PlanCommandIDRepair(args[0]); err == nil && cplan.Needed() {
			fmt.Fprintf(w, "commands: keep %d command IDs (every record that verifies)\n", len(cplan.Keys))
		}
		return 1
	}
	fmt.Fprintf(w, "clean: %d segment(s), %d records, %d events\n", len(r.Segments), r.Frames(), r.Entries())
	return 0
}

func damagedFile(r check.VerifyReport, file string) bool {
	for _, d := range r.Damage {
		if d.File == file {
			return true
		}
	}
	return false
}
