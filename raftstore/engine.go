package raftstore

import (
	"errors"

	"github.com/seglog/journal/wal"
)

// openEngine opens the wal log under a LogStore.
//
// TODO(issue 10): the wal general-log API (AppendAt, FirstSeq, LastSeq,
// TruncateFront, TruncateBack) has not landed on this branch yet; until it
// does, opening a real log store fails and the tests run on an in-memory
// fake engine. Switch to wal.Open when it lands.
var openEngine = func(dir string, opts wal.Options) (engine, error) {
	return nil, errNoEngine
}

var errNoEngine = errors.New("wal general-log API (AppendAt, TruncateFront, TruncateBack) not available in this build")

// haveEngine reports whether openEngine opens a real wal log.
const haveEngine = false
