package fuzz

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seglog/journal"
	"github.com/seglog/journal/keyset"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs/vfstest"
	"github.com/seglog/journal/wal/manifest"
)

var quiet = slog.New(slog.DiscardHandler)

// ---------------------------------------------------------------------------
// FuzzRecovery

const recDir = "/j"

// recBatches is the deterministic content written by buildJournal.
func recBatches() [][]journal.Event {
	var out [][]journal.Event
	for i := range 40 {
		n := 1 + (i*7)%9
		var b []journal.Event
		for k := range n {
			r := fmt.Sprintf("route-%d", (i+k)%5)
			switch (i + k) % 4 {
			case 0:
				b = append(b, journal.Event{Kind: journal.RouteRegistered, RouteID: r})
			case 1:
				b = append(b, journal.Event{Kind: journal.RouteFailed, RouteID: r, Error: strings.Repeat("boom ", (i*k)%30)})
			case 2:
				b = append(b, journal.Event{Kind: journal.RouteStarted, RouteID: r})
			default:
				b = append(b, journal.Event{Kind: journal.RouteRemoved, RouteID: r})
			}
		}
		out = append(out, b)
	}
	return out
}

// buildJournal writes recBatches to a fresh FS with 4 KiB segments. Variant
// 0 closes the journal (every segment sealed, with an index file); variant 1
// leaves it open under Immediate (the active segment has no index file);
// variant 2 leaves it open under Eventual with an unsynced tail.
func buildJournal(tb testing.TB, variant byte) *vfstest.FS {
	fs := vfstest.New()
	fs.MkdirAll(recDir, 0o755)
	fs.SyncDir("/")
	mode := journal.Immediate
	if variant == 2 {
		mode = journal.Eventual
	}
	j, err := journal.Open(recDir, journal.Options{FS: fs, SegmentSize: 4 << 10, Durability: mode, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	for _, b := range recBatches() {
		if err := j.AppendBatch(b); err != nil {
			tb.Fatal(err)
		}
	}
	if variant == 0 {
		if err := j.Close(); err != nil {
			tb.Fatal(err)
		}
		return fs
	}
	// Leave j open; the clone has its current files (a process crash).
	c := fs.CrashClone(vfstest.CrashOptions{})
	if variant == 2 {
		// Keep the unsynced tail as a killed process would: copy the
		// current contents.
		names, _ := fs.List(recDir)
		for _, n := range names {
			data, _ := fs.ReadFile(filepath.Join(recDir, n))
			c.WriteFile(filepath.Join(recDir, n), data)
		}
	}
	j.Close()
	return c
}

type mutation struct {
	kind byte
	file string
	off  int
	arg  int
}

// applyMutations decodes data into mutations of the journal's files (6 bytes
// each: kind, file, offset (2), argument (2)) and applies them durably.
func applyMutations(fs *vfstest.FS, data []byte) []mutation {
	var muts []mutation
	names, _ := fs.List(recDir)
	for len(data) >= 6 && len(muts) < 8 {
		m := mutation{kind: data[0] % 5, file: names[int(data[1])%len(names)], off: int(data[2]) | int(data[3])<<8, arg: int(data[4]) | int(data[5])<<8}
		data = data[6:]
		p := filepath.Join(recDir, m.file)
		b, _ := fs.ReadFile(p)
		switch m.kind {
		case 0: // truncate
			b = b[:m.off%(len(b)+1)]
		case 1: // bit flip
			if len(b) == 0 {
				continue
			}
			b[m.off%len(b)] ^= 1 << (m.arg % 8)
		case 2: // overwrite a range with garbage
			if len(b) == 0 {
				continue
			}
			x := uint32(m.arg)*2654435761 + 1
			for i := m.off % len(b); i < len(b) && i < m.off%len(b)+1+m.arg%64; i++ {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				b[i] = byte(x)
			}
		case 3: // append garbage
			x := uint32(m.off) | 1
			for range 1 + m.arg%128 {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				b = append(b, byte(x))
			}
		case 4: // zero a range
			if len(b) == 0 {
				continue
			}
			for i := m.off % len(b); i < len(b) && i < m.off%len(b)+1+m.arg%600; i++ {
				b[i] = 0
			}
		}
		fs.WriteFile(p, b)
		muts = append(muts, m)
	}
	return muts
}

// withTimeout runs f and fails if it takes longer than d (a hang).
func withTimeout(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func FuzzRecovery(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 2, 0x10, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 6*8+1 {
			return
		}
		variant := data[0] % 3
		fs := buildJournal(t, variant)
		muts := applyMutations(fs, data[1:])
		var (
			j   *journal.Journal
			err error
		)
		withTimeout(t, 10*time.Second, "Open", func() {
			j, err = journal.Open(recDir, journal.Options{FS: fs, Logger: quiet})
		})
		if err != nil {
			if !errors.Is(err, journal.ErrCorrupt) {
				t.Fatalf("variant %d, mutations %+v: Open: %v, want nil or ErrCorrupt", variant, muts, err)
			}
			return
		}
		defer j.Close()
		var got []journal.Entry
		var loadErr error
		withTimeout(t, 10*time.Second, "Entries", func() {
			for e, err := range j.Entries(0) {
				if err != nil {
					loadErr = err
					break
				}
				got = append(got, e)
			}
		})
		if loadErr != nil {
			if !errors.Is(loadErr, journal.ErrCorrupt) {
				t.Fatalf("variant %d, mutations %+v: Entries: %v, want ErrCorrupt", variant, muts, loadErr)
			}
			return
		}
		// Exactly a batch-aligned prefix of what was written.
		i := 0
		aligned := true
		for _, b := range recBatches() {
			if i == len(got) {
				break
			}
			for k, want := range b {
				if i == len(got) {
					aligned = false
					break
				}
				if got[i].Event != want || got[i].Seq != uint64(i) {
					t.Fatalf("variant %d, mutations %+v: entry %d is seq %d %+v, want seq %d %+v (batch event %d): wrong data or a hole",
						variant, muts, i, got[i].Seq, got[i].Event, i, want, k)
				}
				i++
			}
		}
		if !aligned {
			t.Fatalf("variant %d, mutations %+v: %d entries end inside a batch", variant, muts, len(got))
		}
		if i != len(got) {
			t.Fatalf("variant %d, mutations %+v: %d entries more than written", variant, muts, len(got)-i)
		}
		// The journal keeps working: the next batch gets the next seq.
		if err := j.AppendBatch([]journal.Event{{Kind: journal.RouteRegistered, RouteID: "probe"}}); err != nil {
			t.Fatalf("variant %d, mutations %+v: AppendBatch after recovery: %v", variant, muts, err)
		}
		n := 0
		for e, err := range j.Entries(uint64(len(got))) {
			if err != nil {
				if errors.Is(err, journal.ErrCorrupt) {
					return
				}
				t.Fatalf("Entries after probe: %v", err)
			}
			if e.Seq < uint64(len(got)) || e.Event.RouteID != "probe" {
				t.Fatalf("variant %d, mutations %+v: probe got seq %d (%+v) with %d entries present", variant, muts, e.Seq, e.Event, len(got))
			}
			n++
		}
		if n != 1 {
			t.Fatalf("variant %d, mutations %+v: probe batch read back %d times", variant, muts, n)
		}
	})
}

// ---------------------------------------------------------------------------
// FuzzSegmentReader

func FuzzSegmentReader(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		size := int64(len(data))
		// The file header.
		if _, err := segment.ParseFileHeader(data); err != nil && !errors.Is(err, segment.ErrCorrupt) {
			t.Fatalf("ParseFileHeader: %v", err)
		}
		// Scan, decoding every entry of every frame.
		var scanned []int64
		res, err := segment.Scan(r, size, "fuzz.seg", func(off int64, h segment.FrameHeader, p []byte) error {
			scanned = append(scanned, off)
			return decodeAll(h, p)
		})
		if err != nil && !errors.Is(err, segment.ErrCorrupt) {
			t.Fatalf("Scan: %v, want nil or ErrCorrupt", err)
		}
		if err == nil {
			if res.End < segment.FileHeaderSize && size >= segment.FileHeaderSize || res.End > max(size, segment.FileHeaderSize) {
				t.Fatalf("Scan end %d outside the file of %d bytes", res.End, size)
			}
			if res.Frames != len(scanned) {
				t.Fatalf("Scan reports %d frames, called back %d", res.Frames, len(scanned))
			}
			if res.Tail == segment.TailTorn && (res.Damage == nil || !errors.Is(res.Damage, segment.ErrCorrupt)) {
				t.Fatalf("torn tail with damage %v", res.Damage)
			}
		}
		// The reader on its own.
		rd := segment.NewReader(r, size, "fuzz.seg")
		var read []int64
		for i := 0; ; i++ {
			if i > len(data)/segment.FrameHeaderSize+1 {
				t.Fatalf("reader returned more frames than fit in %d bytes", len(data))
			}
			off, h, p, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, segment.ErrCorrupt) {
					t.Fatalf("Next: %v, want ErrCorrupt", err)
				}
				break
			}
			if off+h.Size() > size {
				t.Fatalf("frame at %d of %d bytes outside the file of %d", off, h.Size(), size)
			}
			if h.Codec == segment.CodecNone && int64(len(p)) != int64(h.Length) || len(p) > segment.MaxPayload {
				t.Fatalf("frame at %d (codec %d) of %d stored bytes gave a payload of %d", off, h.Codec, h.Length, len(p))
			}
			if err := decodeAll(h, p); err != nil && !errors.Is(err, segment.ErrCorrupt) {
				t.Fatalf("entries: %v", err)
			}
			read = append(read, off)
			// ReadFrame agrees with the reader.
			h2, p2, err := segment.ReadFrame(r, size, off, "fuzz.seg")
			if err != nil || h2 != h || !bytes.Equal(p2, p) {
				t.Fatalf("ReadFrame(%d) = %+v, %v; reader gave %+v", off, h2, err, h)
			}
		}
		if err == nil && !slices.Equal(read[:min(len(read), len(scanned))], scanned) {
			t.Fatalf("reader frames %v, scan frames %v", read, scanned)
		}
		// The same bytes as an index file.
		fs := vfstest.New()
		fs.WriteFile("/x.idx", data)
		for _, segSize := range []int64{size, 1 << 20} {
			frames, ok := segment.ReadIndexFile(fs, "/x.idx", 1, segSize)
			if ok {
				for _, fr := range frames {
					if int64(fr.Offset)+segment.FrameHeaderSize > segSize || fr.Count == 0 || fr.Last < fr.First {
						t.Fatalf("index file accepted an impossible frame %+v", fr)
					}
				}
			}
		}
	})
}

