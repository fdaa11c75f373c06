package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/seglog/journal"
	"github.com/seglog/journal/wal"
	"github.com/seglog/journal/wal/check"
)

type verifyFlags struct {
	json     bool
	fileMode *os.FileMode
}

var verifyCommand = &command{
	name:     "verify",
	synopsis: "DIR [--file-mode MODE] [--json]",
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

With --json the report is one JSON object on one line (wrapped here), with
the same exit status:

  {"directory":"DIR","clean":true,"records":12,"events":17,
   "segments":[{"file":"DIR/00000000000000000001.seg","size":750,
     "records":12,"events":17,"first_seq":0,"last_seq":16,
     "index":"DIR/00000000000000000001.idx","index_checked":true,
     "damaged":false}],
   "damage":[],"warnings":[],"holes":[],"repair":null}

  directory          DIR as given
  clean              true when nothing is damaged (warnings allowed)
  records, events    valid records (batches) and events in all segments
  segments           one object per segment file, oldest first:
    file             its path
    size             its size in bytes
    records, events  valid records and events in it, before any damage
    first_seq        sequence number of its first event; null when none
    last_seq         sequence number of its last event; null when none
    index            its index file's path; null when it has none
    index_checked    the index file was compared with the records
    damaged          the segment or its index file is in damage
  damage             each damaged file: {"file","offset","detail"}, offset
                     being that of its first damaged record
  warnings           conditions Open handles itself (a torn tail it cuts, a
                     stale index it rescans) and files more open than
                     --file-mode, in the same shape
  holes              sequence numbers a repair removed on purpose (known
                     losses, not damage): {"first","last"}
  repair             null when clean; else what 'journal repair' would do:
    log              null when the log's files need no repair; else
      kept_records, kept_events
                     what stays
      lost_records, lost_events
                     the records found in what is cut or rewritten away
      lost_seqs      their sequence numbers, as [{"first","last"}]
      lost_seqs_known
                     false when some lost bytes could not be decoded, so
                     that lost_seqs may be incomplete
      bytes_lost     bytes of segment data removed (saved to a side file)
      next_seq       the sequence number appends continue at
    command_ids      null when the command IDs need no repair; else
                     {"kept": N}, the IDs a repair keeps

Fields may be added, none will change meaning.

It takes no lock: it works while another process has the journal open (a
batch being written at that moment may show up as a torn tail).`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		f := &verifyFlags{fileMode: addFileModeFlag(fs, "a file or directory more open than it is a warning")}
		fs.BoolVar(&f.json, "json", false, "print the report as one JSON object (fields described above)")
		return f
	},
	run: runVerify,
}

func runVerify(e *env, args []string, fl any) int {
	f := fl.(*verifyFlags)
	r, err := journal.VerifyFileMode(args[0], *f.fileMode)
	if err != nil {
		return failDir(e, "verify", args[0], err)
	}
	if f.json {
		if err := writeVerifyJSON(e.stdout, r, args[0]); err != nil {
			return fail(e, "verify", err)
		}
		if !r.Clean() {
			return 1
		}
		return 0
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

// The shape of 'journal verify --json', documented in the command's help
// and README.md: fields may be added, never changed. Lists are [] when
// empty, pointers null when the figure does not exist.
type (
	verifyJSON struct {
		Directory string              `json:"directory"`
		Clean     bool                `json:"clean"`
		Records   int                 `json:"records"`
		Events    uint64              `json:"events"`
		Segments  []verifySegmentJSON `json:"segments"`
		Damage    []verifyFindingJSON `json:"damage"`
		Warnings  []verifyFindingJSON `json:"warnings"`
		Holes     []seqRangeJSON      `json:"holes"`
		Repair    *verifyRepairJSON   `json:"repair"`
	}
	verifySegmentJSON struct {
		File         string  `json:"file"`
		Size         int64   `json:"size"`
		Records      int     `json:"records"`
		Events       uint64  `json:"events"`
		FirstSeq     *uint64 `json:"first_seq"`
		LastSeq      *uint64 `json:"last_seq"`
		Index        *string `json:"index"`
		IndexChecked bool    `json:"index_checked"`
		Damaged      bool    `json:"damaged"`
	}
	verifyFindingJSON struct {
		File   string `json:"file"`
		Offset int64  `json:"offset"`
		Detail string `json:"detail"`
	}
	seqRangeJSON struct {
		First uint64 `json:"first"`
		Last  uint64 `json:"last"`
	}
	verifyRepairJSON struct {
		Log        *logRepairJSON     `json:"log"`
		CommandIDs *commandRepairJSON `json:"command_ids"`
	}
	logRepairJSON struct {
		KeptRecords   int            `json:"kept_records"`
		KeptEvents    uint64         `json:"kept_events"`
		LostRecords   int            `json:"lost_records"`
		LostEvents    uint64         `json:"lost_events"`
		LostSeqs      []seqRangeJSON `json:"lost_seqs"`
		LostSeqsKnown bool           `json:"lost_seqs_known"`
		BytesLost     int64          `json:"bytes_lost"`
		NextSeq       uint64         `json:"next_seq"`
	}
	commandRepairJSON struct {
		Kept int `json:"kept"`
	}
)

// writeVerifyJSON writes r as one JSON object (verifyJSON) on one line,
// with what a repair of dir would do when r is not clean.
func writeVerifyJSON(w io.Writer, r check.VerifyReport, dir string) error {
	out := verifyJSON{
		Directory: r.Dir,
		Clean:     r.Clean(),
		Records:   r.Frames(),
		Events:    r.Entries(),
		Segments:  []verifySegmentJSON{},
		Damage:    findingsJSON(r.Damage),
		Warnings:  findingsJSON(r.Warnings),
		Holes:     []seqRangeJSON{},
	}
	for _, s := range r.Segments {
		sj := verifySegmentJSON{
			File: s.File, Size: s.Size, Records: s.Frames, Events: s.Entries, IndexChecked: s.IndexChecked,
			Damaged: damagedFile(r, s.File) || (s.Index != "" && damagedFile(r, s.Index)),
		}
		if s.Frames > 0 {
			sj.FirstSeq, sj.LastSeq = &s.First, &s.Last
		}
		if s.Index != "" {
			sj.Index = &s.Index
		}
		out.Segments = append(out.Segments, sj)
	}
	for _, h := range r.Holes {
		out.Holes = append(out.Holes, seqRangeJSON{h.First, h.Last})
	}
	if !r.Clean() {
		out.Repair = &verifyRepairJSON{}
		if plan, err := check.PlanRepair(dir, nil); err == nil && plan.Needed() {
			lj := &logRepairJSON{
				KeptRecords: plan.KeptFrames, KeptEvents: plan.KeptEntries,
				LostRecords: plan.LostFrames(), LostEvents: plan.LostEntries(),
				LostSeqs: []seqRangeJSON{}, LostSeqsKnown: plan.SeqsKnown(),
				BytesLost: plan.CutBytes, NextSeq: plan.NextSeq,
			}
			for _, rs := range plan.LostSeqs() {
				lj.LostSeqs = append(lj.LostSeqs, seqRangeJSON{rs.First, rs.Last})
			}
			out.Repair.Log = lj
		}
		if cplan, err := journal.PlanCommandIDRepair(dir); err == nil && cplan.Needed() {
			out.Repair.CommandIDs = &commandRepairJSON{Kept: len(cplan.Keys)}
		}
	}
	return writeJSONLine(w, out)
}

func findingsJSON(fs []wal.Finding) []verifyFindingJSON {
	out := []verifyFindingJSON{}
	for _, f := range fs {
		out = append(out, verifyFindingJSON{File: f.File, Offset: f.Offset, Detail: f.Detail})
	}
	return out
}

func damagedFile(r check.VerifyReport, file string) bool {
	for _, d := range r.Damage {
		if d.File == file {
			return true
		}
	}
	return false
}
