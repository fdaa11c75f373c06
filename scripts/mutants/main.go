package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const modulePath = "github.com/seglog/journal"

// testFrame matches a stack frame of a test function.
var testFrame = regexp.MustCompile(`\.(Test[A-Za-z0-9_]*)(\.func[0-9.]+)?\(`)

var (
	flagRun      = flag.String("run", "", "run only the mutants whose name matches this regular expression")
	flagJobs     = flag.Int("j", 1, "mutants run in parallel, each in its own work directory")
	flagList     = flag.Bool("list", false, "list the mutants (checking that each still applies) without running them")
	flagKillers  = flag.Bool("killers", false, "run every test without -failfast and list every failing top-level test per mutant")
	flagTimeout  = flag.Duration("timeout", 4*time.Minute, "per-mutant test time limit; a mutant that hits it counts as killed (timeout)")
	flagWork     = flag.String("workdir", filepath.Join(os.TempDir(), "journal-mutants"), "directory of the reusable work copies")
	flagP        = flag.Int("p", 2, "test binaries run at once per mutant")
	flagBaseline = flag.Bool("baseline", true, "first run the tests unmutated; any failure there stops the run")
	flagVerbose  = flag.Bool("v", false, "print the tail of the test output of each failing package")
)

// status of a mutant.
type status string

const (
	killed   status = "KILLED"
	survived status = "SURVIVED"
	stale    status = "STALE"
	invalid  status = "INVALID"
	skipped  status = "SKIPPED" // interrupted
)

type outcome struct {
	m       Mutant
	status  status
	secs    float64
	detail  string   // first killer, or why stale/invalid
	killers []string // -killers: every failing top-level test and package failure
}

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./scripts/mutants [-list] [-run REGEXP] [-j N] [-killers] [-timeout D]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *flagJobs < 1 || *flagP < 1 {
		flag.Usage()
		os.Exit(2)
	}
	root, err := repoRoot()
	if err != nil {
		fatalf("%v", err)
	}
	sel, err := selectMutants(*flagRun)
	if err != nil {
		fatalf("%v", err)
	}
	if *flagList {
		os.Exit(list(root, sel))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	mode := "default (-failfast, stop at the first failure)"
	if *flagKillers {
		mode = "killers (every test runs)"
	}
	fmt.Printf("mutants: %d selected of %d, mode %s, -j %d, -p %d, timeout %v\n", len(sel), len(mutants), mode, *flagJobs, *flagP, *flagTimeout)

	files, err := repoFiles(root)
	if err != nil {
		fatalf("%v", err)
	}
	if err := os.MkdirAll(*flagWork, 0o755); err != nil {
		fatalf("%v", err)
	}
	if err := lockWorkdir(*flagWork); err != nil {
		fatalf("%v", err)
	}
	workers := min(*flagJobs, len(sel))
	dirs := make([]string, max(workers, 1))
	for i := range dirs {
		dirs[i] = filepath.Join(*flagWork, fmt.Sprintf("w%d", i))
		n, err := syncCopy(root, dirs[i], files)
		if err != nil {
			fatalf("copy to %s: %v", dirs[i], err)
		}
		fmt.Printf("work copy %s: %d files, %d refreshed\n", dirs[i], len(files), n)
	}
	pkgs, err := testPackages(dirs[0])
	if err != nil {
		fatalf("%v", err)
	}

	if *flagBaseline {
		if err := baseline(ctx, dirs[0], pkgs, sel); err != nil {
			fatalf("baseline: %v", err)
		}
	}

	var (
		mu   sync.Mutex
		outs = make([]*outcome, len(sel))
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(sel) {
					return
				}
				o := runMutant(ctx, dirs[w], sel[i], pkgs)
				mu.Lock()
				outs[i] = o
				printOutcome(o)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(summary(outs, start))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mutants: "+format+"\n", args...)
	os.Exit(2)
}

// repoRoot is the top of the git checkout holding the current directory,
// which must be this module's root.
func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("git rev-parse --show-toplevel: %v (run inside the repository)", err)
	}
	root := strings.TrimSpace(string(out))
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.Contains(gomod, []byte("module "+modulePath+"\n")) {
		return "", fmt.Errorf("%s is not the root of module %s", root, modulePath)
	}
	return root, nil
}

