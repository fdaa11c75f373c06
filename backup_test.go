package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// backupT backs j up to dst and fails the test on an error.
func backupT(t *testing.T, j *Journal, dst string) BackupInfo {
	t.Helper()
	info, err := j.Backup(dst)
	if err != nil {
		t.Fatalf("Backup(%s): %v", dst, err)
	}
	return info
}

// batchOf is writer w's i-th batch: 1 to 5 events of one route named for
// it, so a backup shows whether it holds a batch whole.
func batchOf(w, i int) []Event {
	r := fmt.Sprintf("w%d-b%d", w, i)
	evs := make([]Event, 1+i%5)
	for k := range evs {
		evs[k] = Event{Kind: RouteStarted, RouteID: r}
	}
	return evs
}

// cmdOp is the command-ID writer's k-th operation: two adds, then a
// remove of the ID added just before.
func cmdOp(j *Journal, k int) error {
	if k%3 == 2 {
		return j.RemoveCommandID(fmt.Sprint("c", k-1))
	}
	return j.AppendCommandID(fmt.Sprint("c", k))
}

// cmdSetAfter is the command-ID set after the first n operations.
func cmdSetAfter(n int) []string {
	set := map[string]bool{}
	for k := range n {
		if k%3 == 2 {
			delete(set, fmt.Sprint("c", k-1))
		} else {
			set[fmt.Sprint("c", k)] = true
		}
	}
	out := []string{}
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// cmdSetBetween reports whether ids is the command-ID set after some
// number of operations in [lo, hi]. The highest ID numbered m was added by
// operation m, so the set is that after operation m, m+1 or m+2 (which
// removed the ID operation m+1 added); checking only those keeps the test
// linear in the IDs however many operations ran.
func cmdSetBetween(ids []string, lo, hi int) bool {
	m := -1
	for _, id := range ids {
		var k int
		if _, err := fmt.Sscanf(id, "c%d", &k); err == nil && k > m {
			m = k
		}
	}
	for n := max(lo, m+1); n <= min(hi, m+3); n++ {
		if slices.Equal(ids, cmdSetAfter(n)) {
			return true
		}
	}
	return false
}

// A backup taken while four goroutines append and a fifth adds and
// removes command IDs holds every batch acknowledged before Backup was
// called, whole, and is a prefix of the journal: its entries are exactly
// the source's below BackupInfo.NextSeq, with the same sequence numbers
// and timestamps. Its command IDs are the set after some number of
// operations, no fewer than had returned before the call and none begun
// after it returned.
func TestBackupUnderConcurrentAppendsIsAPrefix(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			j := openT(t, dir, Options{Durability: d, SegmentSize: 16 << 10})
			defer j.Close()
			const writers = 4
			var acked [writers]atomic.Int64
			var cmdsDone atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, writers+1)
			for w := range writers {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						if err := j.AppendBatch(batchOf(w, i)); err != nil {
							errs <- err
							return
						}
						acked[w].Store(int64(i + 1))
					}
				})
			}
			wg.Go(func() {
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := cmdOp(j, k); err != nil {
						errs <- err
						return
					}
					cmdsDone.Store(int64(k + 1))
				}
			})
			// Let the writers fill a few segments first.
			for acked[0].Load() < 300 {
				runtime.Gosched()
			}
			var before [writers]int
			for w := range writers {
				before[w] = int(acked[w].Load())
			}
			cmdsBefore := int(cmdsDone.Load())
			dst := filepath.Join(t.TempDir(), "backup")
			info := backupT(t, j, dst)
			cmdsAfter := int(cmdsDone.Load())
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}

			b := openT(t, dst, Options{Durability: d})
			defer b.Close()
			got := entriesT(t, b, 0)
			var want []Entry
			for _, e := range entriesT(t, j, 0) {
				if e.Seq < info.NextSeq {
					want = append(want, e)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("the backup's %d entries are not the source's %d below %d", len(got), len(want), info.NextSeq)
			}
			count := map[string]int{}
			for _, e := range got {
				count[e.Event.RouteID]++
			}
			for w := range writers {
				for i := range before[w] {
					r := fmt.Sprintf("w%d-b%d", w, i)
					if count[r] != 1+i%5 {
						t.Fatalf("batch %s, acknowledged before Backup, has %d of %d events in the backup", r, count[r], 1+i%5)
					}
				}
			}
			for r, n := range count {
				var w, i int
				fmt.Sscanf(r, "w%d-b%d", &w, &i)
				if n != 1+i%5 {
					t.Fatalf("batch %s is in the backup with %d of %d events", r, n, 1+i%5)
				}
			}
			// The operation in flight when Backup returned (applied in
			// memory, its Immediate sync not yet returned) may be in it,
			// as a batch appended meanwhile may.
			ids := loadIDsT(t, b)
			if !cmdSetBetween(ids, cmdsBefore, cmdsAfter+1) {
				t.Fatalf("the backup's %d command IDs are not the set after %d..%d operations", len(ids), cmdsBefore, cmdsAfter+1)
			}
			t.Logf("backup: next seq %d, %d linked, %d copied, %d command IDs; %d entries in the source", info.NextSeq, info.Linked, info.Copied, info.CommandIDs, len(entriesT(t, j, 0)))
			if info.Linked == 0 {
				t.Fatalf("no segment hard-linked (%+v)", info)
			}
		})
	}
}

