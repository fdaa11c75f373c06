package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/seglog/journal/compactor"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// View is a read-only view of a log directory, taken without the lock, so
// it works while another process has the log open and is appending. It
// sees the complete, valid batches present when it was opened: a batch
// being written at that moment looks like a torn tail and is left out.
// Damage to durable data gives an error wrapping ErrCorrupt.
type View struct {
	s  *snapshot
	ld *loaded
	cs *compactor.State // with OpenCompactedView: the state describing the view
}

// OpenView opens a view of the log in dir. fsys nil means the OS. A missing
// dir gives an error matching fs.ErrNotExist; a dir holding no segment
// gives an error wrapping ErrNotFound.
func OpenView(dir string, fsys vfs.FS) (*View, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	b, err := readBounds(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	mld, err := manifest.Load(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	front := logFront(b, mld)
	// A TruncateBack under way (Open finishes it): the files as it leaves
	// them.
	ld, err := load(fsys, dir, forView, front, listing{cut: b.cut}, nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	if len(ld.segs) == 0 && b.cut == nil {
		// (A cut that removes every segment leaves an empty log.)
		ld.close()
		return nil, fmt.Errorf("read %s: no log segments: %w", dir, ErrNotFound)
	}
	visible := ld.nextSeq
	if b.cut != nil {
		// A TruncateBack is under way: what it removes is gone already.
		visible = min(visible, b.cut.next)
	}
	v := &View{s: &snapshot{idx: ld.idx, segs: ld.segs, visible: visible, front: front}, ld: ld}
	return v, nil
}

// OpenCompactedView is OpenView for a log written with compaction: records
// removed by compaction are left out. It loads the compaction checkpoint
// before and after reading the segments and retries if a compaction
// replaced it meanwhile, so the view never pairs segments with a state
// that does not describe them.
func OpenCompactedView(dir string, fsys vfs.FS) (*View, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	return readStable(fsys, dir, func() (*View, error) {
		v, err := OpenView(dir, fsys)
		if err != nil {
			return nil, err
		}
		cs, _, err := buildState(fsys, dir, v.ld, v.s.front, slog.New(slog.DiscardHandler))
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("read %s: %w", dir, err)
		}
		v.s.dead = cs.Dead()
		v.cs = cs
		return v, nil
	}, func(v *View) { v.Close() })
}

// readStable runs read until it gives a result that a writer did not
// change underneath: the compaction checkpoint is the same before and
// after it, so segments are never paired with a state that does not
// describe them. A writer replacing or deleting a segment between a
// reader's listing and its reads looks like a missing file, a mismatch
// or a file shorter than its index (fs.ErrNotExist, ErrCorrupt, io.EOF):
// read is tried again, and only such an
// error that persists (20 tries) is the answer; any other error is at
// once. discard releases a result read while the checkpoint changed.
func readStable[T any](fsys vfs.FS, dir string, read func() (T, error), discard func(T)) (T, error) {
	var zero T
	lastErr := ErrCorrupt
	for range 20 {
		before, _ := readFileBytes(fsys, filepath.Join(dir, checkpointName))
		v, err := read()
		if err != nil {
			if dirGone(fsys, dir) || !(errors.Is(err, ErrCorrupt) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				return zero, err
			}
			lastErr = err
			time.Sleep(time.Millisecond)
			continue
		}
		after, _ := readFileBytes(fsys, filepath.Join(dir, checkpointName))
		if bytes.Equal(before, after) {
			return v, nil
		}
		discard(v)
	}
	return zero, fmt.Errorf("read %s: compaction kept changing the log: %w", dir, lastErr)
}

func dirGone(fsys vfs.FS, dir string) bool {
	_, err := fsys.Stat(dir)
	return err != nil
}

func readFileBytes(fsys vfs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	_, err = f.ReadAt(b, 0)
	return b, err
}

// Entries iterates the entries with Seq >= from in order (see Log.Entries).
func (v *View) Entries(from uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) { v.s.ascend(from, yield) }
}

// Newest iterates the entries from the newest to the oldest.
func (v *View) Newest() iter.Seq2[Entry, error] {
	return v.s.descend
}

// NextSeq is the sequence number after the newest entry seen.
func (v *View) NextSeq() uint64 { return v.s.visible }

// Close releases the view's files. (A view holds every segment file open
// while it lives: a file a writer replaces meanwhile stays readable.)
func (v *View) Close() error {
	var err error
	for _, s := range v.ld.segs {
		if cerr := s.closeFile(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}
