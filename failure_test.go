package journal

// Error handling on the in-memory vfstest filesystem: injected EIO on every
// kind of mutating operation at every position of a workload, ENOSPC in the
// middle of a segment and at rotation, ErrClosed and ErrLocked.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs/vfstest"
)

const fxDir = "/var/journal"

// fxFS returns a filesystem whose journal directory already exists durably.
func fxFS(t *testing.T) *vfstest.FS {
	t.Helper()
	fs := vfstest.New()
	if err := fs.MkdirAll(fxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs.SyncDir("/")
	fs.SyncDir("/var")
	return fs
}

func fxOpts(fs *vfstest.FS, mode Durability) Options {
	return Options{FS: fs, Durability: mode, SegmentSize: 4 << 10, Logger: quiet, inline: true, FlushInterval: -1}
}

// fxWorkload drives a journal and keeps the model; it stops at the first
// error of any call and returns it with the name of the call.
type fxWorkload struct {
	t    *testing.T
	fs   *vfstest.FS
	mode Durability
	rng  *rand.Rand
	j    *Journal
	m    cxModel
}

func (w *fxWorkload) batch() []Event {
	return cxEvents(w.rng, 1+w.rng.IntN(8))
}

// appendOne appends one batch, updating the model.
func (w *fxWorkload) appendOne() error {
	evs := w.batch()
	w.m.batches = append(w.m.batches, cxBatch{first: w.m.next, events: evs})
	w.m.next += uint64(len(evs))
	if err := w.j.AppendBatch(evs); err != nil {
		return err
	}
	w.m.batches[len(w.m.batches)-1].acked = true
	w.m.acked = len(w.m.batches)
	if w.mode == Immediate {
		w.m.synced = w.m.acked
	}
	return nil
}

// run performs the workload: 60 batches with Syncs (Eventual), a
// Close+Open in the middle and a Close at the end.
func (w *fxWorkload) run() (call string, err error) {
	opts := fxOpts(w.fs, w.mode)
	if w.j, err = Open(fxDir, opts); err != nil {
		return "Open", err
	}
	for i := range 60 {
		if err := w.appendOne(); err != nil {
			return "AppendBatch", err
		}
		if w.mode == Eventual && i%5 == 4 {
			if err := w.j.Sync(); err != nil {
				return "Sync", err
			}
			w.m.synced = w.m.acked
		}
		if i == 29 {
			if err := w.j.Close(); err != nil {
				return "Close", err
			}
			w.m.synced = w.m.acked
			w.j = nil
			if w.j, err = Open(fxDir, opts); err != nil {
				return "Open", err
			}
		}
	}
	if err := w.j.Close(); err != nil {
		return "Close", err
	}
	w.m.synced = w.m.acked
	w.j = nil
	return "", nil
}

// TestFailureInjectedEIOAtEveryOperation runs the workload once per
// mutating operation of each kind, with that operation failing with EIO,
// and checks the contract of a failure: the failing call returns an error
// wrapping EIO (and ErrFailed, for AppendBatch and Sync); the journal then
// refuses appends; a power cut right after the failure keeps everything
// durable before it; and reopening recovers a consistent state holding
// every acknowledged batch, the failed one wholly or not at all.
func TestFailureInjectedEIOAtEveryOperation(t *testing.T) {
	ops := []vfstest.Op{vfstest.OpWrite, vfstest.OpSync, vfstest.OpSyncDir, vfstest.OpTruncate, vfstest.OpCreate, vfstest.OpRename, vfstest.OpRemove, vfstest.OpLock, vfstest.OpMkdir, vfstest.OpOpen, vfstest.OpList}
	for _, loses := range []bool{false, true} {
		for _, mode := range []Durability{Immediate, Eventual} {
			name := mode.String()
			if loses {
				name += "/SyncErrorLosesData"
			}
			t.Run(name, func(t *testing.T) {
				for _, op := range ops {
					// Count the operations of a clean run.
					clean := &fxWorkload{t: t, fs: fxFS(t), mode: mode, rng: rand.New(rand.NewPCG(3, 4))}
					base := clean.fs.Count(op)
					if call, err := clean.run(); err != nil {
						t.Fatalf("clean run: %s: %v", call, err)
					}
					total := clean.fs.Count(op) - base
					t.Logf("%s: %d operations, each failed in turn", op, total)
					for k := 1; k <= total; k++ {
						fxInjectAt(t, mode, op, k, loses)
					}
				}
			})
		}
	}
}

func fxInjectAt(t *testing.T, mode Durability, op vfstest.Op, k int, loses bool) {
	t.Helper()
	fs := fxFS(t)
	fs.SetSyncErrorLosesData(loses)
	w := &fxWorkload{t: t, fs: fs, mode: mode, rng: rand.New(rand.NewPCG(3, 4))}
	fs.InjectError(op, k, syscall.EIO)
	ctx := fmt.Sprintf("EIO on %s #%d (%s)", op, k, mode.String())
	call, err := w.run()
	if err == nil {
		// The failing operation was one whose error is not reported (for
		// example a read-only Open inside a helper) or was retried; the
		// run must then be complete and correct.
		fs.ClearErrors()
		if err := cxCheck(fs.CrashClone(vfstest.CrashOptions{}), fxDir, fxOpts(fs, mode), w.m, len(w.m.batches)); err != nil {
			t.Errorf("%s: run succeeded but state is wrong: %v", ctx, err)
		}
		return
	}
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("%s: %s returned %v, want an error wrapping EIO", ctx, call, err)
	}
	if (call == "AppendBatch" || call == "Sync") && !errors.Is(err, ErrFailed) {
		t.Errorf("%s: %s returned %v, want an error wrapping ErrFailed", ctx, call, err)
	}
	// A power cut right after the failure keeps everything durable.
	mustHave := w.m.synced
	fs.ClearErrors()
	if err := cxCheck(fs.CrashClone(vfstest.CrashOptions{}), fxDir, fxOpts(fs, mode), w.m, mustHave); err != nil {
		t.Errorf("%s (%s failed): strict crash state after the failure: %v", ctx, call, err)
	}
	if err := cxCheck(fs.CrashClone(vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(uint64(op), uint64(k)))}), fxDir, fxOpts(fs, mode), w.m, mustHave); err != nil {
		t.Errorf("%s (%s failed): random crash state PCG(%d,%d) after the failure: %v", ctx, call, op, k, err)
	}
	if w.j != nil {
		if call != "Close" {
			// Sticky: even with the fault gone the journal refuses appends.
			err := w.j.AppendBatch([]Event{{Kind: RouteRegistered, RouteID: "after-failure"}})
			if !errors.Is(err, ErrFailed) {
				t.Errorf("%s (%s failed): later AppendBatch returned %v, want ErrFailed", ctx, call, err)
			}
			if err := w.j.Close(); err != nil {
				t.Logf("%s: Close after failure: %v", ctx, err)
			}
		} else if err := w.j.AppendBatch([]Event{{Kind: RouteRegistered, RouteID: "after-close"}}); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: AppendBatch after a failed Close returned %v, want ErrClosed", ctx, err)
		}
	}
	// Reopen (no power cut): every acknowledged batch is there, the failed
	// one wholly or not at all, and appends work again.
	if err := cxCheck(fs, fxDir, fxOpts(fs, mode), w.m, w.m.acked); err != nil {
		t.Errorf("%s (%s failed): reopen: %v", ctx, call, err)
	}
}

