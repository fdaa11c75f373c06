package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/seglog/journal"
	"github.com/seglog/journal/segment"
)

type dumpFlags struct {
	from    int64
	records bool
}

var dumpCommand = &command{
	name:     "dump",
	synopsis: "DIR [SEG] [--from OFF] [--records]",
	summary:  "print segment files' frames (and records) raw",
	help: `Print the segment files of DIR (or only segment SEG: its number or file
name) as they are on disk, read through the segment package's reader: each
file's header (id, base sequence number, flags), then each frame: offset,
size, sequence numbers, record count, timestamp, codec, flags
(sparse, compact, prefix, timed) and whether both checksums verify. With
--records each frame's records follow: sequence number, time, key, value
size, tombstone. --from OFF starts at the first frame at or after byte
offset OFF of each file.

The first frame that does not verify is printed as BAD (or as a torn tail
at the end of a file) and ends that file's listing: the exit status is then
1. It takes no lock, writes nothing, and reads any directory of segment
files (a raftstore log/ directory too).`,
	minArgs: 1, maxArgs: 2,
	setup: func(fs *flag.FlagSet) any {
		f := &dumpFlags{}
		fs.Int64Var(&f.from, "from", 0, "start at the first frame at or after byte offset `OFF`")
		fs.BoolVar(&f.records, "records", false, "print each frame's records too")
		return f
	},
	run: runDump,
}

func runDump(e *env, args []string, fl any) int {
	f := fl.(*dumpFlags)
	dir := args[0]
	fi, err := os.Stat(dir)
	if err != nil {
		return failDir(e, "dump", dir, err)
	}
	if !fi.IsDir() {
		return failDir(e, "dump", dir, &dirError{Dir: dir, Cause: errNotDir})
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return failDir(e, "dump", dir, err)
	}
	sort.Strings(files) // zero-padded numbers: name order is number order
	if len(args) == 2 {
		files = pickSegment(files, args[1])
		if files == nil {
			fmt.Fprintf(e.stderr, "journal dump: %s: no segment %q\n", dir, args[1])
			return exitUsage
		}
	}
	if len(files) == 0 {
		return failDir(e, "dump", dir, journal.ErrNotJournal)
	}
	code := exitOK
	for _, name := range files {
		c, err := dumpFile(e.stdout, name, f)
		if err != nil {
			return failDir(e, "dump", dir, err)
		}
		code = max(code, c)
	}
	return code
}

// pickSegment returns the file of files that arg names (a number or a
// file name), or nil.
func pickSegment(files []string, arg string) []string {
	n, nerr := strconv.ParseUint(arg, 10, 64)
	for _, f := range files {
		base := filepath.Base(f)
		if base == filepath.Base(arg) {
			return []string{f}
		}
		if id, err := strconv.ParseUint(strings.TrimSuffix(base, ".seg"), 10, 64); nerr == nil && err == nil && id == n {
			return []string{f}
		}
	}
	return nil
}

// dumpFile prints the segment file name; the status is exitDamage when a
// frame does not verify. The error is for a failure to read.
func dumpFile(w io.Writer, name string, f *dumpFlags) (int, error) {
	file, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	fh, err := segment.ReadFileHeader(file, size, name)
	if err != nil {
		if errors.Is(err, segment.ErrCorrupt) {
			fmt.Fprintf(w, "segment %s: %d bytes\nBAD      header: %v\n", name, size, err)
			return exitDamage, nil
		}
		return 0, err
	}
	fmt.Fprintf(w, "segment %s: id %d, base seq %d, flags %s, %d bytes\n", name, fh.ID, fh.Base, fileFlags(fh.Flags), size)
	res, err := segment.Scan(file, size, name, func(off int64, h segment.FrameHeader, p []byte) error {
		if off < f.from {
			return nil
		}
		last, _ := segment.LastSeq(h, p) // Scan checked it
		fmt.Fprintf(w, "frame    offset %d size %d seqs %d..%d records %d time %s codec %s flags %s crc ok\n",
			off, h.Size(), h.FirstSeq, last, h.Count, formatTime(h.Time), codecName(h.Codec), frameFlags(h.Flags))
		if !f.records {
			return nil
		}
		it := segment.NewEntryIter(h, p)
		for {
			en, ok, err := it.Next()
			if err != nil {
				return segment.AtOffset(err, name, off)
			}
			if !ok {
				return nil
			}
			tomb := ""
			if en.Tombstone {
				tomb = " tombstone"
			}
			fmt.Fprintf(w, "  record seq %d time %s key %q value %d bytes%s\n", en.Seq, formatTime(en.Time), en.Key, len(en.Value), tomb)
		}
	})
	switch {
	case errors.Is(err, segment.ErrCorrupt):
		fmt.Fprintf(w, "BAD      %v\n", err)
		return exitDamage, nil
	case err != nil:
		return 0, err
	case res.Tail == segment.TailTorn:
		fmt.Fprintf(w, "torn     tail at offset %d: %d bytes (%v)\n", res.End, size-res.End, res.Damage)
		return exitDamage, nil
	}
	fmt.Fprintf(w, "end      offset %d: %d frames, %d bytes after them\n", res.End, res.Frames, size-res.End)
	return exitOK, nil
}

func codecName(c uint8) string {
	switch c {
	case segment.CodecNone:
		return "none"
	case segment.CodecS2:
		return "s2"
	case segment.CodecZstd:
		return "zstd"
	}
	return "codec" + strconv.Itoa(int(c))
}

func frameFlags(fl uint8) string {
	return flagNames(uint16(fl), []string{"sparse", "compact", "prefix", "timed"})
}

func fileFlags(fl uint16) string {
	return flagNames(fl, []string{"compacted", "tracked"})
}

// flagNames names the set bits of fl, bit i as names[i], "-" for none.
func flagNames(fl uint16, names []string) string {
	var out []string
	for i, n := range names {
		if fl&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}
