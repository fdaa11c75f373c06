package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
)

// RepairMode chooses what Repair does with damaged frames.
type RepairMode uint8

const (
	// KeepIntact (the default) removes only the damaged bytes: each
	// damaged segment is rewritten with every frame that verifies, before
	// and after the damage (a damaged file header is rebuilt), and every
	// other segment is kept. The lost sequence numbers are a hole in the
	// log; later ones are never given out again.
	KeepIntact RepairMode = iota
	// CutAtDamage cuts the log at its first damaged frame and removes
	// every later segment, leaving a contiguous log.
	CutAtDamage
)

// Rewrite is a damaged segment that a KeepIntact repair rewrites.
type Rewrite struct {
	File string
	// Header is the file header it gets: its own, or, when that is
	// damaged (HeaderRebuilt), one made from its name and the sequence
	// numbers around it. It is marked compacted: frames are missing.
	Header        segment.FileHeader
	HeaderRebuilt bool
	// Kept are the frames that verify, in order, which it keeps.
	Kept []segment.Salvaged
	// RemovedBytes is how many bytes of frames it loses.
	RemovedBytes int64
}

// planKeep fills p for a KeepIntact repair of the segments in cd.
func planKeep(fsys vfs.FS, cd *checkedDir, p *RepairPlan) error {
	var next uint64 // the sequence number after everything so far
	var lastTail []LostFrame
	for i, s := range cd.segs {
		if s.DamageAt < 0 {
			p.KeptFrames += len(s.Frames)
			p.KeptEntries += s.Entries
			next = max(next, s.Base)
			if len(s.Frames) > 0 {
				p.KeptLastSeq = s.Frames[len(s.Frames)-1].Last
				next = max(next, p.KeptLastSeq+1)
			}
			continue
		}
		if p.Reason == "" {
			p.Reason = firstDamage(cd, s.File)
		}
		var nextBase uint64 // where the next segment starts, when known
		if i+1 < len(cd.segs) && cd.segs[i+1].HeaderOK {
			nextBase = cd.segs[i+1].Base
		}
		rw, lost, undecoded, err := planRewrite(fsys, s, next, nextBase)
		if err != nil {
			return err
		}
		p.Rewrites = append(p.Rewrites, rw)
		p.Lost = append(p.Lost, lost...)
		p.Undecoded += undecoded
		p.CutBytes += rw.RemovedBytes
		if s.idx != "" {
			p.RemoveIndexes = appendNew(p.RemoveIndexes, s.idx)
		}
		next = max(next, rw.Header.Base)
		for _, k := range rw.Kept {
			p.KeptFrames++
			p.KeptEntries += uint64(k.Count)
			p.KeptLastSeq = k.Last
			next = max(next, k.Last+1)
		}
		if i == len(cd.segs)-1 {
			lastTail = lost
		}
	}
	p.NextSeq = next
	// Sequence numbers lost at the end of the newest segment must not be
	// given out again: an empty segment whose base is past them says so.
	lostNext := next
	for _, f := range lastTail {
		lostNext = max(lostNext, f.Last+1)
	}
	if lostNext > next {
		p.NextSeq = lostNext
		last := cd.segs[len(cd.segs)-1]
		p.NewSegment, p.newID = wal.SegmentPath(p.Dir, last.ID+1), last.ID+1
	}
	return nil
}

