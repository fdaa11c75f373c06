package journal

// Moving history in and out: JSON lines in the replaced system's entry
// shape (entryjson.go), one entry per line, oldest first.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

// Export writes every event of the journal in dir to w, oldest first, one
// JSON object and a newline per event in the replaced system's entry shape
// (Entry.AppendJSON, as 'journal inspect --json' prints it):
//
//	{"seq":0,"timestamp_ms":1764190000000,"event":{"RouteRegistered":{"route_id":"r1"}}}
//
// Like InspectOldest it takes no lock, so it works while another process
// has the journal open, and writes the complete batches present when it
// starts; events removed by compaction are not there, so their sequence
// numbers are missing. It returns how many events it wrote. An error
// reading the journal (as InspectOldest's) or writing to w ends it, after
// the lines before it were written whole.
func Export(dir string, w io.Writer) (int, error) {
	return exportEntries(w, InspectOldest(dir, InspectFilter{}))
}

// Export is the package's Export for an open journal: every event as of
// the call, oldest first. After Close it returns an error wrapping
// ErrClosed.
func (j *Journal) Export(w io.Writer) (int, error) {
	if j.closed.Load() {
		return 0, fmt.Errorf("journal: export: %w", ErrClosed)
	}
	return exportEntries(w, j.Entries(0))
}

// exportEntries writes entries to w as JSON lines.
func exportEntries(w io.Writer, entries iter.Seq2[Entry, error]) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	n := 0
	for e, err := range entries {
		if err != nil {
			if ferr := bw.Flush(); ferr != nil {
				return n, fmt.Errorf("journal: export: %w", ferr)
			}
			return n, err
		}
		line, err = e.AppendJSON(line[:0])
		if err != nil {
			return n, fmt.Errorf("journal: export: %w", err)
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return n, fmt.Errorf("journal: export: %w", err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("journal: export: %w", err)
	}
	return n, nil
}

// ImportInfo says what Import wrote.
type ImportInfo struct {
	// Events imported; Batches, the batches they were appended in
	// (consecutive events with one timestamp share a batch).
	Events, Batches int
	// FirstSeq is the first event's sequence number and NextSeq the
	// journal's next: one past the last event's (both 0 with no event).
	FirstSeq, NextSeq uint64
}

// ImportError is the error Import returns for a line of its input it
// refuses. It wraps ErrInvalid (through Err).
type ImportError struct {
	Line int   // 1 for the first line
	Err  error // why
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("journal: import: line %d: %v", e.Line, e.Err)
}

func (e *ImportError) Unwrap() error { return e.Err }

// MaxImportLine bounds a line Import reads: the longest entry (route ID
// and error text at their limits, every byte escaped) fits.
const MaxImportLine = 1 << 20

// importBatchBytes bounds the route IDs and error texts of one batch
// Import appends, well under wal.MaxBatchBytes.
const importBatchBytes = 1 << 20

// Import makes a new journal in dir holding the events of r, JSON lines in
// the replaced system's entry shape as Export writes them (blank lines
// skipped), each with its sequence number and timestamp as given. It is
// how history moves in: a runtime switching over can call it at start-up,
// before Open, while dir does not exist.
//
// dir must not exist or be an empty directory: a journal there, or
// anything else, gives an error wrapping ErrInvalid and is left as it was.
// The sequence numbers must follow one another from the first line's
// (any number) without a gap: a line whose number is not one more than
// the line before's (repeated, going back, or skipping numbers, as an
// export of a compacted journal does) gives an *ImportError naming the
// line (wrapping ErrInvalid), as does a line that is not such an entry
// (see Entry.UnmarshalJSON) or is longer than MaxImportLine. Timestamps are
// kept as they are, in any order. Consecutive events with one timestamp
// are appended as one batch. Command IDs are not part of an export and
// the new journal has none.
//
// The journal is built in a temporary directory beside dir and renamed to
// dir once complete and synced (vfs.StageDir): on any error, and after a
// crash, dir is as it was (absent, or empty; an empty directory may be
// gone after a crash) or holds the whole import, never part of it. A
// temporary directory a crash leaves behind is incomplete; delete it. No
// compaction runs during the import, so the journal holds every event of
// r; Open with Options.CompactionThresholdEvents then compacts as usual.
// opts are those the journal is opened with to write it (its FileMode
// included); Durability and compaction options are overridden meanwhile.
func Import(dir string, r io.Reader, opts Options) (ImportInfo, error) {
	if err := vfs.CheckFileMode(opts.FileMode); err != nil {
		return ImportInfo{}, fmt.Errorf("journal: %w: %w", ErrInvalid, err)
	}
	fsys := vfs.WithFileMode(opts.FS, opts.FileMode)
	st, err := vfs.StageDir(fsys, dir, vfs.DirMode(opts.FileMode))
	if err != nil {
		return ImportInfo{}, importTargetErr(dir, fsys, err)
	}
	defer st.Abort()
	o := opts
	o.FS = fsys
	// Durable once, at Close, before the rename; no compaction meanwhile.
	o.Durability, o.FlushInterval = Eventual, -1
	o.CompactionThresholdEvents = math.MaxUint64
	j, err := Open(st.Tmp, o)
	if err != nil {
		return ImportInfo{}, err
	}
	info, err := j.importLines(r)
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return info, err
	}
	if err := st.Commit(); err != nil {
		return info, importTargetErr(dir, fsys, err)
	}
	return info, nil
}