// TestFailureFsyncThenPowerCut: an fsync fails (EIO) in Immediate mode; the
// call returns an error wrapping EIO and ErrFailed, later appends are
// refused, and a strict power-cut state taken after the failure holds every
// batch acknowledged before it.
func TestFailureFsyncThenPowerCut(t *testing.T) {
	for _, loses := range []bool{false, true} {
		fs := fxFS(t)
		fs.SetSyncErrorLosesData(loses)
		j, err := Open(fxDir, fxOpts(fs, Immediate))
		if err != nil {
			t.Fatal(err)
		}
		var want []Event
		for i := range 5 {
			evs := []Event{{Kind: RouteRegistered, RouteID: fmt.Sprint("r", i)}, {Kind: RouteStarted, RouteID: fmt.Sprint("r", i)}}
			if err := j.AppendBatch(evs); err != nil {
				t.Fatal(err)
			}
			want = append(want, evs...)
		}
		fs.InjectError(vfstest.OpSync, 1, syscall.EIO)
		err = j.AppendBatch([]Event{{Kind: RouteStopped, RouteID: "r0"}})
		if !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrFailed) {
			t.Fatalf("AppendBatch with failing fsync: %v, want EIO and ErrFailed", err)
		}
		if err := j.AppendBatch([]Event{{Kind: RouteStopped, RouteID: "r1"}}); !errors.Is(err, ErrFailed) {
			t.Fatalf("later AppendBatch: %v, want ErrFailed", err)
		}
		if err := j.Sync(); !errors.Is(err, ErrFailed) {
			t.Fatalf("later Sync: %v, want ErrFailed", err)
		}
		clone := fs.CrashClone(vfstest.CrashOptions{})
		j.Close()
		j2, err := Open(fxDir, fxOpts(clone, Immediate))
		if err != nil {
			t.Fatalf("loses=%v: Open after power cut: %v", loses, err)
		}
		got, err := j2.LoadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < len(want) || !slicesEqual(got[:len(want)], want) || (len(got) != len(want) && len(got) != len(want)+1) {
			t.Fatalf("loses=%v: after power cut got %v, want %v (+ maybe the failed batch)", loses, got, want)
		}
		j2.Close()
	}
}

