// Package index is the in-memory map from sequence numbers to the frames
// that hold them: a B-tree (github.com/google/btree) of segments, each with
// the sorted first sequence numbers and offsets of its frames.
//
// It holds 12 bytes per frame, not per entry, so a journal written in
// batches costs a fraction of a byte of index per event, and replacing a
// rewritten segment's frames is one tree update. Snapshots are
// copy-on-write clones: a reader takes one in O(1) and iterates it while
// the writer keeps adding frames.
//
// A sealed segment may be added by its summary alone (AppendLazySegment):
// its frames are loaded once, by the first call that needs them, and
// shared by every clone; the calls that may load return the load's error.
package index
