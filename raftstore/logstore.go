package raftstore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/seglog/journal/wal"
)

// Sentinel errors, matched with errors.Is. They are the wal package's own,
// so errors coming from the engine match them too.
var (
	// ErrInvalid: bad input (a nil or non-contiguous batch, a delete of a
	// range in the middle of the log, an index the log cannot continue at).
	// Nothing was written.
	ErrInvalid = wal.ErrInvalid
	// ErrCorrupt: stored data is damaged (a value that does not decode, a
	// stable store file whose checksum fails).
	ErrCorrupt = wal.ErrCorrupt
	// ErrClosed: the store was closed.
	ErrClosed = wal.ErrClosed
	// ErrFailed: an earlier write failed in a way that leaves the files'
	// state unknown; writes are refused until the store is reopened, which
	// recovers a consistent state.
	ErrFailed = wal.ErrFailed
)

// LogStore is a raft.LogStore and raft.MonotonicLogStore on a wal log
// directory: the raft index of an entry is its wal sequence number, its
// other fields are the record's value (key empty), and the wal's framing,
// checksums, group commit and recovery apply unchanged.
//
// Crash behaviour: with Immediate durability (the default) a StoreLogs or
// DeleteRange that returned nil survives any crash, and one in progress at
// a crash is, after Open, wholly done or not done at all. With Eventual
// durability the same holds for a crash of the process; a power cut may
// lose a suffix of what was stored since the last Sync (never a part of a
// batch, never something in the middle).
//
// It is safe for concurrent use, as raft requires: reads run in parallel
// with each other and with writes; StoreLogs and DeleteRange are
// serialized.
type LogStore struct {
	wmu sync.Mutex // serializes StoreLogs and DeleteRange
	log *wal.Log
}

var (
	_ raft.LogStore          = (*LogStore)(nil)
	_ raft.MonotonicLogStore = (*LogStore)(nil)
)

// FirstIndex returns the index of the first stored entry, 0 when the store
// holds none. It implements raft.LogStore.
func (s *LogStore) FirstIndex() (uint64, error) { return s.log.FirstSeq(), nil }

// LastIndex returns the index of the last stored entry, 0 when the store
// holds none. It implements raft.LogStore.
func (s *LogStore) LastIndex() (uint64, error) { return s.log.LastSeq(), nil }

// GetLog reads the entry at index into out. An index the store does not
// hold gives raft.ErrLogNotFound itself (raft compares it with ==); a
// damaged entry gives an error wrapping ErrCorrupt. out's Data and
// Extensions are freshly allocated and belong to the caller.
func (s *LogStore) GetLog(index uint64, out *raft.Log) error {
	e, err := s.log.Get(index)
	if err != nil {
		if errors.Is(err, wal.ErrNotFound) {
			return raft.ErrLogNotFound
		}
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	}
	return decodeLog(index, e.Time, e.Value, out)
}

// StoreLog stores one entry; see StoreLogs.
func (s *LogStore) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs appends logs, whose indexes must be contiguous, as one atomic
// batch (one write, one fdatasync with Immediate durability): after a crash
// all of them are present or none is. The first index must be LastIndex()+1,
// or any index >= 1 when the store holds no entries (new, or emptied by
// DeleteRange, as raft does after installing a snapshot). Otherwise, or
// for a nil entry or indexes with a gap, it returns an error wrapping
// ErrInvalid and stores nothing.
//
// A batch larger than wal.MaxBatchBytes (64 MiB) cannot be one wal batch; it
// is stored as several consecutive atomic batches, so a crash may leave a
// prefix of it. Raft never relies on more: an entry counts only once its
// StoreLogs returned.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	for i, l := range logs {
		if l == nil {
			return fmt.Errorf("%w: raftstore: log %d of the batch is nil", ErrInvalid, i)
		}
		if l.Index != logs[0].Index+uint64(i) {
			return fmt.Errorf("%w: raftstore: batch indexes not contiguous: entry %d has index %d after %d",
				ErrInvalid, i, l.Index, logs[i-1].Index)
		}
	}
	if logs[0].Index == 0 {
		return fmt.Errorf("%w: raftstore: index 0", ErrInvalid)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for len(logs) > 0 {
		n, size := chunk(logs)
		if err := s.appendChunk(logs[:n], size); err != nil {
			return err
		}
		logs = logs[n:]
	}
	return nil
}

// perRecordOverhead bounds the wal's framing of one record with an empty key.
const perRecordOverhead = 16

// chunk returns how many of logs (at least one) fit one wal batch, and a
// bound of their encoded size.
func chunk(logs []*raft.Log) (n, size int) {
	for n < len(logs) {
		sz := encodedSizeBound(logs[n])
		if n > 0 && size+sz+perRecordOverhead > wal.MaxBatchBytes {
			break
		}
		size += sz
		n++
	}
	return n, size
}

func (s *LogStore) appendChunk(logs []*raft.Log, size int) error {
	bt := batchTime(logs[0])
	buf := make([]byte, 0, size)
	recs := make([]wal.Record, len(logs))
	for i, l := range logs {
		start := len(buf)
		buf = appendLog(buf, l, bt)
		recs[i].Value = buf[start:len(buf):len(buf)]
	}
	if err := s.log.AppendAt(logs[0].Index, wal.Batch{Time: bt, Records: recs}); err != nil {
		return fmt.Errorf("raftstore: store logs %d..%d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
	}
	return nil
}

// DeleteRange deletes the entries with indexes min..max (inclusive).
// The range must touch an end of the log, as every range raft deletes does:
// with min <= FirstIndex() it drops the head (log compaction after a
// snapshot; the whole log when max >= LastIndex(), after which the next
// StoreLogs may start at any index); with max >= LastIndex() it drops the
// tail (conflict resolution on a follower), and the next StoreLogs starts at
// min. A range strictly inside the log, or min > max, gives an error
// wrapping ErrInvalid and deletes nothing; a range holding no stored entry
// is a no-op.
//
// Each deletion is atomic and, with Immediate durability, durable on return:
// after a crash it is done or not done, never half.
func (s *LogStore) DeleteRange(min, max uint64) error {
	if min > max {
		return fmt.Errorf("%w: raftstore: delete range %d..%d: min > max", ErrInvalid, min, max)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	first, last := s.log.FirstSeq(), s.log.LastSeq()
	if first == 0 || max < first || min > last {
		return nil
	}
	var err error
	switch {
	case min <= first:
		if max == ^uint64(0) { // max+1 would wrap; the whole log goes.
			max = last
		}
		err = s.log.TruncateFront(max + 1)
	case max >= last:
		err = s.log.TruncateBack(min - 1)
	default:
		return fmt.Errorf("%w: raftstore: delete range %d..%d is inside the log %d..%d (only a head or a tail can be deleted)",
			ErrInvalid, min, max, first, last)
	}
	if err != nil {
		return fmt.Errorf("raftstore: delete range %d..%d: %w", min, max, err)
	}
	return nil
}

// IsMonotonic reports true: the store keeps indexes contiguous, so raft
// deletes every entry after restoring a snapshot instead of leaving a gap.
// It implements raft.MonotonicLogStore.
func (s *LogStore) IsMonotonic() bool { return true }

// Sync makes every stored entry durable; needed only with Eventual
// durability.
func (s *LogStore) Sync() error { return s.log.Sync() }

// Close makes everything durable and closes the log. Later calls fail with
// an error wrapping ErrClosed.
func (s *LogStore) Close() error { return s.log.Close() }
