package wal

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

// segFilesFS passes everything to FS, handing each segment file it opens
// to wrap first.
type segFilesFS struct {
	vfs.FS
	wrap func(name string, f vfs.File) vfs.File
}

func (s *segFilesFS) seg(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, segSuffix) {
		return f, err
	}
	return s.wrap(name, f), nil
}

func (s *segFilesFS) Create(name string) (vfs.File, error) {
	f, err := s.FS.Create(name)
	return s.seg(name, f, err)
}

func (s *segFilesFS) Open(name string) (vfs.File, error) {
	f, err := s.FS.Open(name)
	return s.seg(name, f, err)
}

func (s *segFilesFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := s.FS.OpenReadWrite(name)
	return s.seg(name, f, err)
}

// gateFile calls gate, if set, before each Sync of a segment: gate may hold
// the sync (in flight, l.mu released) and may fail it in place of the sync.
type gateFile struct {
	vfs.File
	gate *func(name string) error
	name string
}

func (f *gateFile) Sync() error {
	if gate := *f.gate; gate != nil {
		if err := gate(f.name); err != nil {
			return err
		}
	}
	return f.File.Sync()
}

// groupSetup opens an Immediate log whose first segment sync
// after Open is held until release is closed and then returns first (nil:
// it syncs), and whose second returns second. It starts a writer whose
// append runs that first sync, then three more that arrive while it is in
// flight (one leads the group waiting for the next sync, two follow it),
// and returns once all four have written their batches. Each writer's
// result arrives on results.
func groupSetup(t *testing.T, first, second error) (l *Log, release chan struct{}, results chan error) {
	t.Helper()
	var gate func(name string) error
	fs := &segFilesFS{FS: vfstest.New(), wrap: func(name string, f vfs.File) vfs.File { return &gateFile{File: f, gate: &gate, name: name} }}
	l, err := Open("/log", Options{FS: fs, Durability: Immediate, Compression: CompressionNone, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	release = make(chan struct{})
	held := make(chan struct{})
	var mu sync.Mutex
	syncs := 0
	gate = func(string) error {
		mu.Lock()
		syncs++
		n := syncs
		mu.Unlock()
		switch n {
		case 1:
			close(held)
			<-release
			return first
		case 2:
			return second
		}
		return nil
	}
	results = make(chan error, 4)
	appendOne := func(i int) {
		_, err := l.Append(Batch{Records: []Record{{Key: []byte(fmt.Sprint("w", i)), Value: []byte("v")}}})
		results <- err
	}
	go appendOne(0)
	<-held
	for i := 1; i <= 3; i++ {
		go appendOne(i)
	}
	// Each writer decides how to wait under l.mu in the same hold in which
	// it writes its batch: once all four batches are written, the three
	// are waiting.
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		n := l.nextSeq.Load()
		l.mu.Unlock()
		if n == 4 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("setup: %d of 4 batches written after 10 s", n)
		}
	}
	return l, release, results
}

// collect returns the n results, failing the test if they do not all
// arrive within a generous time: an append left waiting for a sync that
// will never come.
func collect(t *testing.T, results chan error, n int) []error {
	t.Helper()
	var errs []error
	timeout := time.After(20 * time.Second)
	for range n {
		select {
		case err := <-results:
			errs = append(errs, err)
		case <-timeout:
			t.Fatalf("%d of %d appends returned after 20 s; the others wait for a sync that never comes", len(errs), n)
		}
	}
	return errs
}

// Appends arriving while a sync runs wait for the next one as a group; when
// that sync fails, every one of them returns the failure, none is left
// waiting and none reports its batch durable.
func TestGroupOfAFailedSyncGetsItsError(t *testing.T) {
	boom := errors.New("boom")
	_, release, results := groupSetup(t, nil, boom)
	close(release)
	failed := 0
	for _, err := range collect(t, results, 4) {
		if err != nil {
			if !errors.Is(err, ErrFailed) || !errors.Is(err, boom) {
				t.Fatalf("append: %v; want ErrFailed wrapping the sync's error", err)
			}
			failed++
		}
	}
	if failed != 3 {
		t.Fatalf("%d appends failed; want the 3 the failed sync was to cover (the first sync succeeded)", failed)
	}
}

// When the sync running as a group forms fails, the group's leader returns
// the failure without syncing; the members it led must not wait for a
// sync no one will run: each returns the failure too.
func TestGroupWhoseLeaderLeavesWithoutSyncingIsReleased(t *testing.T) {
	boom := errors.New("boom")
	_, release, results := groupSetup(t, boom, nil)
	close(release)
	for _, err := range collect(t, results, 4) {
		if !errors.Is(err, ErrFailed) || !errors.Is(err, boom) {
			t.Fatalf("append: %v; want ErrFailed wrapping the first sync's error, for all four", err)
		}
	}
}

// The group's members are acknowledged by the sync their leader runs.
func TestGroupIsAcknowledgedByItsLeadersSync(t *testing.T) {
	l, release, results := groupSetup(t, nil, nil)
	close(release)
	for _, err := range collect(t, results, 4) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := l.active.SyncStats().Count; got < 2 {
		t.Fatalf("%d segment syncs; want the first and one for the group", got)
	}
	if got := l.syncedSeq.Load(); got != 4 {
		t.Fatalf("synced through %d; want 4", got)
	}
}