func firstDamage(cd *checkedDir, file string) string {
	for _, d := range cd.damage {
		if d.File == file {
			return d.Detail
		}
	}
	return ""
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// planRewrite reads the damaged segment s and works out what a KeepIntact
// repair keeps of it, given next, the sequence number after every earlier
// segment's, and nextBase, where the next segment starts (0: unknown): its
// frames that verify and follow each other in order. The damaged frames
// whose headers survive are lost frames; the sequence numbers between
// kept frames around unreadable bytes (zeros too) are lost as well
// (Inferred); other non-zero bytes outside the kept frames are undecoded.
func planRewrite(fsys vfs.FS, s *segCheck, next, nextBase uint64) (Rewrite, []LostFrame, int64, error) {
	data, err := readAll(fsys, s.File)
	if err != nil {
		return Rewrite{}, nil, 0, err
	}
	rw := Rewrite{File: s.File, Header: segment.FileHeader{ID: s.ID, Base: s.Base, Flags: segment.FileCompacted | segment.FileTracked}}
	var found []segment.Salvaged
	if len(data) > segment.FileHeaderSize {
		found, _ = segment.Salvage(data[segment.FileHeaderSize:], segment.FileHeaderSize, false)
	}
	if !s.HeaderOK {
		rw.HeaderRebuilt = true
		rw.Header.Base = next
		if len(found) > 0 && found[0].First < next {
			rw.Header.Base = found[0].First
		}
	}
	// Kept: in order, after every earlier segment's.
	after := next
	if rw.Header.Base > after {
		after = rw.Header.Base
	}
	for _, f := range found {
		if f.First >= after && f.First >= rw.Header.Base {
			rw.Kept = append(rw.Kept, f)
			after = f.Last + 1
		}
	}
	// What lies between the kept frames is lost: the frames found there,
	// and the sequence numbers between the kept frames around it (lo..hi,
	// hi 0: unknown) that those frames do not hold.
	var lost []LostFrame
	var undecoded int64
	gap := func(from, to int64, lo, hi uint64) {
		if from >= to {
			return
		}
		rw.RemovedBytes += to - from
		fr, und := segment.Salvage(data[from:to], from, true)
		undecoded += und
		for _, f := range fr {
			lost = append(lost, LostFrame{File: s.File, Offset: f.Offset, Count: f.Count, First: f.First, Last: f.Last, Damaged: f.Damaged})
			if f.First <= lo {
				lo = max(lo, f.Last+1)
			} else if hi > 0 && f.First <= hi {
				lost = append(lost, inferred(s.File, from, lo, f.First-1))
				lo = f.Last + 1
			}
		}
		if hi > 0 && lo <= hi {
			lost = append(lost, inferred(s.File, from, lo, hi))
		}
	}
	at, lo := int64(min(segment.FileHeaderSize, len(data))), rw.Header.Base
	for _, k := range rw.Kept {
		var hi uint64
		if k.First > lo {
			hi = k.First - 1
		}
		gap(at, k.Offset, lo, hi)
		at, lo = k.Offset+frameSize(data, k.Offset), k.Last+1
	}
	var hi uint64
	if nextBase > lo {
		hi = nextBase - 1
	}
	gap(at, int64(len(data)), lo, hi)
	if hi == 0 && at < s.Durable {
		// Zeros where the manifest says frames were durable held what
		// no frame found can say: their sequence numbers are unknown.
		undecoded += int64(bytes.Count(data[at:min(s.Durable, int64(len(data)))], []byte{0}))
	}
	return rw, lost, undecoded, nil
}

// inferred is a lost range known only from the kept frames around it.
func inferred(file string, off int64, first, last uint64) LostFrame {
	return LostFrame{File: file, Offset: off, First: first, Last: last, Count: uint32(min(last-first+1, 1<<32-1)), Damaged: true, Inferred: true}
}

// frameSize is the size of the verified frame at off of data.
func frameSize(data []byte, off int64) int64 {
	h, err := segment.ParseFrameHeader(data[off : off+segment.FrameHeaderSize])
	if err != nil {
		return 0 // Salvage verified it
	}
	return h.Size()
}

func readAll(fsys vfs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("plan repair: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("plan repair: stat %s: %w", name, err)
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("plan repair: read %s: %w", name, err)
	}
	return data, nil
}

// rewriteKept writes rw's kept frames, each re-encoded as it was (entries,
// sequence numbers, time, FlagCompact), under its header into a new file
// and renames it over the damaged one. The caller syncs the directory.
func rewriteKept(fsys vfs.FS, rw Rewrite) error {
	data, err := readAll(fsys, rw.File)
	if err != nil {
		return err
	}
	tmp := rw.File + ".tmp"
	w, err := segment.CreateBuffered(fsys, tmp, rw.Header, 1<<20)
	if err != nil {
		return err
	}
	defer w.Close()
	enc := segment.NewEncoder(nil)
	var entries []segment.Entry
	for _, k := range rw.Kept {
		h, p, err := segment.ReadFrame(bytes.NewReader(data), int64(len(data)), k.Offset, rw.File)
		if err != nil {
			return err
		}
		entries = entries[:0]
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			entries = append(entries, e)
		}
		frame, err := enc.Sparse(entries)
		if err != nil {
			return err
		}
		if h.Flags&segment.FlagCompact != 0 {
			frame.SetCompact()
		}
		if _, err := w.WriteFrame(&frame); err != nil {
			return err
		}
	}
	if err := w.SyncAll(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, rw.File); err != nil {
		return err
	}
	return fsys.SyncDir(filepath.Dir(rw.File))
}