// decodeAll decodes every entry of a frame, with both kinds of iterator,
// entry by entry and in batches: they must agree on every entry and on the
// error.
func decodeAll(h segment.FrameHeader, p []byte) error {
	it := segment.NewEntryIter(h, p)
	var scratch, bscratch []byte
	sit := segment.NewEntryIterScratch(h, p, &scratch)
	bit := segment.NewEntryIterScratch(h, p, &bscratch)
	batch := make([]segment.Entry, 3)
	var pending []segment.Entry // decoded by NextBatch, not yet compared
	var batchErr error
	for n := 0; ; n++ {
		if n > len(p)+1 {
			return fmt.Errorf("entry iterator did not stop")
		}
		e, ok, err := it.Next()
		se, sok, serr := sit.Next()
		if sok != ok || (serr == nil) != (err == nil) || se.Seq != e.Seq || !bytes.Equal(se.Key, e.Key) || !bytes.Equal(se.Value, e.Value) || se.Tombstone != e.Tombstone {
			return fmt.Errorf("entry %d: iterator gave %v %+v %v, with scratch %v %+v %v", n, ok, e, err, sok, se, serr)
		}
		if len(pending) == 0 && batchErr == nil {
			k, berr := bit.NextBatch(batch)
			pending, batchErr = batch[:k], berr
		}
		if ok != (len(pending) > 0) || !ok && (batchErr == nil) != (err == nil) {
			return fmt.Errorf("entry %d: iterator gave %v %v, in batches %d entries left and %v", n, ok, err, len(pending), batchErr)
		}
		if ok {
			if be := pending[0]; be.Seq != e.Seq || be.Time != e.Time || !bytes.Equal(be.Key, e.Key) || !bytes.Equal(be.Value, e.Value) || be.Tombstone != e.Tombstone {
				return fmt.Errorf("entry %d: iterator gave %+v, in batches %+v", n, e, be)
			}
			pending = pending[1:]
		}
		if err != nil {
			if !errors.Is(err, segment.ErrCorrupt) {
				return fmt.Errorf("entry error %v does not wrap ErrCorrupt", err)
			}
			return err
		}
		if !ok {
			if uint32(n) != h.Count {
				return fmt.Errorf("iterator ended after %d entries, header says %d", n, h.Count)
			}
			return nil
		}
	}
}

