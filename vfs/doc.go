// Package vfs is the filesystem interface through which the journal does all
// of its file I/O. The default, [Default], is the operating system's
// filesystem; tests substitute implementations that inject errors or simulate
// power cuts, so every durability claim can be checked without real crashes.
//
// The interface is deliberately small: it has exactly the operations a
// write-ahead log needs (create, open, positional read and write, fdatasync,
// truncate, size, rename, remove, mkdir, list, stat, directory sync, lock),
// plus optional memory mappings (ReadMapper, Mapper) where a filesystem has
// them.
//
// [Default]'s calls differ by platform, each in its build-tagged file:
// sync_linux.go (fdatasync), sync_darwin.go (F_FULLFSYNC), sync_bsd.go
// (fsync), os_unix.go (flock, directory sync), mmap_unix.go (maps on 64-bit
// unix only) and os_windows.go (FlushFileBuffers, LockFileEx, no directory
// sync, no maps). CRASH-SAFETY.md says what each promises.
package vfs
