package journal

import (
	"fmt"

	"github.com/seglog/journal/wal"
)

// BackupInfo says what Backup copied.
type BackupInfo struct {
	// NextSeq: the backup holds every event of the journal with a lower
	// sequence number (those compacted away aside) and none higher.
	NextSeq uint64
	// Linked and Copied count segment files hard-linked and copied.
	Linked, Copied int
	// Bytes is how much was copied (hard links cost none).
	Bytes int64
	// CommandIDs is how many command IDs the backup holds.
	CommandIDs int
}

// Backup writes a consistent copy of the journal to the directory dst,
// which must not exist or be an empty directory outside the journal's (an
// error wrapping ErrInvalid otherwise, nothing written), while appends go
// on. Open(dst) then gives a journal holding a prefix of this
// one's batches: every batch whose AppendBatch returned before Backup was
// called (under Eventual too: Backup syncs them first), perhaps some
// appended meanwhile, whole, with their sequence numbers and timestamps;
// and the command IDs as they were at one moment during Backup, every
// AppendCommandID and RemoveCommandID that returned before the call
// included.
//
// Sealed segment files are hard-linked where the file system allows it,
// copied otherwise (dst on another file system, say): the journal never
// writes into a sealed segment in place, so a linked file stays what it
// was when a later compaction or repack of either journal replaces it
// (only repair --cut, check.CutAtDamage, shortens a damaged file in
// place: damage a linked copy shares anyway, and its Open then reports).
// The active segment is copied up to its durable end. The files and
// directories Backup makes get Options.FileMode.
//
// The copy is built in a temporary directory beside dst, named
// dst+".tmp-" and a suffix, synced file by file, then renamed to dst and
// the parent directory synced: after a power cut, dst is as it was
// (absent or empty) or the whole backup, never a journal that opens
// holding something else. A temporary directory a crash leaves behind is
// incomplete; delete it. A linked file shares its disk blocks with the
// source's, so a backup meant to outlive the disk belongs on another file
// system, where every segment is copied.
//
// Background work (compaction, repacking, index files) and Close wait
// while Backup runs. After Close, Backup returns an error wrapping
// ErrClosed; after a failed write, ErrFailed.
func (j *Journal) Backup(dst string) (BackupInfo, error) {
	if j.closed.Load() {
		return BackupInfo{}, fmt.Errorf("journal: backup: %w", ErrClosed)
	}
	var ids int
	res, err := j.log.Backup(dst, wal.BackupOptions{Extra: func(dir string) (map[string]wal.Mark, error) {
		m, n, err := j.cmds.Backup(dir)
		if err != nil {
			return nil, commandErr("backup", err)
		}
		ids = n
		return map[string]wal.Mark{commandSetName: wal.Mark(m)}, nil
	}})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("journal: %w", err)
	}
	return BackupInfo{NextSeq: res.NextSeq, Linked: res.Linked, Copied: res.Copied, Bytes: res.Bytes, CommandIDs: ids}, nil
}
