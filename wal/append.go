package wal

import (
	"fmt"

	"github.com/seglog/journal/segment"
)

// Append writes b as one frame and returns the sequence number of its first
// record; the others follow contiguously. Sequence numbers strictly
// increase and are never reused, except those TruncateBack removes. An
// empty batch writes nothing and returns the next sequence number.
//
// With Immediate durability Append returns once the batch is on stable
// storage; concurrent Appends share one fdatasync (group commit). With
// Eventual it returns once the batch is written to the OS.
//
// A batch over MaxBatchBytes gives an error wrapping ErrInvalid and writes
// nothing. If a write or sync fails, Append returns an error wrapping the
// cause and ErrFailed, and every later Append fails the same way until the
// log is reopened: the batch may or may not be on disk, and reopening
// recovers a consistent state in which it is wholly present or absent.
func (l *Log) Append(b Batch) (first uint64, err error) {
	return l.append(b, false, 0)
}

// append is Append, and with at set AppendAt(want, b).
func (l *Log) append(b Batch, at bool, want uint64) (first uint64, err error) {
	if len(b.Records) == 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.closed {
			return 0, ErrClosed
		}
		return l.nextSeq, nil
	}
	bp := l.getBuf()
	defer l.putBuf(bp)
	frame, flags, err := encodeBatch((*bp)[:segment.FrameHeaderSize], b.Records)
	*bp = frame
	if err != nil {
		return 0, err
	}
	frame, codec, cbp := l.compressFrame(frame)
	if cbp != nil {
		defer l.putBuf(cbp)
	}
	payload := frame[segment.FrameHeaderSize:]
	h := segment.FrameHeader{CRC: segment.Checksum(payload), Time: b.Time, Count: uint32(len(b.Records)), Codec: codec, Flags: flags}

	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.runInline()
	if err := l.writable(); err != nil {
		return 0, err
	}
	if at && want != l.nextSeq {
		if err := l.moveNext(want); err != nil {
			return 0, err
		}
	}
	if off := l.active.Offset(); off > segment.FileHeaderSize && (l.rotateNext || off+int64(len(frame)) > l.opts.SegmentSize) {
		l.rotateNext = false
		if err := l.rotate(); err != nil {
			return 0, l.fail(err)
		}
	}
	first = l.nextSeq
	h.FirstSeq = first
	compact := l.observe(b, first)
	if compact {
		h.Flags |= segment.FlagCompact
	}
	off, err := l.active.WriteFrame(frame, h)
	if err != nil {
		return 0, l.fail(err)
	}
	l.nextSeq += uint64(len(b.Records))
	l.idx.Append(uint32(l.active.ID()), first, l.nextSeq-1, uint32(off))
	if l.opts.Durability == Eventual {
		l.visibleSeq = l.nextSeq
	}
	if compact {
		l.applyCompaction(l.nextSeq)
		if c := l.cs.Segment(uint32(l.active.ID())); rewriteWorthy(c) && l.active.Offset() >= earlyRotateBytes {
			l.rotateNext = true
		}
	}
	if l.opts.Durability == Eventual {
		return first, nil
	}
	if err := l.waitSynced(l.nextSeq); err != nil {
		return 0, err
	}
	return first, nil
}

// encodeBatch appends the entries of records to frame and returns it with
// the frame flags of that encoding. A batch of two or more records has its
// keys prefix-compressed (FlagPrefix) when that makes it smaller than the
// plain encoding: route events of a batch share most of their key. A
// single record, or records whose keys share nothing (the raft store's
// have none), are encoded plainly, which costs nothing to decode. A batch
// whose key and value bytes, plus two per record, exceed MaxBatchBytes is
// refused whatever its encoding, so that a frame's keys stay within
// segment.MaxFrameKeyBytes; so is a plain encoding over it.
func encodeBatch(frame []byte, records []Record) ([]byte, uint8, error) {
	start := len(frame)
	// Unless the first two keys share more than the byte that storing the
	// shared length takes, encode plainly without trying (keyless raft
	// entries, say).
	if len(records) > 1 && segment.SharedPrefix(records[0].Key, records[1].Key) > 1 {
		plain := 0
		var prev []byte
		for _, r := range records {
			// Each length takes at least a byte: plain is at most
			// what the plain encoding takes.
			if plain += len(r.Key) + len(r.Value) + 2; plain > MaxBatchBytes {
				return frame[:start], 0, errBatchSize
			}
			frame = segment.AppendPrefixEntry(frame, prev, r.Key, r.Value, r.Tombstone)
			prev = r.Key
		}
		if len(frame)-start < plain {
			return frame, segment.FlagPrefix, nil
		}
		frame = frame[:start] // it saved nothing: plain after all
	}
	for _, r := range records {
		frame = segment.AppendEntry(frame, r.Key, r.Value, r.Tombstone)
		if len(frame)-start > MaxBatchBytes {
			return frame[:start], 0, errBatchSize
		}
	}
	return frame, 0, nil
}

var errBatchSize = fmt.Errorf("%w: batch over %d bytes", ErrInvalid, MaxBatchBytes)

// writable reports why nothing may be appended now, if anything.
func (l *Log) writable() error {
	if l.closed {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	return nil
}

// fail makes err sticky. Called with l.mu held.
func (l *Log) fail(err error) error {
	if l.failed == nil {
		l.failed = err
		l.log.Error("wal: write failed; refusing appends until reopened", "dir", l.dir, "err", err)
	}
	l.cond.Broadcast()
	return fmt.Errorf("%w: %w", ErrFailed, err)
}

// waitSynced returns once every sequence number below target is durable.
// One waiter at a time runs fdatasync for everything written so far, with
// l.mu released; the others wait for it and are covered by it (group
// commit). Called with l.mu held.
func (l *Log) waitSynced(target uint64) error { return l.syncUntil(target, true) }

// syncForWork is waitSynced for compaction work, which Close waits for:
// once the log is closing it returns ErrClosed instead of waiting for
// Close to finish.
func (l *Log) syncForWork(target uint64) error { return l.syncUntil(target, false) }

func (l *Log) syncUntil(target uint64, awaitClose bool) error {
	for l.syncedSeq < target {
		if l.failed != nil {
			return fmt.Errorf("%w: %w", ErrFailed, l.failed)
		}
		// Close seals the log, which makes every written batch durable:
		// an append waits for it rather than fail a batch that is about
		// to be durable.
		if l.closed {
			if awaitClose && !l.closeDone {
				l.cond.Wait()
				continue
			}
			return ErrClosed
		}
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncing = true
		w, off, upto := l.active, l.active.Offset(), l.nextSeq
		l.mu.Unlock()
		err := w.File().Sync()
		l.mu.Lock()
		l.syncing = false
		if err != nil {
			return l.fail(fmt.Errorf("sync %s: %w", w.Name(), err))
		}
		w.MarkSynced(off)
		l.syncedSeq = max(l.syncedSeq, upto)
		if l.opts.Durability == Immediate {
			l.visibleSeq = max(l.visibleSeq, upto)
			l.publishDead()
		}
		l.cond.Broadcast()
	}
	return nil
}

func (l *Log) getBuf() *[]byte {
	if bp, ok := l.bufPool.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (l *Log) putBuf(bp *[]byte) {
	if cap(*bp) > 1<<20 {
		return // do not pin a huge buffer for a rare huge batch
	}
	l.bufPool.Put(bp)
}
