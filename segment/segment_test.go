package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/vfs"
)

// memFile is a ReaderAt over a byte slice for scanning crafted images.
type memFile []byte

func (m memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, errEOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, errEOF
	}
	return n, nil
}

var errEOF = io.EOF

// frameBytes builds one encoded frame with n contiguous entries.
func frameBytes(t testing.TB, first uint64, n int, synced uint32) []byte {
	t.Helper()
	buf := make([]byte, FrameHeaderSize)
	for i := range n {
		buf = AppendEntry(buf, []byte(fmt.Sprintf("key-%d", first+uint64(i))), []byte("value"), i%3 == 2)
	}
	h := FrameHeader{Length: uint32(len(buf) - FrameHeaderSize), CRC: Checksum(buf[FrameHeaderSize:]), Synced: synced, FirstSeq: first, Time: 1764190000000, Count: uint32(n)}
	PutFrameHeader(buf, h)
	return buf
}

// image builds a segment image of frames of the given sizes; each frame
// claims everything before it durable when immediate is true, or only the
// file header otherwise (all of them written between two syncs).
func image(t testing.TB, sizes []int, immediate bool) (img []byte, offsets []int64) {
	t.Helper()
	img = make([]byte, FileHeaderSize)
	PutFileHeader(img, FileHeader{ID: 1})
	var seq uint64
	for _, n := range sizes {
		synced := uint32(FileHeaderSize)
		if immediate {
			synced = uint32(len(img))
		}
		offsets = append(offsets, int64(len(img)))
		img = append(img, frameBytes(t, seq, n, synced)...)
		seq += uint64(n)
	}
	return img, offsets
}

func scan(t testing.TB, img []byte) (ScanResult, []uint64, error) {
	t.Helper()
	var firsts []uint64
	res, err := Scan(memFile(img), int64(len(img)), "seg", func(off int64, h FrameHeader, p []byte) error {
		it := NewEntryIter(h, p)
		for {
			_, ok, err := it.Next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
		}
		firsts = append(firsts, h.FirstSeq)
		return nil
	})
	return res, firsts, err
}

func TestFrameHeaderRoundTrip(t *testing.T) {
	h := FrameHeader{Length: 100, CRC: 0xdeadbeef, Synced: 4096, FirstSeq: 1 << 40, Time: -5, Count: 7, Flags: FlagSparse}
	var b [FrameHeaderSize]byte
	PutFrameHeader(b[:], h)
	got, err := ParseFrameHeader(b[:])
	if err != nil || got != h {
		t.Fatalf("round trip: got %+v, %v; want %+v", got, err, h)
	}
}

