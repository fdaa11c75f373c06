package journal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// exportT exports j and fails the test on an error.
func exportT(t *testing.T, j *Journal) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := j.Export(&b); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return b.Bytes()
}

// importT imports lines into the new journal dir and fails the test on an
// error.
func importT(t *testing.T, dir string, lines []byte, opts Options) ImportInfo {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	info, err := Import(dir, bytes.NewReader(lines), opts)
	if err != nil {
		t.Fatalf("Import(%s): %v", dir, err)
	}
	return info
}

// historyLines is an export of n events from sequence number first, with
// every kind, error texts that need escaping, and timestamps that repeat,
// jump, go back and go below zero, from a seeded generator.
func historyLines(seed uint64, first uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 18))
	ts := int64(1764190000000)
	var b []byte
	for i := range n {
		switch r := rng.IntN(10); {
		case r < 6: // the same batch
		case r < 8:
			ts += rng.Int64N(5000)
		case r < 9:
			ts -= rng.Int64N(3000) // a clock set back
		default:
			ts = -rng.Int64N(1 << 40)
		}
		route := fmt.Sprintf("route-%d", rng.IntN(30))
		e := Entry{Seq: first + uint64(i), TimestampMs: ts, Event: Event{Kind: EventKind(1 + rng.IntN(int(RouteRemoved))), RouteID: route}}
		if e.Event.Kind == RouteFailed {
			e.Event.Error = [...]string{"", "boom", "quote \" backslash \\ tab \t newline \n", "<html> & \u2028 ünïcödé \x01", strings.Repeat("x", 300)}[rng.IntN(5)]
		}
		b, _ = e.AppendJSON(b)
		b = append(b, '\n')
	}
	return b
}

// Export, import and export again give the same bytes: for a journal
// appended to as a runtime does, for one made by an import starting at a
// sequence number other than 0 with timestamps out of order, and for that
// one after its segments were repacked (each event then keeps its own
// timestamp in a packed frame). The export is what Entries yields, and
// the lock-free Export of the directory writes the same while the journal
// is open.
func TestExportImportExportIsByteIdentical(t *testing.T) {
	appended := func(t *testing.T) string {
		dir := t.TempDir()
		j := openT(t, dir, Options{SegmentSize: 8 << 10})
		defer j.Close()
		for i := range 300 {
			r := fmt.Sprint("r", i%17)
			appendT(t, j, reg(r), start(r))
			if i%5 == 0 {
				appendT(t, j, failed(r, fmt.Sprintf("attempt %d: \"refused\" <%d>", i, i)))
			}
			if i%11 == 0 {
				appendT(t, j, remove(r))
			}
		}
		return dir
	}
	imported := func(repack bool) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "imported")
			in := historyLines(1, 1000, 2000)
			importT(t, dir, in, Options{SegmentSize: 8 << 10, NoRepack: true})
			if repack {
				// Reopened and closed with repacking on: the import's
				// small batches are packed into new files.
				before := map[string]os.FileInfo{}
				for _, s := range segFiles(t, dir) {
					before[s], _ = os.Stat(s)
				}
				j := openT(t, dir, Options{SegmentSize: 8 << 10})
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
				packed := 0
				for s, fi := range before {
					if now, err := os.Stat(s); err == nil && !os.SameFile(fi, now) {
						packed++
					}
				}
				if packed == 0 {
					t.Fatal("no segment was repacked: the case proves nothing")
				}
			}
			j := openT(t, dir, Options{NoRepack: true})
			defer j.Close()
			if got := exportT(t, j); !bytes.Equal(got, in) {
				t.Fatalf("the imported journal exports %d bytes, not the %d imported", len(got), len(in))
			}
			return dir
		}
	}
	for _, tc := range []struct {
		name   string
		source func(t *testing.T) string
	}{
		{"appended", appended},
		{"imported from 1000", imported(false)},
		{"imported and repacked", imported(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.source(t)
			j := openT(t, src, Options{})
			defer j.Close()
			first := exportT(t, j)
			var lockFree bytes.Buffer
			if _, err := Export(src, &lockFree); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(lockFree.Bytes(), first) {
				t.Fatal("Export of the directory differs from the open journal's")
			}
			var want []byte
			for _, e := range entriesT(t, j, 0) {
				want, _ = e.AppendJSON(want)
				want = append(want, '\n')
			}
			if !bytes.Equal(first, want) {
				t.Fatal("the export is not the entries' JSON lines")
			}
			dst := filepath.Join(t.TempDir(), "copy")
			info := importT(t, dst, first, Options{})
			b := openT(t, dst, Options{})
			defer b.Close()
			if second := exportT(t, b); !bytes.Equal(second, first) {
				t.Fatalf("export after import differs: %d bytes, want %d", len(second), len(first))
			}
			ents := entriesT(t, j, 0)
			if info.Events != len(ents) || info.FirstSeq != ents[0].Seq || info.NextSeq != ents[len(ents)-1].Seq+1 || b.log.NextSeq() != info.NextSeq {
				t.Fatalf("ImportInfo %+v for %d entries from %d; next %d", info, len(ents), ents[0].Seq, b.log.NextSeq())
			}
		})
	}
}