// encodeEntries appends es in the encoding that flags select (FlagSparse,
// FlagPrefix).
func encodeEntries(q []byte, h segment.FrameHeader, es []segment.Entry) []byte {
	flags := h.Flags
	var prev []byte
	for i, e := range es {
		if flags&segment.FlagTimed != 0 {
			t := h.Time // the first entry's delta is from the header's time
			if i > 0 {
				t = es[i-1].Time
			}
			d := e.Time - t
			q = binary.AppendUvarint(q, uint64(d<<1)^uint64(d>>63))
		}
		var delta uint64
		if i > 0 {
			delta = e.Seq - es[i-1].Seq - 1
		}
		switch flags & (segment.FlagSparse | segment.FlagPrefix) {
		case 0:
			q = segment.AppendEntry(q, e.Key, e.Value, e.Tombstone)
		case segment.FlagSparse:
			q = segment.AppendSparseEntry(q, i == 0, delta, e.Key, e.Value, e.Tombstone)
		case segment.FlagPrefix:
			q = segment.AppendPrefixEntry(q, prev, e.Key, e.Value, e.Tombstone)
		default:
			q = segment.AppendSparsePrefixEntry(q, i == 0, delta, prev, e.Key, e.Value, e.Tombstone)
		}
		prev = e.Key
	}
	return q
}