func selectMutants(expr string) ([]Mutant, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("-run: %v", err)
	}
	seen := map[string]bool{}
	var sel []Mutant
	for _, m := range mutants {
		if seen[m.Name] {
			return nil, fmt.Errorf("mutant %s listed twice", m.Name)
		}
		seen[m.Name] = true
		if _, ok := observers[path.Dir(m.File)]; !ok && m.Pkgs == nil {
			return nil, fmt.Errorf("mutant %s: no test packages known for directory %s", m.Name, path.Dir(m.File))
		}
		if re.MatchString(m.Name) {
			sel = append(sel, m)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("no mutant matches -run %q", expr)
	}
	return sel, nil
}

func (m Mutant) pkgs() []string {
	if m.Pkgs != nil {
		return m.Pkgs
	}
	return observers[path.Dir(m.File)]
}

// list prints the mutants, checking each against the repository's own
// files, and returns the exit code: 3 if any is stale.
func list(root string, sel []Mutant) int {
	code := 0
	for i, m := range sel {
		st := "ok"
		if src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File))); err != nil {
			st, code = "STALE: "+err.Error(), 3
		} else if _, err := apply(src, m.Edits); err != nil {
			st, code = "STALE: "+err.Error(), 3
		}
		fmt.Printf("%2d %-34s %-11s %-22s %s\n   %s\n   tests: %s\n", i+1, m.Name, m.Class, m.File, st, m.Desc, strings.Join(m.pkgs(), " "))
	}
	return code
}

// apply returns src with the edits made; every Old must occur exactly once.
func apply(src []byte, edits []Edit) ([]byte, error) {
	out := src
	for i, e := range edits {
		if e.Old == "" {
			return nil, fmt.Errorf("edit %d: empty Old", i+1)
		}
		if n := bytes.Count(out, []byte(e.Old)); n != 1 {
			return nil, fmt.Errorf("edit %d: Old occurs %d times, want exactly 1: %q", i+1, n, firstLine(e.Old))
		}
		out = bytes.Replace(out, []byte(e.Old), []byte(e.New), 1)
	}
	return out, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// repoFiles lists the files to copy: tracked ones plus untracked ones git
// does not ignore (new tests not yet committed count), as slash paths.
func repoFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %v", err)
	}
	seen := map[string]bool{}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, a submodule or a link
		}
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// syncCopy makes dst hold exactly files of src, rewriting only files whose
// content differs (so the build cache stays warm), and returns how many it
// wrote or removed.
func syncCopy(src, dst string, files []string) (int, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return 0, err
	}
	want := make(map[string]bool, len(files))
	n := 0
	for _, f := range files {
		want[f] = true
		from, to := filepath.Join(src, filepath.FromSlash(f)), filepath.Join(dst, filepath.FromSlash(f))
		data, err := os.ReadFile(from)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			return n, err
		}
		if old, err := os.ReadFile(to); err == nil && bytes.Equal(old, data) {
			continue
		}
		fi, err := os.Stat(from)
		if err != nil {
			return n, err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return n, err
		}
		os.Remove(to) // a read-only file from an earlier copy
		if err := os.WriteFile(to, data, fi.Mode().Perm()|0o200); err != nil {
			return n, err
		}
		n++
	}
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dst, p)
		if err != nil {
			return err
		}
		if !want[filepath.ToSlash(rel)] {
			n++
			return os.Remove(p)
		}
		return nil
	})
	return n, err
}

// pkgInfo is a test package of the module.
type pkgInfo struct {
	rel   string // "./wal", "."
	base  string // last element of the import path: the test binary's name
	tests bool   // has test files
}

