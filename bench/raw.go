package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/seglog/journal"
	"github.com/seglog/journal/vfs"
)

// The raw reference engines: one file of records (4-byte length, 4-byte
// CRC-32C of the payload, payload = the entry's JSON, see AppendEntryJSON),
// a batch written with one pwrite, and under Immediate one fdatasync per
// commit. They are the practical limit of Immediate on this disk.
//
//   - raw: the file grows with every write (each fdatasync also commits
//     the size change to the inode).
//   - raw-prealloc: the file is first filled with zeros (written and
//     synced, before the clock starts), then overwritten in place, so
//     fdatasync has no metadata to write.
//   - raw-group: raw-prealloc with group commit: writers queue their
//     records and one flusher goroutine writes everything pending with one
//     pwrite and one fdatasync (the limit for W3). Immediate only.

const rawHeader = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// RawBytesPerEvent bounds a raw record of the standard workload (header +
// JSON of up to ~110 bytes), for sizing the preallocated file.
const RawBytesPerEvent = 128

// RawPreallocFor is the preallocation that holds w's events.
func RawPreallocFor(w Workload) int64 {
	return int64(w.Events())*RawBytesPerEvent + 1<<20
}

// Raw engine kinds.
const (
	RawGrowing  = "raw"
	RawPrealloc = "raw-prealloc"
	RawGroup    = "raw-group"
)

// ErrUnsupported is returned by an Opener for a durability or workload an
// engine does not take part in.
var ErrUnsupported = errors.New("bench: unsupported by this engine")

// RawOpener opens a raw engine of the given kind. prealloc is the number of
// bytes to fill with zeros (raw-prealloc and raw-group; grown by the same
// amount again, on the clock, if a run outgrows it).
func RawOpener(kind string, prealloc int64) Opener {
	return func(dir string, d journal.Durability) (Engine, error) {
		if kind == RawGroup && d != journal.Immediate {
			return nil, ErrUnsupported
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		// Through vfs, so the baseline syncs the way the journal does on
		// each platform.
		name := filepath.Join(dir, "raw.log")
		f, err := vfs.Default().OpenReadWrite(name)
		if errors.Is(err, fs.ErrNotExist) {
			f, err = vfs.Default().Create(name)
		}
		if err != nil {
			return nil, err
		}
		r := &rawFile{f: f, d: d}
		if err := r.recover(); err != nil {
			f.Close()
			return nil, err
		}
		if kind != RawGrowing {
			r.chunk = max(prealloc, 1<<20)
			if err := r.extend(r.off + r.chunk); err != nil {
				f.Close()
				return nil, err
			}
		}
		if kind == RawGroup {
			g := &rawGroup{rawFile: r}
			g.cond = sync.NewCond(&g.mu)
			go g.flusher()
			return g, nil
		}
		return &rawSerial{rawFile: r}, nil
	}
}

type rawFile struct {
	f     vfs.File
	d     journal.Durability
	off   int64 // end of the records
	size  int64 // end of the zero-filled area (prealloc kinds)
	chunk int64 // 0 = growing file
	seq   uint64
}

// recover scans the records of an existing file, checking their CRCs, and
// sets off and seq past the last valid one (a zero length ends the log:
// preallocated space). This is the raw engine's "Open" cost (O1).
func (r *rawFile) recover() error {
	size, err := r.f.Size()
	if err != nil {
		return err
	}
	n, err := scanRaw(r.reader(size), func([]byte) error { return nil })
	if err != nil {
		return err
	}
	r.off = n.bytes
	r.seq = n.records
	r.size = size
	return nil
}

// reader reads the file's first size bytes from its start.
func (r *rawFile) reader(size int64) *bufio.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(r.f, 0, size), 1<<20)
}

type scanCount struct {
	bytes   int64
	records uint64
}

func scanRaw(br *bufio.Reader, fn func(payload []byte) error) (scanCount, error) {
	var n scanCount
	var hdr [rawHeader]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return n, nil // end (or torn header)
		}
		l := binary.LittleEndian.Uint32(hdr[:4])
		if l == 0 {
			return n, nil // preallocated zeros
		}
		if l > 1<<20 {
			return n, nil // garbage: a torn tail
		}
		if cap(buf) < int(l) {
			buf = make([]byte, l)
		}
		buf = buf[:l]
		if _, err := io.ReadFull(br, buf); err != nil {
			return n, nil
		}
		if crc32.Checksum(buf, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return n, nil
		}
		if err := fn(buf); err != nil {
			return n, err
		}
		n.bytes += int64(rawHeader + l)
		n.records++
	}
}

