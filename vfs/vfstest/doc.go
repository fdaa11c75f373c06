// Package vfstest provides FS, an in-memory implementation of [vfs.FS] that
// can simulate power cuts and inject errors, for proving crash safety in the
// style of ALICE and pebble's crashable memory filesystem.
//
// # Model
//
// The FS is a tree of directories and files. Paths are cleaned with
// path/filepath; relative paths are resolved against the root "/" (there is no
// working directory). Every file and every directory has two views: the
// current state, which all reads see, and the durable state, which is what a
// power cut leaves. [vfs.File.Sync] makes durable the file's data and size
// as they were when it began (fdatasync semantics: writes made while it is
// in flight, see [FS.DuringSync], stay pending); it does not make the file's
// name durable.
// [FS.SyncDir] makes a directory's entries durable. Files are inodes: an open
// File keeps working after its name is renamed or removed, as on Linux.
//
// Since its last Sync a file keeps the ordered list of its pending data
// operations (positional writes and truncates, including the truncation done
// by Create of an existing file). Since its last SyncDir a directory keeps the
// ordered list of its pending entry operations (create, mkdir, rename,
// remove). A rename within one directory is a single operation; a rename
// across directories is a pair of operations, one in each directory, linked
// so that they are durable together and kept or undone together by a crash
// (SyncDir of either directory makes both durable, together with the
// operations before the partner in its own directory).
//
// # Crash states
//
// [FS.CrashClone] returns a new, independent FS holding a state that a power
// cut at that moment could leave, without disturbing the original. With no
// randomness it is the strict state: exactly the durable data and durable
// entries. With a [rand.Rand] it chooses, deterministically from the seed:
//
//   - for each directory, a prefix of its pending entry operations to keep
//     (the first k in order, k uniform in [0, n]), as journaling filesystems
//     commit metadata in order; with [CrashOptions.AnyOrder], each one kept
//     or not independently (1/2 each), for code that must not rely on that
//     order. Linked
//     cross-directory renames are then made consistent by shortening prefixes
//     until each rename is kept in both directories or in neither. A file
//     whose entry is undone is gone (unless it has another durable entry).
//   - for each file, each pending operation in order: a truncate is applied
//     or not (1/2 each); a write is kept whole, dropped, or torn (1/3 each).
//     A torn write keeps or drops independently the part of the write falling
//     in each 512-byte-aligned sector, and independently (1/2) may keep the
//     file-size extension without the data (a zero-filled tail, as some
//     filesystems leave). Dropped bytes read back as whatever the earlier
//     (durable or kept) state held there, zeros beyond its size.
//
// Synced data is always intact. The clone has everything durable, no open
// files, no locks, no injected errors, no capacity limit and no hook.
//
// # Error injection
//
// An [Injector] counts operations by kind and fails those an error was
// injected for ([Injector.InjectError], [Injector.InjectStickyError]). The
// memory FS has one built in; [ErrorFS] (from [WithErrors]) puts one in
// front of any [vfs.FS], the operating system's included, as pebble's
// errorfs does. [FS.SetCapacity] makes growing writes fail with ENOSPC; [FS.OnOp] calls a function after each successful
// mutating operation, from which a test may take crash clones. A failed write
// or truncate changes nothing (no partial prefix is written). A failed Sync
// leaves the pending operations pending: they may or may not survive a crash,
// and a later successful Sync makes them durable; [FS.SetSyncErrorLosesData]
// switches to the harsher Linux behaviour where they are never made durable.
// A failed SyncDir makes nothing durable.
package vfstest