// testPackages lists the packages of the module in dir.
func testPackages(dir string) (map[string]pkgInfo, error) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{len .TestGoFiles}} {{len .XTestGoFiles}}", "./...")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v", err)
	}
	pkgs := map[string]pkgInfo{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ip string
		var t, x int
		if _, err := fmt.Sscan(line, &ip, &t, &x); err != nil {
			return nil, fmt.Errorf("go list: bad line %q", line)
		}
		rel := "."
		if ip != modulePath {
			rel = "./" + strings.TrimPrefix(ip, modulePath+"/")
		}
		pkgs[rel] = pkgInfo{rel: rel, base: path.Base(ip), tests: t+x > 0}
	}
	return pkgs, nil
}

// testPkgs filters want to the packages that exist and have tests.
func testPkgs(want []string, pkgs map[string]pkgInfo) []string {
	var out []string
	for _, p := range want {
		if pi, ok := pkgs[p]; ok && pi.tests {
			out = append(out, p)
		}
	}
	return out
}

func binDir(dir string) string { return dir + ".bin" }

// binName is the test binary of package rel, as go test -c -o DIR/ names it.
func binName(dir string, pi pkgInfo) string {
	return filepath.Join(binDir(dir), groupTag(pi.rel), pi.base+".test")
}

// groupTag spreads packages whose binaries share a name (the root package
// and cmd/journal are both "journal") over separate output directories.
func groupTag(rel string) string {
	if strings.HasPrefix(rel, "./cmd/") {
		return "cmd"
	}
	return "main"
}

// compile builds the test binaries of pkgs in dir (one go test -c per
// output directory). The error carries the compiler's output.
func compile(ctx context.Context, dir string, pkgs []string, info map[string]pkgInfo) error {
	groups := map[string][]string{}
	var order []string
	for _, p := range pkgs {
		g := groupTag(p)
		if groups[g] == nil {
			order = append(order, g)
		}
		groups[g] = append(groups[g], p)
	}
	for _, g := range order {
		out := filepath.Join(binDir(dir), g)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		for _, p := range groups[g] {
			os.Remove(binName(dir, info[p])) // no stale binary if the build fails
		}
		args := append([]string{"test", "-c", "-vet=off", "-o", out + string(filepath.Separator)}, groups[g]...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go test -c %s: %v\n%s", strings.Join(groups[g], " "), err, msg)
		}
	}
	return nil
}

// pkgResult is the outcome of one test binary.
type pkgResult struct {
	pkg          string
	failed       []string // top-level tests that failed
	panicked     bool
	fatal        bool // runtime fatal error (deadlock, concurrent map write...)
	timeout      bool // the binary's -test.timeout fired
	timeoutTests []string
	crashTest    string // the test on the stack of a panic or fatal error
	exit         int    // exit code, -1 if killed by a signal
	stopped      bool   // killed by the runner
	ran          bool
	tail         []string
}

// killed reports whether this package's tests caught the mutant.
func (r *pkgResult) killed() bool {
	if len(r.failed) > 0 || r.panicked || r.fatal || r.timeout {
		return true
	}
	return r.ran && !r.stopped && r.exit != 0
}

// reasons lists what failed, for -killers.
func (r *pkgResult) reasons() []string {
	var out []string
	short := strings.TrimPrefix(r.pkg, "./")
	if short == "." {
		short = "journal"
	}
	for _, t := range r.failed {
		out = append(out, t+" ("+short+")")
	}
	switch {
	case r.timeout:
		s := "package " + short + ": timeout"
		if len(r.timeoutTests) > 0 {
			s += " in " + strings.Join(r.timeoutTests, ",")
		}
		out = append(out, s)
	case r.panicked, r.fatal:
		s := "package " + short + ": panic"
		if r.fatal {
			s = "package " + short + ": fatal error"
		}
		if r.crashTest != "" {
			s += " in " + r.crashTest
		}
		out = append(out, s)
	case len(r.failed) == 0 && r.killed():
		out = append(out, fmt.Sprintf("package %s: exit status %d", short, r.exit))
	}
	return out
}

// runResult is the outcome of running a mutant's test binaries.
type runResult struct {
	pkgs     []*pkgResult
	first    string // the first failure seen (default mode)
	timedOut bool   // the runner's deadline passed
}

func (rr *runResult) killed() bool {
	if rr.timedOut {
		return true
	}
	for _, r := range rr.pkgs {
		if r.killed() {
			return true
		}
	}
	return false
}

