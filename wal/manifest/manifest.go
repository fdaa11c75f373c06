package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// Name is the manifest's file in a log directory; TempName is the file a
// rewrite writes before renaming it over Name.
const (
	Name     = "manifest.log"
	TempName = Name + ".tmp"
)

// minRewrite: the file is rewritten as a snapshot once it is past this
// size and four times what the last snapshot was.
const minRewrite = 64 << 10

// Loaded is a manifest as read from disk, before anything is changed.
type Loaded struct {
	State State
	Found bool // false: the directory has no manifest
	// TornAt, when not 0, is where a torn last edit (a crash while it was
	// written) starts; Open cuts it.
	TornAt int64

	fsys vfs.FS
	path string
	gen  uint64
	res  segment.ScanResult
	size int64
}

// Load reads the manifest of dir without changing anything. A missing
// manifest is Found false; damage is an error wrapping segment.ErrCorrupt
// naming the file and offset. A torn last edit is not damage: it was never
// synced, so nothing relied on it.
func Load(fsys vfs.FS, dir string) (*Loaded, error) {
	path := filepath.Join(dir, Name)
	ld := &Loaded{fsys: fsys, path: path, State: State{Segments: make(map[uint64]Segment)}}
	f, err := fsys.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ld, nil
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	ld.Found = true
	if ld.size, err = f.Size(); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	fh, err := segment.ReadFileHeader(f, ld.size, path)
	if err != nil {
		return nil, err
	}
	ld.gen = fh.ID
	ld.res, err = segment.ScanEntries(f, ld.size, path, func(off int64, e segment.Entry) error {
		if err := ld.State.applyEntry(e.Key, e.Value, e.Tombstone); err != nil {
			return segment.Corruptf(path, off, "%v", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ld.res.Tail == segment.TailTorn {
		ld.TornAt = ld.res.End
	}
	return ld, nil
}

// Manifest is an open manifest taking edits. It is safe for concurrent
// use: edits are written one at a time, in the order Apply is called.
type Manifest struct {
	fsys vfs.FS
	dir  string
	path string

	mu sync.Mutex // guards the fields below and the file
	// w appends edits; nil until the first one when the file was loaded
	// (from holds it then), so an Open with nothing to record writes
	// nothing.
	w        *segment.Writer
	from     *Loaded
	enc      *segment.Encoder
	state    State
	gen      uint64 // the file's generation (its header's ID)
	next     uint64 // sequence number of the next record
	snapSize int64  // the file's size after its last rewrite
	err      error  // sticky: after a failed write or sync nothing more is written
}

// Open makes a loaded manifest take edits. The file is not touched until
// the first edit, which first cuts a torn last edit and writes again what
// no fsync confirmed (see segment.Recover). ld must have been found (see
// Create for a directory without a manifest).
func (ld *Loaded) Open() *Manifest {
	m := &Manifest{fsys: ld.fsys, dir: filepath.Dir(ld.path), path: ld.path, from: ld, enc: segment.NewEncoder(nil),
		state: ld.State.Clone(), gen: ld.gen, next: 1, snapSize: ld.res.End}
	if ld.res.Frames > 0 {
		m.next = ld.res.Last + 1
	}
	return m
}

// writer returns the writer of the file, recovering the loaded file's tail
// at the first call. Called with mu held.
func (m *Manifest) writer() (*segment.Writer, error) {
	if m.w != nil {
		return m.w, nil
	}
	ld := m.from
	f, err := ld.fsys.OpenReadWrite(ld.path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ld.path, err)
	}
	// The record Apply writes next is synced at once: one fsync for both.
	w, err := segment.RecoverForNextSync(f, ld.path, ld.gen, ld.res.MaxSynced, ld.res.End, ld.size, 0, ld.res.Tail)
	if err != nil {
		f.Close()
		return nil, err
	}
	m.w, m.from = w, nil
	return w, nil
}

// Create writes a new manifest holding st in dir, replacing any there,
// durably (written to TempName, synced, renamed, directory synced).
func Create(fsys vfs.FS, dir string, st State) (*Manifest, error) {
	m := &Manifest{fsys: fsys, dir: dir, path: filepath.Join(dir, Name), enc: segment.NewEncoder(nil), state: st.Clone()}
	if m.state.Segments == nil {
		m.state.Segments = make(map[uint64]Segment)
	}
	if err := m.rewrite(1); err != nil {
		return nil, err
	}
	return m, nil
}

// rewrite writes the state as a new file of generation gen and puts it in
// place of the current one. Called with mu held (or before m is shared).
func (m *Manifest) rewrite(gen uint64) error {
	tmp := filepath.Join(m.dir, TempName)
	w, err := segment.Create(m.fsys, tmp, segment.FileHeader{ID: gen}, 0)
	if err != nil {
		return err
	}
	m.next = 1
	err = m.write(w, m.state.snapshot())
	if err == nil {
		err = w.SyncAll()
	}
	if err == nil {
		err = m.fsys.Rename(tmp, m.path)
	}
	if err == nil {
		err = m.fsys.SyncDir(m.dir)
	}
	if err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", m.path, err)
	}
	if m.w != nil {
		m.w.Close()
	}
	m.w = segment.Resume(w.File(), m.path, gen, w.Offset(), 0)
	m.gen, m.snapSize = gen, w.Offset()
	return nil
}

// write appends e to w as one frame, not synced.
func (m *Manifest) write(w *segment.Writer, e Edit) error {
	recs := e.records()
	if len(recs) == 0 {
		return nil
	}
	frame, err := m.enc.Batch(recs, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	frame.SetFirst(m.next)
	if _, err := w.WriteFrame(&frame); err != nil {
		return err
	}
	m.next += uint64(len(recs))
	return nil
}

// Apply writes e and syncs it: when it returns nil, the edit survives a
// crash. After a failed write or sync every later Apply fails too, and the
// edit may or may not have reached the disk (reopen to know).
func (m *Manifest) Apply(e Edit) error {
	if e.Empty() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.writeSynced(e); err != nil {
		return err
	}
	m.state.Apply(e)
	if m.w.Offset() > max(minRewrite, 4*m.snapSize) {
		if err := m.rewrite(m.gen + 1); err != nil {
			m.err = err
			return err
		}
	}
	return nil
}

// Sync makes every edit the manifest holds durable. After a kill, Load
// reads edits that may be in the page cache alone (written, their fsync
// not returned): Open calls it before it acts on them (deleting the files
// a removal left). Its failure is sticky, as Apply's.
func (m *Manifest) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writeSynced(Edit{})
}

// writeSynced writes e (nothing if it is empty) after what the file holds
// and syncs it all; its failure is sticky. Called with mu held.
func (m *Manifest) writeSynced(e Edit) error {
	if m.err != nil {
		return m.err
	}
	w, err := m.writer()
	if err == nil {
		err = m.write(w, e)
	}
	if err == nil {
		err = w.SyncAll()
	}
	if err != nil {
		m.err = fmt.Errorf("manifest %s: %w", m.path, err)
	}
	return m.err
}

// State returns a copy of what the manifest holds.
func (m *Manifest) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Clone()
}

// Close closes the file; every edit Apply returned is already durable.
func (m *Manifest) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = errors.New("manifest closed")
	}
	m.from = nil
	if m.w == nil {
		return nil
	}
	err := m.w.Close()
	m.w = nil
	return err
}