// reencodeKeys checks that the entries of a frame that decodes come back
// the same after re-encoding them with FlagPrefix toggled.
func reencodeKeys(h segment.FrameHeader, p []byte) error {
	it := segment.NewEntryIter(h, p)
	var es []segment.Entry
	size := 0
	for {
		e, ok, err := it.Next()
		if err != nil {
			return nil // not a frame of entries: nothing to re-encode
		}
		if !ok {
			break
		}
		if size += len(e.Key) + len(e.Value); size > 1<<20 {
			return nil // keep each run fast
		}
		es = append(es, e)
	}
	h2 := h
	h2.Flags ^= segment.FlagPrefix
	it = segment.NewEntryIter(h2, encodeEntries(nil, h2, es))
	for i := 0; ; i++ {
		e, ok, err := it.Next()
		if err != nil {
			return fmt.Errorf("re-encoded with flags %#x: entry %d: %v", h2.Flags, i, err)
		}
		if !ok {
			if i != len(es) {
				return fmt.Errorf("re-encoded with flags %#x: %d entries, want %d", h2.Flags, i, len(es))
			}
			return nil
		}
		w := es[i]
		if e.Seq != w.Seq || e.Time != w.Time || !bytes.Equal(e.Key, w.Key) || !bytes.Equal(e.Value, w.Value) || e.Tombstone != w.Tombstone {
			return fmt.Errorf("re-encoded with flags %#x: entry %d is %d %d %q %q %v, want %d %d %q %q %v", h2.Flags, i, e.Seq, e.Time, e.Key, e.Value, e.Tombstone, w.Seq, w.Time, w.Key, w.Value, w.Tombstone)
		}
	}
}

// ---------------------------------------------------------------------------
// FuzzCompressedFrame