// runTests runs the test binaries of pkgs (built in dir), p at a time in
// the order given. With stopFirst the first failure ends every run.
func runTests(ctx context.Context, dir string, pkgs []string, info map[string]pkgInfo, failfast, stopFirst bool) *runResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rr := &runResult{}
	var firstOnce sync.Once
	noteFirst := func(s string) {
		firstOnce.Do(func() { rr.first = s })
		if stopFirst {
			cancel()
		}
	}
	var timedOut atomic.Bool
	deadline := time.AfterFunc(*flagTimeout+20*time.Second, func() {
		timedOut.Store(true)
		cancel()
	})
	defer deadline.Stop()

	sem := make(chan struct{}, *flagP)
	var wg sync.WaitGroup
	for _, p := range pkgs {
		r := &pkgResult{pkg: p}
		rr.pkgs = append(rr.pkgs, r)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			r.stopped = true
			continue
		}
		if ctx.Err() != nil {
			<-sem
			r.stopped = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			runBinary(ctx, dir, info[p], r, failfast, noteFirst)
		}()
	}
	wg.Wait()
	rr.timedOut = timedOut.Load()
	if rr.first == "" {
		for _, r := range rr.pkgs {
			if r.killed() {
				rr.first = r.reasons()[0]
				break
			}
		}
	}
	if rr.first == "" && rr.timedOut {
		rr.first = "timeout"
	}
	return rr
}

// runBinary runs one package's test binary in its directory and parses
// its output as it comes.
func runBinary(ctx context.Context, dir string, pi pkgInfo, r *pkgResult, failfast bool, noteFirst func(string)) {
	args := []string{"-test.count=1", "-test.timeout=" + flagTimeout.String()}
	if failfast {
		args = append(args, "-test.failfast")
	}
	cmd := exec.Command(binName(dir, pi), args...)
	cmd.Dir = filepath.Join(dir, filepath.FromSlash(pi.rel))
	pr, pw, err := os.Pipe()
	if err != nil {
		r.tail = []string{err.Error()}
		r.exit, r.ran = 1, true
		return
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		r.tail = []string{err.Error()}
		r.exit, r.ran = 1, true
		return
	}
	pw.Close()
	r.ran = true
	var stopped atomic.Bool
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stopped.Store(true)
			killProcessGroup(cmd)
		case <-done:
		}
	}()

	short := strings.TrimPrefix(pi.rel, "./")
	if short == "." {
		short = "journal"
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		inRunning := false
		for sc.Scan() {
			line := sc.Text()
			r.tail = append(r.tail, line)
			if len(r.tail) > 40 {
				r.tail = r.tail[len(r.tail)-40:]
			}
			switch {
			case strings.HasPrefix(line, "--- FAIL: "):
				// Top-level tests only: subtests are indented.
				name := strings.Fields(line[len("--- FAIL: "):])
				if len(name) == 0 {
					continue
				}
				r.failed = append(r.failed, name[0])
				noteFirst(name[0] + " (" + short + ")")
			case strings.HasPrefix(line, "panic: test timed out"):
				r.timeout = true
			case strings.HasPrefix(line, "panic: ") && !r.timeout:
				r.panicked = true
			case strings.HasPrefix(strings.TrimLeft(line, " \t"), "fatal error: "):
				r.fatal = true
			case (r.panicked || r.fatal) && r.crashTest == "":
				// The first test function on the crashing stack.
				if m := testFrame.FindStringSubmatch(line); m != nil {
					r.crashTest = m[1]
				}
			case r.timeout && line == "running tests:":
				inRunning = true
			case inRunning && strings.HasPrefix(line, "\t"):
				if f := strings.Fields(line); len(f) > 0 {
					r.timeoutTests = append(r.timeoutTests, f[0])
				}
			default:
				inRunning = false
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	killProcessGroup(cmd) // helper processes left behind hold the pipe
	<-read
	pr.Close()
	r.stopped = stopped.Load()
	r.exit = 0
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.exit = ee.ExitCode()
		} else {
			r.exit = 1
		}
	}
	if !r.stopped && (r.panicked || r.fatal || r.timeout) {
		noteFirst(r.reasons()[len(r.reasons())-1])
	} else if !r.stopped && r.killed() && len(r.failed) == 0 {
		noteFirst(r.reasons()[0])
	}
}

