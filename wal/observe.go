package wal

import (
	"github.com/seglog/journal/compactor"
	"github.com/seglog/journal/segment"
)

// stateObserver brings the compaction state read from the checkpoint up
// to date with the frames Open's scan of the newest segment reads after a
// crash, as it reads them, so that replayState need not read them a second
// time (it starts at the state's Through, which each observed entry
// raises): what dominates Open after a kill of a log of small batches.
type stateObserver struct {
	cs      *compactor.State
	front   uint64
	onDisk  uint64 // what the checkpoint file covers: cs's Through as read
	scratch []byte // rebuilt keys; Observe copies what it keeps
}

// feed returns what the scan of segment id (file name, first sequence
// number base), listed up to frames before it starts, should call for
// each frame it verifies; nil when the state cannot take them in order:
// frames before the scan that the checkpoint does not cover are replayed
// after the load, and the state must see every frame in sequence order.
// A nil observer feeds nothing.
func (o *stateObserver) feed(id uint64, name string, base uint64, frames []segment.FrameInfo) func(int64, segment.FrameHeader, []byte) error {
	if o == nil {
		return nil
	}
	next := base
	if len(frames) > 0 {
		next = frames[len(frames)-1].Last + 1
	}
	if o.cs.Through() < next {
		return nil
	}
	return func(off int64, h segment.FrameHeader, p []byte) error {
		if h.FirstSeq < o.cs.Through() {
			return nil // covered by the checkpoint, as replayState skips it
		}
		if err := observeFrame(o.cs, id, o.front, h, p, &o.scratch, nil); err != nil {
			return segment.AtOffset(err, name, off)
		}
		return nil
	}
}