// seedEntries is the payload of 60 route entries, plain or, with prefix,
// with FlagPrefix keys.
func seedEntries(prefix bool) []byte {
	var p, prev []byte
	for i := range 60 {
		key := fmt.Appendf(nil, "route-%d", i)
		if prefix {
			p = segment.AppendPrefixEntry(p, prev, key, []byte{byte(1 + i%4)}, i%7 == 6)
		} else {
			p = segment.AppendEntry(p, key, []byte{byte(1 + i%4)}, i%7 == 6)
		}
		prev = key
	}
	return p
}

// compressedSeed is the stored payload of seedEntries(prefix) under codec.
func compressedSeed(f *testing.F, codec uint8, prefix bool) []byte {
	c, err := segment.NewCompressor(codec, 1)
	if err != nil {
		f.Fatal(err)
	}
	stored, got := c.Compress(nil, seedEntries(prefix))
	if got != codec {
		f.Fatalf("seed stored with codec %d, want %d", got, codec)
	}
	return stored
}

// fuzzFlags are the frame flags FuzzCompressedFrame takes from its flags
// argument; the others only make the header invalid.
const fuzzFlags = segment.FlagSparse | segment.FlagCompact | segment.FlagPrefix

// FuzzCompressedFrame hands arbitrary stored bytes, under a valid checksum,
// to every decoding path as the payload of a compressed frame with any
// valid flags (FlagPrefix keys included): whatever they are, decoding gives
// ErrCorrupt or exactly the promised number of bytes (at most MaxPayload)
// and then the entries or ErrCorrupt, never a panic; compressing the bytes
// as a payload gives them back; and entries that decode re-encode in the
// other key encoding to the same entries.
func FuzzCompressedFrame(f *testing.F) {
	s2Seed, zstdSeed := compressedSeed(f, segment.CodecS2, false), compressedSeed(f, segment.CodecZstd, false)
	f.Add(segment.CodecS2, uint32(60), uint8(0), s2Seed)
	f.Add(segment.CodecZstd, uint32(60), uint8(0), zstdSeed)
	f.Add(segment.CodecZstd, uint32(60), segment.FlagSparse, zstdSeed)
	f.Add(segment.CodecS2, uint32(60), uint8(0), s2Seed[:len(s2Seed)/2])
	f.Add(segment.CodecZstd, uint32(1), uint8(0), append([]byte{0xff, 0xff, 0xff, 0x7f}, zstdSeed[2:]...))
	f.Add(segment.CodecZstd, uint32(60), uint8(0), append([]byte{0x80, 0x80, 0x80, 0x20}, 0x28, 0xb5, 0x2f, 0xfd))
	f.Add(segment.CodecNone, uint32(2), uint8(0), []byte{0, 0, 0, 0})
	f.Add(segment.CodecS2, uint32(60), segment.FlagPrefix, compressedSeed(f, segment.CodecS2, true))
	f.Add(segment.CodecZstd, uint32(60), segment.FlagPrefix|segment.FlagSparse, compressedSeed(f, segment.CodecZstd, true))
	f.Add(segment.CodecNone, uint32(60), segment.FlagPrefix, seedEntries(true))
	f.Add(segment.CodecNone, uint32(60), segment.FlagPrefix|segment.FlagSparse|segment.FlagCompact, seedEntries(true))
	f.Add(segment.CodecNone, uint32(2), segment.FlagPrefix, []byte{0, 10, 'r', 'o', 'u', 't', 'e', 0, 6, 2, 'x', 0}) // shares 6 of 5 bytes
	f.Fuzz(func(t *testing.T, codec uint8, count uint32, flags uint8, stored []byte) {
		const name = "fuzz.seg"
		h := segment.FrameHeader{Length: uint32(len(stored)), CRC: segment.Checksum(stored), FirstSeq: 5, Count: count, Codec: codec, Flags: flags & fuzzFlags}
		img := make([]byte, segment.FileHeaderSize+segment.FrameHeaderSize, segment.FileHeaderSize+segment.FrameHeaderSize+len(stored))
		segment.PutFileHeader(img, segment.FileHeader{ID: 1})
		segment.PutFrameHeader(img[segment.FileHeaderSize:], h)
		img = append(img, stored...)
		size := int64(len(img))
		off := int64(segment.FileHeaderSize)

		_, headerErr := segment.ParseFrameHeader(img[off:])
		h2, p, err := segment.ReadFrame(bytes.NewReader(img), size, off, name)
		if err != nil {
			if !errors.Is(err, segment.ErrCorrupt) || !strings.Contains(err.Error(), name) {
				t.Fatalf("ReadFrame: %v, want ErrCorrupt naming the file", err)
			}
		} else {
			if headerErr != nil {
				t.Fatalf("ReadFrame accepted a header ParseFrameHeader rejects: %v", headerErr)
			}
			want := len(stored)
			if h2.Codec != segment.CodecNone {
				n, _ := binary.Uvarint(stored)
				want = int(n)
			}
			if len(p) != want || len(p) > segment.MaxPayload || uint32(len(p)) < h2.Count {
				t.Fatalf("codec %d frame decoded to %d bytes, promised %d for %d entries", h2.Codec, len(p), want, h2.Count)
			}
			if err := decodeAll(h2, p); err != nil && !errors.Is(err, segment.ErrCorrupt) {
				t.Fatal(err)
			}
			if err := reencodeKeys(h2, p); err != nil {
				t.Fatalf("flags %#x: %v", h2.Flags, err)
			}
		}
		// The sequential reader and Scan agree with ReadFrame.
		rd := segment.NewReader(bytes.NewReader(img), size, name)
		_, _, rp, rerr := rd.Next()
		if (rerr == nil) != (err == nil) || !bytes.Equal(rp, p) {
			t.Fatalf("Reader.Next: %v (%d bytes); ReadFrame: %v (%d bytes)", rerr, len(rp), err, len(p))
		}
		if _, serr := segment.Scan(bytes.NewReader(img), size, name, nil); serr != nil && !errors.Is(serr, segment.ErrCorrupt) {
			t.Fatalf("Scan: %v, want nil or ErrCorrupt", serr)
		} else if err != nil && headerErr == nil && serr == nil {
			t.Fatalf("Scan accepted a checksummed frame that ReadFrame rejects (%v): that is no torn tail", err)
		}
		// Any bytes survive compression as a payload.
		if len(stored) > 0 && count > 0 && count <= uint32(len(stored)) {
			for _, c := range []uint8{segment.CodecS2, segment.CodecZstd} {
				comp, _ := segment.NewCompressor(c, 1)
				enc, used := comp.Compress(nil, stored)
				back, err := segment.DecodePayload(nil, segment.FrameHeader{Count: count, Codec: used}, enc)
				if err != nil || !bytes.Equal(back, stored) {
					t.Fatalf("codec %d round trip of %d bytes: %v, equal %v", used, len(stored), err, bytes.Equal(back, stored))
				}
			}
		}
	})
}

