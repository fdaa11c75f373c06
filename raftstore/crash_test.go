package raftstore

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// Crash tests on the real engine: a child process (this test binary,
// re-executed with RAFTSTORE_TEST_HELPER set) writes to a store and is
// killed with SIGKILL at random moments; and a torn tail of the newest
// segment file.

// crashLog is the entry at index i as the crash tests write it: every field
// derived from i, so a reader can check it without a record of the writes.
func crashLog(i uint64) *raft.Log {
	data := bytes.Repeat([]byte(fmt.Sprintf("entry-%d;", i)), int(i*7919%40))
	var ext []byte
	if i%5 == 0 {
		ext = []byte(fmt.Sprintf("ext-%d", i))
	}
	return &raft.Log{Index: i, Term: 1 + i/100, Type: raft.LogType(i % 6), Data: data, Extensions: ext,
		AppendedAt: time.Unix(1_770_000_000, 0).Add(time.Duration(i) * 1234567)}
}

// runStoreHelper is the child process: it opens the store in dir and stores
// batches of 1..64 entries forever, printing what it does, one line each:
//
//	store A B     before StoreLogs of A..B
//	acked B       after it returned nil
//	front X       before DeleteRange(first, X-1) (keeps X and later)
//	fronted X     after it returned nil
//	term T        after SetUint64("CurrentTerm", T) returned nil
func runStoreHelper(dir string, seed uint64) int {
	s, err := Open(dir, Options{SegmentSize: 64 << 10})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	w := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\n", args...)
		w.Flush()
	}
	fail := func(err error) int {
		say("error: %v", err)
		return 1
	}
	next, _ := s.LastIndex()
	next++
	if next == 1 {
		next = 1 + uint64(rng.IntN(1000)) // a store may start anywhere
	}
	for {
		n := uint64(1 + rng.IntN(64))
		logs := make([]*raft.Log, n)
		for i := range logs {
			logs[i] = crashLog(next + uint64(i))
		}
		say("store %d %d", next, next+n-1)
		if err := s.StoreLogs(logs); err != nil {
			return fail(err)
		}
		next += n
		say("acked %d", next-1)
		switch rng.IntN(20) {
		case 0: // log compaction: keep the newest ~300 entries
			first, _ := s.FirstIndex()
			if x := next - 300; next > 300 && x > first {
				say("front %d", x)
				if err := s.DeleteRange(first, x-1); err != nil {
					return fail(err)
				}
				say("fronted %d", x)
			}
		case 1:
			if err := s.SetUint64([]byte("CurrentTerm"), next); err != nil {
				return fail(err)
			}
			say("term %d", next)
		}
	}
}

// helperState is what the parent learned from a helper's output.
type helperState struct {
	storing    [2]uint64 // last "store A B"
	acked      uint64    // last acked index (0: none this round)
	front      uint64    // last "front X" (0: none)
	fronted    uint64    // last "fronted X"
	term       uint64    // last acknowledged term
	lines      int
	errorLines []string
}

func (h *helperState) read(line string) {
	h.lines++
	var a, b uint64
	switch {
	case strings.HasPrefix(line, "store "):
		fmt.Sscanf(line, "store %d %d", &a, &b)
		h.storing = [2]uint64{a, b}
	case strings.HasPrefix(line, "acked "):
		fmt.Sscanf(line, "acked %d", &h.acked)
	case strings.HasPrefix(line, "front "):
		fmt.Sscanf(line, "front %d", &h.front)
	case strings.HasPrefix(line, "fronted "):
		fmt.Sscanf(line, "fronted %d", &h.fronted)
	case strings.HasPrefix(line, "term "):
		fmt.Sscanf(line, "term %d", &h.term)
	default:
		h.errorLines = append(h.errorLines, line)
	}
}

// checkCrashStore opens the store in dir and checks that it holds a
// contiguous log first..last of decodable entries, each the one crashLog
// makes.
func checkCrashStore(t *testing.T, dir string) (s *Store, first, last uint64) {
	t.Helper()
	s = openT(t, dir)
	first, _ = s.FirstIndex()
	last, _ = s.LastIndex()
	if (first == 0) != (last == 0) || first > last {
		t.Fatalf("FirstIndex %d, LastIndex %d", first, last)
	}
	for i := first; first != 0 && i <= last; i++ {
		var got raft.Log
		if err := s.GetLog(i, &got); err != nil {
			t.Fatalf("GetLog(%d) in %d..%d: %v", i, first, last, err)
		}
		if want := crashLog(i); !sameLog(&got, want) {
			t.Fatalf("GetLog(%d) = %+v; want %+v", i, got, *want)
		}
	}
	return s, first, last
}

