package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/seglog/journal"
)

// jsonMasks replace what varies between runs in the --json outputs beyond
// normalize's times and directory: allocated blocks (filesystem dependent)
// and checksums in damage details (the damaged frame holds a timestamp).
var jsonMasks = []struct {
	re   *regexp.Regexp
	mask string
}{
	{regexp.MustCompile(`"allocated_bytes":\d+`), `"allocated_bytes":N`},
	{regexp.MustCompile(`checksum [0-9a-f]{8}, want [0-9a-f]{8}`), `checksum XXXXXXXX, want XXXXXXXX`},
}

func maskJSON(s, dir string) string {
	s = normalize(s, dir)
	for _, m := range jsonMasks {
		s = m.re.ReplaceAllString(s, m.mask)
	}
	return s
}

// jsonKeys collects every object key in v, a decoded JSON value.
func jsonKeys(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			into[k] = true
			jsonKeys(e, into)
		}
	case []any:
		for _, e := range x {
			jsonKeys(e, into)
		}
	}
}

// decodeLine decodes out, which must be exactly one line holding one JSON
// object, and returns its keys (nested ones too).
func decodeLine(t *testing.T, out string) (map[string]any, map[string]bool) {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("want one line of JSON, got:\n%s", out)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	keys := map[string]bool{}
	jsonKeys(v, keys)
	return v, keys
}