func slicesEqual(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFailureReopenAfterFailedFsyncThenPowerCut models Linux after a failed
// fsync ("fsyncgate"): the dirty pages are dropped from the writeback queue
// but stay readable. The journal refuses appends, is closed and reopened in
// the same boot; recovery reads the batch whose fsync failed from the page
// cache, keeps it, and new batches are acknowledged after it. A power cut
// then leaves a zero-filled hole where the never-durable batch was, in front
// of acknowledged (synced) frames that claim that range as durable: Open
// refuses the journal with ErrCorrupt and acknowledged batches are lost.
func TestFailureReopenAfterFailedFsyncThenPowerCut(t *testing.T) {
	fs := fxFS(t)
	fs.SetSyncErrorLosesData(true)
	opts := fxOpts(fs, Immediate)
	j, err := Open(fxDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := []Event{{Kind: RouteRegistered, RouteID: "a"}}
	b := []Event{{Kind: RouteRegistered, RouteID: "b"}}
	c := []Event{{Kind: RouteRegistered, RouteID: "c"}}
	if err := j.AppendBatch(a); err != nil {
		t.Fatal(err)
	}
	fs.InjectError(vfstest.OpSync, 1, syscall.EIO)
	if err := j.AppendBatch(b); !errors.Is(err, ErrFailed) {
		t.Fatalf("AppendBatch(b): %v, want ErrFailed", err)
	}
	j.Close()
	j, err = Open(fxDir, opts) // same boot: b is read back from the page cache
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AppendBatch(c); err != nil { // acknowledged: durable
		t.Fatal(err)
	}
	clone := fs.CrashClone(vfstest.CrashOptions{})
	j.Close()
	j2, err := Open(fxDir, fxOpts(clone, Immediate))
	if err != nil {
		t.Fatalf("Open after power cut: %v (acknowledged batch c unreachable)", err)
	}
	defer j2.Close()
	got, err := j2.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[len(got)-1] != c[0] {
		t.Fatalf("after power cut got %v, want it to end with acknowledged %v", got, c)
	}
}

// TestFailureENOSPCMidSegment: the disk fills in the middle of a segment.
// The append fails with ENOSPC and ErrFailed, later ones are refused, and
// after space returns a reopened journal has everything acknowledged and
// works again.
func TestFailureENOSPCMidSegment(t *testing.T) {
	for _, mode := range []Durability{Immediate, Eventual} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := fxFS(t)
			w := &fxWorkload{t: t, fs: fs, mode: mode, rng: rand.New(rand.NewPCG(5, 6))}
			var err error
			if w.j, err = Open(fxDir, Options{FS: fs, Durability: mode, SegmentSize: 64 << 10, Logger: quiet}); err != nil {
				t.Fatal(err)
			}
			for range 10 {
				if err := w.appendOne(); err != nil {
					t.Fatal(err)
				}
			}
			fs.SetCapacity(fs.Used() + 20) // less than a frame header
			// Segments grow ahead of their data in written zeros, so the
			// appends that fit in that space still succeed: the first one
			// that needs new space must fail.
			for i := 0; err == nil && i < 10_000; i++ {
				err = w.appendOne()
			}
			if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrFailed) {
				t.Fatalf("AppendBatch on a full disk: %v, want ENOSPC and ErrFailed", err)
			}
			fxAfterENOSPC(t, w)
		})
	}
}

