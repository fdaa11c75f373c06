package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/seglog/journal"
	"github.com/seglog/journal/keyset"
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

// cmdSetName is the key set (package keyset) the journal keeps its command
// IDs in: commands.snap and commands.delta.
const cmdSetName = "commands"

// loadCommandIDs returns the live command IDs of the journal in dir,
// sorted, without taking the lock and without modifying anything
// (keyset.ReadKeys). A torn last operation in the delta (one being
// written, or cut by a crash) is left out, as Open would cut it.
func loadCommandIDs(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	keys, found, err := keyset.ReadKeys(nil, dir, cmdSetName)
	if err != nil {
		return nil, err
	}
	if !found {
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
	return slices.Sorted(maps.Keys(keys)), nil
}
