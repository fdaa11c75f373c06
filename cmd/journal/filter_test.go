package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seglog/journal"
)

// seqsOf returns the SEQ column of an inspect table.
func seqsOf(t *testing.T, table string) []string {
	t.Helper()
	var seqs []string
	for i, line := range strings.Split(strings.TrimSpace(table), "\n") {
		if i > 0 && line != "" {
			seqs = append(seqs, strings.Fields(line)[0])
		}
	}
	return seqs
}

// inspect selects by sequence number, time and kind, and lists oldest
// first on request; a bad kind or time is a usage error.
func TestInspectFiltersFromSinceKindAndOldestFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	// The first 6 batches (seqs 0..7), then, later, the rest (8..16).
	writeJournal(t, dir, journal.Options{}, fixedBatches[:6])
	// mid is 150 ms after the first part and before the second: a
	// duration computed from it still falls between them when the binary
	// starts a little later.
	time.Sleep(150 * time.Millisecond)
	mid := time.Now()
	time.Sleep(150 * time.Millisecond)
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range fixedBatches[6:] {
		if err := j.AppendBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	all := flatten(fixedBatches)
	seqs := func(keep func(i int, e journal.Event) bool, oldest bool, limit int) []string {
		var out []string
		for i, e := range all {
			if keep(i, e) {
				out = append(out, strconv.Itoa(i))
			}
		}
		if !oldest {
			for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
				out[a], out[b] = out[b], out[a]
			}
		}
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return out
	}
	isKind := func(ks ...journal.EventKind) func(int, journal.Event) bool {
		return func(_ int, e journal.Event) bool {
			for _, k := range ks {
				if e.Kind == k {
					return true
				}
			}
			return false
		}
	}
	every := func(int, journal.Event) bool { return true }
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--from", "10"}, seqs(func(i int, _ journal.Event) bool { return i >= 10 }, false, 0)},
		{[]string{"--from", "10", "--oldest-first"}, seqs(func(i int, _ journal.Event) bool { return i >= 10 }, true, 0)},
		{[]string{"--oldest-first"}, seqs(every, true, 0)},
		{[]string{"--oldest-first", "--limit", "3"}, seqs(every, true, 3)},
		{[]string{"--kind", "RouteFailed"}, seqs(isKind(journal.RouteFailed), false, 0)},
		{[]string{"--kind", "RouteFailed,RouteRemoved", "--oldest-first"}, seqs(isKind(journal.RouteFailed, journal.RouteRemoved), true, 0)},
		{[]string{"--kind", "RouteStarted", "--kind", "RouteStopped", "--limit", "2"}, seqs(isKind(journal.RouteStarted, journal.RouteStopped), false, 2)},
		{[]string{"--kind", "RouteStarted", "--route", "orders-in"}, seqs(func(_ int, e journal.Event) bool {
			return e.Kind == journal.RouteStarted && e.RouteID == "orders-in"
		}, false, 0)},
		{[]string{"--since", mid.UTC().Format(time.RFC3339Nano)}, seqs(func(i int, _ journal.Event) bool { return i >= 8 }, false, 0)},
		{[]string{"--since", "SINCE_MID", "--kind", "RouteStarted", "--oldest-first"},
			seqs(func(i int, e journal.Event) bool { return i >= 8 && e.Kind == journal.RouteStarted }, true, 0)},
		{[]string{"--since", "1h", "--from", "15", "--oldest-first"}, []string{"15", "16"}},
		{[]string{"--from", "99"}, nil},
	} {
		args := append([]string{"inspect", dir}, tc.args...)
		for i, a := range args {
			if a == "SINCE_MID" { // a duration back to mid, as the binary starts
				args[i] = fmt.Sprintf("%dms", time.Since(mid).Milliseconds())
			}
		}
		r := runBin(t, "", args...)
		if r.code != 0 {
			t.Errorf("%v: exit %d, stderr %s", tc.args, r.code, r.stderr)
			continue
		}
		if got := seqsOf(t, r.stdout); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%v: seqs %v, want %v", tc.args, got, tc.want)
		}
	}
	for _, args := range [][]string{{"--kind", "RouteExploded"}, {"--since", "yesterday"}, {"--since", "-1h"}, {"--from", "-1"}} {
		r := runBin(t, "", append([]string{"inspect", dir}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "usage: journal inspect") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, r.code, r.stderr)
		}
	}
}