// readmeCLI is README.md's "Command-line tool" section.
func readmeCLI(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Command-line tool\n")
	if !ok {
		t.Fatal(`README.md has no "## Command-line tool" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	return sec
}

// documented checks that every key the command printed is described in its
// --help text and in README.md's CLI section.
func documented(t *testing.T, command string, keys map[string]bool) {
	t.Helper()
	help := runBin(t, "", command, "--help").stdout
	readme := readmeCLI(t)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		word := regexp.MustCompile(`(^|[^a-z_])` + regexp.QuoteMeta(k) + `($|[^a-z_])`)
		if !word.MatchString(help) {
			t.Errorf("%s --json prints %q, which '%s --help' does not describe", command, k, command)
		}
		if !word.MatchString(readme) {
			t.Errorf("%s --json prints %q, which README.md's CLI section does not describe", command, k)
		}
	}
}

// stats --json and verify --json of the golden journal: goldens, one
// object on one line, every key documented, exit 0.
func TestJSONGolden(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	writeCommandIDs(t, dir, fixedCommandIDs, "cmd-removed")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"stats_json", []string{"stats", "--json", dir}},
		{"verify_json", []string{"verify", dir, "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, "", tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			_, keys := decodeLine(t, r.stdout)
			documented(t, tc.args[0], keys)
			golden(t, tc.name, maskJSON(r.stdout, dir))
		})
	}
}

// The figures of stats --json are those of the table, and null where the
// table says there are none.
func TestStatsJSONMatchesTable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	batches, _ := removalBatches()
	writeJournal(t, dir, journal.Options{}, batches)
	writeCommandIDs(t, dir, []string{"a", "b"})
	v, _ := decodeLine(t, runBin(t, "", "stats", "--json", dir).stdout)
	table := runBin(t, "", "stats", dir).stdout
	for _, c := range []struct{ key, row string }{
		{"entries", "entries          %v live"},
		{"next_seq", "next seq         %v"},
		{"command_ids", "command ids      %v live"},
		{"removable", "%v removable"},
		{"pending_removable", "(%v pending"},
		{"apparent_bytes", "allocated, %v apparent"},
	} {
		if want := fmt.Sprintf(c.row, v[c.key]); !strings.Contains(table, want) {
			t.Errorf("%s is %v; the table lacks %q:\n%s", c.key, v[c.key], want, table)
		}
	}
	if want := fmt.Sprintf("seq range        %v..%v", v["first_seq"], v["last_seq"]); !strings.Contains(table, want) {
		t.Errorf("first_seq, last_seq %v, %v; the table lacks %q", v["first_seq"], v["last_seq"], want)
	}

	// A journal with no event: no sequence range; no checkpoint yet.
	empty := filepath.Join(t.TempDir(), "e")
	writeJournal(t, empty, journal.Options{}, nil)
	v, _ = decodeLine(t, runBin(t, "", "stats", "--json", empty).stdout)
	for k, want := range map[string]any{"entries": 0.0, "first_seq": nil, "last_seq": nil, "next_seq": 0.0, "command_ids": 0.0} {
		if v[k] != want {
			t.Errorf("empty journal: %s = %v, want %v", k, v[k], want)
		}
	}
}

// verify --json of a damaged journal: exit 1, the damage with its file and
// offset, and what a repair would keep and lose.
func TestVerifyJSONDamaged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j") // made by Open, so with its mode: no mode warning
	seg, off, _ := damagedJournal(t, dir)
	r := runBin(t, "", "verify", "--json", dir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	_, keys := decodeLine(t, r.stdout)
	documented(t, "verify", keys)
	var got struct {
		Clean    bool
		Segments []struct {
			File    string
			Damaged bool
		}
		Damage []struct {
			File   string
			Offset int64
		}
		Repair struct {
			Log struct {
				LostEvents    uint64                         `json:"lost_events"`
				LostSeqs      []struct{ First, Last uint64 } `json:"lost_seqs"`
				LostSeqsKnown bool                           `json:"lost_seqs_known"`
				BytesLost     int64                          `json:"bytes_lost"`
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Clean || len(got.Damage) == 0 || got.Damage[0].File != seg || got.Damage[0].Offset != off {
		t.Errorf("clean %v, damage %+v; want %s at %d", got.Clean, got.Damage, seg, off)
	}
	if len(got.Segments) < 2 || got.Segments[0].File != seg || !got.Segments[0].Damaged || got.Segments[1].Damaged {
		t.Errorf("segments %+v: want the first, only, damaged", got.Segments)
	}
	// As the text report says: "rewrite: ... 56 bytes lost", "lost: 1
	// records, 2 events, seqs 10..11".
	lg := got.Repair.Log
	if lg.LostEvents != 2 || len(lg.LostSeqs) != 1 || lg.LostSeqs[0].First != 10 || lg.LostSeqs[0].Last != 11 || !lg.LostSeqsKnown || lg.BytesLost != 56 {
		t.Errorf("repair.log %+v; want 2 events, seqs 10..11, known, 56 bytes", lg)
	}
	golden(t, "verify_json_damaged", maskJSON(r.stdout, dir))
}

// A torn tail is a warning in verify --json, with exit status 0.
func TestVerifyJSONTornTail(t *testing.T) {
	dir, seg, off := tornJournal(t)
	r := runBin(t, "", "verify", "--json", dir)
	v, _ := decodeLine(t, r.stdout)
	w, _ := v["warnings"].([]any)
	torn := false
	for _, wn := range w {
		m, _ := wn.(map[string]any)
		torn = torn || m["file"] == seg && m["offset"] == float64(off) && strings.HasPrefix(fmt.Sprint(m["detail"]), fmt.Sprintf("torn tail at offset %d", off))
	}
	if r.code != 0 || v["clean"] != true || !torn || v["repair"] != nil {
		t.Errorf("exit %d, clean %v, warnings %v, repair %v; want 0, true, a torn tail at %d of %s, null", r.code, v["clean"], w, v["repair"], off, seg)
	}
}

// When verify cannot look (a missing directory), --json prints nothing on
// stdout and the error on stderr, as without it.
func TestJSONReadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{{"stats", "--json", missing}, {"verify", "--json", missing}} {
		r := runBin(t, "", args...)
		plain := runBin(t, "", args[0], missing)
		if r.code == 0 || r.code != plain.code || r.stdout != "" || r.stderr != plain.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want as without --json: exit %d, stderr %q", args, r.code, r.stdout, r.stderr, plain.code, plain.stderr)
		}
	}
}
