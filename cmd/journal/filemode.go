package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/seglog/journal/vfs"
)

// fileModeFlag is --file-mode: the journal's Options.FileMode, in octal.
type fileModeFlag os.FileMode

func (m *fileModeFlag) String() string { return fmt.Sprintf("%04o", os.FileMode(*m)) }

func (m *fileModeFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return fmt.Errorf("not an octal mode: %q", s)
	}
	if err := vfs.CheckFileMode(os.FileMode(v)); err != nil {
		return err
	}
	*m = fileModeFlag(v)
	return nil
}

// addFileModeFlag declares --file-mode on fs, for a command that reads
// (what) or writes the journal's files, and returns where it lands.
func addFileModeFlag(fs *flag.FlagSet, what string) *os.FileMode {
	m := fileModeFlag(vfs.DefaultFileMode)
	fs.Var(&m, "file-mode", "the journal's Options.FileMode, an octal `MODE`: "+what)
	return (*os.FileMode)(&m)
}
