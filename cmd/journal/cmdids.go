package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/seglog/journal"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
)

type commandsFlags struct {
	json bool
}

var commandsCommand = &command{
	name:     "commands",
	synopsis: "DIR [--json]",
	summary:  "list the live command IDs, sorted",
	help: `List the live command IDs of the journal in DIR (recorded with
AppendCommandID and not removed since), one per line, sorted by byte order;
with --json as one JSON array of strings (use it for IDs that may contain
a newline: the lines print IDs as they are).

It takes no lock: it works while another process has the journal open,
showing the IDs whose operations were complete when it ran.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) any {
		f := &commandsFlags{}
		fs.BoolVar(&f.json, "json", false, "print a JSON array")
		return f
	},
	run: runCommands,
}

func runCommands(e *env, args []string, fl any) int {
	f := fl.(*commandsFlags)
	ids, err := loadCommandIDs(args[0])
	if err != nil {
		return fail(e, "commands", err)
	}
	if f.json {
		err = writeIDsJSON(e.stdout, ids)
	} else {
		for _, id := range ids {
			if _, err = fmt.Fprintln(e.stdout, id); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fail(e, "commands", err)
	}
	return 0
}

func writeIDsJSON(w io.Writer, ids []string) error {
	if ids == nil {
		ids = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(ids)
}

// The command IDs live in a key set (package keyset) named "commands":
// commands.snap, a snapshot of the whole set, and commands.delta, the adds
// and removes since. keyset.Open needs the journal's lock (it repairs and
// appends), so this is a read-only reimplementation of its read path.
const (
	cmdSnapName  = "commands.snap"
	cmdDeltaName = "commands.delta"
)

// loadCommandIDs returns the live command IDs of the journal in dir,
// sorted, without taking the lock and without modifying anything. A torn
// last operation in the delta (one being written, or cut by a crash) is
// left out, as Open would cut it.
//
// The delta is opened before the snapshot: a rewrite renames the new
// snapshot into place before the new delta, so the delta opened is never
// newer than the snapshot opened after it, and an older one is wholly
// contained in the snapshot and ignored (as keyset.Open does).
func loadCommandIDs(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	delta, derr := os.Open(filepath.Join(dir, cmdDeltaName))
	if derr != nil && !errors.Is(derr, fs.ErrNotExist) {
		return nil, derr
	}
	if delta != nil {
		defer delta.Close()
	}
	snap, serr := os.Open(filepath.Join(dir, cmdSnapName))
	if serr != nil && !errors.Is(serr, fs.ErrNotExist) {
		return nil, serr
	}
	if snap != nil {
		defer snap.Close()
	}
	if delta == nil && snap == nil {
		// No command ID was ever stored (a journal from before command
		// IDs): none, provided dir holds a journal at all.
		v, err := wal.OpenView(dir, nil)
		if errors.Is(err, wal.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w", dir, journal.ErrNotJournal)
		}
		if err != nil {
			return nil, err
		}
		v.Close()
		return []string{}, nil
	}
	keys := make(map[string]struct{})
	var gen uint64 // with no snapshot the generation is 0
	if snap != nil {
		if gen, err = readCmdSnapshot(snap, keys); err != nil {
			return nil, err
		}
	}
	if delta == nil {
		return nil, fmt.Errorf("%s: %w: snapshot of generation %d has no delta file", filepath.Join(dir, cmdDeltaName), segment.ErrCorrupt, gen)
	}
	if err := replayCmdDelta(delta, gen, keys); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(keys))
	for k := range keys {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	return ids, nil
}

// readCmdHeader reads a key set file's segment header and its size.
func readCmdHeader(f *os.File) (segment.FileHeader, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return segment.FileHeader{}, 0, err
	}
	size := fi.Size()
	if size < segment.FileHeaderSize {
		return segment.FileHeader{}, 0, fmt.Errorf("%s: %w: file of %d bytes has no header", f.Name(), segment.ErrCorrupt, size)
	}
	var hb [segment.FileHeaderSize]byte
	if _, err := f.ReadAt(hb[:], 0); err != nil {
		return segment.FileHeader{}, 0, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	fh, err := segment.ParseFileHeader(hb[:])
	if err != nil {
		return fh, 0, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return fh, size, nil
}

// readCmdSnapshot adds the snapshot's keys to keys and returns its
// generation. A snapshot is synced before it is renamed into place, so
// anything but a clean end, or a key count other than its header's, is
// damage.
func readCmdSnapshot(f *os.File, keys map[string]struct{}) (uint64, error) {
	fh, size, err := readCmdHeader(f)
	if err != nil {
		return 0, err
	}
	var n uint64
	res, err := segment.Scan(f, size, f.Name(), func(off int64, h segment.FrameHeader, p []byte) error {
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				return fmt.Errorf("%s at offset %d: %w", f.Name(), off, err)
			}
			if !ok {
				return nil
			}
			if len(e.Key) == 0 || e.Tombstone || len(e.Value) != 0 {
				return fmt.Errorf("%s at offset %d: %w: malformed snapshot entry", f.Name(), off, segment.ErrCorrupt)
			}
			keys[string(e.Key)] = struct{}{}
			n++
		}
	})
	if err != nil {
		return 0, err
	}
	if res.Tail != segment.TailClean {
		return 0, fmt.Errorf("%s: %w: snapshot does not end cleanly: %v", f.Name(), segment.ErrCorrupt, res.Damage)
	}
	if n != fh.Base || uint64(len(keys)) != n {
		return 0, fmt.Errorf("%s: %w: snapshot holds %d entries, %d distinct, header says %d", f.Name(), segment.ErrCorrupt, n, len(keys), fh.Base)
	}
	return fh.ID, nil
}

// replayCmdDelta applies the delta's operations to keys if the delta
// belongs to generation gen. segment.Scan tolerates a torn tail.
func replayCmdDelta(f *os.File, gen uint64, keys map[string]struct{}) error {
	fh, size, err := readCmdHeader(f)
	if err != nil {
		return err
	}
	switch {
	case fh.ID > gen:
		return fmt.Errorf("%s: %w: delta generation %d is newer than snapshot generation %d (snapshot lost?)", f.Name(), segment.ErrCorrupt, fh.ID, gen)
	case fh.ID < gen:
		return nil // left over from a rewrite: the snapshot holds it all
	}
	_, err = segment.Scan(f, size, f.Name(), func(off int64, h segment.FrameHeader, p []byte) error {
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				return fmt.Errorf("%s at offset %d: %w", f.Name(), off, err)
			}
			if !ok {
				return nil
			}
			if len(e.Key) == 0 {
				return fmt.Errorf("%s at offset %d: %w: empty key", f.Name(), off, segment.ErrCorrupt)
			}
			if e.Tombstone {
				delete(keys, string(e.Key))
			} else {
				keys[string(e.Key)] = struct{}{}
			}
		}
	})
	return err
}
