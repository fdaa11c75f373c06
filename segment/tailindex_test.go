package segment

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

// tailFrames returns n frames following each other from FileHeaderSize,
// with sizes, counts, gaps and sparse lasts drawn from seed, and where the
// last one ends.
func tailFrames(seed uint64, n int) ([]FrameInfo, int64) {
	r := rand.New(rand.NewPCG(seed, 1))
	off, seq := int64(FileHeaderSize), uint64(1+r.IntN(1000))
	var out []FrameInfo
	for range n {
		count := uint32(1 + r.IntN(5))
		last := seq + uint64(count) - 1
		if r.IntN(4) == 0 {
			last += uint64(r.IntN(10)) // sparse
		}
		out = append(out, FrameInfo{Offset: uint32(off), Count: count, First: seq, Last: last})
		off += FrameHeaderSize + 1 + int64(r.IntN(300))
		seq = last + 1 + uint64(r.IntN(2))
	}
	return out, off
}

// TestTailIndexListsTheChunksAppended: every chunk appended is read back
// whole, in order, and where the frames listed end.
func TestTailIndexListsTheChunksAppended(t *testing.T) {
	const seed = 7
	fs := vfstest.New()
	frames, end := tailFrames(seed, 500)
	ti, err := CreateTailIndex(fs, "1.tidx", 1)
	if err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < len(frames); {
		hi := min(len(frames), lo+1+lo%37)
		e := end
		if hi < len(frames) {
			e = int64(frames[hi].Offset)
		}
		if err := ti.Append(frames[lo:hi], e); err != nil {
			t.Fatal(err)
		}
		if ti.End() != e {
			t.Fatalf("End() = %d after a chunk ending at %d", ti.End(), e)
		}
		got, gotEnd := ReadTailIndex(fs, "1.tidx", 1, end, nil)
		if gotEnd != e || !slices.Equal(got, frames[:hi]) {
			t.Fatalf("seed %d: after chunk [%d,%d): read %d frames ending at %d, want %d ending at %d", seed, lo, hi, len(got), gotEnd, hi, e)
		}
		lo = hi
	}
	if err := ti.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTailIndexEndsAtTheFirstBadChunk: a torn or damaged chunk, a chunk
// past the segment's size, another segment's file or none at all list
// only the chunks before (nothing for the header), never an error.
func TestTailIndexEndsAtTheFirstBadChunk(t *testing.T) {
	frames, end := tailFrames(11, 30)
	mid := int64(frames[10].Offset)
	write := func(t *testing.T, fs *vfstest.FS) (chunk2At int64) {
		ti, err := CreateTailIndex(fs, "1.tidx", 1)
		if err != nil {
			t.Fatal(err)
		}
		defer ti.Close()
		if err := ti.Append(frames[:10], mid); err != nil {
			t.Fatal(err)
		}
		chunk2At = ti.off
		if err := ti.Append(frames[10:], end); err != nil {
			t.Fatal(err)
		}
		return chunk2At
	}
	cases := []struct {
		name    string
		damage  func(t *testing.T, fs *vfstest.FS, at int64)
		segSize int64
		id      uint64
		want    int // frames listed
	}{
		{"whole", func(*testing.T, *vfstest.FS, int64) {}, end, 1, 30},
		{"torn second chunk", func(t *testing.T, fs *vfstest.FS, at int64) { truncate(t, fs, "1.tidx", at+9) }, end, 1, 10},
		{"flipped bit in second chunk", func(t *testing.T, fs *vfstest.FS, at int64) { flip(t, fs, "1.tidx", at+20) }, end, 1, 10},
		{"flipped bit in first chunk", func(t *testing.T, fs *vfstest.FS, at int64) { flip(t, fs, "1.tidx", tailHeaderSize+3) }, end, 1, 0},
		{"damaged header", func(t *testing.T, fs *vfstest.FS, at int64) { flip(t, fs, "1.tidx", 9) }, end, 1, 0},
		{"segment shorter than the second chunk", func(*testing.T, *vfstest.FS, int64) {}, end - 1, 1, 10},
		{"another segment's", func(*testing.T, *vfstest.FS, int64) {}, end, 2, 0},
		{"missing", func(t *testing.T, fs *vfstest.FS, _ int64) { fs.Remove("1.tidx") }, end, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := vfstest.New()
			at := write(t, fs)
			c.damage(t, fs, at)
			got, gotEnd := ReadTailIndex(fs, "1.tidx", c.id, c.segSize, nil)
			wantEnd := map[int]int64{0: FileHeaderSize, 10: mid, 30: end}[c.want]
			if len(got) != c.want || gotEnd != wantEnd || !slices.Equal(got, frames[:c.want]) {
				t.Fatalf("read %d frames ending at %d; want %d ending at %d", len(got), gotEnd, c.want, wantEnd)
			}
		})
	}
}

func truncate(t *testing.T, fs *vfstest.FS, name string, size int64) {
	t.Helper()
	f, err := fs.OpenReadWrite(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, fs *vfstest.FS, name string, off int64) {
	t.Helper()
	f, err := fs.OpenReadWrite(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(fmt.Errorf("read %s at %d: %w", name, off, err))
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestFirstNonZeroFindsTheFirstNonZeroByte: at the start, on either side
// of a block and a read chunk boundary, at the very end, or nowhere; read
// through ReadAt and, from a file that maps, in place.
func TestFirstNonZeroFindsTheFirstNonZeroByte(t *testing.T) {
	const size = 3*readChunk + 100
	name := filepath.Join(t.TempDir(), "f")
	for _, at := range []int64{-1, 0, 1, int64(len(zeros)) - 1, int64(len(zeros)), readChunk - 1, readChunk, readChunk + 1, 2*readChunk + 7, size - 1} {
		buf := make([]byte, size)
		if at >= 0 {
			buf[at] = 0x80
			buf[size-1] |= 1 // a later non-zero byte changes nothing
		}
		if err := os.WriteFile(name, buf, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := vfs.Default().Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []io.ReaderAt{bytesReaderAt(buf), f} {
			for _, from := range []int64{0, 5} {
				want := at
				if at >= 0 && at < from {
					want = size - 1
				}
				got, err := FirstNonZero(r, from, size, "x")
				if err != nil || got != want {
					t.Fatalf("%T: non-zero byte at %d, from %d: got %d, %v; want %d", r, at, from, got, err, want)
				}
			}
		}
		f.Close()
	}
}

// TestFirstNonZeroReadsWhereTheMappingFaults: a file cut shorter than the
// size asked (a writer cutting it meanwhile) faults its mapping past the
// end; FirstNonZero reads instead, without a crash.
func TestFirstNonZeroReadsWhereTheMappingFaults(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	buf := make([]byte, 2*readChunk) // zeros: the search goes past the end
	if err := os.WriteFile(name, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := vfs.Default().Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, err := FirstNonZero(f, 0, 4*readChunk, "x"); err != nil || got != -1 {
		t.Fatalf("got %d, %v; want -1", got, err)
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	return copy(p, b[off:]), nil
}
