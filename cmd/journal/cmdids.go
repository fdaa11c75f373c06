package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/seglog/journal"
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
	ids, err := journal.ReadCommandIDs(args[0])
	if err != nil {
		return failDir(e, "commands", args[0], err)
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
		return failDir(e, "commands", args[0], err)
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
