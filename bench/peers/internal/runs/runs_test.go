package runs

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const (
	envMode    = "RUNS_TEST_CHILD"
	testPrefix = "RUNS-TEST-RESULT "
)

// The test binary re-executed with envMode set is the child: it ends the
// way the mode names.
func TestMain(m *testing.M) {
	switch os.Getenv(envMode) {
	case "":
		os.Exit(m.Run())
	case "print-exit":
		Print(testPrefix, map[string]float64{"x": 1}, nil)
	case "print-kill":
		Print(testPrefix, map[string]float64{"x": 1}, nil)
		KillSelf()
	case "kill":
		KillSelf()
	case "error-exit":
		Print(testPrefix, map[string]float64{"x": 1}, errors.New("fill failed"))
	}
	os.Exit(0)
}

// TestChildKilledOnlyAcceptsAKillAfterTheResult: ChildKilled takes a
// child's metrics only when it printed them and then died of KillSelf;
// Child, the other way round, refuses a killed child.
func TestChildKilledOnlyAcceptsAKillAfterTheResult(t *testing.T) {
	for _, tc := range []struct {
		mode             string
		killedErr        string // ChildKilled's error, "" for none
		childErr         string // Child's error, "" for none
		killedHasMetrics bool
	}{
		{"print-kill", "", "killed", true},
		{"print-exit", "exited instead of being killed", "", true},
		{"kill", "no result", "killed", false},
		{"error-exit", "fill failed", "fill failed", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Setenv(envMode, tc.mode)
			for _, c := range []struct {
				name    string
				run     func(string, []string, string, time.Duration) (map[string]float64, error)
				wantErr string
			}{
				{"ChildKilled", ChildKilled, tc.killedErr},
				{"Child", Child, tc.childErr},
			} {
				m, err := c.run(os.Args[0], []string{"-test.run=^$"}, testPrefix, time.Minute)
				switch {
				case c.wantErr == "" && err != nil:
					t.Errorf("%s: %v, want no error", c.name, err)
				case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
					t.Errorf("%s: error %v, want one containing %q", c.name, err, c.wantErr)
				}
				if c.name == "ChildKilled" && (m["x"] == 1) != tc.killedHasMetrics {
					t.Errorf("%s: metrics %v, want them: %v", c.name, m, tc.killedHasMetrics)
				}
			}
		})
	}
}