// baseline compiles and runs, unmutated, the test packages the selected
// mutants use. Any failure is an error: a kill is evidence only against a
// green suite.
func baseline(ctx context.Context, dir string, info map[string]pkgInfo, sel []Mutant) error {
	var all []string
	for _, m := range sel {
		for _, p := range testPkgs(m.pkgs(), info) {
			if !slices.Contains(all, p) {
				all = append(all, p)
			}
		}
	}
	t0 := time.Now()
	if err := compile(ctx, dir, all, info); err != nil {
		return fmt.Errorf("the unmutated copy does not compile: %v", err)
	}
	rr := runTests(ctx, dir, all, info, false, false)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rr.timedOut {
		return fmt.Errorf("the unmutated tests take longer than -timeout %v", *flagTimeout)
	}
	for _, r := range rr.pkgs {
		if r.killed() {
			return fmt.Errorf("package %s fails unmutated (%s), fix it first:\n%s", r.pkg, strings.Join(r.reasons(), ", "), strings.Join(r.tail, "\n"))
		}
	}
	fmt.Printf("baseline: %s in %.0fs\n", strings.Join(all, " "), time.Since(t0).Seconds())
	return nil
}

// runMutant applies m in dir, checks that it compiles, runs its tests and
// restores the file.
func runMutant(ctx context.Context, dir string, m Mutant, info map[string]pkgInfo) *outcome {
	t0 := time.Now()
	o := &outcome{m: m}
	defer func() { o.secs = time.Since(t0).Seconds() }()
	if ctx.Err() != nil {
		o.status, o.detail = skipped, "interrupted"
		return o
	}
	name := filepath.Join(dir, filepath.FromSlash(m.File))
	orig, err := os.ReadFile(name)
	if err != nil {
		o.status, o.detail = stale, err.Error()
		return o
	}
	mutated, err := apply(orig, m.Edits)
	if err != nil {
		o.status, o.detail = stale, err.Error()
		return o
	}
	fi, err := os.Stat(name)
	if err != nil {
		o.status, o.detail = invalid, err.Error()
		return o
	}
	if err := os.WriteFile(name, mutated, fi.Mode().Perm()); err != nil {
		o.status, o.detail = invalid, err.Error()
		return o
	}
	defer func() {
		if err := os.WriteFile(name, orig, fi.Mode().Perm()); err != nil {
			fatalf("restore %s: %v", name, err)
		}
	}()

	pkgs := testPkgs(m.pkgs(), info)
	build := exec.CommandContext(ctx, "go", "build", "./"+path.Dir(m.File))
	build.Dir = dir
	if msg, err := build.CombinedOutput(); err != nil {
		o.status, o.detail = invalid, "build: "+firstLine(compileError(string(msg)))
		if ctx.Err() != nil {
			o.status, o.detail = skipped, "interrupted"
		}
		return o
	}
	if err := compile(ctx, dir, pkgs, info); err != nil {
		o.status, o.detail = invalid, "test build: "+firstLine(compileError(err.Error()))
		if ctx.Err() != nil {
			o.status, o.detail = skipped, "interrupted"
		}
		return o
	}
	rr := runTests(ctx, dir, pkgs, info, !*flagKillers, !*flagKillers)
	if ctx.Err() != nil {
		o.status, o.detail = skipped, "interrupted"
		return o
	}
	if rr.killed() {
		o.status, o.detail = killed, rr.first
	} else {
		o.status = survived
	}
	if rr.timedOut && !strings.Contains(o.detail, "timeout") {
		o.detail = "timeout; " + o.detail
	}
	for _, r := range rr.pkgs {
		if r.killed() {
			o.killers = append(o.killers, r.reasons()...)
			if *flagVerbose {
				fmt.Printf("--- %s: %s output tail:\n%s\n", m.Name, r.pkg, strings.Join(r.tail, "\n"))
			}
		}
	}
	if rr.timedOut {
		o.killers = append(o.killers, "runner: timeout")
	}
	return o
}

