package raftstore

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

// Options configure Open and OpenLogStore. The zero value is the default:
// Immediate durability, 64 MiB segments, the operating system's filesystem,
// files readable by their owner only.
type Options struct {
	// Durability of the log: wal.Immediate (the default) makes every
	// StoreLogs and DeleteRange durable on return; wal.Eventual only hands
	// StoreLogs to the operating system (it survives a process crash, not a
	// power cut; LogStore.Sync makes it durable). The stable store is always
	// durable on return, as raft's safety needs its term and vote to be.
	Durability wal.Durability
	// SegmentSize of the wal log (see wal.Options).
	SegmentSize int64
	// Compression of batches of entries (see wal.Options). The zero value
	// is none, unlike the wal's default: GetLog reads one entry of a
	// batch, and with compression it decodes the whole batch; commands
	// that compress well (JSON, say) may still gain from
	// wal.CompressionS2.
	Compression wal.Compression
	// FS is the filesystem; nil means the operating system's.
	FS vfs.FS
	// FileMode is the permission of every file the store creates, its
	// directories getting vfs.DirMode(FileMode); 0 means
	// vfs.DefaultFileMode, 0o600 (owner only). See wal.Options.FileMode,
	// which also says what Open warns of; an invalid mode is an error
	// wrapping wal.ErrInvalid.
	FileMode os.FileMode
	// Logger receives the wal's recovery warnings; nil means slog.Default().
	Logger *slog.Logger
}

// Store is a LogStore and a StableStore in one directory:
//
//	DIR/log/      the wal log directory of the LogStore
//	DIR/stable    the StableStore file
//
// It implements raft.LogStore, raft.MonotonicLogStore and raft.StableStore.
type Store struct {
	*LogStore
	*StableStore
}

// Open opens (creating if needed) the store in dir. Both parts take
// exclusive locks, so a second Open of the same directory, from this process
// or another, fails with an error wrapping wal.ErrLocked. Recovery is the
// wal's (a torn tail of the newest segment is cut off; damage elsewhere
// fails with an error wrapping ErrCorrupt) and the stable store's (a damaged
// file fails with ErrCorrupt).
func Open(dir string, opts Options) (*Store, error) {
	ls, err := OpenLogStore(filepath.Join(dir, "log"), opts)
	if err != nil {
		return nil, err
	}
	ss, err := OpenStableStore(filepath.Join(dir, "stable"), vfs.WithFileMode(opts.FS, opts.FileMode))
	if err != nil {
		ls.Close()
		return nil, err
	}
	return &Store{LogStore: ls, StableStore: ss}, nil
}

// Close closes both parts; see LogStore.Close and StableStore.Close.
func (s *Store) Close() error {
	return errors.Join(s.LogStore.Close(), s.StableStore.Close())
}

// OpenLogStore opens (creating if needed) the wal log directory dir as a
// LogStore, with compaction off (truncation needs it off). See wal.Open for
// locking and recovery.
func OpenLogStore(dir string, opts Options) (*LogStore, error) {
	e, err := wal.Open(dir, wal.Options{
		Durability:  opts.Durability,
		SegmentSize: opts.SegmentSize,
		Compression: cmp.Or(opts.Compression, wal.CompressionNone),
		FS:          opts.FS,
		FileMode:    opts.FileMode,
		Logger:      opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("raftstore: open log %s: %w", dir, err)
	}
	return &LogStore{log: e}, nil
}
