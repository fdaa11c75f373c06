package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/seglog/journal/index"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

const (
	segSuffix = ".seg"
	idxSuffix = ".idx"
	tmpSuffix = ".tmp"
)

func segName(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", id, segSuffix))
}

func idxName(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", id, idxSuffix))
}

// parseSegName returns the id of a segment file name, or false.
func parseSegName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(base) != 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(base, 10, 64)
	return id, err == nil
}

// seg is one segment file as held by a Log or a View: an open handle and
// the bytes of it that hold frames.
type seg struct {
	id   uint64
	name string
	f    vfs.File
	size int64 // end of the frames; for the active segment, see Log.snapshot
	base uint64
}

// loaded is what was found in a log directory.
type loaded struct {
	segs    []*seg
	idx     *index.Index
	nextSeq uint64
	// torn is set when the last segment ends in a torn write at segs[last].size.
	torn error
	// badLast is set when the last segment's file header is missing or
	// damaged (a crash while creating it): nothing in it was ever written.
	badLast bool
}

func (ld *loaded) close() {
	for _, s := range ld.segs {
		s.f.Close()
	}
}

// load reads the state of the log in dir without modifying anything. In
// readOnly mode the last segment is opened read-only; otherwise read-write,
// so Open can cut a torn tail and append.
func load(fsys vfs.FS, dir string, readOnly bool) (_ *loaded, err error) {
	names, err := fsys.List(dir)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, n := range names {
		if id, ok := parseSegName(n); ok {
			ids = append(ids, id)
		}
	}
	ld := &loaded{idx: index.New()}
	defer func() {
		if err != nil {
			ld.close()
		}
	}()
	var prevLast uint64
	var havePrev bool
	for i, id := range ids {
		last := i == len(ids)-1
		name := segName(dir, id)
		var f vfs.File
		if last && !readOnly {
			f, err = fsys.OpenReadWrite(name)
		} else {
			f, err = fsys.Open(name)
		}
		if err != nil {
			return nil, fmt.Errorf("open segment: %w", err)
		}
		s := &seg{id: id, name: name, f: f}
		ld.segs = append(ld.segs, s)
		size, err := f.Size()
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", name, err)
		}
		var hb [segment.FileHeaderSize]byte
		var fh segment.FileHeader
		if size >= segment.FileHeaderSize {
			_, err = f.ReadAt(hb[:], 0)
			if err != nil {
				return nil, fmt.Errorf("read %s header: %w", name, err)
			}
			fh, err = segment.ParseFileHeader(hb[:])
		} else {
			err = fmt.Errorf("%w: file of %d bytes has no header", ErrCorrupt, size)
		}
		if err != nil {
			if last {
				// The header is written and synced before the directory
				// entry is, and before any frame: a bad header on the newest
				// segment is a crash during its creation.
				ld.badLast = true
				s.size = segment.FileHeaderSize
				s.base = ld.nextSeq
				continue
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if id > maxSegmentID {
			return nil, fmt.Errorf("%s: %w: segment number out of range", name, ErrCorrupt)
		}
		if fh.ID != id {
			return nil, fmt.Errorf("%s: %w: header names segment %d", name, ErrCorrupt, fh.ID)
		}
		s.base = fh.Base
		if havePrev && fh.Base <= prevLast {
			return nil, fmt.Errorf("%s: %w: base sequence %d not after %d", name, ErrCorrupt, fh.Base, prevLast)
		}
		frames, ok := segment.ReadIndexFile(fsys, idxName(dir, id), id, size)
		end := size
		if !ok {
			frames = frames[:0]
			res, err := segment.Scan(f, size, name, func(off int64, h segment.FrameHeader, p []byte) error {
				lastSeq, err := segment.LastSeq(h, p)
				if err != nil {
					return fmt.Errorf("%s at offset %d: %w", name, off, err)
				}
				frames = append(frames, segment.FrameInfo{Offset: uint32(off), Count: h.Count, First: h.FirstSeq, Last: lastSeq})
				return nil
			})
			if err != nil {
				return nil, err
			}
			end = res.End
			if res.Tail == segment.TailTorn {
				if !last {
					return nil, fmt.Errorf("%w (in sealed segment %s)", res.Damage, name)
				}
				ld.torn = res.Damage
			}
		}
		s.size = end
		for _, fr := range frames {
			if fr.First < fh.Base || (havePrev && fr.First <= prevLast) {
				return nil, fmt.Errorf("%s at offset %d: %w: sequence %d out of order", name, fr.Offset, ErrCorrupt, fr.First)
			}
			ld.idx.Append(uint32(id), fr.First, fr.Last, fr.Offset)
			prevLast, havePrev = fr.Last, true
		}
		ld.nextSeq = max(ld.nextSeq, fh.Base)
		if havePrev {
			ld.nextSeq = max(ld.nextSeq, prevLast+1)
		}
	}
	return ld, nil
}

// isNotExist reports a missing file or directory.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