// extend fills [r.size, to) with zeros and syncs.
func (r *rawFile) extend(to int64) error {
	zeros := make([]byte, 1<<20)
	for r.size < to {
		n := min(int64(len(zeros)), to-r.size)
		if _, err := r.f.WriteAt(zeros[:n], r.size); err != nil {
			return err
		}
		r.size += n
	}
	return r.f.Sync()
}

// encodeRaw appends the records of batch (seq first..) to dst; if an
// event is invalid, it returns dst as it was and the error.
func encodeRaw(dst []byte, first uint64, ts int64, batch []journal.Event) ([]byte, error) {
	n := len(dst)
	for i, e := range batch {
		at := len(dst)
		dst = append(dst, make([]byte, rawHeader)...)
		var err error
		if dst, err = AppendEntryJSON(dst, first+uint64(i), ts, e); err != nil {
			return dst[:n], err
		}
		p := dst[at+rawHeader:]
		binary.LittleEndian.PutUint32(dst[at:], uint32(len(p)))
		binary.LittleEndian.PutUint32(dst[at+4:], crc32.Checksum(p, castagnoli))
	}
	return dst, nil
}

// write writes b at the end (growing the zero fill first if needed).
func (r *rawFile) write(b []byte) error {
	if r.chunk > 0 && r.off+int64(len(b)) > r.size {
		if err := r.extend(r.off + int64(len(b)) + r.chunk); err != nil {
			return err
		}
	}
	if _, err := r.f.WriteAt(b, r.off); err != nil {
		return err
	}
	r.off += int64(len(b))
	return nil
}

func (r *rawFile) sync() error { return r.f.Sync() }

func (r *rawFile) close() error {
	err := r.sync()
	if r.chunk > 0 {
		if terr := r.f.Truncate(r.off); err == nil {
			err = terr
		}
		if serr := r.sync(); err == nil {
			err = serr
		}
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LoadAll reads and decodes every record (R1).
func (r *rawFile) LoadAll() ([]journal.Event, error) {
	out := make([]journal.Event, 0, r.seq)
	intern := make(map[string]string)
	_, err := scanRaw(r.reader(r.off), func(p []byte) error {
		ent, err := ParseEntryJSON(p, intern)
		if err != nil {
			return err
		}
		out = append(out, ent.Event)
		return nil
	})
	return out, err
}

// rawSerial: one commit at a time, one fdatasync each (raw, raw-prealloc).
type rawSerial struct {
	*rawFile
	mu  sync.Mutex
	buf []byte
}

func (r *rawSerial) Append(batch []journal.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	if r.buf, err = encodeRaw(r.buf[:0], r.seq, time.Now().UnixMilli(), batch); err != nil {
		return err
	}
	if err := r.write(r.buf); err != nil {
		return err
	}
	r.seq += uint64(len(batch))
	if r.d == journal.Immediate {
		return r.sync()
	}
	return nil
}

func (r *rawSerial) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.close()
}

// rawGroup: writers queue records; one flusher writes them all and runs
// one fdatasync for the group.
type rawGroup struct {
	*rawFile
	mu      sync.Mutex
	cond    *sync.Cond
	pending []byte
	spare   []byte
	gen     uint64 // generation being filled
	flushed uint64 // every generation below this is durable
	err     error
	closing bool
	done    bool
}

func (g *rawGroup) Append(batch []journal.Event) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	if g.closing {
		return errors.New("raw-group: closed")
	}
	var err error
	if g.pending, err = encodeRaw(g.pending, g.seq, time.Now().UnixMilli(), batch); err != nil {
		return err
	}
	g.seq += uint64(len(batch))
	my := g.gen
	g.cond.Broadcast() // wake the flusher
	for g.flushed <= my && g.err == nil {
		g.cond.Wait()
	}
	return g.err
}

func (g *rawGroup) flusher() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		for len(g.pending) == 0 && !g.closing {
			g.cond.Wait()
		}
		if len(g.pending) == 0 && g.closing {
			g.done = true
			g.cond.Broadcast()
			return
		}
		buf := g.pending
		g.pending = g.spare[:0]
		gen := g.gen
		g.gen++
		g.mu.Unlock()
		err := g.write(buf)
		if err == nil {
			err = g.sync()
		}
		g.mu.Lock()
		g.spare = buf
		if err != nil && g.err == nil {
			g.err = fmt.Errorf("raw-group: %w", err)
		}
		g.flushed = gen + 1
		g.cond.Broadcast()
	}
}

func (g *rawGroup) Close() error {
	g.mu.Lock()
	g.closing = true
	g.cond.Broadcast()
	for !g.done {
		g.cond.Wait()
	}
	g.mu.Unlock()
	return g.close()
}
