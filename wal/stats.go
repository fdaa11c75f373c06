package wal

import (
	"fmt"
	"path/filepath"

	"time"

	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/vfs"
)

// Stats describes a log directory as Stat found it.
type Stats struct {
	Dir string

	// Segments is the number of segment files, SegmentBytes their total
	// apparent size (file sizes as listed).
	Segments     int
	SegmentBytes int64
	// IndexFiles is the number of index (.idx) files, IndexBytes their
	// total apparent size.
	IndexFiles int
	IndexBytes int64

	// Entries is the number of live entries: those a reader sees, without
	// the ones removed by compaction (so possibly fewer than
	// LastSeq-FirstSeq+1).
	Entries uint64
	// FirstSeq and LastSeq are the sequence numbers of the oldest and the
	// newest entry; valid only when Entries > 0.
	FirstSeq uint64
	LastSeq  uint64
	// NextSeq is the sequence number the next appended entry will get.
	NextSeq uint64

	// ApparentBytes is the total size of the log's files (segments and
	// indexes) as their lengths say. AllocatedBytes is the disk space they
	// occupy (st_blocks*512), which includes space preallocated for the
	// active segment of an open log; it is -1 when the filesystem does not
	// report it.
	ApparentBytes  int64
	AllocatedBytes int64

	// Compaction figures, from the compaction state as Open builds it (the
	// checkpoint plus a replay of the records after it).
	//
	// PendingRemovable is the number of live entries (counted in Entries)
	// that tombstones not applied yet will remove, the tombstones included.
	PendingRemovable uint64
	// DeadOnDisk is the number of entries already removed (not counted in
	// Entries) whose records are still in segment files, until a segment
	// rewrite drops them.
	DeadOnDisk uint64
	// LastCheckpoint is the modification time of the compaction checkpoint
	// file, written at every compaction and whenever a segment is sealed;
	// zero when there is none.
	LastCheckpoint time.Time
}

// Removable is the number of entries a compaction would remove now or
// reclaim from disk: PendingRemovable plus DeadOnDisk.
func (s Stats) Removable() uint64 { return s.PendingRemovable + s.DeadOnDisk }

// AllocatedBytesPerEntry is AllocatedBytes divided by Entries, or 0 when
// either is unknown or zero.
func (s Stats) AllocatedBytesPerEntry() float64 {
	if s.Entries == 0 || s.AllocatedBytes < 0 {
		return 0
	}
	return float64(s.AllocatedBytes) / float64(s.Entries)
}

// ApparentBytesPerEntry is ApparentBytes divided by Entries, or 0 when
// there are no entries.
func (s Stats) ApparentBytesPerEntry() float64 {
	if s.Entries == 0 {
		return 0
	}
	return float64(s.ApparentBytes) / float64(s.Entries)
}

// Stat describes the log in dir without modifying anything and without the
// lock, so it works while another process has the log open and appends
// (it then sees the complete batches present when it ran). fsys nil means
// the OS. Entries removed by compaction are not counted as entries.
//
// A missing dir gives an error matching fs.ErrNotExist, a dir holding no
// segment an error wrapping ErrNotFound, and damage that would make Open
// fail an error wrapping ErrCorrupt. It reads every entry (verifying the
// checksums of the frames read) to count them.
func Stat(dir string, fsys vfs.FS) (Stats, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	v, cs, cptTime, err := openStatView(dir, fsys)
	if err != nil {
		return Stats{}, fmt.Errorf("stat: %w", err)
	}
	defer v.Close()
	st := Stats{
		Dir:              dir,
		NextSeq:          v.NextSeq(),
		PendingRemovable: cs.PendingRemovable(),
		DeadOnDisk:       cs.DeadOnDisk(),
		LastCheckpoint:   cptTime,
	}

	for e, err := range v.Entries(0) {
		if err != nil {
			return Stats{}, fmt.Errorf("stat %s: %w", dir, err)
		}
		if st.Entries == 0 {
			st.FirstSeq = e.Seq
		}
		st.Entries++
		st.LastSeq = e.Seq
	}

	names, err := fsys.List(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("stat %s: %w", dir, err)
	}
	for _, n := range names {
		_, isSeg := parseSegName(n)
		_, isIdx := parseIdxName(n)
		if !isSeg && !isIdx {
			continue
		}
		fi, err := fsys.Stat(filepath.Join(dir, n))
		if err != nil {
			if isNotExist(err) {
				continue // removed since listed
			}
			return Stats{}, fmt.Errorf("stat %s: %w", n, err)
		}
		if isSeg {
			st.Segments++
			st.SegmentBytes += fi.Size()
		} else {
			st.IndexFiles++
			st.IndexBytes += fi.Size()
		}
		st.ApparentBytes += fi.Size()
		if st.AllocatedBytes >= 0 {
			if n, ok := vfs.AllocatedBytes(fi); ok {
				st.AllocatedBytes += n
			} else {
				st.AllocatedBytes = -1
			}
		}
	}
	return st, nil
}

// openStatView opens a compacted view of dir together with the compaction
// state that describes it and the checkpoint's modification time.
func openStatView(dir string, fsys vfs.FS) (*View, *compactor.State, time.Time, error) {
	v, err := OpenCompactedView(dir, fsys)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	var mtime time.Time
	if fi, err := fsys.Stat(filepath.Join(dir, checkpointName)); err == nil {
		mtime = fi.ModTime()
	}
	return v, v.cs, mtime, nil
}
