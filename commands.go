package journal

import (
	"errors"
	"fmt"

	"github.com/seglog/journal/keyset"
)

// Command IDs are kept in a keyset named "commands" in the journal's
// directory (commands.snap, commands.delta): a snapshot of the whole set
// plus a delta of adds and removes, rewritten when the delta outgrows the
// set, so the files stay proportional to the live IDs.

// MaxCommandIDLen bounds a command ID, in bytes.
const MaxCommandIDLen = 4096

const commandSetName = "commands"

func openCommands(dir string, opts Options) (*keyset.Set, error) {
	return keyset.Open(dir, keyset.Options{
		Durability: keyset.Durability(opts.Durability),
		FS:         opts.FS,
		Name:       commandSetName,
		MaxKeySize: MaxCommandIDLen,
	})
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