// compileError picks the first compiler message out of go test -c output.
func compileError(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, ".go:") {
			return strings.TrimSpace(l)
		}
	}
	return s
}

func printOutcome(o *outcome) {
	fmt.Printf("%-34s %-11s %-8s %6.1fs  %s\n", o.m.Name, o.m.Class, o.status, o.secs, o.detail)
	if *flagKillers && o.status == killed {
		fmt.Printf("%34s killers (%d): %s\n", "", killerCount(o.killers), strings.Join(o.killers, ", "))
	}
}

// killerCount is the number of distinct killing tests; a package failure
// that names no test (a panic before any, a timeout) counts as one.
func killerCount(ks []string) int {
	n := 0
	pkgNamed := map[string]bool{}
	for _, k := range ks {
		if !strings.HasPrefix(k, "package ") && !strings.HasPrefix(k, "runner:") {
			n++
			if i := strings.LastIndex(k, " ("); i >= 0 {
				pkgNamed[strings.TrimSuffix(k[i+2:], ")")] = true
			}
		}
	}
	for _, k := range ks {
		if strings.HasPrefix(k, "package ") {
			pkg := strings.TrimPrefix(k, "package ")
			pkg = pkg[:strings.IndexByte(pkg, ':')]
			// "package wal: fatal error in TestX": TestX is a killer that
			// printed no --- FAIL line.
			if i := strings.LastIndex(k, " in "); i >= 0 && !strings.Contains(k[i:], ",") {
				if t := k[i+4:] + " (" + pkg + ")"; !slices.Contains(ks, t) {
					n++
					pkgNamed[pkg] = true
					continue
				}
			}
			if !pkgNamed[pkg] {
				n++
				pkgNamed[pkg] = true
			}
		}
	}
	if n == 0 && len(ks) > 0 {
		n = 1
	}
	return n
}

// summary prints the totals and returns the exit code: 3 if a mutant was
// stale, 2 if one was invalid, 1 if interrupted, else 0.
func summary(outs []*outcome, start time.Time) int {
	count := map[status]int{}
	var surv, stl, inv, single []string
	for _, o := range outs {
		if o == nil {
			count[skipped]++
			continue
		}
		count[o.status]++
		switch o.status {
		case survived:
			surv = append(surv, o.m.Name)
		case stale:
			stl = append(stl, o.m.Name)
		case invalid:
			inv = append(inv, o.m.Name)
		case killed:
			if *flagKillers && killerCount(o.killers) < 2 {
				single = append(single, o.m.Name)
			}
		}
	}
	fmt.Println()
	k, s := count[killed], count[survived]
	score := 0.0
	if k+s > 0 {
		score = 100 * float64(k) / float64(k+s)
	}
	fmt.Printf("score: %d killed / %d (killed+survived) = %.1f%%  (stale %d, invalid %d, skipped %d)\n", k, k+s, score, count[stale], count[invalid], count[skipped])
	fmt.Printf("survivors: %s\n", listOrNone(surv))
	if len(stl) > 0 {
		fmt.Printf("STALE (no longer apply; update mutants.go): %s\n", strings.Join(stl, ", "))
	}
	if len(inv) > 0 {
		fmt.Printf("INVALID (do not compile): %s\n", strings.Join(inv, ", "))
	}
	if *flagKillers {
		fmt.Printf("SINGLE (killed by fewer than 2 tests): %s\n", listOrNone(single))
		for _, o := range outs {
			if o != nil && o.status == killed {
				mark := ""
				if killerCount(o.killers) < 2 {
					mark = " SINGLE"
				}
				fmt.Printf("  %-34s %d%s: %s\n", o.m.Name, killerCount(o.killers), mark, strings.Join(o.killers, ", "))
			}
		}
	}
	fmt.Printf("total time: %s  date: %s\n", time.Since(start).Round(time.Second), time.Now().Format(time.RFC3339))
	switch {
	case count[stale] > 0:
		return 3
	case count[invalid] > 0:
		return 2
	case count[skipped] > 0:
		return 1
	}
	return 0
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
