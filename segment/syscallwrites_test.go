package segment

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/vfs"
)

// writeCounter is an OS file that counts its WriteAt calls and keeps the
// file's mapping, so a Writer maps it as it maps any OS file.
type writeCounter struct {
	vfs.File
	writes int
}

func (c *writeCounter) WriteAt(p []byte, off int64) (int, error) {
	c.writes++
	return c.File.WriteAt(p, off)
}

func (c *writeCounter) Map(length int64) ([]byte, error) { return c.File.(vfs.Mapper).Map(length) }
func (c *writeCounter) Unmap(m []byte) error             { return c.File.(vfs.Mapper).Unmap(m) }

// TestWriteWithSyscallsWritesEachFrameAndMappedStillReadsIt: a mapped
// writer copies frames into its mapping (no write call past growing the
// file); after WriteWithSyscalls each frame is one write call, and either
// way the mapping and the file hold every frame.
func TestWriteWithSyscallsWritesEachFrameAndMappedStillReadsIt(t *testing.T) {
	for _, syscalls := range []bool{false, true} {
		t.Run(fmt.Sprintf("syscalls=%v", syscalls), func(t *testing.T) {
			fs := vfs.Default()
			name := filepath.Join(t.TempDir(), "1.seg")
			w0, err := Create(fs, name, FileHeader{ID: 1}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := w0.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := fs.OpenReadWrite(name)
			if err != nil {
				t.Fatal(err)
			}
			c := &writeCounter{File: f}
			w := Resume(c, name, 1, FileHeaderSize, 1<<20)
			defer w.Close()
			if w.Mapped(FileHeaderSize) == nil {
				t.Skip("the file system does not map files here")
			}
			if syscalls {
				w.WriteWithSyscalls()
			}
			enc := NewEncoder(nil)
			const frames = 20
			var want [][]byte
			for i := range frames {
				v := fmt.Appendf(nil, "value %d", i)
				fr, err := enc.Batch([]Record{{Key: []byte("k"), Value: v}}, 0)
				if err != nil {
					t.Fatal(err)
				}
				fr.SetFirst(uint64(i + 1))
				before := c.writes
				if _, err := w.WriteFrame(&fr); err != nil {
					t.Fatal(err)
				}
				if err := w.Sync(w.Offset()); err != nil {
					t.Fatal(err)
				}
				wrote := c.writes - before
				if i > 0 && syscalls != (wrote == 1) {
					t.Fatalf("frame %d took %d write calls with syscalls=%v", i, wrote, syscalls)
				}
				want = append(want, v)
			}
			m := w.Mapped(w.Offset())
			if m == nil {
				t.Fatal("mapping gone")
			}
			var got [][]byte
			if _, err := Scan(bytes.NewReader(m), int64(len(m)), name, func(_ int64, h FrameHeader, p []byte) error {
				it := NewEntryIter(h, p)
				for {
					e, ok, err := it.Next()
					if err != nil || !ok {
						return err
					}
					got = append(got, bytes.Clone(e.Value))
				}
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != frames {
				t.Fatalf("mapping holds %d entries, want %d", len(got), frames)
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("entry %d = %q, want %q", i, got[i], want[i])
				}
			}
		})
	}
}
