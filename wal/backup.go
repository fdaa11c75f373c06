package wal

// Backup: a consistent copy of an open log in a new directory.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// BackupOptions configure Log.Backup.
type BackupOptions struct {
	// NoLink copies every segment, even where a hard link would do.
	NoLink bool
	// Extra, if set, is called with the copy's directory (not yet in
	// place) after the log's copy point is fixed, to write the files kept
	// beside the log (the root's command-ID set) into it, synced. The
	// marks it returns are recorded in the copy's manifest, as RecordMark
	// would; the source's own marks are not carried over, since the files
	// they describe are not the log's to copy.
	Extra func(dir string) (map[string]Mark, error)
}

// BackupResult says what Backup made.
type BackupResult struct {
	// NextSeq: the copy holds every record of the log below it and none
	// above (its next sequence number as opened).
	NextSeq uint64
	Linked  int   // segments hard-linked (sealed segments of a log with compaction on)
	Copied  int   // segments copied
	Bytes   int64 // bytes copied, segments and the files beside them
}

// Backup writes a copy of the log to dst, which must not exist or be an
// empty directory outside the log's (an error wrapping ErrInvalid
// otherwise, nothing written), while appends go on. The copy holds
// exactly the records appended before Backup fixed its copy point (every
// Append that returned before Backup was called, and perhaps some made
// meanwhile): it opens as a log whose records are a prefix of this one's,
// with the same sequence numbers, times and truncation front. Backup
// makes those records durable first (a Sync), so under Eventual too every
// append that returned before the call is in the copy.
//
// Sealed segments are hard-linked into the copy when the file system
// allows it (vfs.Linker; one that refuses, across file systems say, gets a
// copy) and only on a log with compaction on: such a log never changes a
// sealed segment's file in place (compaction and repacking write a new
// file and rename it over the name, which leaves a linked copy the old
// file), whereas TruncateBack, which only a log with compaction off
// allows, cuts a segment's file in place and would cut the copy's too.
// The active segment is copied up to the end of its durable frames. Index
// files and the compaction checkpoint are copied; they are caches. Every
// file and directory Backup creates gets the log's Options.FileMode (a
// linked file is the source's, with its mode).
//
// The copy is made in a temporary directory beside dst (dst+".tmp-…",
// vfs.StageDir), every file and that directory synced, then renamed to dst
// and the parent synced. After a crash dst is as it was (absent or empty; an empty
// directory may be gone) or the whole copy; a leftover temporary
// directory is incomplete and is the caller's to delete (Backup never
// reuses one). On an error Backup removes the temporary directory as far
// as it can and leaves dst as it was.
//
// While Backup runs the log's background work waits (index files,
// compaction and repack rewrites, Compact, truncation, Close), so that no
// file it copies is replaced or deleted under it; appends continue.
func (l *Log) Backup(dst string, opts BackupOptions) (res BackupResult, err error) {
	if err := l.backupTarget(dst); err != nil {
		return res, err
	}
	src, err := l.backupBegin()
	if err != nil {
		return res, err
	}
	defer l.backupEnd()
	st, err := vfs.StageDir(l.fs, dst, vfs.DirMode(l.opts.FileMode))
	if err != nil {
		return res, l.backupErr(dst, err)
	}
	defer st.Abort()
	res, err = l.writeBackup(src, st.Tmp, opts)
	if err == nil {
		err = st.Commit()
	}
	if err != nil {
		return res, l.backupErr(dst, err)
	}
	return res, nil
}

// backupTarget checks that dst may be Backup's destination: not in the
// log's directory, and absent or an empty directory.
func (l *Log) backupTarget(dst string) error {
	if dst == "" {
		return fmt.Errorf("%w: backup to an empty path", ErrInvalid)
	}
	if vfs.Within(l.dir, dst) {
		return fmt.Errorf("%w: backup to %s: inside the log's directory %s", ErrInvalid, dst, l.dir)
	}
	if err := vfs.CheckNewDir(l.fs, dst); err != nil {
		return l.backupErr(dst, err)
	}
	return nil
}

// backupErr words an error of a backup to dst, wrapping ErrInvalid for
// a destination that is not absent or empty.
func (l *Log) backupErr(dst string, err error) error {
	if errors.Is(err, vfs.ErrNotEmpty) {
		return fmt.Errorf("%w: backup to %s: %w", ErrInvalid, dst, err)
	}
	return fmt.Errorf("backup to %s: %w", dst, err)
}

// backupSource is the log as Backup copies it, fixed under l.mu.
type backupSource struct {
	sealed   []*seg // every segment but the active one
	active   *seg   // size: the end of its durable frames
	nextSeq  uint64
	front    uint64
	holes    []Hole
	link     bool // sealed segments may be hard-linked
	withCpts bool // compaction on: copy the checkpoint
}

