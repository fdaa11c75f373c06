package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/seglog/journal/vfs"
)

// ErrKeyNotFound is returned, unwrapped, by StableStore.Get and GetUint64
// for a key never set. Its text is exactly "not found": raft recognises a
// missing key by that text (as raft-boltdb returns it), so it must not be
// wrapped.
var ErrKeyNotFound = errors.New("not found")

// StableStore is a raft.StableStore: a small key-value map kept in memory
// and stored in one file, rewritten whole on every Set. The file is
//
//	"RAFTSTB1"                         magic
//	uvarint count
//	count x (uvarint len, key, uvarint len, value), keys ascending
//	uint32 little-endian CRC-32C of everything before it
//
// A Set writes the new file to NAME.tmp, fdatasyncs it, renames it over
// NAME and fsyncs the directory before it returns: after a crash the file
// holds the state before or after every Set that was in progress, and every
// Set that returned nil is in it. A damaged or torn file makes
// OpenStableStore fail with an error wrapping ErrCorrupt, never an empty
// store; a missing file is an empty store (a new one).
//
// If a Set fails, the file may hold the old or the new state, so the store
// refuses further Sets (an error wrapping ErrFailed) until it is reopened. It is safe for concurrent use.
type StableStore struct {
	mu     sync.Mutex
	fs     vfs.FS
	path   string
	kv     map[string][]byte
	lock   io.Closer
	failed error
	closed bool
}

var _ raft.StableStore = (*StableStore)(nil)

const stableMagic = "RAFTSTB1"

// OpenStableStore opens (or, if the file does not exist, starts) the stable
// store in the file path, creating its directory if needed. It takes an
// exclusive lock on that directory: a second open of a stable store in the
// same directory fails with an error wrapping wal.ErrLocked. A leftover
// path+".tmp" (a Set interrupted by a crash) is removed. fsys nil means the
// operating system's filesystem, creating the file (and path+".tmp") 0600
// and missing directories 0700; vfs.OS chooses another mode.
func OpenStableStore(path string, fsys vfs.FS) (*StableStore, error) {
	if fsys == nil {
		fsys = vfs.Default()
	}
	dir := filepath.Dir(path)
	if err := mkdirDurable(fsys, dir); err != nil {
		return nil, fmt.Errorf("raftstore: stable store: %w", err)
	}
	lock, err := fsys.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("raftstore: stable store %s: %w", path, err)
	}
	s := &StableStore{fs: fsys, path: path, lock: lock}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// mkdirDurable creates dir and its missing parents, syncing the parent of
// each one it creates so that they survive a power cut.
func mkdirDurable(fsys vfs.FS, dir string) error {
	if _, err := fsys.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(fsys, parent); err != nil {
			return err
		}
	}
	// As open as fsys's own mode allows (vfs.OS: DirMode of its file mode).
	if err := fsys.MkdirAll(dir, os.ModePerm); err != nil {
		return err
	}
	return fsys.SyncDir(parent)
}

func (s *StableStore) load() error {
	tmp := s.path + ".tmp"
	if _, err := s.fs.Stat(tmp); err == nil {
		if err := s.fs.Remove(tmp); err != nil {
			return fmt.Errorf("raftstore: stable store: remove leftover %s: %w", tmp, err)
		}
	}
	f, err := s.fs.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		s.kv = map[string][]byte{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("raftstore: stable store: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("raftstore: stable store %s: %w", s.path, err)
	}
	if size > 1<<30 {
		return fmt.Errorf("%w: stable store %s: %d bytes", ErrCorrupt, s.path, size)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && size == 0) {
		return fmt.Errorf("raftstore: stable store %s: %w", s.path, err)
	}
	s.kv, err = decodeStable(b)
	if err != nil {
		return fmt.Errorf("%w: stable store %s: %v", ErrCorrupt, s.path, err)
	}
	return nil
}

func encodeStable(kv map[string][]byte) []byte {
	keys := make([]string, 0, len(kv))
	size := len(stableMagic) + binary.MaxVarintLen64 + 4
	for k, v := range kv {
		keys = append(keys, k)
		size += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, stableMagic...)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(kv[k])))
		b = append(b, kv[k]...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// decodeStable parses a stable store file; any damage is an error.
func decodeStable(b []byte) (map[string][]byte, error) {
	if len(b) < len(stableMagic)+1+4 {
		return nil, fmt.Errorf("file of %d bytes is too short", len(b))
	}
	if string(b[:len(stableMagic)]) != stableMagic {
		return nil, errors.New("bad magic")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errors.New("checksum mismatch")
	}
	p := body[len(stableMagic):]
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return nil, false
		}
		v := p[k : k+int(n)]
		p = p[k+int(n):]
		return v, true
	}
	count, k := binary.Uvarint(p)
	if k <= 0 || count > uint64(len(p)) {
		return nil, errors.New("bad entry count")
	}
	p = p[k:]
	kv := make(map[string][]byte, count)
	for i := range count {
		key, ok1 := next()
		val, ok2 := next()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("entry %d is truncated", i)
		}
		kv[string(key)] = bytes.Clone(val)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d bytes after the last entry", len(p))
	}
	return kv, nil
}

// Set stores val under key, durably: it returns after the new state is on
// stable storage (see StableStore). val is copied.
func (s *StableStore) Set(key, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	next := make(map[string][]byte, len(s.kv)+1)
	for k, v := range s.kv {
		next[k] = v
	}
	next[string(key)] = bytes.Clone(val)
	if err := s.write(encodeStable(next)); err != nil {
		return fmt.Errorf("raftstore: stable store set %q: %w", key, err)
	}
	s.kv = next
	return nil
}

func (s *StableStore) writable() error {
	switch {
	case s.closed:
		return fmt.Errorf("raftstore: stable store: %w", ErrClosed)
	case s.failed != nil:
		return fmt.Errorf("raftstore: stable store: %w (after %v)", ErrFailed, s.failed)
	}
	return nil
}

// write replaces the file with b: temp file, fdatasync, rename, directory
// fsync. Any failure leaves the file's state unknown (old or new), so the
// store refuses further writes.
func (s *StableStore) write(b []byte) error {
	if err := vfs.ReplaceFile(s.fs, s.path, b); err != nil {
		s.failed = err
		return err
	}
	return nil
}

// Get returns a copy of the value stored under key, or nil and
// ErrKeyNotFound (unwrapped) if none is.
func (s *StableStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("raftstore: stable store: %w", ErrClosed)
	}
	v, ok := s.kv[string(key)]
	if !ok {
		return nil, ErrKeyNotFound
	}
	return bytes.Clone(v), nil
}

// SetUint64 stores val under key as 8 big-endian bytes (the encoding
// raft-boltdb uses), durably like Set.
func (s *StableStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value stored under key by SetUint64, or 0 and
// ErrKeyNotFound (unwrapped) if none is. A value that is not 8 bytes long
// gives an error wrapping ErrInvalid.
func (s *StableStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: raftstore: stable store key %q holds %d bytes, not a uint64", ErrInvalid, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Close releases the directory lock. Every Set is already durable. Later
// calls fail with an error wrapping ErrClosed.
func (s *StableStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("raftstore: stable store: %w", ErrClosed)
	}
	s.closed = true
	return s.lock.Close()
}