// Sealed segments are hard links to the source's files, the active one
// a copy; a compaction of the source afterwards rewrites its files under
// new inodes and leaves the backup as it was, and appends and a
// compaction of the backup leave the source as it was.
func TestBackupHardLinksSealedSegmentsAndStaysIndependent(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{SegmentSize: 8 << 10, NoRepack: true})
	defer j.Close()
	for i := range 400 {
		appendT(t, j, reg(fmt.Sprint("r", i%20)), start(fmt.Sprint("r", i%20)))
	}
	if err := j.AppendCommandID("cmd-1"); err != nil {
		t.Fatal(err)
	}
	want := entriesT(t, j, 0)
	dst := filepath.Join(t.TempDir(), "b")
	info := backupT(t, j, dst)
	segs := segFiles(t, dst)
	if len(segs) < 3 || info.Linked != len(segs)-1 || info.Copied != 1 {
		t.Fatalf("%d segments, info %+v: want every sealed one linked, the active one copied", len(segs), info)
	}
	for i, s := range segs {
		a, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.Stat(filepath.Join(dir, filepath.Base(s)))
		if err != nil {
			t.Fatal(err)
		}
		if same := os.SameFile(a, b); same != (i < len(segs)-1) {
			t.Fatalf("%s: same file as the source's: %v (sealed: %v)", filepath.Base(s), same, i < len(segs)-1)
		}
	}
	// The source removes half its routes and compacts: its sealed files
	// are rewritten.
	for i := range 10 {
		appendT(t, j, remove(fmt.Sprint("r", i)))
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	srcAfter := entriesT(t, j, 0)
	b := openT(t, dst, Options{})
	if got := entriesT(t, b, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("the backup changed when the source compacted: %d entries, want %d", len(got), len(want))
	}
	if ids := loadIDsT(t, b); !slices.Equal(ids, []string{"cmd-1"}) {
		t.Fatalf("backup command IDs %v, want [cmd-1]", ids)
	}
	for i := 10; i < 20; i++ {
		appendT(t, b, remove(fmt.Sprint("r", i)))
	}
	if err := b.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveCommandID("cmd-1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := entriesT(t, j, 0); !reflect.DeepEqual(got, srcAfter) {
		t.Fatalf("the source changed when the backup compacted: %d entries, want %d", len(got), len(srcAfter))
	}
	if ids := loadIDsT(t, j); !slices.Equal(ids, []string{"cmd-1"}) {
		t.Fatalf("source command IDs %v, want [cmd-1]", ids)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Both still open after their Close sealed and repacked what they hold.
	j2 := openT(t, dir, Options{})
	defer j2.Close()
	if got := entriesT(t, j2, 0); !reflect.DeepEqual(got, srcAfter) {
		t.Fatalf("source after reopen: %d entries, want %d", len(got), len(srcAfter))
	}
}

// A repack of the source after a backup rewrites its sealed segments
// under new files, as a compaction does: the backup's linked files stay
// the frames they were and the backup opens as it was.
func TestBackupStaysAsItWasWhenTheSourceRepacks(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{SegmentSize: 8 << 10, NoRepack: true})
	for i := range 600 {
		appendT(t, j, start(fmt.Sprint("r", i)))
	}
	want := entriesT(t, j, 0)
	dst := filepath.Join(t.TempDir(), "b")
	info := backupT(t, j, dst)
	if info.Linked < 2 {
		t.Fatalf("info %+v: want sealed segments linked", info)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened with repacking on, its Close repacks the sealed segments.
	j = openT(t, dir, Options{SegmentSize: 8 << 10})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	repacked := 0
	for _, s := range segFiles(t, dst) {
		a, errA := os.Stat(s)
		b, errB := os.Stat(filepath.Join(dir, filepath.Base(s)))
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if !os.SameFile(a, b) {
			repacked++
		}
	}
	if repacked-info.Copied < info.Linked {
		t.Fatalf("%d of the %d linked segments were rewritten by the repack: the test proves nothing", repacked-info.Copied, info.Linked)
	}
	b := openT(t, dst, Options{})
	defer b.Close()
	if got := entriesT(t, b, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("the backup changed when the source repacked: %d entries, want %d", len(got), len(want))
	}
}

// Where the file system refuses a hard link (EXDEV: dst on another file
// system) every segment is copied, and the backup holds the same.
func TestBackupCopiesWhenLinkIsRefused(t *testing.T) {
	for _, c := range []struct {
		name       string
		refuse     bool
		wantLinked bool
	}{
		{"links", false, true},
		{"EXDEV", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := vfstest.New()
			if c.refuse {
				fs.InjectStickyError(vfstest.OpLink, 1, syscall.EXDEV)
			}
			j := openT(t, "/j", Options{FS: fs, SegmentSize: 4 << 10, NoRepack: true})
			defer j.Close()
			for i := range 200 {
				appendT(t, j, start(fmt.Sprint("route-", i)))
			}
			want := entriesT(t, j, 0)
			info := backupT(t, j, "/backups/b")
			if (info.Linked > 0) != c.wantLinked || info.Copied < 1 || info.Linked+info.Copied < 3 {
				t.Fatalf("info %+v: want linked %v", info, c.wantLinked)
			}
			b := openT(t, "/backups/b", Options{FS: fs})
			defer b.Close()
			if got := entriesT(t, b, 0); !reflect.DeepEqual(got, want) {
				t.Fatalf("backup holds %d entries, want %d", len(got), len(want))
			}
		})
	}
}

