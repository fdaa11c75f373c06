package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seglog/journal"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
	"github.com/seglog/journal/wal/check"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// bin is the journal binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "journal-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(tmp, "journal")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the journal binary:", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// runBin runs the built binary with stdin and args.
func runBin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func ev(k journal.EventKind, r string) journal.Event { return journal.Event{Kind: k, RouteID: r} }

// fixedBatches is the content of the golden journal.
var fixedBatches = [][]journal.Event{
	{ev(journal.RouteRegistered, "orders-in"), ev(journal.RouteStartRequested, "orders-in")},
	{ev(journal.RouteStarted, "orders-in")},
	{ev(journal.RouteRegistered, "payments-out"), ev(journal.RouteStartRequested, "payments-out")},
	{{Kind: journal.RouteFailed, RouteID: "payments-out", Error: `connect to "broker-2:9092" refused <retry in 5s>`}},
	{ev(journal.RouteStartRequested, "payments-out")},
	{ev(journal.RouteStarted, "payments-out")},
	{ev(journal.RouteRegistered, "audit-bridge"), ev(journal.RouteStartRequested, "audit-bridge"), ev(journal.RouteStarted, "audit-bridge")},
	{ev(journal.RouteSuspended, "orders-in")},
	{ev(journal.RouteResumed, "orders-in")},
	{{Kind: journal.RouteFailed, RouteID: "orders-in", Error: "boom"}},
	{ev(journal.RouteReloaded, "orders-in")},
	{ev(journal.RouteStopped, "audit-bridge"), ev(journal.RouteRemoved, "audit-bridge")},
}