func TestParseFrameHeaderRejectsDamage(t *testing.T) {
	var good [FrameHeaderSize]byte
	PutFrameHeader(good[:], FrameHeader{Length: 10, Count: 1, FirstSeq: 3})
	for bit := range FrameHeaderSize * 8 {
		b := good
		b[bit/8] ^= 1 << (bit % 8)
		if _, err := ParseFrameHeader(b[:]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit %d flipped: got %v, want ErrCorrupt (a damaged length must be detected)", bit, err)
		}
	}
	cases := map[string]FrameHeader{
		"zero count":     {Length: 10, Count: 0},
		"count > length": {Length: 2, Count: 3},
		"huge length":    {Length: MaxPayload + 1, Count: 1},
		"unknown codec":  {Length: 10, Count: 1, Codec: 9},
		"unknown flag":   {Length: 10, Count: 1, Flags: 0x80},
		"seq overflow":   {Length: 10, Count: 2, FirstSeq: ^uint64(0)},
	}
	for name, h := range cases {
		var b [FrameHeaderSize]byte
		PutFrameHeader(b[:], h)
		if _, err := ParseFrameHeader(b[:]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

func TestFileHeader(t *testing.T) {
	var b [FileHeaderSize]byte
	PutFileHeader(b[:], FileHeader{ID: 42, Base: 1000})
	fh, err := ParseFileHeader(b[:])
	if err != nil || fh.ID != 42 || fh.Base != 1000 {
		t.Fatalf("got %+v, %v; want id 42 base 1000", fh, err)
	}
	for i := range FileHeaderSize {
		c := b
		c[i] ^= 0x10
		if _, err := ParseFileHeader(c[:]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d damaged: got %v, want ErrCorrupt", i, err)
		}
	}
}

func TestEntryIterSparse(t *testing.T) {
	seqs := []uint64{10, 11, 15, 100}
	buf := []byte{}
	for i, s := range seqs {
		var delta uint64
		if i > 0 {
			delta = s - seqs[i-1] - 1
		}
		buf = AppendSparseEntry(buf, i == 0, delta, []byte("k"), []byte{byte(i)}, i == 3)
	}
	it := NewEntryIter(FrameHeader{FirstSeq: 10, Count: 4, Flags: FlagSparse}, buf)
	for i, want := range seqs {
		e, ok, err := it.Next()
		if err != nil || !ok || e.Seq != want || e.Value[0] != byte(i) || e.Tombstone != (i == 3) {
			t.Fatalf("entry %d: got %+v ok=%v err=%v, want seq %d", i, e, ok, err, want)
		}
	}
	if _, ok, err := it.Next(); ok || err != nil {
		t.Fatalf("after last: ok=%v err=%v, want end", ok, err)
	}
	last, err := LastSeq(FrameHeader{FirstSeq: 10, Count: 4, Flags: FlagSparse}, buf)
	if err != nil || last != 100 {
		t.Fatalf("LastSeq = %d, %v; want 100", last, err)
	}
}

func TestEntryIterRejectsBadPayloads(t *testing.T) {
	good := AppendEntry(nil, []byte("route"), []byte("v"), false)
	cases := map[string]struct {
		count   uint32
		payload []byte
	}{
		"truncated":       {1, good[:len(good)-1]},
		"trailing bytes":  {1, append(append([]byte{}, good...), 0)},
		"too few entries": {2, good},
		"bad varint":      {1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		"key past end":    {1, []byte{0x7e, 'a'}},
	}
	for name, c := range cases {
		it := NewEntryIter(FrameHeader{Count: c.count}, c.payload)
		var err error
		for {
			var ok bool
			_, ok, err = it.Next()
			if err != nil || !ok {
				break
			}
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

func TestScanCleanEnds(t *testing.T) {
	img, _ := image(t, []int{1, 5, 2}, true)
	for name, tail := range map[string][]byte{
		"end of file":       nil,
		"zeros":             make([]byte, 10000),
		"few zeros":         make([]byte, 7),
		"header-size zeros": make([]byte, FrameHeaderSize),
	} {
		res, firsts, err := scan(t, append(append([]byte{}, img...), tail...))
		if err != nil || res.Tail != TailClean || res.End != int64(len(img)) || len(firsts) != 3 || res.Last != 7 {
			t.Errorf("%s: got %+v firsts=%v err=%v; want clean end at %d after 3 frames", name, res, firsts, err, len(img))
		}
	}
}

// A torn last frame, cut at every byte offset, leaves exactly the earlier
// frames and is reported as torn, never as corruption.
func TestScanTornTailAtEveryOffset(t *testing.T) {
	for _, immediate := range []bool{true, false} {
		img, offs := image(t, []int{2, 3, 4}, immediate)
		lastOff := offs[len(offs)-1]
		for cut := lastOff + 1; cut < int64(len(img)); cut++ {
			for _, pad := range []int{0, 1000} { // file end, or preallocated zeros
				b := append(append([]byte{}, img[:cut]...), make([]byte, pad)...)
				res, firsts, err := scan(t, b)
				if err != nil || res.Tail != TailTorn || res.End != lastOff || len(firsts) != 2 {
					t.Fatalf("immediate=%v cut at %d pad %d: got %+v firsts=%v err=%v; want torn tail at %d with 2 frames", immediate, cut, pad, res, firsts, err, lastOff)
				}
			}
		}
	}
}

// Frames written between two syncs may reach the disk in any order: a lost
// frame followed by a persisted one is a torn tail, because the later frame
// does not claim the earlier one was durable.
func TestScanLostMiddleFrameOfUnsyncedGroup(t *testing.T) {
	img, offs := image(t, []int{2, 3, 4}, false)
	clear(img[offs[1]:offs[2]]) // the middle frame never reached the disk
	res, firsts, err := scan(t, img)
	if err != nil || res.Tail != TailTorn || res.End != offs[1] || len(firsts) != 1 {
		t.Fatalf("got %+v firsts=%v err=%v; want torn tail at %d with 1 frame", res, firsts, err, offs[1])
	}
}

// Damage to a frame that a later frame records as durable is corruption,
// whatever the damage looks like.
func TestScanDamageBeforeDurableClaimIsCorrupt(t *testing.T) {
	img, offs := image(t, []int{2, 3, 4}, true)
	for name, damage := range map[string]func(b []byte){
		"payload bit":   func(b []byte) { b[offs[1]+FrameHeaderSize+2] ^= 4 },
		"length field":  func(b []byte) { b[offs[1]+5] ^= 1 },
		"length huge":   func(b []byte) { b[offs[1]+7] = 0x7f },
		"zeroed header": func(b []byte) { clear(b[offs[1] : offs[1]+FrameHeaderSize]) },
		"zeroed frame":  func(b []byte) { clear(b[offs[1]:offs[2]]) },
	} {
		b := append([]byte{}, img...)
		damage(b)
		_, _, err := scan(t, b)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
			continue
		}
		if want := fmt.Sprintf("offset %d", offs[1]); !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("%s: error %q does not name %s", name, err, want)
		}
	}
}

func TestScanSequenceMustIncrease(t *testing.T) {
	img := make([]byte, FileHeaderSize)
	PutFileHeader(img, FileHeader{ID: 1})
	img = append(img, frameBytes(t, 5, 2, FileHeaderSize)...)
	img = append(img, frameBytes(t, 6, 1, uint32(len(img)))...)
	if _, _, err := scan(t, img); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("overlapping sequence numbers: got %v, want ErrCorrupt", err)
	}
}

func TestWriterAndIndexFile(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.Default()
	name := filepath.Join(dir, "1.seg")
	w, err := Create(fs, name, FileHeader{ID: 1, Base: 0}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var infos []FrameInfo
	enc := NewEncoder(nil)
	for i := range 10 {
		f, err := enc.Batch([]Record{{Key: []byte("k"), Value: bytes.Repeat([]byte{byte(i)}, i*100)}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.SetFirst(uint64(i))
		off, err := w.WriteFrame(&f)
		if err != nil {
			t.Fatal(err)
		}
		info := f.Info(off)
		if want := (FrameInfo{Offset: uint32(off), Count: 1, First: uint64(i), Last: uint64(i)}); info != want {
			t.Fatalf("frame %d: WriteFrame says %+v, want %+v", i, info, want)
		}
		infos = append(infos, info)
	}
	size := w.Offset()
	if err := w.File().Truncate(size); err != nil {
		t.Fatal(err)
	}
	res, err := Scan(w.File(), size, name, nil)
	if err != nil || res.Frames != 10 || res.End != size || res.Tail != TailClean {
		t.Fatalf("scan written segment: %+v, %v; want 10 frames ending at %d", res, err, size)
	}
	idx := filepath.Join(dir, "1.idx")
	if err := WriteIndexFile(fs, idx, 1, size, infos); err != nil {
		t.Fatal(err)
	}
	got, ok := ReadIndexFile(fs, idx, 1, size)
	if !ok || len(got) != 10 || got[9] != infos[9] {
		t.Fatalf("ReadIndexFile: ok=%v got %v; want %v", ok, got, infos)
	}
	if _, ok := ReadIndexFile(fs, idx, 1, size+1); ok {
		t.Fatal("index accepted for a segment of another size; want it rejected as stale")
	}
	if _, ok := ReadIndexFile(fs, idx, 2, size); ok {
		t.Fatal("index accepted for another segment id")
	}
	w.Close()
}

// TestWriterGrowsInGrowingSteps writes 40 MiB of frames: the file grows
// ahead of the data in steps that double from 1 MiB up to 16 MiB (few
// size changes for a large segment, a small file for a small journal),
// never holds less than the data, and every frame reads back.
func TestWriterGrowsInGrowingSteps(t *testing.T) {
	name := filepath.Join(t.TempDir(), "1.seg")
	w, err := Create(vfs.Default(), name, FileHeader{ID: 1}, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	enc := NewEncoder(nil)
	const n = 5000
	sizes := []int64{FileHeaderSize}
	for i := range n {
		f, err := enc.Batch([]Record{{Key: []byte("k"), Value: bytes.Repeat([]byte{7}, 8<<10)}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.SetFirst(uint64(i))
		if _, err := w.WriteFrame(&f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		size, _ := w.File().Size()
		if size < w.Offset() {
			t.Fatalf("frame %d: file of %d bytes below the data's end %d", i, size, w.Offset())
		}
		if size != sizes[len(sizes)-1] {
			sizes = append(sizes, size)
		}
	}
	for i := 1; i < len(sizes); i++ {
		step := sizes[i] - sizes[i-1]
		if want := min(max(sizes[i-1], 1<<20), 16<<20); step != want {
			t.Fatalf("growth %d: %d -> %d bytes, a step of %d; want %d (sizes %v)", i, sizes[i-1], sizes[i], step, want, sizes)
		}
	}
	if len(sizes) > 8 {
		t.Fatalf("%d size changes for 40 MiB: %v; want at most 7", len(sizes)-1, sizes)
	}
	end := w.Offset()
	if err := w.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := w.File().Truncate(end); err != nil {
		t.Fatal(err)
	}
	res, err := Scan(w.File(), end, name, nil)
	if err != nil || res.Frames != n || res.Tail != TailClean {
		t.Fatalf("scan: %+v, %v; want %d clean frames", res, err, n)
	}
	w.Close()
}
