package raftstore

import "github.com/seglog/journal/wal"

// openEngine opens the wal log under a LogStore; a variable so tests can
// substitute a log that fails on demand.
var openEngine = func(dir string, opts wal.Options) (engine, error) {
	return wal.Open(dir, opts)
}
