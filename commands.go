package journal

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/seglog/journal/keyset"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

// Command IDs are kept in a keyset named "commands" in the journal's
// directory (commands.snap, commands.delta): a snapshot of the whole set
// plus a delta of adds and removes, rewritten when the delta outgrows the
// set, so the files stay proportional to the live IDs.

// MaxCommandIDLen bounds a command ID, in bytes.
const MaxCommandIDLen = 4096

const commandSetName = "commands"

func openCommands(dir string, opts Options, mark keyset.Mark) (*keyset.Set, error) {
	return keyset.Open(dir, keyset.Options{
		Durability: opts.Durability,
		FS:         opts.FS,
		Name:       commandSetName,
		MaxKeySize: MaxCommandIDLen,
		Durable:    mark,
	})
}

// commandMark is how far the command ID delta was durable when the
// journal last recorded it in the log's manifest (at Open after recovery,
// and at Close): the files are held to it, so a delta cut short or a set
// deleted is damage, not a torn tail or an empty set.
func commandMark(fsys vfs.FS, dir string) (keyset.Mark, error) {
	m, _, err := wal.ReadMark(dir, fsys, commandSetName)
	if err != nil {
		return keyset.Mark{}, err
	}
	return keyset.Mark(m), nil
}

// recordCommandMark records the command ID set's durable mark in the log's
// manifest (a no-op when unchanged).
func (j *Journal) recordCommandMark() error {
	return j.log.RecordMark(commandSetName, wal.Mark(j.cmds.Mark()))
}

// commandErr maps the key set's errors onto the journal's sentinels.
func commandErr(op string, err error) error {
	if errors.Is(err, keyset.ErrClosed) {
		err = ErrClosed
	}
	return fmt.Errorf("journal: %s: %w", op, err)
}

// AppendCommandID records id as in flight. Adding an ID that is present is
// not an error. Durability follows Options.Durability: under Immediate the
// ID is on stable storage when AppendCommandID returns (concurrent calls
// share fsyncs). An empty ID or one over MaxCommandIDLen gives an error
// wrapping ErrInvalid and writes nothing.
func (j *Journal) AppendCommandID(id string) error {
	if err := j.cmds.Add(id); err != nil {
		return commandErr("append command ID", err)
	}
	return nil
}

// RemoveCommandID records that id is no longer in flight. Removing an ID
// that is absent is not an error. Durability and bad input are as for
// AppendCommandID.
func (j *Journal) RemoveCommandID(id string) error {
	if err := j.cmds.Remove(id); err != nil {
		return commandErr("remove command ID", err)
	}
	return nil
}

// LoadCommandIDs returns the live command IDs sorted ascending (byte
// order).
func (j *Journal) LoadCommandIDs() ([]string, error) {
	if j.closed.Load() {
		return nil, fmt.Errorf("journal: load command IDs: %w", ErrClosed)
	}
	ids := j.cmds.Keys()
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// ReadCommandIDs returns the live command IDs of the journal in dir,
// sorted, without taking its lock and without modifying any file: it works
// while another process has the journal open, and shows the operations
// that were complete when it ran (a torn last one is left out, as Open
// would cut it). A missing dir gives an error matching fs.ErrNotExist, a
// directory holding no journal ErrNotJournal, damaged files ErrCorrupt.
func ReadCommandIDs(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: %w: not a directory", dir, ErrNotJournal)
	}
	mark, err := commandMark(nil, dir)
	if err != nil {
		return nil, err
	}
	keys, found, err := keyset.ReadKeysMarked(nil, dir, commandSetName, mark)
	if err != nil {
		return nil, err
	}
	if !found {
		// No command ID was ever stored (a journal from before command
		// IDs): none, provided dir holds a journal at all.
		v, err := wal.OpenView(dir, nil)
		if errors.Is(err, wal.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w", dir, ErrNotJournal)
		}
		if err != nil {
			return nil, err
		}
		v.Close()
		return []string{}, nil
	}
	return slices.Sorted(maps.Keys(keys)), nil
}

// PlanCommandIDRepair says what RepairCommandIDs would do to the command
// IDs of the journal in dir, without changing anything or taking the lock:
// nothing (Needed false) when they open; else the damage Open refuses and
// the IDs a repair keeps (every record that verifies).
func PlanCommandIDRepair(dir string) (keyset.RepairPlan, error) {
	mark, err := commandMark(nil, dir)
	if err != nil {
		mark = keyset.Mark{} // a damaged manifest is the log's repair's
	}
	return keyset.PlanRepair(nil, dir, commandSetName, mark)
}

// RepairCommandIDs makes damaged command IDs of the journal in dir open
// again, keeping every record that verifies; the damaged files are
// renamed with suffix, not deleted (see keyset.Repair). The caller holds
// the journal's lock (and repairs the log first: see check.RepairLocked).
// The files it writes get DefaultFileMode; RepairCommandIDsFileMode
// chooses another.
func RepairCommandIDs(dir, suffix string) (keyset.RepairPlan, error) {
	return RepairCommandIDsFileMode(dir, suffix, 0)
}

// RepairCommandIDsFileMode is RepairCommandIDs writing its files with
// permission fileMode, as Options.FileMode (0 meaning DefaultFileMode). A
// fileMode Open refuses is an error wrapping ErrInvalid.
func RepairCommandIDsFileMode(dir, suffix string, fileMode os.FileMode) (keyset.RepairPlan, error) {
	if err := vfs.CheckFileMode(fileMode); err != nil {
		return keyset.RepairPlan{}, fmt.Errorf("repair command IDs: %w: %w", ErrInvalid, err)
	}
	mark, err := commandMark(nil, dir)
	if err != nil {
		return keyset.RepairPlan{}, fmt.Errorf("repair command IDs: %w", err)
	}
	return keyset.Repair(vfs.OS(fileMode), dir, commandSetName, mark, suffix)
}