func flatten(bs [][]journal.Event) []journal.Event {
	var out []journal.Event
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// writeJournal writes batches to a new journal in dir and closes it.
func writeJournal(t *testing.T, dir string, opts journal.Options, batches [][]journal.Event) {
	t.Helper()
	j, err := journal.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := j.AppendBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// fixedCommandIDs are the live command IDs of the golden journal, in the
// order added (not sorted).
var fixedCommandIDs = []string{"cmd-0003", "cmd-0001", `quote"and<angle>`, "cmd-0002"}

// writeCommandIDs opens the journal in dir, adds ids and removed, then
// removes removed, and closes it.
func writeCommandIDs(t *testing.T, dir string, ids []string, removed ...string) {
	t.Helper()
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, id := range append(slices.Clone(ids), removed...) {
		if err := j.AppendCommandID(id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range removed {
		if err := j.RemoveCommandID(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

var (
	timeRE   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)
	tsRE     = regexp.MustCompile(`"timestamp_ms":(\d+)`)
	allocRE  = regexp.MustCompile(`[\d.]+ allocated`)
	timeMask = "YYYY-MM-DDTHH:MM:SS.mmmZ" // as wide as a real time
)

// normalize replaces what varies between runs: times, the directory and
// allocated byte counts (filesystem dependent).
func normalize(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "$DIR")
	s = timeRE.ReplaceAllString(s, timeMask)
	s = tsRE.ReplaceAllString(s, `"timestamp_ms":0`)
	return allocRE.ReplaceAllString(s, "N allocated")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got ---\n%s--- want ---\n%s", name, path, got, want)
	}
}

func TestGolden(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	before := time.Now().UnixMilli()
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	writeCommandIDs(t, dir, fixedCommandIDs, "cmd-removed")
	after := time.Now().UnixMilli()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"inspect", []string{"inspect", dir}},
		{"inspect_json", []string{"inspect", dir, "--json"}},
		{"inspect_route_limit", []string{"inspect", "--route", "orders-in", dir, "--limit", "4"}},
		{"inspect_route_limit_json", []string{"inspect", dir, "--route=payments-out", "--limit=2", "--json"}},
		{"inspect_unknown_route", []string{"inspect", dir, "--route", "nope"}},
		{"stats", []string{"stats", dir}},
		{"verify_clean", []string{"verify", dir}},
		{"commands", []string{"commands", dir}},
		{"commands_json", []string{"commands", "--json", dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, "", tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			for _, m := range tsRE.FindAllStringSubmatch(r.stdout, -1) {
				if ms, _ := strconv.ParseInt(m[1], 10, 64); ms < before || ms > after {
					t.Errorf("timestamp %d outside [%d, %d]", ms, before, after)
				}
			}
			for _, m := range timeRE.FindAllString(r.stdout, -1) {
				tm, err := time.Parse(time.RFC3339, m)
				if err != nil || tm.UnixMilli() < before || tm.UnixMilli() > after {
					t.Errorf("time %s (%v) outside [%d, %d]", m, err, before, after)
				}
			}
			golden(t, tc.name, normalize(r.stdout, dir))
		})
	}
}

// The JSON lines have the exact shape of the replaced system's entries.
func TestInspectJSONShape(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	writeJournal(t, dir, journal.Options{}, [][]journal.Event{
		{ev(journal.RouteRegistered, "r1")},
		{{Kind: journal.RouteFailed, RouteID: "r1", Error: "boom"}},
	})
	r := runBin(t, "", "inspect", "--json", dir)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	re0 := regexp.MustCompile(`^\{"seq":0,"timestamp_ms":\d+,"event":\{"RouteRegistered":\{"route_id":"r1"\}\}\}$`)
	re1 := regexp.MustCompile(`^\{"seq":1,"timestamp_ms":\d+,"event":\{"RouteFailed":\{"route_id":"r1","error":"boom"\}\}\}$`)
	if len(lines) != 2 || !re1.MatchString(lines[0]) || !re0.MatchString(lines[1]) {
		t.Errorf("output:\n%s", r.stdout)
	}
}

// Each --json line decodes with journal.Entry.UnmarshalJSON to the entry
// journal.Inspect returns, whatever the route IDs and error texts hold.
func TestInspectJSONLinesDecodeToTheInspectedEntries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	var batches [][]journal.Event
	for _, id := range []string{"r1", "<a>&b", "x\u2028y", "ctl\x01\b\n\t\"\\/", "路由😀"} {
		batches = append(batches, []journal.Event{ev(journal.RouteRegistered, id), {Kind: journal.RouteFailed, RouteID: id, Error: "err " + id}, {Kind: journal.RouteFailed, RouteID: id}})
	}
	writeJournal(t, dir, journal.Options{}, batches)
	want, err := journal.Inspect(dir, journal.InspectFilter{})
	if err != nil {
		t.Fatal(err)
	}
	r := runBin(t, "", "inspect", "--json", dir)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d entries:\n%s", len(lines), len(want), r.stdout)
	}
	for i, l := range lines {
		var got journal.Entry
		if err := got.UnmarshalJSON([]byte(l)); err != nil || got != want[i] {
			t.Fatalf("line %d %s decodes to %+v, %v; want %+v", i, l, got, err, want[i])
		}
	}
}