// TestFailureENOSPCAtRotation: the disk fills exactly when the journal
// rotates: once while writing the sealed segment's index file, once while
// creating the next segment.
func TestFailureENOSPCAtRotation(t *testing.T) {
	for _, at := range []string{"index", "next segment"} {
		for _, mode := range []Durability{Immediate, Eventual} {
			t.Run(at+"/"+mode.String(), func(t *testing.T) {
				fs := fxFS(t)
				w := &fxWorkload{t: t, fs: fs, mode: mode, rng: rand.New(rand.NewPCG(7, 8))}
				armed := true
				fs.OnOp(func(op vfstest.Op, name string) {
					if !armed {
						return
					}
					// seal truncates the segment, then writes the index to a
					// temporary and renames it into place.
					if (at == "index" && op == vfstest.OpTruncate && strings.HasSuffix(name, ".seg")) ||
						(at == "next segment" && op == vfstest.OpRename && strings.HasSuffix(name, ".idx.tmp")) {
						armed = false
						fs.SetCapacity(fs.Used())
					}
				})
				var err error
				if w.j, err = Open(fxDir, fxOpts(fs, mode)); err != nil {
					t.Fatal(err)
				}
				for i := 0; ; i++ {
					if i > 200 {
						t.Fatal("no rotation")
					}
					if err = w.appendOne(); err != nil {
						break
					}
				}
				if armed {
					t.Fatalf("failed before rotation: %v", err)
				}
				if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrFailed) {
					t.Fatalf("AppendBatch rotating on a full disk: %v, want ENOSPC and ErrFailed", err)
				}
				fs.OnOp(nil)
				// Reopening while the disk is still full must not lose
				// anything, even if it fails.
				if j2, err := Open(fxDir, fxOpts(fs, mode)); err == nil {
					j2.Close()
				} else if !errors.Is(err, ErrLocked) {
					t.Logf("reopen on a full disk: %v", err)
				}
				fxAfterENOSPC(t, w)
			})
		}
	}
}

func fxAfterENOSPC(t *testing.T, w *fxWorkload) {
	t.Helper()
	fs := w.fs
	if err := w.j.AppendBatch([]Event{{Kind: RouteStarted, RouteID: "x"}}); !errors.Is(err, ErrFailed) {
		t.Fatalf("later AppendBatch: %v, want ErrFailed", err)
	}
	fs.SetCapacity(-1)
	if err := w.j.AppendBatch([]Event{{Kind: RouteStarted, RouteID: "x"}}); !errors.Is(err, ErrFailed) {
		t.Fatalf("AppendBatch after space returned, before reopen: %v, want ErrFailed", err)
	}
	w.j.Close()
	if err := cxCheck(fs, fxDir, fxOpts(fs, w.mode), w.m, w.m.acked); err != nil {
		t.Fatalf("reopen after space returned: %v", err)
	}
	// And the journal keeps working: more batches, rotations, reopen.
	j, err := Open(fxDir, fxOpts(fs, w.mode))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	n := 0
	for e, err := range j.Entries(0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		_ = e
	}
	for i := range 20 {
		if err := j.AppendBatch(cxEvents(w.rng, 5)); err != nil {
			t.Fatalf("append %d after recovery: %v", i, err)
		}
	}
	evs, err := j.LoadAll()
	if err != nil || len(evs) != n+100 {
		t.Fatalf("after recovery and 100 more events: %d events, %v; want %d", len(evs), err, n+100)
	}
}

// TestFailureClosedAndLocked checks ErrClosed after Close and ErrLocked for
// a second Open of the same directory on the same filesystem.
func TestFailureClosedAndLocked(t *testing.T) {
	fs := fxFS(t)
	j, err := Open(fxDir, fxOpts(fs, Immediate))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fxDir, fxOpts(fs, Immediate)); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if _, err := Open(fxDir+"/", fxOpts(fs, Eventual)); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open with another spelling of the path: %v, want ErrLocked", err)
	}
	if err := j.AppendBatch([]Event{{Kind: RouteRegistered, RouteID: "r"}}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.AppendBatch([]Event{{Kind: RouteRegistered, RouteID: "r"}}); !errors.Is(err, ErrClosed) {
		t.Errorf("AppendBatch after Close: %v, want ErrClosed", err)
	}
	if err := j.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: %v, want ErrClosed", err)
	}
	if _, err := j.LoadAll(); !errors.Is(err, ErrClosed) {
		t.Errorf("LoadAll after Close: %v, want ErrClosed", err)
	}
	for _, err := range j.Entries(0) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Entries after Close: %v, want ErrClosed", err)
		}
		break
	}
	if err := j.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	// The lock was released: Open works again, and locks again.
	j2, err := Open(fxDir, fxOpts(fs, Immediate))
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer j2.Close()
	if _, err := Open(fxDir, fxOpts(fs, Immediate)); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while reopened: %v, want ErrLocked", err)
	}
	if evs, err := j2.LoadAll(); err != nil || len(evs) != 1 {
		t.Fatalf("LoadAll after reopen: %v, %v", evs, err)
	}
}

