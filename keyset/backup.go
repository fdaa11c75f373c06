package keyset

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/seglog/journal/segment"
)

// Backup writes a copy of the set, as it is at the call, into the
// directory dir (which must exist and hold no files of the set's name): a
// snapshot of every key and an empty delta, both synced, and the
// directory synced. Every Add and Remove that returned before Backup was
// called is in the copy, durable in the set's own files or not. It returns
// the copy's mark, to Open the copy with as Options.Durable (the root
// records it in the copied log's manifest), and how many keys it holds.
// A crash during Backup leaves files in dir that the caller discards;
// after Close it returns ErrClosed.
func (s *Set) Backup(dir string) (_ Mark, n int, _ error) {
	s.mu.RLock()
	if err := s.usable(); err != nil {
		s.mu.RUnlock()
		return Mark{}, 0, err
	}
	keys := s.keyList()
	gen := max(s.gen, 1)
	s.mu.RUnlock()
	name := filepath.Base(s.snapPath[:len(s.snapPath)-len(".snap")])
	snapPath := filepath.Join(dir, name+".snap")
	deltaPath := filepath.Join(dir, name+".delta")
	w, err := segment.CreateBuffered(s.fs, snapPath, segment.FileHeader{ID: gen, Base: uint64(len(keys))}, snapFramePayload)
	if err != nil {
		return Mark{}, 0, fmt.Errorf("keyset: backup: %w", err)
	}
	err = writeKeys(w, segment.NewEncoder(nil), slices.Values(keys))
	if err == nil {
		err = w.SyncAll()
	}
	if cerr := w.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return Mark{}, 0, fmt.Errorf("keyset: backup %s: %w", snapPath, err)
	}
	d, err := segment.Create(s.fs, deltaPath, segment.FileHeader{ID: gen}, 0)
	if err != nil {
		return Mark{}, 0, fmt.Errorf("keyset: backup: %w", err)
	}
	err = d.SyncAll()
	m := Mark{Gen: gen, End: d.Offset()}
	if cerr := d.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return Mark{}, 0, fmt.Errorf("keyset: backup %s: %w", deltaPath, err)
	}
	if err := s.fs.SyncDir(dir); err != nil {
		return Mark{}, 0, fmt.Errorf("keyset: backup: sync directory %s: %w", dir, err)
	}
	return m, len(keys), nil
}
