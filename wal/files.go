package wal

// The names of a log directory's files (see the package documentation):
// everything that lists, cleans up or reports them uses these.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/wal/manifest"
)

const (
	segSuffix = ".seg" // a segment: <id:020d>.seg
	idxSuffix = ".idx" // a sealed segment's index: <id:020d>.idx
	tmpSuffix = ".tmp" // a file being replaced
	// tailSuffix: the active segment's tail index, <id:020d>.tidx (see
	// segment.TailIndex): read by Open after a crash, then deleted.
	tailSuffix = ".tidx"
)

func segName(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", id, segSuffix))
}

func idxName(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", id, idxSuffix))
}

func tailName(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", id, tailSuffix))
}

// parseSegName returns the id of a segment file name, or false.
func parseSegName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(base) != 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(base, 10, 64)
	return id, err == nil
}

// parseIdxName returns the id of an index file name, or false.
func parseIdxName(name string) (uint64, bool) {
	if len(name) != 20+len(idxSuffix) || name[20:] != idxSuffix {
		return 0, false
	}
	return parseSegName(name[:20] + segSuffix)
}

// boundsName is the file recording a TruncateBack being carried out: the
// cut it is making, and the front as that cut leaves it. It is replaced
// atomically (temporary file, fsync, rename, directory fsync), so after a
// crash it holds either the old or the new state; a missing file means no
// cut. The front itself is the manifest's; only a directory written before
// logs kept one has it here alone.
const boundsName = "bounds.meta"

// checkpointName is the compaction checkpoint's file, written by package
// compactor.
const checkpointName = compactor.CheckpointName

// isLeftoverTemp reports whether name, in a directory whose segments are
// segs, is the log's own file that a crash left half-made: a temporary of
// an index file, rewritten segment, checkpoint or bounds file (never
// renamed into use), an index file whose segment is gone (truncation
// deletes the index first, and it must not describe a later segment of
// the same number), or a tail index (Open reads the newest segment's
// before it deletes the leftovers, and keeps it if it used it: see
// Log.staleTail).
func isLeftoverTemp(name string, segs map[uint64]bool) bool {
	if id, isIdx := parseIdxName(name); isIdx {
		return !segs[id]
	}
	return strings.HasSuffix(name, idxSuffix+tmpSuffix) || strings.HasSuffix(name, segSuffix+tmpSuffix) || strings.HasSuffix(name, tailSuffix) ||
		name == checkpointName+tmpSuffix || name == boundsName+tmpSuffix || name == manifest.TempName
}
