package runs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// result is what a child prints after its prefix.
type result struct {
	Metrics map[string]float64 `json:"metrics"`
	Error   string             `json:"error,omitempty"`
}

// Print prints a child's result line: prefix, then metrics and err as JSON.
func Print(prefix string, metrics map[string]float64, err error) {
	res := result{Metrics: metrics}
	if err != nil {
		res.Error = err.Error()
	}
	b, _ := json.Marshal(res)
	fmt.Printf("%s%s\n", prefix, b)
}

// Child runs self with args, killing it after timeout, and returns the
// metrics of its result line (the one starting with prefix), and the
// child's error if it reported one (with the metrics it had).
func Child(self string, args []string, prefix string, timeout time.Duration) (map[string]float64, error) {
	return child(self, args, prefix, timeout, false)
}

// ChildKilled is Child for a child that ends as a crash would: it prints
// its result line, then calls KillSelf. A child that exits any other way
// (status 0 included) is an error, so the run that measures what it left
// behind always follows a kill.
func ChildKilled(self string, args []string, prefix string, timeout time.Duration) (map[string]float64, error) {
	return child(self, args, prefix, timeout, true)
}

func child(self string, args []string, prefix string, timeout time.Duration, wantKill bool) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %v: %s", timeout, LastLine(stderr.String()))
	}
	wasKilled := err != nil && killed(err)
	if err != nil && !(wantKill && wasKilled) {
		return nil, fmt.Errorf("%v: %s", err, LastLine(stderr.String()))
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			var res result
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				return nil, err
			}
			if res.Error != "" {
				return res.Metrics, fmt.Errorf("%s", res.Error)
			}
			if wantKill && !wasKilled {
				return res.Metrics, errors.New("the child exited instead of being killed")
			}
			return res.Metrics, nil
		}
	}
	return nil, fmt.Errorf("no result: %s", LastLine(stderr.String()))
}

// KillSelf ends this process at once, as a crash would: SIGKILL on Unix
// (TerminateProcess on Windows), so no deferred call runs and no store is
// closed. If the kill fails it exits with status 1, which ChildKilled
// reports with the reason.
func KillSelf() {
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		err = p.Kill()
	}
	if err == nil {
		// The signal may land a moment after kill(2) returns.
		time.Sleep(time.Minute)
		err = errors.New("still alive a minute after SIGKILL")
	}
	fmt.Fprintln(os.Stderr, "kill self:", err)
	os.Exit(1)
}

// killed reports whether err is the exit of a process KillSelf ended.
func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal() == syscall.SIGKILL
	}
	// Windows has no signals: Process.Kill is TerminateProcess(handle, 1).
	return runtime.GOOS == "windows" && ee.ExitCode() == 1
}

// LastLine is the last non-empty line of s.
func LastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// ErrString is err's text, "" for nil.
func ErrString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// SplitList splits a comma-separated flag value, dropping empty fields.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Median is the median of v (not empty).
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Num formats x in 3-4 significant characters (12.3k, 1.23M).
func Num(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.0fk", x/1e3)
	case a >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// Cell formats one table cell: the median of v (not empty), its min–max
// when there are several values.
func Cell(v []float64) string {
	cell := Num(Median(v))
	if len(v) > 1 {
		cell += fmt.Sprintf(" (%s–%s)", Num(slices.Min(v)), Num(slices.Max(v)))
	}
	return cell
}