// ---------------------------------------------------------------------------
// FuzzCommandDelta

func FuzzCommandDelta(f *testing.F) {
	f.Add(false, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, haveSnap bool, snap, delta []byte) {
		fs := vfstest.New()
		fs.MkdirAll("/ks", 0o755)
		if haveSnap {
			fs.WriteFile("/ks/keys.snap", snap)
		}
		if len(delta) > 0 || !haveSnap {
			fs.WriteFile("/ks/keys.delta", delta)
		}
		var (
			s   *keyset.Set
			err error
		)
		withTimeout(t, 10*time.Second, "keyset.Open", func() {
			s, err = keyset.Open("/ks", keyset.Options{FS: fs})
		})
		if err != nil {
			if !errors.Is(err, segment.ErrCorrupt) {
				t.Fatalf("keyset.Open: %v, want nil or ErrCorrupt", err)
			}
			return
		}
		keys := s.Keys()
		for _, k := range keys {
			if k == "" {
				t.Fatal("empty key loaded")
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// Recovery is stable: a second Open sees the same set.
		s2, err := keyset.Open("/ks", keyset.Options{FS: fs})
		if err != nil {
			t.Fatalf("second Open after a successful one: %v", err)
		}
		defer s2.Close()
		if got := s2.Keys(); !slices.Equal(got, keys) {
			t.Fatalf("second Open: %d keys, first %d", len(got), len(keys))
		}
		if err := s2.Add("probe"); err != nil {
			t.Fatalf("Add after recovery: %v", err)
		}
	})
}

// ---------------------------------------------------------------------------
// FuzzEventDecode

// craftJournal writes a one-segment journal in dir: a valid RouteRegistered
// event (seq 0) then one frame holding the fuzzed entry (seq 1).
func craftJournal(t *testing.T, dir string, key, value []byte, tombstone bool) {
	var fh [segment.FileHeaderSize]byte
	segment.PutFileHeader(fh[:], segment.FileHeader{ID: 1, Base: 0})
	data := fh[:]
	frame := func(seq uint64, synced int, key, value []byte, tomb bool) []byte {
		b := make([]byte, segment.FrameHeaderSize)
		b = segment.AppendEntry(b, key, value, tomb)
		p := b[segment.FrameHeaderSize:]
		segment.PutFrameHeader(b, segment.FrameHeader{Length: uint32(len(p)), CRC: segment.Checksum(p), Synced: uint32(synced), FirstSeq: seq, Time: 1700000000000, Count: 1})
		return b
	}
	data = append(data, frame(0, len(data), []byte("good"), []byte{byte(journal.RouteRegistered)}, false)...)
	data = append(data, frame(1, len(data), key, value, tombstone)...)
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.seg"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func validEvent(e journal.Event) bool {
	switch {
	case e.Kind < journal.RouteRegistered || e.Kind > journal.RouteRemoved:
		return false
	case e.RouteID == "" || len(e.RouteID) > journal.MaxRouteIDLen:
		return false
	case e.Error != "" && e.Kind != journal.RouteFailed:
		return false
	}
	return true
}

func FuzzEventDecode(f *testing.F) {
	f.Add([]byte("r1"), []byte{1}, false)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if len(key) > 2*journal.MaxRouteIDLen || len(value) > 1<<17 {
			return
		}
		dir := t.TempDir()
		craftJournal(t, dir, key, value, tombstone)
		good := journal.Event{Kind: journal.RouteRegistered, RouteID: "good"}
		check := func(what string, evs []journal.Event, err error) {
			t.Helper()
			if err != nil {
				if !errors.Is(err, journal.ErrCorrupt) {
					t.Fatalf("%s: %v, want nil or ErrCorrupt", what, err)
				}
				return
			}
			if len(evs) != 2 || evs[0] != good {
				t.Fatalf("%s: %+v, want [good, fuzzed]", what, evs)
			}
			e := evs[1]
			if !validEvent(e) {
				t.Fatalf("%s: invalid event decoded: %+v", what, e)
			}
			if len(e.Error) > journal.MaxErrorLen {
				t.Fatalf("%s: decoded an error text of %d bytes, over MaxErrorLen", what, len(e.Error))
			}
			if e.RouteID != string(key) || byte(e.Kind) != value[0] || e.Error != string(value[1:]) || tombstone != (e.Kind == journal.RouteRemoved) {
				t.Fatalf("%s: decoded %+v from key %q value %q tombstone %v", what, e, key, value, tombstone)
			}
		}
		j, err := journal.Open(dir, journal.Options{Logger: quiet})
		if err != nil {
			t.Fatalf("Open of a segment with valid frames: %v", err)
		}
		evs, err := j.LoadAll()
		check("LoadAll", evs, err)
		var ents []journal.Event
		var entErr error
		for e, err := range j.Entries(0) {
			if err != nil {
				entErr = err
				break
			}
			ents = append(ents, e.Event)
		}
		check("Entries", ents, entErr)
		if (err == nil) != (entErr == nil) {
			t.Fatalf("LoadAll error %v, Entries error %v", err, entErr)
		}
		j.Close()
		ins, err := journal.Inspect(dir, journal.InspectFilter{})
		var insEvs []journal.Event
		for i := len(ins) - 1; i >= 0; i-- {
			insEvs = append(insEvs, ins[i].Event)
		}
		check("Inspect", insEvs, err)
	})
}

