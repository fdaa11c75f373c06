package segment

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// writeIndexV1 writes frames as a version 1 index file (no summary), as
// logs written before version 2 have them.
func writeIndexV1(t *testing.T, fs *vfstest.FS, name string, id uint64, segSize int64, frames []FrameInfo) {
	t.Helper()
	buf := make([]byte, indexHeaderSizeV1+len(frames)*indexEntrySize+4)
	copy(buf, indexMagicV1)
	binary.LittleEndian.PutUint64(buf[8:], id)
	binary.LittleEndian.PutUint64(buf[16:], uint64(segSize))
	binary.LittleEndian.PutUint32(buf[24:], uint32(len(frames)))
	binary.LittleEndian.PutUint32(buf[28:], Checksum(buf[:28]))
	putFrameList(buf[indexHeaderSizeV1:], frames)
	if err := fs.WriteFile(name, buf); err != nil {
		t.Fatal(err)
	}
}

// The header's summary agrees with the frames; version 1 files are read
// and summed up from their list; damage, another segment or another size
// is never taken for a summary.
func TestIndexSummary(t *testing.T) {
	fs := vfstest.New()
	const segSize = 4096
	dense := []FrameInfo{{Offset: 32, Count: 3, First: 10, Last: 12}, {Offset: 200, Count: 1, First: 13, Last: 13}}
	sparse := []FrameInfo{{Offset: 32, Count: 2, First: 10, Last: 15}, {Offset: 200, Count: 1, First: 20, Last: 20}}
	for _, tc := range []struct {
		name   string
		frames []FrameInfo
		want   IndexSummary
		dense  bool
	}{
		{"dense", dense, IndexSummary{Entries: 4, First: 10, Last: 13}, true},
		{"sparse", sparse, IndexSummary{Entries: 3, First: 10, Last: 20}, false},
		{"empty", nil, IndexSummary{}, false},
	} {
		for _, v1 := range []bool{false, true} {
			name := "/" + tc.name + ".idx"
			if v1 {
				writeIndexV1(t, fs, name, 7, segSize, tc.frames)
			} else if err := WriteIndexFile(fs, name, 7, segSize, tc.frames); err != nil {
				t.Fatal(err)
			}
			got, st := ReadIndexSummary(fs, name, 7, segSize)
			if st != IndexOK || got != tc.want || got.Dense() != tc.dense {
				t.Errorf("%s (v1 %v): %+v (dense %v), %v; want %+v (dense %v), OK", tc.name, v1, got, got.Dense(), st, tc.want, tc.dense)
			}
			if frames, ok := ReadIndexFile(fs, name, 7, segSize); !ok || len(frames) != len(tc.frames) {
				t.Errorf("%s (v1 %v): ReadIndexFile %v, ok %v", tc.name, v1, frames, ok)
			}
			if _, st := ReadIndexSummary(fs, name, 7, segSize+1); st != IndexStale {
				t.Errorf("%s (v1 %v): other size: %v, want stale", tc.name, v1, st)
			}
			if _, st := ReadIndexSummary(fs, name, 8, segSize); st != IndexDamaged {
				t.Errorf("%s (v1 %v): other segment: %v, want damaged", tc.name, v1, st)
			}
		}
	}
	if _, st := ReadIndexSummary(fs, "/missing.idx", 7, segSize); st != IndexMissing {
		t.Errorf("missing file: %v", st)
	}
	// Every flipped bit of a version 2 header is caught.
	if err := WriteIndexFile(fs, "/d.idx", 7, segSize, dense); err != nil {
		t.Fatal(err)
	}
	orig, _ := fs.ReadFile("/d.idx")
	for i := range IndexHeaderSize * 8 {
		b := append([]byte(nil), orig...)
		b[i/8] ^= 1 << (i % 8)
		if err := fs.WriteFile("/d.idx", b); err != nil {
			t.Fatal(err)
		}
		if got, st := ReadIndexSummary(fs, "/d.idx", 7, segSize); st == IndexOK {
			t.Fatalf("bit %d flipped: summary %+v accepted", i, got)
		}
	}
	// A summary that disagrees with a sound list (written by hand with a
	// matching checksum) makes the file damaged for a full read.
	b := append([]byte(nil), orig...)
	binary.LittleEndian.PutUint64(b[48:], 14)
	binary.LittleEndian.PutUint32(b[56:], Checksum(b[:56]))
	if err := fs.WriteFile("/d.idx", b); err != nil {
		t.Fatal(err)
	}
	if _, ok := ReadIndexFile(fs, "/d.idx", 7, segSize); ok {
		t.Error("list and summary disagree: the full read accepted it")
	}
}

// IndexTail reads the frame list of either version from its end: a
// version 1 file's list starts after the shorter header.
func TestIndexTailReadsBothVersions(t *testing.T) {
	fs := vfstest.New()
	const segSize = 4096
	frames := []FrameInfo{{Offset: 32, Count: 3, First: 10, Last: 12}, {Offset: 200, Count: 2, First: 13, Last: 20}, {Offset: 400, Count: 1, First: 21, Last: 21}}
	for _, v1 := range []bool{false, true} {
		name := fmt.Sprintf("/tail-v1-%v.idx", v1)
		if v1 {
			writeIndexV1(t, fs, name, 7, segSize, frames)
		} else if err := WriteIndexFile(fs, name, 7, segSize, frames); err != nil {
			t.Fatal(err)
		}
		tail, st := OpenIndexTail(fs, name, 7, segSize)
		if st != IndexOK || tail.Len() != len(frames) {
			t.Fatalf("v1 %v: OpenIndexTail: %v", v1, st)
		}
		for i := len(frames) - 1; i >= 0; i-- {
			fr, err := tail.Frame(i)
			if err != nil || fr != frames[i] {
				t.Errorf("v1 %v: Frame(%d) = %+v, %v; want %+v", v1, i, fr, err, frames[i])
			}
		}
		tail.Close()
		if _, st := OpenIndexTail(fs, name, 7, segSize+1); st != IndexStale {
			t.Errorf("v1 %v: other size: %v, want stale", v1, st)
		}
	}
}