// importTargetErr words an error putting the import at dir: one that is
// not absent or empty wraps ErrInvalid and says whether a journal is
// there.
func importTargetErr(dir string, fsys vfs.FS, err error) error {
	if !errors.Is(err, vfs.ErrNotEmpty) {
		return fmt.Errorf("journal: import into %s: %w", dir, err)
	}
	if v, verr := wal.OpenView(dir, fsys); verr == nil {
		v.Close()
		return fmt.Errorf("journal: import: %w: %s holds a journal already (import makes a new one)", ErrInvalid, dir)
	}
	return fmt.Errorf("journal: import: %w: %w", ErrInvalid, err)
}

// importLines appends the entries of r to j, new and empty, in batches of
// consecutive events with one timestamp.
func (j *Journal) importLines(r io.Reader) (ImportInfo, error) {
	var (
		info    ImportInfo
		batch   []Event
		first   uint64 // the batch's first sequence number
		batchTs int64
		size    int
		prev    Entry // the previous line's entry
		lineNo  int
		from    int // the batch's first line
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := j.appendBatch(batch, batchTs, true, first); err != nil {
			return fmt.Errorf("journal: import: the batch from line %d: %w", from, err)
		}
		info.Batches++
		batch, size = batch[:0], 0
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxImportLine)
	for sc.Scan() {
		lineNo++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := e.UnmarshalJSON(line); err != nil {
			return info, &ImportError{Line: lineNo, Err: err}
		}
		if info.Events > 0 && (prev.Seq == math.MaxUint64 || e.Seq != prev.Seq+1) {
			return info, &ImportError{Line: lineNo, Err: seqOrderErr(prev.Seq, e.Seq)}
		}
		if info.Events == 0 {
			info.FirstSeq = e.Seq
		}
		if len(batch) > 0 && (e.TimestampMs != batchTs || size+len(e.Event.RouteID)+len(e.Event.Error) > importBatchBytes) {
			if err := flush(); err != nil {
				return info, err
			}
		}
		if len(batch) == 0 {
			first, batchTs, from = e.Seq, e.TimestampMs, lineNo
		}
		batch = append(batch, e.Event)
		size += len(e.Event.RouteID) + len(e.Event.Error)
		prev = e
		info.Events++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return info, &ImportError{Line: lineNo + 1, Err: fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxImportLine)}
		}
		return info, fmt.Errorf("journal: import: read line %d: %w", lineNo+1, err)
	}
	if err := flush(); err != nil {
		return info, err
	}
	info.NextSeq = j.log.NextSeq()
	return info, nil
}

// seqOrderErr says why sequence number got may not follow prev.
func seqOrderErr(prev, got uint64) error {
	switch {
	case got <= prev:
		return fmt.Errorf("%w: sequence number %d after %d: out of order (each line's must be one more than the line before's)", ErrInvalid, got, prev)
	case got-prev == 2:
		return fmt.Errorf("%w: sequence number %d after %d: a gap (%d missing); import keeps sequence numbers and cannot leave one", ErrInvalid, got, prev, prev+1)
	}
	return fmt.Errorf("%w: sequence number %d after %d: a gap (%d to %d missing); import keeps sequence numbers and cannot leave one", ErrInvalid, got, prev, prev+1, got-1)
}
