package compactor

import (
	"fmt"
	"io"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
)

// CopyResult describes a segment copied without its removed entries.
type CopyResult struct {
	Frames []segment.FrameInfo // the new file's frames
	Size   int64               // the new file's size
	Last   uint64              // last sequence number in the new file (if any frame)
	Kept   uint64              // entries kept
	Purged uint64              // removed entries dropped
}

// Empty reports whether nothing survived: the segment can be deleted
// instead of replaced.
func (r CopyResult) Empty() bool { return len(r.Frames) == 0 }

const writeChunk = 1 << 20

// CopyLive copies the segment src (its first size bytes hold frames; fh is
// its header) into a new file tmpName without the entries that dead
// removes. Surviving entries keep their sequence numbers and batch
// timestamps; a frame that lost entries is written as a sparse frame. The
// new file is synced; nothing is renamed or removed, so a crash during
// CopyLive leaves the log as it was. Every source frame's checksums are
// verified: damage gives an error wrapping ErrCorrupt and no new file is
// used. comp, if not nil, compresses the new frames' payloads (each frame
// records its codec, whatever the source frame's was).
func CopyLive(fs vfs.FS, src vfs.File, size int64, srcName string, fh segment.FileHeader, dead DeadSet, tmpName string, comp *segment.Compressor) (res CopyResult, err error) {
	out, err := fs.Create(tmpName)
	if err != nil {
		return res, fmt.Errorf("rewrite %s: %w", srcName, err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("rewrite %s: %w", srcName, cerr)
		}
		if err != nil {
			fs.Remove(tmpName)
		}
	}()
	buf := make([]byte, segment.FileHeaderSize, writeChunk+4096)
	segment.PutFileHeader(buf, fh)
	var flushed int64 // bytes of the new file already written
	flush := func() error {
		if _, err := out.WriteAt(buf, flushed); err != nil {
			return fmt.Errorf("rewrite %s: write %s: %w", srcName, tmpName, err)
		}
		flushed += int64(len(buf))
		buf = buf[:0]
		return nil
	}
	rd := segment.NewReader(src, size, srcName)
	var payload, stored []byte
	var kept []segment.Entry
	for {
		off, h, p, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("rewrite: %w", err)
		}
		// The kept entries' keys and values stay valid until the next
		// frame is read.
		kept = kept[:0]
		it := segment.NewEntryIter(h, p)
		for {
			e, ok, err := it.Next()
			if err != nil {
				return res, fmt.Errorf("rewrite: %w", segment.AtOffset(err, srcName, off))
			}
			if !ok {
				break
			}
			if dead.IsDead(e.Seq, e.Key) {
				res.Purged++
				continue
			}
			kept = append(kept, e)
		}
		if len(kept) == 0 {
			continue
		}
		var flags uint8
		payload, flags = encodeSparse(payload[:0], kept)
		first, last, count := kept[0].Seq, kept[len(kept)-1].Seq, uint32(len(kept))
		fo := flushed + int64(len(buf))
		var codec uint8
		stored, codec = comp.Compress(stored[:0], payload)
		nh := segment.FrameHeader{Length: uint32(len(stored)), CRC: segment.Checksum(stored), Synced: uint32(fo), FirstSeq: first, Time: h.Time, Count: count, Codec: codec, Flags: flags}
		var hb [segment.FrameHeaderSize]byte
		segment.PutFrameHeader(hb[:], nh)
		buf = append(append(buf, hb[:]...), stored...)
		res.Frames = append(res.Frames, segment.FrameInfo{Offset: uint32(fo), Count: count, First: first, Last: last})
		res.Last = last
		res.Kept += uint64(count)
		if len(buf) >= writeChunk {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	if err := out.Sync(); err != nil {
		return res, fmt.Errorf("rewrite %s: sync %s: %w", srcName, tmpName, err)
	}
	res.Size = flushed
	return res, nil
}

// encodeSparse appends kept, the surviving entries of one frame, as the
// payload of a FlagSparse frame and returns it with the frame's flags:
// FlagPrefix too when prefix-compressing the keys makes it smaller, as it
// does for the journal's route keys. It encodes both ways and keeps the
// smaller (compaction runs in the background, off the append path).
func encodeSparse(dst []byte, kept []segment.Entry) ([]byte, uint8) {
	start := len(dst)
	dst = appendSparse(dst, kept, true)
	mid := len(dst)
	dst = appendSparse(dst, kept, false)
	if mid-start < len(dst)-mid {
		return dst[:mid], segment.FlagSparse | segment.FlagPrefix
	}
	return dst[:start+copy(dst[start:], dst[mid:])], segment.FlagSparse
}

// appendSparse appends kept as the entries of a FlagSparse frame, with
// FlagPrefix keys if prefix is set.
func appendSparse(dst []byte, kept []segment.Entry, prefix bool) []byte {
	for i, e := range kept {
		var prev []byte
		var delta uint64
		if i > 0 {
			prev, delta = kept[i-1].Key, e.Seq-kept[i-1].Seq-1
		}
		if prefix {
			dst = segment.AppendSparsePrefixEntry(dst, i == 0, delta, prev, e.Key, e.Value, e.Tombstone)
		} else {
			dst = segment.AppendSparseEntry(dst, i == 0, delta, e.Key, e.Value, e.Tombstone)
		}
	}
	return dst
}