// backupBegin takes the work slot, fixes the copy point and makes every
// record below it durable.
func (l *Log) backupBegin() (backupSource, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.slotWanted++
	for l.working && l.state == stateOpen {
		l.cond.Wait()
	}
	l.slotWanted--
	if err := l.writable(); err != nil {
		return backupSource{}, err
	}
	l.working = true
	segs := slices.Clone(l.segs)
	act := *segs[len(segs)-1]
	act.size = l.active.Offset()
	src := backupSource{sealed: segs[:len(segs)-1], active: &act, nextSeq: l.nextSeq.Load(), front: l.front,
		holes: slices.Clone(l.mf.State().Holes), link: l.cs != nil, withCpts: l.cs != nil}
	// Frames are written under l.mu in sequence order: once every record
	// below nextSeq is durable, so is every byte below act.size (a
	// rotation meanwhile seals, and so syncs, the whole segment).
	// syncForWork: Close waits for the slot, so this must not wait for it.
	if err := l.syncForWork(src.nextSeq); err != nil {
		l.working = false
		l.cond.Broadcast()
		return backupSource{}, err
	}
	return src, nil
}

// backupEnd gives the work slot back and starts what waited for it.
func (l *Log) backupEnd() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.working = false
	l.cond.Broadcast()
	if l.state == stateOpen && l.failed == nil {
		l.kickBackground()
		if l.opts.Inline {
			l.runInline()
		}
	}
}

// writeBackup fills the directory tmp with the copy of src, every file and
// the directory synced.
func (l *Log) writeBackup(src backupSource, tmp string, opts BackupOptions) (BackupResult, error) {
	res := BackupResult{NextSeq: src.nextSeq}
	st := manifest.State{Segments: make(map[uint64]manifest.Segment), Front: src.front, Holes: src.holes}
	for _, s := range src.sealed {
		to := filepath.Join(tmp, filepath.Base(s.name))
		linked := false
		if src.link && !opts.NoLink {
			linked = vfs.Link(l.fs, s.name, to) == nil
		}
		if linked {
			res.Linked++
		} else {
			if err := copyPrefix(l.fs, s.name, to, s.size); err != nil {
				return res, err
			}
			res.Copied++
			res.Bytes += s.size
		}
		n, err := copyIfPresent(l.fs, idxName(l.dir, s.id), idxName(tmp, s.id))
		if err != nil {
			return res, err
		}
		res.Bytes += n
		st.Segments[s.id] = manifest.Segment{ID: s.id, Base: s.base, Durable: s.size, Sealed: true}
	}
	a := src.active
	if err := copyPrefix(l.fs, a.name, filepath.Join(tmp, filepath.Base(a.name)), a.size); err != nil {
		return res, err
	}
	res.Copied++
	res.Bytes += a.size
	st.Segments[a.id] = manifest.Segment{ID: a.id, Base: a.base, Durable: a.size}
	if src.withCpts {
		// Written only in the work slot, which Backup holds: it covers
		// records below the copy point, and Open replays the rest.
		l.cptMu.Lock()
		n, err := copyIfPresent(l.fs, filepath.Join(l.dir, checkpointName), filepath.Join(tmp, compactor.CheckpointName))
		l.cptMu.Unlock()
		if err != nil {
			return res, err
		}
		res.Bytes += n
	}
	if opts.Extra != nil {
		marks, err := opts.Extra(tmp)
		if err != nil {
			return res, err
		}
		st.Marks = marks
	}
	// Create syncs the directory, making every entry above durable.
	m, err := manifest.Create(l.fs, tmp, st)
	if err != nil {
		return res, err
	}
	if err := m.Close(); err != nil {
		return res, err
	}
	return res, nil
}

// copyPrefix copies the first size bytes of from to a new file to, synced.
func copyPrefix(fsys vfs.FS, from, to string, size int64) error {
	in, err := fsys.Open(from)
	if err != nil {
		return fmt.Errorf("open %s: %w", from, err)
	}
	defer in.Close()
	return writeSynced(fsys, to, io.NewSectionReader(in, 0, size), size)
}

// copyIfPresent copies the file from, if it exists, to a new file to,
// synced, and returns its size.
func copyIfPresent(fsys vfs.FS, from, to string) (int64, error) {
	in, err := fsys.Open(from)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", from, err)
	}
	defer in.Close()
	size, err := in.Size()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", from, err)
	}
	return size, writeSynced(fsys, to, io.NewSectionReader(in, 0, size), size)
}

// writeSynced writes size bytes of r to a new file name and syncs it.
func writeSynced(fsys vfs.FS, name string, r io.Reader, size int64) error {
	out, err := fsys.Create(name)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	buf := make([]byte, min(size, 1<<20))
	var off int64
	for off < size {
		n, rerr := io.ReadFull(r, buf[:min(int64(len(buf)), size-off)])
		if n > 0 {
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				out.Close()
				return fmt.Errorf("write %s: %w", name, err)
			}
			off += int64(n)
		}
		if rerr != nil && off < size {
			out.Close()
			return fmt.Errorf("copy to %s: %w after %d of %d bytes", name, rerr, off, size)
		}
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}