// An imported journal continues at the next sequence number with events
// of the present, and holds every imported event, removed routes too:
// compaction does not run during the import, whatever the options say,
// and runs as usual once the journal is opened again.
func TestImportKeepsEverythingAndTheJournalGoesOn(t *testing.T) {
	var in []byte
	for i, ev := range []Event{reg("a"), start("a"), remove("a"), reg("b"), remove("b"), reg("c")} {
		in, _ = Entry{Seq: 40 + uint64(i), TimestampMs: 1000 + int64(i/2), Event: ev}.AppendJSON(in)
		in = append(in, '\n')
	}
	dir := filepath.Join(t.TempDir(), "j")
	opts := Options{CompactionThresholdEvents: 2}
	info := importT(t, dir, in, opts)
	if want := (ImportInfo{Events: 6, Batches: 3, FirstSeq: 40, NextSeq: 46}); info != want {
		t.Fatalf("ImportInfo %+v, want %+v", info, want)
	}
	j := openT(t, dir, opts)
	defer j.Close()
	if got := exportT(t, j); !bytes.Equal(got, in) {
		t.Fatalf("after import:\n%s\nwant\n%s", got, in)
	}
	appendT(t, j, start("c"))
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	got := entriesT(t, j, 0)
	if len(got) != 2 || got[0].Seq != 45 || got[1].Seq != 46 || got[1].TimestampMs < 1e12 {
		t.Fatalf("after an append and a compaction: %+v; want seqs 45 and 46, the new one timed now", got)
	}
}

// Import refuses, with ErrInvalid and the line, input it cannot keep as
// it is (a gap, a reordering, a repeat, a line that is not an entry, one
// too long) and a destination that is not new or empty; it leaves the
// destination as it was and nothing beside it.
func TestImportRefusesWithTheLine(t *testing.T) {
	line := func(seq uint64, r string) string {
		b, _ := Entry{Seq: seq, TimestampMs: 5, Event: start(r)}.AppendJSON(nil)
		return string(b) + "\n"
	}
	ok3 := line(0, "a") + line(1, "b") + line(2, "c")
	for _, tc := range []struct {
		name, in string
		dst      string // "", "journal", "file" or "full"
		want     string
	}{
		{"gap", ok3 + line(5, "d"), "", "line 4: invalid argument: sequence number 5 after 2: a gap (3 to 4 missing)"},
		{"gap of one", line(7, "a") + "\n" + line(9, "b"), "", "line 3: invalid argument: sequence number 9 after 7: a gap (8 missing)"},
		{"reordering", line(0, "a") + line(2, "c") + line(1, "b"), "", "line 2: invalid argument: sequence number 2 after 0: a gap"},
		{"going back", ok3 + line(1, "x"), "", "line 4: invalid argument: sequence number 1 after 2: out of order"},
		{"repeat", ok3 + line(2, "c"), "", "line 4: invalid argument: sequence number 2 after 2: out of order"},
		{"not JSON", ok3 + "seq 3\n", "", "line 4: entry JSON: invalid argument"},
		{"unknown kind", ok3 + `{"seq":3,"timestamp_ms":1,"event":{"RouteExploded":{"route_id":"a"}}}` + "\n", "", "line 4: entry JSON: invalid argument: unknown event kind \"RouteExploded\""},
		{"too long", ok3 + `{"seq":3,"timestamp_ms":1,"event":{"RouteStarted":{"route_id":"` + strings.Repeat("x", MaxImportLine) + "\"}}}\n", "", "line 4: invalid argument: longer than 1048576 bytes"},
		{"a journal there", ok3, "journal", "holds a journal already"},
		{"a file there", ok3, "file", "exists and is not an empty directory: it is a file"},
		{"a directory with files", ok3, "full", "exists and is not an empty directory: it holds 1 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "dst")
			switch tc.dst {
			case "journal":
				j := openT(t, dst, Options{})
				appendT(t, j, start("kept"))
				j.Close()
			case "file":
				if err := os.WriteFile(dst, []byte("kept"), 0o600); err != nil {
					t.Fatal(err)
				}
			case "full":
				if err := os.MkdirAll(dst, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dst, "f"), []byte("kept"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := treeOf(t, base)
			_, err := Import(dst, strings.NewReader(tc.in), Options{Logger: quiet})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Import: %v\nwant ErrInvalid and %q", err, tc.want)
			}
			var ie *ImportError
			var line int
			if _, serr := fmt.Sscanf(tc.want, "line %d:", &line); serr == nil && (!errors.As(err, &ie) || ie.Line != line) {
				t.Fatalf("Import: %v: want an *ImportError for line %d", err, line)
			}
			if after := treeOf(t, base); !reflect.DeepEqual(after, before) {
				t.Fatalf("a refused import changed %s:\n%v\nwas\n%v", base, after, before)
			}
		})
	}
}

// treeOf maps each path under base to its content ("dir" for a
// directory).
func treeOf(t *testing.T, base string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eachMade(t, base, func(p string, fi os.FileInfo) {
		if fi.IsDir() {
			out[p] = "dir"
			return
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(b)
	})
	return out
}

// A power cut at any file operation of an import leaves the destination
// absent or holding the whole import, never part of it; once Import
// returned it survives.
func TestCrashDuringImportLeavesNothingOrEverything(t *testing.T) {
	in := historyLines(7, 3, 400)
	fs := vfstest.New()
	const dst = "/imports/j"
	crashMakingDir(t, fs, dst, func(clone *vfstest.FS, present bool) error {
		if !present {
			return nil
		}
		j, err := Open(dst, Options{FS: clone, Logger: quiet})
		if err != nil {
			return err
		}
		var got bytes.Buffer
		_, err = j.Export(&got)
		j.Close()
		if err == nil && !bytes.Equal(got.Bytes(), in) {
			err = fmt.Errorf("dst exports %d bytes, want the %d imported", got.Len(), len(in))
		}
		return err
	}, func() { importT(t, dst, in, Options{FS: fs, SegmentSize: 8 << 10}) })
}
