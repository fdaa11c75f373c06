package vfstest

// Operation kinds, error injection, capacity limits, counting and hooks.

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Op is a kind of filesystem operation, for error injection, counting and
// the [FS.OnOp] hook.
type Op int

// The kinds of operation. OpOpen covers both Open and OpenReadWrite; OpRead
// is File.ReadAt, OpWrite File.WriteAt, OpSync File.Sync, OpTruncate
// File.Truncate; the others are the FS methods of the same names (OpMkdir is
// MkdirAll).
const (
	OpCreate Op = iota + 1
	OpOpen
	OpWrite
	OpSync
	OpSyncDir
	OpRename
	OpRemove
	OpTruncate
	OpRead
	OpList
	OpLock
	OpMkdir
	OpStat
	OpLink
	numOps
)

var opNames = [...]string{
	OpCreate: "create", OpOpen: "open", OpWrite: "write", OpSync: "sync",
	OpSyncDir: "syncdir", OpRename: "rename", OpRemove: "remove",
	OpTruncate: "truncate", OpRead: "read", OpList: "list", OpLock: "lock",
	OpMkdir: "mkdir", OpStat: "stat", OpLink: "link",
}

// String returns the lower-case name of the operation kind.
func (op Op) String() string {
	if op > 0 && op < numOps {
		return opNames[op]
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

type injection struct {
	op     Op
	at     int // fire when counts[op] reaches at
	err    error
	sticky bool
}

// Injector counts file system operations by kind and fails those an error
// was injected for. The memory [FS] has one (its InjectError, Count and
// ClearErrors are the Injector's), and [ErrorFS] puts one in front of any
// [vfs.FS]. It is safe for concurrent use. The zero value injects nothing.
type Injector struct {
	mu     sync.Mutex
	counts [numOps]int
	inj    []injection
}

// check counts an operation of kind op and returns the injected error, if
// any, that it must fail with.
func (in *Injector) check(op Op) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.counts[op]++
	c := in.counts[op]
	for i, j := range in.inj {
		if j.op != op {
			continue
		}
		if j.sticky && c >= j.at {
			return j.err
		}
		if !j.sticky && c == j.at {
			in.inj = slices.Delete(in.inj, i, i+1)
			return j.err
		}
	}
	return nil
}

// InjectError makes the n-th (1-based, counted from this call) future
// operation of kind op fail with err, once. The failed operation changes
// nothing (a failed Sync leaves its pending writes pending). Errors are
// returned wrapped in *os.PathError or *os.LinkError, so errors.Is(err, err)
// holds. It panics if n < 1.
func (in *Injector) InjectError(op Op, n int, err error) { in.inject(op, n, err, false) }

// InjectStickyError is like [Injector.InjectError] but the n-th and every
// later operation of kind op fail with err until [Injector.ClearErrors].
func (in *Injector) InjectStickyError(op Op, n int, err error) { in.inject(op, n, err, true) }

func (in *Injector) inject(op Op, n int, err error, sticky bool) {
	if n < 1 {
		panic("vfstest: InjectError with n < 1")
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.inj = append(in.inj, injection{op: op, at: in.counts[op] + n, err: err, sticky: sticky})
}

// ClearErrors removes every injected error that has not fired yet and every
// sticky one.
func (in *Injector) ClearErrors() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.inj = nil
}

// Count returns how many operations of kind op have been attempted so far,
// including failed ones (but not those refused before reaching the
// filesystem, such as a write on a closed or read-only file).
func (in *Injector) Count(op Op) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if op <= 0 || op >= numOps {
		return 0
	}
	return in.counts[op]
}

// check is the FS's Injector's check.
func (fs *FS) check(op Op) error { return fs.Injector.check(op) }

// do runs f with fs.mu held and, if it succeeded, reports op on name to the
// hook once the lock is released. It returns f's error as is.
func (fs *FS) do(op Op, name string, f func() error) error {
	fs.mu.Lock()
	err := f()
	hook := fs.hook
	fs.mu.Unlock()
	if err == nil && hook != nil {
		hook(op, name)
	}
	return err
}

// SetCapacity limits the total current size of live files (files with a name
// or an open handle) to bytes: a write or truncate that would grow that total
// beyond it fails with ENOSPC and changes nothing. Shrinking writes always
// succeed. A negative value removes the limit (the default).
func (fs *FS) SetCapacity(bytes int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.capacity = bytes
}

// SetSyncErrorLosesData selects what a failed (injected) Sync does to the
// file's pending operations. By default (false) they stay pending: a crash may
// keep or drop them and a later successful Sync makes them durable. With true
// they are discarded as on Linux after a failed fsync ("fsyncgate"): the
// current content still shows them, but they will never become durable (a
// strict crash loses them even after a later successful Sync), so only
// rewriting the data makes it durable again.
func (fs *FS) SetSyncErrorLosesData(on bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.syncLoss = on
}

// Used returns the total current size of live files, the quantity limited
// by [FS.SetCapacity].
func (fs *FS) Used() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.used
}

// OnOp installs fn (nil removes it) to be called after each successful
// mutating operation: OpCreate, OpWrite, OpSync, OpSyncDir, OpRename,
// OpRemove, OpTruncate, OpMkdir, OpLock and OpLink, with the operation's cleaned path
// (the old name for a rename; the name the file was opened with for file
// operations). fn runs without the FS mutex held, on the goroutine of the
// operation, so it may call any FS method, typically [FS.CrashClone]. With
// concurrent operations the state fn observes may include later operations.
func (fs *FS) OnOp(fn func(op Op, name string)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.hook = fn
}

// DuringSync installs fn (nil removes it) to be called by every successful
// [vfs.File.Sync] while it is in flight: after the sync has taken the
// operations it covers (every write and truncate of the file completed
// before it began) and before it makes them durable, without the FS mutex,
// on the syncing goroutine, with the name the file was opened with. Writes
// made while fn runs are not covered by that sync. A test holds a sync in
// flight here to let other goroutines write and wait meanwhile, and to check
// that nothing claims durability before the sync that covers it completes.
func (fs *FS) DuringSync(fn func(name string)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.during = fn
}

// YieldDuringSyncs sets DuringSync to let other goroutines run for a
// moment while each sync is in flight, so that writes from concurrent
// callers land during syncs (and are not covered by them): what tests of
// group commit need.
func (fs *FS) YieldDuringSyncs() {
	fs.DuringSync(func(string) {
		for range 20 {
			runtime.Gosched()
		}
		time.Sleep(50 * time.Microsecond)
	})
}