// Every StoreLogs, DeleteRange and SetUint64 that returned before the
// process was killed is there after a reopen; the one in flight is wholly
// there or not at all; the log is contiguous and every entry decodes.
func TestProcessKilledLosesNothingAcknowledged(t *testing.T) {
	const seed = 20260311
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	var prevLast, prevTerm uint64
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "RAFTSTORE_TEST_HELPER=store", "RAFTSTORE_TEST_DIR="+dir,
			fmt.Sprintf("RAFTSTORE_TEST_SEED=%d", rng.Uint64()))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out := bufio.NewScanner(stdout)
		var h helperState
		// Kill after a random number of lines, then a random pause while
		// the child goes on writing.
		for waitFor := 1 + rng.IntN(200); h.lines < waitFor && out.Scan(); {
			h.read(out.Text())
		}
		time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
		cmd.Process.Kill() // SIGKILL
		for out.Scan() {   // what it printed before it died
			h.read(out.Text())
		}
		cmd.Wait()
		if len(h.errorLines) > 0 {
			t.Fatalf("seed %d round %d: helper: %s", seed, round, strings.Join(h.errorLines, "\n"))
		}

		s, first, last := checkCrashStore(t, dir)
		term, err := s.GetUint64([]byte("CurrentTerm"))
		if err != nil && err != ErrKeyNotFound {
			t.Fatalf("seed %d round %d: GetUint64: %v", seed, round, err)
		}
		s.Close()
		ackedLast := max(prevLast, h.acked)
		// Nothing acknowledged lost; at most the batch in flight added.
		if last < ackedLast {
			t.Fatalf("seed %d round %d: last index %d; %d was acknowledged", seed, round, last, ackedLast)
		}
		if last != ackedLast && !(h.storing[0] == ackedLast+1 && last == h.storing[1]) {
			t.Fatalf("seed %d round %d: last index %d; acknowledged %d, in flight %v (whole batches only)",
				seed, round, last, ackedLast, h.storing)
		}
		// An acknowledged head deletion is done; one in flight is done or
		// not; no more than asked is deleted.
		if h.fronted != 0 && first < h.fronted {
			t.Fatalf("seed %d round %d: first index %d; entries before %d were deleted (acknowledged)", seed, round, first, h.fronted)
		}
		if limit := max(h.front, h.fronted); limit != 0 && first > limit {
			t.Fatalf("seed %d round %d: first index %d; only entries before %d were deleted", seed, round, first, limit)
		}
		if term < max(h.term, prevTerm) {
			t.Fatalf("seed %d round %d: term %d; %d was acknowledged", seed, round, term, max(h.term, prevTerm))
		}
		prevLast, prevTerm = last, term
		t.Logf("round %d: %d lines, log %d..%d, term %d", round, h.lines, first, last, term)
	}
}

// A torn or damaged tail of the newest segment (a write in flight at a
// crash) is cut off at Open: the store reopens with a prefix of what it
// held, contiguous and decodable, and takes new entries right after it.
// The log is written by a child process killed without Close, so the
// newest segment is left as a crash leaves it (unsealed, preallocated).
func TestTornTailReopensToAPrefix(t *testing.T) {
	const last = 3000
	src := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RAFTSTORE_TEST_HELPER=fill", "RAFTSTORE_TEST_DIR="+src,
		fmt.Sprintf("RAFTSTORE_TEST_SEED=%d", last))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe() // the child waits on it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "done" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q", out.Text())
	}
	cmd.Process.Kill()
	cmd.Wait()

	segs, _ := filepath.Glob(filepath.Join(src, "log", "*.seg"))
	if len(segs) < 2 {
		t.Fatalf("want several segments, have %d", len(segs))
	}
	slices.Sort(segs)
	newest := filepath.Base(segs[len(segs)-1])
	// end is the end of the data in b: the rest is preallocated zeros.
	end := func(b []byte) int {
		return bytes.LastIndexFunc(b, func(r rune) bool { return r != 0 }) + 1
	}
	damage := map[string]func(b []byte) []byte{
		"cut 1 byte":        func(b []byte) []byte { return b[:end(b)-1] },
		"cut 9 bytes":       func(b []byte) []byte { return b[:end(b)-9] },
		"cut 700 bytes":     func(b []byte) []byte { return b[:max(end(b)-700, 32)] },
		"zero last 20":      func(b []byte) []byte { clear(b[end(b)-20 : end(b)]); return b },
		"garble last 5":     func(b []byte) []byte { e := end(b); copy(b[e-5:e], "\xde\xad\xbe\xef\x01"); return b },
		"cut to the header": func(b []byte) []byte { return b[:32] },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, src, dir)
			seg := filepath.Join(dir, "log", newest)
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, f(b), 0o644); err != nil {
				t.Fatal(err)
			}
			s, first, got := checkCrashStore(t, dir)
			defer s.Close()
			if first != 1 || got >= last || got == 0 {
				t.Fatalf("after %s: log %d..%d; want a non-empty proper prefix of 1..%d", name, first, got, last)
			}
			if err := s.StoreLogs([]*raft.Log{crashLog(got + 1)}); err != nil {
				t.Fatalf("StoreLogs after the cut: %v", err)
			}
		})
	}
}

// runFillHelper stores entries 1..last in batches of 1..37, prints "done"
// and waits to be killed.
func runFillHelper(dir string, last uint64) int {
	s, err := Open(dir, Options{SegmentSize: 64 << 10})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	for i := uint64(1); i <= last; {
		n := min(1+i%37, last-i+1)
		logs := make([]*raft.Log, n)
		for k := range logs {
			logs[k] = crashLog(i + uint64(k))
		}
		if err := s.StoreLogs(logs); err != nil {
			fmt.Println("error:", err)
			return 1
		}
		i += n
	}
	fmt.Println("done")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
