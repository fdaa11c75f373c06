package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// env is where a command reads and writes.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand. To add one, append it to commands.
type command struct {
	name     string
	synopsis string // arguments after the name, for usage lines
	summary  string // one line for the command list
	help     string // longer description for --help ("" = summary)
	// setup declares the command's flags on fs; it may be nil.
	setup func(fs *flag.FlagSet) any
	// minArgs and maxArgs bound the positional arguments.
	minArgs, maxArgs int
	// journalDir says the first argument is a journal directory to read
	// or change: checkDir vets it before run (set in exitcode.go).
	journalDir bool
	// run does the work; flags is what setup returned. It returns the exit
	// status.
	run func(e *env, args []string, flags any) int
}

// commands is the dispatch table, in the order --help lists them.
var commands []*command

func init() {
	commands = []*command{
		inspectCommand,
		statsCommand,
		verifyCommand,
		repairCommand,
		demoCommand,
		compactCommand,
		commandsCommand,
		dumpCommand,
		backupCommand,
		exportCommand,
		importCommand,
	}
}

func main() {
	os.Exit(run(&env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: journal <command> [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'journal <command> --help' for a command's arguments,\n'journal --version' for the version.\n\n%s", exitHelp)
}

// run dispatches args (without the program name) and returns the exit
// status.
func run(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			if c := lookup(args[1]); c != nil {
				commandUsage(e.stdout, c, nil, false)
				return 0
			}
			fmt.Fprintf(e.stderr, "journal: unknown command %q\n\n", args[1])
			usage(e.stderr)
			return 2
		}
		usage(e.stdout)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintf(e.stdout, "journal %s\n", version())
		return 0
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(e.stderr, "journal: unknown command %q\n\n", name)
		usage(e.stderr)
		return 2
	}
	return c.invoke(e, args[1:])
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// commandUsage prints c's usage line, its description and its flags to w;
// for a usage error (short) the description is left out.
func commandUsage(w io.Writer, c *command, fs *flag.FlagSet, short bool) {
	fmt.Fprintf(w, "usage: journal %s %s\n", c.name, c.synopsis)
	help := c.help
	if help == "" {
		help = c.summary + "."
	}
	if short {
		defer fmt.Fprintf(w, "\nRun 'journal %s --help' for details.\n", c.name)
	} else {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(help, "\n"))
		defer fmt.Fprintf(w, "\n%s", exitHelp)
	}
	if fs == nil {
		fs = c.flagSet()
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nflags:\n")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
}

// argName is the name the synopsis gives positional argument i (from 0):
// DIR unless it says otherwise.
func (c *command) argName(i int) string {
	n := 0
	for _, w := range strings.Fields(c.synopsis) {
		if strings.HasPrefix(w, "[") || strings.HasPrefix(w, "<") {
			break
		}
		if n == i {
			return w
		}
		n++
	}
	return "DIR"
}

func (c *command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("journal "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.setup != nil {
		c.setup(fs)
	}
	return fs
}

// invoke parses the command's flags (which may come before, between or
// after positional arguments) and runs it.
func (c *command) invoke(e *env, args []string) int {
	fs := flag.NewFlagSet("journal "+c.name, flag.ContinueOnError)
	var msgs bytes.Buffer
	fs.SetOutput(&msgs)
	var flags any
	if c.setup != nil {
		flags = c.setup(fs)
	}
	fs.Usage = func() {}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(e.stdout, c, fs, false)
		return 0
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "journal %s: %v\n\n", c.name, err)
		commandUsage(e.stderr, c, fs, true)
		return 2
	}
	if len(pos) < c.minArgs || len(pos) > c.maxArgs {
		what := "missing " + c.argName(len(pos))
		if len(pos) > c.maxArgs {
			what = fmt.Sprintf("unexpected argument %q", pos[c.maxArgs])
		}
		fmt.Fprintf(e.stderr, "journal %s: %s\n\n", c.name, what)
		commandUsage(e.stderr, c, fs, true)
		return 2
	}
	if c.journalDir {
		if err := checkDir(pos[0]); err != nil {
			return failDir(e, c.name, pos[0], err)
		}
	}
	return c.run(e, pos, flags)
}

// parseInterspersed parses flags anywhere in args and returns the
// positional arguments. Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		before := len(args)
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" (consumed) or at the first non-flag.
		consumed := before - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// fail prints err for command name and returns its exit status (see
// exitCode).
func fail(e *env, name string, err error) int {
	fmt.Fprintf(e.stderr, "journal %s: %v\n", name, err)
	return exitCode(err)
}
