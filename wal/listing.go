package wal

// The log's use of its manifest (package wal/manifest): what Open holds the
// directory to, and the edits that keep the manifest true.
//
// Each change to the set of segments is recorded in the manifest at the
// point where a crash on either side of it leaves a directory Open accepts:
//
//   - a new segment is listed after its file (header synced) and directory
//     entry are durable and before any frame goes into it; the edit also
//     records the segment before it as sealed, with its final size;
//   - Close records the newest segment sealed at its size, and Open, once it
//     has synced a recovered tail, records how far the newest segment is
//     durable: only bytes past that boundary can be a torn write;
//   - a segment is unlisted before its file is deleted (compaction,
//     truncation): a crash in between leaves an unlisted file that Open
//     deletes;
//   - a compacted segment's new size is recorded, with the old one, before
//     its rewritten file is renamed into place;
//   - the truncation front moves in the manifest; a TruncateBack is still
//     decided in the bounds file, and Open and truncation hold the
//     manifest to the files it leaves (reconcile).

import (
	"fmt"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal/manifest"
)

// logFront is the truncation front: the manifest's, except while the
// bounds file records a TruncateBack not yet finished (which may have
// lowered it), or in a directory that has no manifest yet.
func logFront(b bounds, m *manifest.Loaded) uint64 {
	if m == nil || !m.Found || b.cut != nil {
		return b.front
	}
	return m.State.Front
}

// listingFor is what load holds the directory to, given its manifest (m
// nil or not found: none).
func listingFor(m *manifest.Loaded) listing {
	if m == nil || !m.Found {
		return listing{missing: m != nil}
	}
	st := m.State.Clone()
	return listing{st: &st}
}

// cutState changes st to what the files hold once the cut c is carried
// out (see applyCut), with front the bounds file's.
func cutState(st *manifest.State, c *cut, front uint64) {
	for _, id := range st.IDs() {
		if id > c.seg {
			delete(st.Segments, id)
		}
	}
	if ent, ok := st.Segments[c.seg]; ok {
		if c.off <= segment.FileHeaderSize && c.keptHeader.Count == 0 {
			delete(st.Segments, c.seg)
		} else {
			ent.Durable = min(ent.Durable, max(c.off, segment.FileHeaderSize))
			ent.Sealed, ent.Prev = false, 0
			st.Segments[c.seg] = ent
		}
	}
	st.Front = front
}

// reconcile is the edit that makes st describe the log as installed:
// every segment it holds, the newest durable up to its end (install's
// segment.Recover synced it), and the front. Called with l.mu held (or
// before l is shared).
func (l *Log) reconcile(st manifest.State) manifest.Edit {
	var e manifest.Edit
	live := make(map[uint64]bool, len(l.segs))
	for i, s := range l.segs {
		live[s.id] = true
		old, ok := st.Segments[s.id]
		want := manifest.Segment{ID: s.id, Base: s.base, Durable: s.size, Sealed: true}
		if i == len(l.segs)-1 {
			want.Durable = l.active.Offset()
			want.Sealed = ok && old.Sealed && old.Durable == want.Durable
		}
		if !ok || old != want {
			e.Set = append(e.Set, want)
		}
	}
	for _, id := range st.IDs() {
		if !live[id] {
			e.Remove = append(e.Remove, id)
		}
	}
	if st.Front != l.front {
		e.Front, e.SetFront = l.front, true
	}
	return e
}

// record applies e to the manifest; a failure fails the log, since the
// manifest may then hold the edit or not. Called with l.mu held.
func (l *Log) record(e manifest.Edit) error {
	if err := l.mf.Apply(e); err != nil {
		return l.fail(err)
	}
	return nil
}

// activeEntry is the manifest's entry for the active segment sealed at its
// current size. Called with l.mu held.
func (l *Log) activeEntry() manifest.Segment {
	s := l.segs[len(l.segs)-1]
	return manifest.Segment{ID: s.id, Base: s.base, Durable: l.active.Offset(), Sealed: true}
}

// Mark is how far a file kept beside the log was durable (see
// Log.RecordMark).
type Mark = manifest.Mark

// Hole is a range of sequence numbers a repair removed on purpose (see
// RebuildManifest): Open never gives them out again.
type Hole = manifest.Hole

// afterHoles is the sequence number after every hole of st (0 without).
func afterHoles(st manifest.State) uint64 {
	var n uint64
	for _, h := range st.Holes {
		n = max(n, h.Last+1)
	}
	return n
}

// RecordMark records in the log's manifest, durably, how far the file
// name (not one of the log's) was durable, for its owner to hold it to at
// the next Open (see ReadMark). The root's command-ID set records its
// delta so. An error fails the log, as any failed manifest write does.
func (l *Log) RecordMark(name string, m Mark) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != stateOpen {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("%w: %w", ErrFailed, l.failed)
	}
	if old, ok := l.mf.State().Marks[name]; ok && old == m {
		return nil
	}
	return l.record(manifest.Edit{Marks: map[string]Mark{name: m}})
}

// ReadMark reads the mark recorded for name in the manifest of the log in
// dir, without a lock and without changing anything; ok is false when
// none is recorded (or the directory has no manifest). A damaged manifest
// is an error wrapping ErrCorrupt. fsys nil means the OS.
func ReadMark(dir string, fsys vfs.FS, name string) (m Mark, ok bool, err error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	ld, err := manifest.Load(fsys, dir)
	if err != nil {
		return Mark{}, false, err
	}
	m, ok = ld.State.Marks[name]
	return m, ok, nil
}

// RebuildManifest writes the manifest of the log in dir anew, listing the
// segments the directory holds now as a lock-free reader finds them: the
// newest durable as far as its frames record. It is for repair, after the
// damage is cut out, and accepts every loss the manifest recorded (a
// missing segment stays missing); holes are the sequence numbers the
// repair removed, recorded as such. The caller holds the directory lock.
// The front, marks and holes are kept from the old manifest when it is
// readable (else the front is the bounds file's).
func RebuildManifest(dir string, fsys vfs.FS, holes ...Hole) error {
	if fsys == nil {
		fsys = vfs.Default()
	}
	b, err := readBounds(fsys, dir)
	if err != nil {
		return fmt.Errorf("rebuild manifest: %w", err)
	}
	front := b.front
	var old manifest.State
	if m, err := manifest.Load(fsys, dir); err == nil {
		front, old = logFront(b, m), m.State
	}
	ld, err := load(fsys, dir, forView, front, listing{}, nil, nil, nil)
	if err != nil {
		return fmt.Errorf("rebuild manifest: %w", err)
	}
	defer ld.close()
	st := stateOf(ld, front)
	st.Marks, st.Holes = old.Marks, append(old.Holes, holes...)
	m, err := manifest.Create(fsys, dir, st)
	if err != nil {
		return fmt.Errorf("rebuild manifest: %w", err)
	}
	return m.Close()
}

// stateOf is the manifest describing the segments load found: the newest
// durable as far as its frames record, a half-made newest left out (Open
// recreates it).
func stateOf(ld *loaded, front uint64) manifest.State {
	st := manifest.State{Segments: make(map[uint64]manifest.Segment), Front: front}
	for i, s := range ld.segs {
		ent := manifest.Segment{ID: s.id, Base: s.base, Durable: s.size, Sealed: true}
		if i == len(ld.segs)-1 {
			if ld.badLast {
				break
			}
			ent.Sealed = false
			ent.Durable = max(segment.FileHeaderSize, min(ld.lastSynced, s.size))
		}
		st.Segments[s.id] = ent
	}
	return st
}
