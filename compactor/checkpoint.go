package compactor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// A checkpoint file holds a State as of a sequence number (its Through):
// opening a log loads it and replays only the entries from Through on.
//
//	0  magic   [8]byte "SEGCPT\x00\x02" (version 1, without the
//	                   segments' retained counts, is read too)
//	8  length  uint32  of the body
//	12 crc     uint32  CRC-32C of the body
//	16 body    see AppendBinary
//
// It is replaced atomically (temporary file, fdatasync, rename, directory
// fsync), so a crash leaves the old or the new checkpoint, never a mix.
const (
	cptMagic      = "SEGCPT\x00\x02"
	cptMagicV1    = "SEGCPT\x00\x01"
	cptHeaderSize = 16
	// CheckpointName is the checkpoint's file name in a log directory.
	CheckpointName = "compaction.cpt"
)

// ErrCorrupt is shared with package segment.
var ErrCorrupt = segment.ErrCorrupt

// AppendBinary appends the encoding of s to dst.
func (s *State) AppendBinary(dst []byte) []byte {
	u := binary.AppendUvarint
	dst = u(dst, s.through)
	dst = u(dst, s.live)
	dst = u(dst, s.maxDead)
	keys := make([]string, 0, len(s.keys))
	for k := range s.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic files
	dst = u(dst, uint64(len(keys)))
	for _, k := range keys {
		ks := s.keys[k]
		dst = u(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = u(dst, ks.live)
		dst = u(dst, ks.sinceTomb)
		var flags byte
		if ks.hasTomb {
			flags |= 1
		}
		if ks.pending {
			flags |= 2
		}
		dead, hasDead := s.dead.Get(deadItem{key: k})
		if hasDead {
			flags |= 4
		}
		dst = append(dst, flags)
		dst = u(dst, ks.tomb)
		dst = u(dst, dead.seq)
		dst = u(dst, uint64(len(ks.bySeg)))
		for _, sc := range ks.bySeg {
			dst = u(dst, uint64(sc.seg))
			dst = u(dst, sc.n)
		}
	}
	segs := make([]uint64, 0, len(s.segs))
	for id := range s.segs {
		segs = append(segs, id)
	}
	slices.Sort(segs)
	dst = u(dst, uint64(len(segs)))
	for _, id := range segs {
		dst = u(dst, uint64(id))
		dst = u(dst, s.segs[id].Total)
		dst = u(dst, s.segs[id].Dead)
		dst = u(dst, s.segs[id].Retained)
	}
	return dst
}

type decoder struct {
	p   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint in checkpoint", ErrCorrupt)
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.p)) {
		d.err = fmt.Errorf("%w: checkpoint field past end", ErrCorrupt)
		return nil
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}

// count reads a length and checks it against the bytes left (each element
// takes at least min bytes), so a damaged count cannot cause a huge
// allocation.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.p)/min) {
		d.err = fmt.Errorf("%w: checkpoint count %d too large", ErrCorrupt, n)
		return 0
	}
	return int(n)
}

// DecodeState decodes a State encoded by AppendBinary. Damaged input gives
// an error wrapping ErrCorrupt, never a panic.
func DecodeState(p []byte) (*State, error) { return decodeState(p, 2) }

// decodeState decodes a State of checkpoint format version (1 or 2).
func decodeState(p []byte, version int) (*State, error) {
	d := &decoder{p: p}
	s := NewState()
	s.through = d.uvarint()
	s.live = d.uvarint()
	s.maxDead = d.uvarint()
	nk := d.count(8)
	for range nk {
		k := string(d.bytes(d.uvarint()))
		ks := &keyState{key: k, live: d.uvarint(), sinceTomb: d.uvarint()}
		flags := d.bytes(1)
		ks.tomb = d.uvarint()
		dead := d.uvarint()
		nb := d.count(2)
		if d.err != nil {
			break
		}
		ks.hasTomb = flags[0]&1 != 0
		if flags[0]&2 != 0 {
			ks.pending = true
			s.pending = append(s.pending, ks)
		}
		if flags[0]&4 != 0 {
			s.dead.ReplaceOrInsert(deadItem{key: k, seq: dead})
		}
		for range nb {
			ks.bySeg = append(ks.bySeg, segCount{seg: d.uvarint(), n: d.uvarint()})
		}
		if _, dup := s.keys[k]; dup {
			d.err = fmt.Errorf("%w: key %q twice in checkpoint", ErrCorrupt, k)
		}
		s.keys[k] = ks
	}
	ns := d.count(3)
	for range ns {
		if d.err != nil {
			break
		}
		id := d.uvarint()
		sc := &SegCounts{Total: d.uvarint(), Dead: d.uvarint()}
		if version >= 2 {
			sc.Retained = d.uvarint()
		}
		s.segs[id] = sc
	}
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes in checkpoint", ErrCorrupt, len(d.p))
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}

// EncodeCheckpoint returns the checkpoint file contents for s.
func EncodeCheckpoint(s *State) []byte {
	body := s.AppendBinary(make([]byte, cptHeaderSize, 4096))
	copy(body, cptMagic)
	binary.LittleEndian.PutUint32(body[8:], uint32(len(body)-cptHeaderSize))
	binary.LittleEndian.PutUint32(body[12:], segment.Checksum(body[cptHeaderSize:]))
	return body
}

// WriteCheckpoint durably replaces the checkpoint in dir with body, made by
// EncodeCheckpoint.
func WriteCheckpoint(fs vfs.FS, dir string, body []byte) error {
	name := filepath.Join(dir, CheckpointName)
	if err := vfs.ReplaceFile(fs, name, body); err != nil {
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return nil
}

// RemoveCheckpoint durably deletes the checkpoint in dir, if there is one,
// for a log changed in a way the checkpoint cannot describe (truncated
// with compaction off): the next Open then rebuilds the state from the
// segments. A crash before it returns leaves the checkpoint or none.
func RemoveCheckpoint(fs vfs.FS, dir string) error {
	name := filepath.Join(dir, CheckpointName)
	if err := fs.Remove(name); err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("remove checkpoint %s: %w", name, err)
	}
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("remove checkpoint %s: sync directory: %w", name, err)
	}
	return nil
}

// ErrNoCheckpoint is returned by ReadCheckpoint when dir has none.
var ErrNoCheckpoint = errors.New("no checkpoint")

// ReadCheckpoint loads the checkpoint in dir. A missing one gives
// ErrNoCheckpoint; a damaged one an error wrapping ErrCorrupt.
func ReadCheckpoint(fs vfs.FS, dir string) (*State, error) {
	name := filepath.Join(dir, CheckpointName)
	f, err := fs.Open(name)
	if err != nil {
		if isNotExist(err) {
			return nil, ErrNoCheckpoint
		}
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if size < cptHeaderSize || size > 1<<34 {
		return nil, fmt.Errorf("%s: %w: size %d", name, ErrCorrupt, size)
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	version := map[string]int{cptMagic: 2, cptMagicV1: 1}[string(buf[:8])]
	if version == 0 || int64(binary.LittleEndian.Uint32(buf[8:]))+cptHeaderSize != size ||
		segment.Checksum(buf[cptHeaderSize:]) != binary.LittleEndian.Uint32(buf[12:]) {
		return nil, fmt.Errorf("%s: %w: bad header or checksum", name, ErrCorrupt)
	}
	s, err := decodeState(buf[cptHeaderSize:], version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