// TestFailureDecodeRejectsOverlongError: a stored RouteFailed event whose
// error text exceeds MaxErrorLen (which AppendBatch never writes) is
// returned by LoadAll as a valid event, although decodeEvent rejects the
// analogous over-long route ID as ErrCorrupt.
func TestFailureDecodeRejectsOverlongError(t *testing.T) {
	fs := fxFS(t)
	var buf [segment.FileHeaderSize]byte
	segment.PutFileHeader(buf[:], segment.FileHeader{ID: 1, Base: 0})
	data := buf[:]
	frame := make([]byte, segment.FrameHeaderSize)
	frame = segment.AppendEntry(frame, []byte("r"), append([]byte{byte(RouteFailed)}, strings.Repeat("x", MaxErrorLen+1)...), false)
	p := frame[segment.FrameHeaderSize:]
	segment.PutFrameHeader(frame, segment.FrameHeader{Length: uint32(len(p)), CRC: segment.Checksum(p), Synced: segment.FileHeaderSize, Count: 1})
	data = append(data, frame...)
	if err := fs.WriteFile(fxDir+"/00000000000000000001.seg", data); err != nil {
		t.Fatal(err)
	}
	j, err := Open(fxDir, fxOpts(fs, Immediate))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	evs, err := j.LoadAll()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("LoadAll: %d events (error text of %d bytes), %v; want ErrCorrupt", len(evs), len(evs[0].Error), err)
	}
}

// ENOSPC while Compact rewrites segments: Compact fails with the cause and
// nothing is lost; once space returns, Compact completes.
func TestFailureENOSPCDuringCompaction(t *testing.T) {
	fs := fxFS(t)
	opts := Options{FS: fs, SegmentSize: 4 << 10, CompactionThresholdEvents: 1 << 40, Logger: quiet, inline: true}
	j, err := Open(fxDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var live []Event
	for i := range 300 {
		r := fmt.Sprintf("r%d", i)
		if err := j.AppendBatch([]Event{reg(r), start(r)}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := j.AppendBatch([]Event{remove(r)}); err != nil {
				t.Fatal(err)
			}
		} else {
			live = append(live, reg(r), start(r))
		}
	}
	fs.SetCapacity(fs.Used() + 100) // no room for a rewritten segment
	if err := j.Compact(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Compact on a full disk: %v, want ENOSPC", err)
	}
	j.Close()
	fs.SetCapacity(-1)
	j, err = Open(fxDir, opts)
	if err != nil {
		t.Fatalf("reopen after ENOSPC during compaction: %v", err)
	}
	defer j.Close()
	if err := j.Compact(); err != nil {
		t.Fatalf("Compact once space returned: %v", err)
	}
	if got := loadT(t, j); !slices.Equal(got, live) {
		t.Fatalf("after compaction: %d events, want the %d live ones", len(got), len(live))
	}
}

// ENOSPC while the command ID snapshot is rewritten: the operation fails,
// nothing acknowledged is lost, and after space returns a reopened journal
// takes command IDs again.
func TestFailureENOSPCDuringCommandSnapshot(t *testing.T) {
	fs := fxFS(t)
	opts := Options{FS: fs, Logger: quiet, inline: true}
	j, err := Open(fxDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The disk fills just as the snapshot rewrite creates its temporary.
	full := false
	fs.OnOp(func(op vfstest.Op, name string) {
		if op == vfstest.OpCreate && strings.HasSuffix(name, "commands.snap.tmp") && !full {
			full = true
			fs.SetCapacity(fs.Used())
		}
	})
	defer fs.OnOp(nil)
	acked := map[string]bool{}
	var opErr error
	for i := 0; opErr == nil && i < 5000; i++ {
		id := fmt.Sprintf("c%d", i/2%10) // added, then removed: every operation writes
		if i%2 == 0 {
			if opErr = j.AppendCommandID(id); opErr == nil {
				acked[id] = true
			}
		} else if opErr = j.RemoveCommandID(id); opErr == nil {
			delete(acked, id)
		}
	}
	if !full || !errors.Is(opErr, syscall.ENOSPC) {
		t.Fatalf("command ID operations with the disk full during a snapshot rewrite (reached: %v): %v, want ENOSPC", full, opErr)
	}
	j.Close()
	fs.SetCapacity(-1)
	j, err = Open(fxDir, opts)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer j.Close()
	ids, _ := j.LoadCommandIDs()
	for id := range acked {
		if !slices.Contains(ids, id) {
			t.Fatalf("acknowledged command ID %s lost after ENOSPC; have %v", id, ids)
		}
	}
	if err := j.AppendCommandID("after"); err != nil {
		t.Fatalf("AppendCommandID once space returned: %v", err)
	}
}