// FuzzManifest: any bytes as a log's manifest load as a state or an error
// wrapping ErrCorrupt, never a panic; a manifest that loads takes an edit
// (cutting a torn last edit first) and reads back as the loaded state with
// the edit applied.
func FuzzManifest(f *testing.F) {
	fs := vfstest.New()
	fs.MkdirAll("/m", 0o755)
	m, err := manifest.Create(fs, "/m", manifest.State{})
	if err != nil {
		f.Fatal(err)
	}
	m.Apply(manifest.Edit{Set: []manifest.Segment{{ID: 1, Base: 0, Durable: 4000, Sealed: true}, {ID: 2, Base: 90, Durable: 32}}})
	m.Apply(manifest.Edit{Remove: []uint64{1}, Front: 90, SetFront: true})
	m.Close()
	seed, _ := fs.ReadFile("/m/" + manifest.Name)
	f.Add(seed)
	f.Add(seed[:len(seed)-7])
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := vfstest.New()
		fs.MkdirAll("/m", 0o755)
		fs.WriteFile("/m/"+manifest.Name, data)
		ld, err := manifest.Load(fs, "/m")
		if err != nil {
			if !errors.Is(err, segment.ErrCorrupt) {
				t.Fatalf("Load: %v, want nil or ErrCorrupt", err)
			}
			return
		}
		for id, s := range ld.State.Segments {
			if s.ID != id || s.Durable < segment.FileHeaderSize || s.Durable > segment.MaxSegmentSize {
				t.Fatalf("loaded entry %d out of range: %+v", id, s)
			}
		}
		want := ld.State.Clone()
		e := manifest.Edit{Set: []manifest.Segment{{ID: 7, Base: 700, Durable: 64}}, Front: 3, SetFront: true}
		m := ld.Open()
		if err := m.Apply(e); err != nil {
			t.Fatalf("Apply after Load: %v", err)
		}
		m.Close()
		want.Apply(e)
		again, err := manifest.Load(fs, "/m")
		if err != nil {
			t.Fatalf("Load after an edit: %v", err)
		}
		if !reflect.DeepEqual(again.State, want) {
			t.Fatalf("after an edit: %+v, want %+v", again.State, want)
		}
	})
}

