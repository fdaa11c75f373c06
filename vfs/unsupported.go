//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly || windows)

package vfs

// The journal's durability rests on each platform's sync and lock calls,
// written and documented per platform (CRASH-SAFETY.md). This one has none
// yet, so the build stops here rather than pretending.
var _ = journalHasNoSyncOrLockForThisPlatform