// Backup refuses a destination that is a file, a directory with anything
// in it, or the journal's directory or one inside it, with ErrInvalid, and
// changes nothing there; an empty directory becomes the backup; a closed
// journal gives ErrClosed.
func TestBackupDestinationMustBeAbsentOrEmpty(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, Options{})
	appendT(t, j, start("r"))
	want := entriesT(t, j, 0)
	base := t.TempDir()
	full := filepath.Join(base, "full")
	file := filepath.Join(base, "file")
	if err := os.Mkdir(full, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{file, filepath.Join(full, "keep")} {
		if err := os.WriteFile(f, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, dst := range []string{full, file, dir, filepath.Join(dir, "b"), ""} {
		if _, err := j.Backup(dst); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Backup(%q): %v, want ErrInvalid", dst, err)
		}
	}
	for _, f := range []string{file, filepath.Join(full, "keep")} {
		if b, _ := os.ReadFile(f); string(b) != "keep" {
			t.Fatalf("%s changed: %q", f, b)
		}
	}
	if ents, _ := os.ReadDir(base); len(ents) != 2 {
		t.Fatalf("Backup left %d entries in dst's parent, want the 2 there before", len(ents))
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err == nil {
		t.Fatal("Backup wrote into the journal's directory")
	}
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	backupT(t, j, empty)
	b := openT(t, empty, Options{})
	if got := entriesT(t, b, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("the backup in an empty directory holds %d entries, want %d", len(got), len(want))
	}
	b.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Backup(filepath.Join(base, "new")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Backup after Close: %v, want ErrClosed", err)
	}
}

// A power cut at any file operation of a Backup never leaves at dst a
// journal that opens holding anything but the whole backup: at every
// operation the crash states (strict, and random with torn writes and
// directory operations kept in any order) have either no dst or one that
// opens with exactly the source's entries and command IDs; the source
// opens with its own. Once Backup returned, dst survives a power cut.
func TestCrashDuringBackupNeverLeavesAWrongJournal(t *testing.T) {
	for _, link := range []bool{true, false} {
		t.Run(fmt.Sprintf("link=%v", link), func(t *testing.T) {
			fs := vfstest.New()
			if !link {
				fs.InjectStickyError(vfstest.OpLink, 1, syscall.EXDEV)
			}
			opts := Options{FS: fs, SegmentSize: 4 << 10, NoRepack: true, inline: true, Logger: quiet}
			j := openT(t, "/j", opts)
			defer j.Close()
			for i := range 120 {
				appendT(t, j, reg(fmt.Sprint("route-", i%30)), start(fmt.Sprint("route-", i%30)))
				if i%7 == 0 {
					if err := j.AppendCommandID(fmt.Sprint("cmd-", i)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := j.RemoveCommandID("cmd-7"); err != nil {
				t.Fatal(err)
			}
			want := entriesT(t, j, 0)
			wantIDs := loadIDsT(t, j)
			const dst = "/backups/b"
			sameAsSource := func(clone *vfstest.FS, dir string) error {
				b, got, err := openCrashState(clone, dir, Options{})
				if err != nil {
					return err
				}
				ids, err := b.LoadCommandIDs()
				b.Close()
				switch {
				case err != nil:
					return err
				case !reflect.DeepEqual(got, want):
					return fmt.Errorf("%s holds %d entries, want %d", dir, len(got), len(want))
				case !slices.Equal(ids, wantIDs):
					return fmt.Errorf("%s holds command IDs %v, want %v", dir, ids, wantIDs)
				}
				return nil
			}
			crashMakingDir(t, fs, dst, func(clone *vfstest.FS, present bool) error {
				if present {
					if err := sameAsSource(clone, dst); err != nil {
						return err
					}
				}
				return sameAsSource(clone, "/j")
			}, func() { backupT(t, j, dst) })
		})
	}
}