// FuzzEntryJSON: any bytes given to Entry.UnmarshalJSON decode or return an
// error wrapping ErrInvalid, never a panic; json.Unmarshal agrees on valid
// JSON; a decoded entry marshals, and those bytes decode to the same entry
// and marshal to themselves.
func FuzzEntryJSON(f *testing.F) {
	f.Add([]byte(`{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r1","error":"boom"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<18 {
			return
		}
		var e journal.Entry
		err := e.UnmarshalJSON(data)
		if json.Valid(data) {
			var viaJSON journal.Entry
			jerr := json.Unmarshal(data, &viaJSON)
			if viaJSON != e || (jerr == nil) != (err == nil) {
				t.Fatalf("json.Unmarshal %+v, %v; UnmarshalJSON %+v, %v", viaJSON, jerr, e, err)
			}
		}
		if err != nil {
			if !errors.Is(err, journal.ErrInvalid) {
				t.Fatalf("error %v, want nil or ErrInvalid", err)
			}
			if e != (journal.Entry{}) {
				t.Fatalf("error %v, yet the entry changed to %+v", err, e)
			}
			return
		}
		if string(bytes.TrimSpace(data)) == "null" {
			if e != (journal.Entry{}) {
				t.Fatalf("null changed the entry to %+v", e)
			}
			return
		}
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("decoded %+v, which does not marshal: %v", e, err)
		}
		var again journal.Entry
		if err := again.UnmarshalJSON(b); err != nil || again != e {
			t.Fatalf("%s decodes to %+v, %v; want %+v", b, again, err, e)
		}
		if b2, err := again.MarshalJSON(); err != nil || !bytes.Equal(b2, b) {
			t.Fatalf("marshals to %s, then to %s, %v", b, b2, err)
		}
	})
}