// damagedJournal writes a journal of several segments, closes it, flips
// one bit in the payload of the sixth record of its first segment and
// returns the segment's path, the record's offset and the events before it.
func damagedJournal(t *testing.T, dir string) (seg string, off int64, prefix []journal.Event) {
	t.Helper()
	var batches [][]journal.Event
	for i := range 150 {
		r := fmt.Sprintf("route-%02d", i%20)
		batches = append(batches, []journal.Event{ev(journal.RouteStartRequested, r), ev(journal.RouteStarted, r)})
	}
	// Unpacked, so that the damaged frame holds one batch.
	writeJournal(t, dir, journal.Options{SegmentSize: wal.MinSegmentSize, NoRepack: true}, batches)
	seg = filepath.Join(dir, "00000000000000000001.seg")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	if _, err := segment.Scan(bytes.NewReader(data), int64(len(data)), seg, func(o int64, _ segment.FrameHeader, _ []byte) error {
		offs = append(offs, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000002.seg")); err != nil {
		t.Fatalf("want several segments: %v", err)
	}
	off = offs[5]
	data[off+segment.FrameHeaderSize+3] ^= 0x04
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return seg, off, flatten(batches[:5])
}

func TestVerifyDamaged(t *testing.T) {
	dir := t.TempDir()
	seg, off, _ := damagedJournal(t, dir)
	r := runBin(t, "", "verify", dir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%s", r.code, r.stdout)
	}
	for _, want := range []string{
		fmt.Sprintf("DAMAGED  %s at offset %d: ", seg, off),
		// What repair would do and cost, as repair itself prints it.
		"rewrite:  " + seg + " keeping 71 records that verify, 56 bytes lost",
		"lost:     1 records, 2 events, seqs 10..11",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestVerifyTornTail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	seg := filepath.Join(dir, "00000000000000000001.seg")
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Write([]byte{1, 2, 3, 4, 5, 6, 7})
	f.Close()
	r := runBin(t, "", "verify", dir)
	want := fmt.Sprintf("torn tail at offset %d, will be cut on next Open", fi.Size())
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("exit %d, want 0 and %q in:\n%s", r.code, want, r.stdout)
	}
}

// dirState captures every file's content in dir.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func TestRepairDeclined(t *testing.T) {
	dir := t.TempDir()
	damagedJournal(t, dir)
	before := dirState(t, dir)
	r := runBin(t, "n\n", "repair", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "nothing changed") {
		t.Errorf("exit %d, stderr %q; want 1, nothing changed", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "[y/N]") || !strings.Contains(r.stdout, "lost:") {
		t.Errorf("no plan or prompt:\n%s", r.stdout)
	}
	if after := dirState(t, dir); !mapsEqual(before, after) {
		t.Errorf("declined repair changed the directory")
	}
	// No answer at all (EOF) declines too.
	if r := runBin(t, "", "repair", dir); r.code != 1 {
		t.Errorf("EOF on stdin: exit %d", r.code)
	}
	if after := dirState(t, dir); !mapsEqual(before, after) {
		t.Errorf("repair with EOF on stdin changed the directory")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRepairCutYes: repair --cut cuts at the first damaged record and
// removes what follows, saying what it loses, and the journal continues
// after the lost sequence numbers.
func TestRepairCutYes(t *testing.T) {
	dir := t.TempDir()
	seg, off, prefix := damagedJournal(t, dir)
	orig, _ := os.ReadFile(seg)
	r := runBin(t, "", "repair", dir, "--yes", "--cut")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("damage:   %s at offset %d", seg, off),
		"kept:     5 records, 10 events (seqs up to 9)",
		"lost:     145 records, 290 events, seqs 10..299",
		"continue: new appends start at seq 300",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	got, err := j.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, prefix) {
		t.Errorf("after repair LoadAll = %v\nwant %v", got, prefix)
	}
	if err := j.AppendBatch([]journal.Event{ev(journal.RouteRegistered, "new")}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	ents, _ := journal.Inspect(dir, journal.InspectFilter{Limit: 1})
	if len(ents) != 1 || ents[0].Seq != 300 {
		t.Errorf("new append got %+v, want seq 300 (lost seqs not reused)", ents)
	}
	sides, _ := filepath.Glob(filepath.Join(dir, "repair-*.cut"))
	if len(sides) != 1 {
		t.Fatalf("side files %v", sides)
	}
	pieces, err := check.ReadSideFile(sides[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if pieces[0].Name != filepath.Base(seg) || pieces[0].Offset != off || !bytes.Equal(pieces[0].Data, orig[off:]) {
		t.Errorf("first piece %s at %d (%d bytes), want the %d bytes of %s from %d",
			pieces[0].Name, pieces[0].Offset, len(pieces[0].Data), len(orig)-int(off), seg, off)
	}
	if v := runBin(t, "", "verify", dir); v.code != 0 {
		t.Errorf("verify after repair: exit %d\n%s", v.code, v.stdout)
	}
	if r := runBin(t, "", "repair", dir); r.code != 0 || !strings.Contains(r.stdout, "nothing to repair") {
		t.Errorf("second repair: exit %d\n%s", r.code, r.stdout)
	}
}

// TestRepairYes: repair (without --cut) loses only the damaged record: it
// says which sequence numbers, every other event survives, and the journal
// continues after its last sequence number.
func TestRepairYes(t *testing.T) {
	dir := t.TempDir()
	seg, _, _ := damagedJournal(t, dir)
	r := runBin(t, "", "repair", dir, "--yes")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"rewrite:  " + seg + " keeping 71 records that verify, 56 bytes lost",
		"kept:     149 records, 298 events (seqs up to 299)",
		"lost:     1 records, 2 events, seqs 10..11",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	got, err := j.LoadAll()
	if err != nil || len(got) != 298 {
		t.Fatalf("after repair LoadAll gives %d events (%v), want 298", len(got), err)
	}
	if err := j.AppendBatch([]journal.Event{ev(journal.RouteRegistered, "new")}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	ents, _ := journal.Inspect(dir, journal.InspectFilter{Limit: 1})
	if len(ents) != 1 || ents[0].Seq != 300 {
		t.Errorf("new append got %+v, want seq 300", ents)
	}
	if v := runBin(t, "", "verify", dir); v.code != 0 || !strings.Contains(v.stdout, "hole     seqs 10..11: removed by a repair") {
		t.Errorf("verify after repair: exit %d, want 0 and the hole reported\n%s", v.code, v.stdout)
	}
}

// Read commands take no lock; repair refuses a journal open elsewhere.
func TestOpenElsewhere(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, b := range fixedBatches {
		if err := j.AppendBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"inspect", dir}, {"stats", dir}, {"verify", dir}, {"commands", dir}} {
		if r := runBin(t, "", args...); r.code != 0 {
			t.Errorf("%v on an open journal: exit %d, stderr %s", args, r.code, r.stderr)
		}
	}
	r := runBin(t, "", "inspect", dir, "--limit", "1")
	if !strings.Contains(r.stdout, "RouteRemoved") {
		t.Errorf("inspect of an open journal misses the newest entry:\n%s", r.stdout)
	}
	before := dirState(t, dir)
	for _, args := range [][]string{{"repair", "--yes", dir}, {"compact", dir}} {
		r = runBin(t, "", args...)
		if r.code != 3 || !strings.Contains(r.stderr, "open in another process") || r.stdout != "" {
			t.Errorf("%v of an open journal: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if after := dirState(t, dir); !mapsEqual(before, after) {
		t.Errorf("repair or compact of an open journal changed the directory")
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"inspect"},
		{"stats"},
		{"verify"},
		{"repair"},
		{"compact"},
		{"commands"},
		{"compact", dir, "extra"},
		{"compact", dir, "--yes"},
		{"commands", dir, "--json=maybe"},
		{"inspect", dir, "--bogus"},
		{"inspect", dir, "--limit", "x"},
		{"inspect", dir, "--limit", "-1"},
		{"stats", dir, "extra"},
		{"repair", dir, "--yes=maybe"},
		{"help", "frobnicate"},
	} {
		r := runBin(t, "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "usage: journal") || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and usage on stderr", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	r := runBin(t, "", "--help")
	if r.code != 0 {
		t.Errorf("--help: exit %d", r.code)
	}
	for _, name := range []string{"inspect", "stats", "verify", "repair", "demo", "compact", "commands"} {
		if !strings.Contains(r.stdout, "  "+name+" ") {
			t.Errorf("--help does not list %s:\n%s", name, r.stdout)
		}
		c := runBin(t, "", name, "--help")
		if c.code != 0 || !strings.Contains(c.stdout, "usage: journal "+name) {
			t.Errorf("%s --help: exit %d, stdout %q", name, c.code, c.stdout)
		}
	}
}

func TestReadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	empty := t.TempDir()
	for _, args := range [][]string{
		{"inspect", missing}, {"stats", missing}, {"verify", missing}, {"repair", missing},
		{"compact", missing}, {"commands", missing},
		{"inspect", empty}, {"stats", empty}, {"verify", empty}, {"compact", empty}, {"commands", empty},
	} {
		r := runBin(t, "", args...)
		if r.code != 3 || r.stderr == "" || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 3 and an error", args, r.code, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a command created %s", missing)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("a command wrote to the empty directory: %v", ents)
	}
}

func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	start := time.Now()
	r := runBin(t, "", "demo", dir)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("demo took %v", d)
	}
	if r.stderr != "" {
		t.Errorf("stderr not a terminal, yet: %q", r.stderr)
	}
	for _, want := range []string{"journal directory: " + dir, "SEQ  TIME", "RouteFailed", "segments", "next seq", "bytes per event"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "Z  Route"); n != 25 {
		t.Errorf("%d entries shown, want 25", n)
	}
	if v := runBin(t, "", "verify", dir); v.code != 0 {
		t.Errorf("verify of the demo journal: exit %d\n%s", v.code, v.stdout)
	}
	// Without DIR it makes one under the temporary directory.
	r = runBin(t, "", "demo", "--keep")
	m := regexp.MustCompile(`journal directory: (\S+)`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("demo without DIR: exit %d\n%s", r.code, r.stdout)
	}
	defer os.RemoveAll(m[1])
	if !strings.HasPrefix(m[1], os.TempDir()) {
		t.Errorf("demo directory %s not under %s", m[1], os.TempDir())
	}
}

// removalBatches registers and starts routes route-00..route-29, stops and
// removes the even ones, then restarts route-00 (a new life after its
// removal). It returns the batches and the events that survive compaction.
func removalBatches() (batches [][]journal.Event, live []journal.Event) {
	for i := range 30 {
		r := fmt.Sprintf("route-%02d", i)
		batches = append(batches,
			[]journal.Event{ev(journal.RouteRegistered, r), ev(journal.RouteStartRequested, r)},
			[]journal.Event{ev(journal.RouteStarted, r)})
	}
	for i := 0; i < 30; i += 2 {
		r := fmt.Sprintf("route-%02d", i)
		batches = append(batches, []journal.Event{ev(journal.RouteStopped, r), ev(journal.RouteRemoved, r)})
	}
	batches = append(batches, []journal.Event{ev(journal.RouteRegistered, "route-00")})
	for _, e := range flatten(batches) {
		var n int
		fmt.Sscanf(e.RouteID, "route-%d", &n)
		if n%2 == 1 {
			live = append(live, e)
		}
	}
	live = append(live, ev(journal.RouteRegistered, "route-00"))
	return batches, live
}

// Compact removes the removed routes' events, keeps the others, and
// reports the events and bytes before and after; stats follows.
func TestCompact(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	batches, live := removalBatches()
	all := flatten(batches)
	writeJournal(t, dir, journal.Options{}, batches)

	r := runBin(t, "", "stats", dir)
	wantPending := fmt.Sprintf("compaction       %d live events, %d removable (%d pending, 0 removed but still on disk)",
		len(all), len(all)-len(live), len(all)-len(live))
	if r.code != 0 || !strings.Contains(r.stdout, wantPending) {
		t.Errorf("stats before compact: exit %d, want %q in:\n%s", r.code, wantPending, r.stdout)
	}

	start := time.Now()
	r = runBin(t, "", "compact", dir)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("compact: exit %d, stderr %q", r.code, r.stderr)
	}
	want := fmt.Sprintf("events:    %d before, %d after (%d removed)\n", len(all), len(live), len(all)-len(live))
	if !strings.Contains(r.stdout, want) {
		t.Errorf("compact output lacks %q:\n%s", want, r.stdout)
	}
	m := regexp.MustCompile(`bytes:     (\d+) before, (\d+) after`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("compact output lacks the bytes:\n%s", r.stdout)
	}
	if b, _ := strconv.Atoi(m[1]); b <= 0 {
		t.Errorf("bytes before %s", m[1])
	}
	if b, _ := strconv.Atoi(m[1]); func() bool { a, _ := strconv.Atoi(m[2]); return a >= b }() {
		t.Errorf("bytes did not shrink: %s before, %s after", m[1], m[2])
	}
	golden(t, "compact", maskSizes(normalize(r.stdout, dir)))

	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := j.LoadAll()
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, live) {
		t.Errorf("after compact LoadAll = %v\nwant %v", got, live)
	}

	r = runBin(t, "", "stats", dir)
	if r.code != 0 {
		t.Fatalf("stats after compact: exit %d, stderr %s", r.code, r.stderr)
	}
	wantLive := fmt.Sprintf("compaction       %d live events, 0 removable (0 pending, 0 removed but still on disk)", len(live))
	if !strings.Contains(r.stdout, wantLive) || !strings.Contains(r.stdout, fmt.Sprintf("entries          %d live", len(live))) {
		t.Errorf("stats after compact lacks %q or the live entry count:\n%s", wantLive, r.stdout)
	}
	cm := regexp.MustCompile(`last checkpoint  (\S+)`).FindStringSubmatch(r.stdout)
	if cm == nil {
		t.Fatalf("no last checkpoint row:\n%s", r.stdout)
	}
	tm, err := time.Parse(time.RFC3339, cm[1])
	if err != nil || tm.Before(start.Add(-time.Second)) || tm.After(time.Now().Add(time.Second)) {
		t.Errorf("last checkpoint %s (%v), want about now", cm[1], err)
	}
	if v := runBin(t, "", "verify", dir); v.code != 0 {
		t.Errorf("verify after compact: exit %d\n%s", v.code, v.stdout)
	}
	golden(t, "stats_after_compact", maskSizes(normalize(r.stdout, dir)))
}

// sizeREs match the sizes of files a repack or compaction wrote: packed
// frames store each event's time as a delta from the previous one's, so
// their size depends on the clock while the test ran.
var sizeREs = []struct {
	re   *regexp.Regexp
	mask string
}{
	{regexp.MustCompile(`(bytes: +)\d+ before, \d+ after \(\d+ reclaimed`), "${1}N before, N after (N reclaimed"},
	{regexp.MustCompile(`(segments +\d+ \()\d+( bytes\))`), "${1}N${2}"},
	{regexp.MustCompile(`(allocated, )\d+(?:\.\d+)?( apparent)`), "${1}N${2}"},
}

// maskSizes replaces the sizes of compacted files with N.
func maskSizes(s string) string {
	for _, m := range sizeREs {
		s = m.re.ReplaceAllString(s, m.mask)
	}
	return s
}

// commands lists the live IDs, sorted, read without the lock while the
// journal is open in this (another) process, across a snapshot rewrite of
// the key set and with operations after it in the delta.
func TestCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	if r := runBin(t, "", "commands", filepath.Join(t.TempDir(), "missing")); r.code != 3 {
		t.Errorf("commands of a missing directory: exit %d", r.code)
	}
	j, err := journal.Open(dir, journal.Options{Durability: journal.Eventual})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	list := func() []string {
		t.Helper()
		r := runBin(t, "", "commands", dir)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("commands: exit %d, stderr %q", r.code, r.stderr)
		}
		return strings.Fields(r.stdout)
	}
	if got := list(); len(got) != 0 {
		t.Errorf("no IDs yet, listed %q", got)
	}
	if r := runBin(t, "", "commands", "--json", dir); r.stdout != "[]\n" {
		t.Errorf("--json with no IDs: %q", r.stdout)
	}
	if r := runBin(t, "", "stats", dir); !strings.Contains(r.stdout, "command ids      0 live") {
		t.Errorf("stats with no IDs:\n%s", r.stdout)
	}
	want := map[string]bool{}
	add := func(id string) {
		if err := j.AppendCommandID(id); err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	remove := func(id string) {
		if err := j.RemoveCommandID(id); err != nil {
			t.Fatal(err)
		}
		delete(want, id)
	}
	check := func(what string) {
		t.Helper()
		var ids []string
		for id := range want {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if got := list(); !slices.Equal(got, ids) {
			t.Errorf("%s: listed %d IDs, want %d: %q", what, len(got), len(ids), got)
		}
		r := runBin(t, "", "stats", dir)
		if row := fmt.Sprintf("command ids      %d live", len(ids)); !strings.Contains(r.stdout, row) {
			t.Errorf("%s: stats lacks %q:\n%s", what, row, r.stdout)
		}
	}
	add("b")
	add("a")
	add("c")
	remove("b")
	remove("never-added")
	check("in the delta")
	// More than 1024 operations make the key set rewrite its snapshot.
	for i := range 700 {
		add(fmt.Sprintf("id-%04d", i))
	}
	for i := range 600 {
		remove(fmt.Sprintf("id-%04d", i))
	}
	if _, err := os.Stat(filepath.Join(dir, "commands.snap")); err != nil {
		t.Fatalf("no snapshot after 1300 operations: %v", err)
	}
	add("z")
	remove("a")
	check("snapshot plus delta")
	r := runBin(t, "", "commands", dir, "--json")
	var got []string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != len(want) || !slices.IsSorted(got) {
		t.Errorf("--json: %v, %d IDs (want %d, sorted)", err, len(got), len(want))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	check("after Close")
}

// A torn operation at the end of the delta (a crash mid-write) is left
// out, as Open would cut it; the file is not modified.
func TestCommandsTornDelta(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	writeCommandIDs(t, dir, []string{"x", "y"})
	delta := filepath.Join(dir, "commands.delta")
	f, err := os.OpenFile(delta, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{9, 9, 9, 9, 9, 9, 9, 9, 9})
	f.Close()
	orig, _ := os.ReadFile(delta)
	r := runBin(t, "", "commands", dir)
	if r.code != 0 || r.stdout != "x\ny\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want x, y", r.code, r.stdout, r.stderr)
	}
	if now, _ := os.ReadFile(delta); !bytes.Equal(now, orig) {
		t.Errorf("commands modified the delta")
	}
	// A damaged snapshot is an error, in commands and in stats.
	if err := os.WriteFile(filepath.Join(dir, "commands.snap"), []byte("not a snapshot, clearly not at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, "", "commands", dir); r.code != 1 || !strings.Contains(r.stderr, "commands.snap") {
		t.Errorf("damaged snapshot: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runBin(t, "", "stats", dir); r.code != 1 || !strings.Contains(r.stdout, "command ids      unreadable") {
		t.Errorf("stats with a damaged snapshot: exit %d, stdout:\n%s", r.code, r.stdout)
	}
}

// commands reads consistently while another writer adds and removes IDs
// and the key set rewrites its snapshot again and again.
func TestCommandsWhileWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := journal.Open(dir, journal.Options{Durability: journal.Eventual})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	stable := []string{"stable-1", "stable-2", "stable-3"}
	for _, id := range stable {
		if err := j.AppendCommandID(id); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			if i > 5000 { // enough for several snapshot rewrites
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
			}
			id := fmt.Sprintf("churn-%d", i%50)
			var err error
			if i%100 < 50 {
				err = j.AppendCommandID(id)
			} else {
				err = j.RemoveCommandID(id)
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	for range 15 {
		r := runBin(t, "", "commands", dir)
		if r.code != 0 {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
			continue
		}
		got := strings.Fields(r.stdout)
		for _, id := range stable {
			if !slices.Contains(got, id) {
				t.Errorf("%s missing from %q", id, got)
			}
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "commands.snap")); err != nil {
		t.Errorf("no snapshot rewrite happened: %v", err)
	}
	if r := runBin(t, "", "stats", dir); r.code != 0 {
		t.Errorf("stats: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestVerifyReportsDamagedCommandIDs: a command-ID delta damaged in a
// record that later records show was synced makes Open refuse the journal,
// and verify says so (exit 1, the file named) instead of calling it clean.
func TestVerifyReportsDamagedCommandIDs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	writeCommandIDs(t, dir, fixedCommandIDs, "gone-1", "gone-2")
	delta := filepath.Join(dir, "commands.delta")
	b, err := os.ReadFile(delta)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x08
	if err := os.WriteFile(delta, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, "", "verify", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "DAMAGED  "+delta) {
		t.Fatalf("exit %d, want 1 and %s reported damaged in:\n%s%s", r.code, delta, r.stdout, r.stderr)
	}
	// repair salvages every record that verifies, and the journal opens.
	r = runBin(t, "", "repair", dir, "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "repaired the command IDs") {
		t.Fatalf("repair: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBin(t, "", "verify", dir); r.code != 0 {
		t.Fatalf("verify after repair: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatalf("Open after repair: %v", err)
	}
	defer j.Close()
	ids, err := j.LoadCommandIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !slices.Contains(fixedCommandIDs, id) {
			t.Fatalf("command ID %q after repair was never live", id)
		}
	}
	if len(ids) == 0 {
		t.Fatal("repair kept no command ID")
	}
}

// verify warns of a journal directory or file more open than --file-mode
// (exit 0), and takes --file-mode to know what the deployment chose.
func TestVerifyWarnsOfOpenModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows permission bits do not describe who may read a file")
	}
	dir := filepath.Join(t.TempDir(), "j")
	writeJournal(t, dir, journal.Options{}, fixedBatches)
	seg := filepath.Join(dir, "00000000000000000001.seg")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(seg, 0o644); err != nil {
		t.Fatal(err)
	}
	dirWarning := "warning  " + dir + ": mode drwxr-xr-x is more open than "
	segWarning := "warning  " + seg + ": mode -rw-r--r-- is more open than "
	for _, tc := range []struct {
		name  string
		flags []string
		code  int
		want  []string
		not   []string
	}{
		{"default", nil, 0, []string{dirWarning + "drwx------", segWarning + "-rw-------", "clean: "}, nil},
		{"group readable", []string{"--file-mode", "0640"}, 0, []string{dirWarning + "drwxr-x---", segWarning + "-rw-r-----"}, nil},
		{"as open", []string{"--file-mode", "644"}, 0, []string{"clean: "}, []string{"warning"}},
		{"not a mode", []string{"--file-mode", "rw"}, 2, nil, nil},
		{"owner cannot write", []string{"--file-mode", "0440"}, 2, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, "", append([]string{"verify", dir}, tc.flags...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(r.stdout, w) {
					t.Errorf("stdout has %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// repair writes its side file and rewritten files with --file-mode, owner
// only unless told.
func TestRepairFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows permission bits do not describe who may read a file")
	}
	for _, tc := range []struct {
		name  string
		flags []string
		max   os.FileMode
	}{
		{"default", nil, 0o600},
		{"group readable", []string{"--file-mode", "0640"}, 0o640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			seg, _, _ := damagedJournal(t, dir)
			r := runBin(t, "", append([]string{"repair", dir, "--yes"}, tc.flags...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			sides, _ := filepath.Glob(filepath.Join(dir, "repair-*.cut"))
			if len(sides) != 1 {
				t.Fatalf("side files %q, want one", sides)
			}
			for _, p := range []string{sides[0], seg} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm()&^tc.max != 0 {
					t.Errorf("%s: %v, more open than %v", p, fi.Mode().Perm(), tc.max)
				}
			}
		})
	}
}
