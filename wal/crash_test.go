package wal

// Directed recovery tests on the in-memory vfstest filesystem: damage that a
// crash cannot explain must fail Open with ErrCorrupt and never silently drop
// durable data, and torn tails must be cut.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs/vfstest"
)

var crashQuiet = slog.New(slog.DiscardHandler)

const crashDir = "/log"

func crashFS(t *testing.T) *vfstest.FS {
	t.Helper()
	fs := vfstest.New()
	if err := fs.MkdirAll(crashDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs.SyncDir("/")
	return fs
}

func crashOpen(t *testing.T, fs *vfstest.FS, d Durability) *Log {
	t.Helper()
	l, err := Open(crashDir, Options{FS: fs, Durability: d, SegmentSize: MinSegmentSize, Logger: crashQuiet, Inline: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// crashAppend appends n batches of 3 records each; it returns the first
// sequence number of each.
func crashAppend(t *testing.T, l *Log, n int, tag string) []uint64 {
	t.Helper()
	var firsts []uint64
	for i := range n {
		var recs []Record
		for k := range 3 {
			recs = append(recs, Record{Key: fmt.Appendf(nil, "%s-%d-%d", tag, i, k), Value: make([]byte, 100)})
		}
		first, err := l.Append(Batch{Time: int64(i), Records: recs})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		firsts = append(firsts, first)
	}
	return firsts
}

func crashSeqs(t *testing.T, l *Log) ([]uint64, error) {
	t.Helper()
	var seqs []uint64
	for e, err := range l.Entries(0) {
		if err != nil {
			return seqs, err
		}
		seqs = append(seqs, e.Seq)
	}
	return seqs, nil
}

// TestCrashTornTailAtEveryPrefix writes an Eventual tail of unsynced frames
// and opens every prefix of it (cut at each byte of the last frames): Open
// must succeed, keep exactly the whole frames, and leave the file cut
// (durably) at the last of them.
func TestCrashTornTailAtEveryPrefix(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Eventual)
	crashAppend(t, l, 2, "a")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	crashAppend(t, l, 3, "b")
	name := segName(crashDir, 1)
	full, err := fs.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	full = full[:l.active.Offset()] // the file grows ahead in zeros
	// The directory as a crash now leaves it (Close would record the
	// segment's size as durable).
	crashed := fs.CrashClone(vfstest.CrashOptions{})
	l.Close()
	frameSize := (len(full) - segment.FileHeaderSize) / 5
	syncedEnd := segment.FileHeaderSize + 2*frameSize
	for cut := syncedEnd; cut <= len(full); cut++ {
		c := crashed.CrashClone(vfstest.CrashOptions{})
		if err := c.WriteFile(name, full[:cut]); err != nil {
			t.Fatal(err)
		}
		l2, err := Open(crashDir, Options{FS: c, Durability: Eventual, Logger: crashQuiet})
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		if err := checkRecoveredTail(l2, c); err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		seqs, err := crashSeqs(t, l2)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		wantFrames := (cut - segment.FileHeaderSize) / frameSize
		if len(seqs) != 3*wantFrames {
			t.Fatalf("cut at %d: %d entries, want %d", cut, len(seqs), 3*wantFrames)
		}
		if first, err := l2.Append(Batch{Records: []Record{{Key: []byte("k")}}}); err != nil || first != uint64(3*wantFrames) {
			t.Fatalf("cut at %d: next append got seq %d, %v; want %d", cut, first, err, 3*wantFrames)
		}
		l2.Close()
	}
}

// TestCrashDamageInSyncedDataIsCorrupt flips a byte in a frame of the active
// segment that later frames record as durable: Open must refuse with
// ErrCorrupt and leave the file as it was.
func TestCrashDamageInSyncedDataIsCorrupt(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	crashAppend(t, l, 4, "a")
	name := segName(crashDir, 1)
	c := fs.CrashClone(vfstest.CrashOptions{})
	l.Close()
	data, _ := c.ReadFile(name)
	data[segment.FileHeaderSize+segment.FrameHeaderSize+5] ^= 0x10 // payload of frame 1
	c.WriteFile(name, data)
	_, err := Open(crashDir, Options{FS: c, Logger: crashQuiet})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open after damage to synced data: %v, want ErrCorrupt", err)
	}
	after, _ := c.ReadFile(name)
	if string(after) != string(data) {
		t.Fatal("a refused Open modified the damaged segment")
	}
}

// TestCrashRandomStatesOfRotation takes random crash states after every
// operation of a workload that rotates segments often, and checks that
// Open succeeds with a prefix of the batches that includes every
// acknowledged one.
func TestCrashRandomStatesOfRotation(t *testing.T) {
	const seed = 7
	fs := crashFS(t)
	var acked, attempted int
	states := 0
	var l *Log
	check := func(c *vfstest.FS) error {
		l2, err := Open(crashDir, Options{FS: c, SegmentSize: MinSegmentSize, Logger: crashQuiet})
		if err != nil {
			return fmt.Errorf("Open: %w", err)
		}
		seqs, err := crashSeqs(t, l2)
		l2.Close()
		if err != nil {
			return err
		}
		if len(seqs)%3 != 0 || len(seqs)/3 < acked || len(seqs)/3 > attempted {
			return fmt.Errorf("%d entries; acked %d batches, attempted %d", len(seqs), acked, attempted)
		}
		for i, s := range seqs {
			if s != uint64(i) {
				return fmt.Errorf("entry %d has seq %d", i, s)
			}
		}
		return nil
	}
	failed := false
	fs.OnOp(func(op vfstest.Op, name string) {
		// A failure is reported, not raised (t.Fatal), here: the hook runs
		// inside the log's calls, some with its lock released.
		for r := range 2 {
			idx := states
			states++
			if failed {
				return
			}
			c := fs.CrashClone(vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(seed, uint64(idx)))})
			if r == 1 {
				c = fs.CrashClone(vfstest.CrashOptions{})
			}
			if err := check(c); err != nil {
				t.Errorf("seed=%d state=%d after %s %s: %v", seed, idx, op, name, err)
				failed = true
			}
		}
	})
	l = crashOpen(t, fs, Immediate)
	for i := range 60 {
		attempted++
		if _, err := l.Append(Batch{Time: int64(i), Records: []Record{
			{Key: []byte("a"), Value: make([]byte, 300)}, {Key: []byte("b")}, {Key: []byte("c"), Tombstone: true},
		}}); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	fs.OnOp(nil)
	l.Close()
	t.Logf("%d crash states", states)
}

// TestCrashDamagedHeaderOfLastSegmentWithDataIsCorrupt flips a bit in the file header
// of the newest segment after batches in it were acknowledged (synced). A
// crash cannot damage a header that was synced before any frame was
// written, so this is corruption; Open instead takes it for a crash during
// the segment's creation, recreates the segment and silently drops every
// acknowledged batch in it — and then reuses their sequence numbers.
func TestCrashDamagedHeaderOfLastSegmentWithDataIsCorrupt(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	crashAppend(t, l, 3, "a")
	c := fs.CrashClone(vfstest.CrashOptions{}) // all acknowledged: durable
	l.Close()
	name := segName(crashDir, 1)
	data, _ := c.ReadFile(name)
	data[20] ^= 1 // inside the id field; header checksum now fails
	c.WriteFile(name, data)
	l2, err := Open(crashDir, Options{FS: c, Logger: crashQuiet})
	if errors.Is(err, ErrCorrupt) {
		return // the fix
	}
	if err != nil {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
	defer l2.Close()
	seqs, _ := crashSeqs(t, l2)
	t.Fatalf("Open succeeded on a segment with a damaged header and 3 acknowledged batches; entries now %v (want ErrCorrupt), next seq %d", seqs, l2.NextSeq())
}

// TestCrashTruncatedSealedSegmentIsCorrupt cuts a sealed (older) segment
// exactly at a frame boundary, as lost blocks or a bad copy might. Sealed
// segments are synced and final, so this is corruption; Open instead scans
// the segment (its index file no longer matches the size), finds a clean
// end, and serves the log with a hole in the middle of the sequence.
func TestCrashTruncatedSealedSegmentIsCorrupt(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	crashAppend(t, l, 100, "a") // several 4 KiB segments, also compressed
	l.Close()
	name := segName(crashDir, 1)
	data, _ := fs.ReadFile(name)
	// Find the start of the last frame of segment 1 by scanning it.
	var lastOff int64 = -1
	if _, err := segment.Scan(bytesReaderAt(data), int64(len(data)), name, func(off int64, _ segment.FrameHeader, _ []byte) error {
		lastOff = off
		return nil
	}); err != nil || lastOff < 0 {
		t.Fatalf("scan: %v", err)
	}
	if _, err := fs.ReadFile(segName(crashDir, 2)); err != nil {
		t.Fatal("expected a second segment")
	}
	fs.WriteFile(name, data[:lastOff])
	l2, err := Open(crashDir, Options{FS: fs, Logger: crashQuiet})
	if errors.Is(err, ErrCorrupt) {
		return // the fix
	}
	if err != nil {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
	defer l2.Close()
	seqs, err := crashSeqs(t, l2)
	for i, s := range seqs {
		if s != uint64(i) {
			t.Fatalf("Open succeeded with a hole: entry %d has seq %d (read error: %v); want ErrCorrupt", i, s, err)
		}
	}
	t.Fatalf("Open succeeded after a sealed segment was cut (%d entries, %v); want ErrCorrupt", len(seqs), err)
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// frameOffsets lists the offsets of the frames of a segment's bytes.
func frameOffsets(t *testing.T, data []byte, name string) []int64 {
	t.Helper()
	var offs []int64
	if _, err := segment.Scan(bytesReaderAt(data), int64(len(data)), name, func(off int64, _ segment.FrameHeader, _ []byte) error {
		offs = append(offs, off)
		return nil
	}); err != nil {
		t.Fatalf("scan %s: %v", name, err)
	}
	return offs
}

// TestCrashEveryHeaderBitFlipIsCorrupt flips, one at a time, every bit of
// the header of a synced frame, in the newest segment (which Open scans)
// and in a sealed one (which reads check), and of the newest segment's
// file header, and recovers. The header
// checksum covers every header byte after itself, codec, flags and
// reserved bytes included, so each flip must be reported as ErrCorrupt: by
// Open, leaving the file as it was, or by the read that reaches the frame.
// None may be taken for a torn write and cut, or read as other data.
func TestCrashEveryHeaderBitFlipIsCorrupt(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	crashAppend(t, l, 60, "a") // several 4 KiB segments
	base := fs.CrashClone(vfstest.CrashOptions{})
	l.Close()
	names, err := base.List(crashDir)
	if err != nil {
		t.Fatal(err)
	}
	var newest uint64
	for _, n := range names {
		if id, ok := parseSegName(n); ok {
			newest = max(newest, id)
		}
	}
	if newest < 2 {
		t.Fatalf("want at least two segments, have %d", newest)
	}
	for _, tc := range []struct {
		name string
		seg  uint64
	}{{"newest segment", newest}, {"sealed segment", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			name := segName(crashDir, tc.seg)
			data, err := base.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			offs := frameOffsets(t, data, name)
			if len(offs) < 3 {
				t.Fatalf("%s has %d frames, want at least 3", name, len(offs))
			}
			off := offs[len(offs)/2] // a frame with one after it
			for bit := range segment.FrameHeaderSize * 8 {
				c := base.CrashClone(vfstest.CrashOptions{})
				damaged := slices.Clone(data)
				damaged[off+int64(bit/8)] ^= 1 << (bit % 8)
				c.WriteFile(name, damaged)
				l2, err := Open(crashDir, Options{FS: c, Logger: crashQuiet})
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("header byte %d bit %d: Open: %v, want ErrCorrupt", bit/8, bit%8, err)
					}
					if after, _ := c.ReadFile(name); !bytes.Equal(after, damaged) {
						t.Fatalf("header byte %d bit %d: a refused Open modified the segment", bit/8, bit%8)
					}
					continue
				}
				_, rerr := crashSeqs(t, l2)
				l2.Close()
				if !errors.Is(rerr, ErrCorrupt) {
					t.Fatalf("header byte %d bit %d of the frame at %d in %s: Open succeeded and reading every entry gave %v, want ErrCorrupt", bit/8, bit%8, off, name, rerr)
				}
			}
		})
	}
	// The newest segment's file header, synced before any of its frames:
	// a crash cannot damage it, so with frames after it every flip is
	// damage, never a segment half-created by a crash.
	t.Run("file header of the newest segment", func(t *testing.T) {
		name := segName(crashDir, newest)
		data, err := base.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(frameOffsets(t, data, name)) == 0 {
			t.Fatal("the newest segment holds no frame")
		}
		for bit := range segment.FileHeaderSize * 8 {
			c := base.CrashClone(vfstest.CrashOptions{})
			damaged := slices.Clone(data)
			damaged[bit/8] ^= 1 << (bit % 8)
			c.WriteFile(name, damaged)
			l2, err := Open(crashDir, Options{FS: c, Logger: crashQuiet})
			if err == nil {
				seqs, _ := crashSeqs(t, l2)
				l2.Close()
				t.Fatalf("file header byte %d bit %d: Open succeeded (%d entries), want ErrCorrupt", bit/8, bit%8, len(seqs))
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("file header byte %d bit %d: Open: %v, want ErrCorrupt", bit/8, bit%8, err)
			}
			if after, _ := c.ReadFile(name); !bytes.Equal(after, damaged) {
				t.Fatalf("file header byte %d bit %d: a refused Open modified the segment", bit/8, bit%8)
			}
		}
	})
}

// TestReopenAfterFailedSyncMakesServedBatchesDurable models Linux after a
// failed fdatasync: the dirty pages are dropped from writeback but stay
// readable, so a reopen in the same boot reads back batches that are on no
// disk. Whatever that Open serves must be durable when it returns (it
// writes again what no fsync confirmed): the strict crash state taken
// right after it holds exactly the same entries.
func TestReopenAfterFailedSyncMakesServedBatchesDurable(t *testing.T) {
	for _, d := range []Durability{Immediate, Eventual} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			fs := crashFS(t)
			fs.SetSyncErrorLosesData(true)
			l := crashOpen(t, fs, d)
			crashAppend(t, l, 3, "a")
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			fs.InjectError(vfstest.OpSync, 1, syscall.EIO)
			_, err := l.Append(Batch{Records: []Record{{Key: []byte("b"), Value: make([]byte, 700)}}})
			if err == nil && d == Eventual {
				err = l.Sync()
			}
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("append or sync with a failing fdatasync: %v, want ErrFailed", err)
			}
			l.Close()
			l2, err := Open(crashDir, Options{FS: fs, Durability: d, SegmentSize: MinSegmentSize, Logger: crashQuiet})
			if err != nil {
				t.Fatal(err)
			}
			served, err := crashSeqs(t, l2)
			if err != nil {
				t.Fatal(err)
			}
			if len(served) != 10 {
				t.Fatalf("reopen in the same boot serves %d entries, want 10 (9 synced, 1 read back from the page cache)", len(served))
			}
			l3, err := Open(crashDir, Options{FS: fs.CrashClone(vfstest.CrashOptions{}), Logger: crashQuiet})
			if err != nil {
				t.Fatalf("Open after a power cut following the reopen: %v", err)
			}
			durable, err := crashSeqs(t, l3)
			l3.Close()
			l2.Close()
			if err != nil || !slices.Equal(durable, served) {
				t.Fatalf("the reopen served seqs %v, a power cut right after it leaves %v (%v): Open served data no fsync confirmed", served, durable, err)
			}
		})
	}
}

// TestOpenOfFrameLengthOverBoundIsCorruptAndAllocatesLittle rewrites a synced
// frame's header, checksum made valid, to claim a payload just over the
// format's bound, in a file long enough to hold it.
// The length bound of the format makes it damage: Open must refuse with
// ErrCorrupt without allocating anything near the claimed size.
func TestOpenOfFrameLengthOverBoundIsCorruptAndAllocatesLittle(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	crashAppend(t, l, 5, "a")
	c := fs.CrashClone(vfstest.CrashOptions{})
	l.Close()
	name := segName(crashDir, 1)
	data, err := c.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	off := frameOffsets(t, data, name)[2]
	hb := data[off : off+segment.FrameHeaderSize]
	h, err := segment.ParseFrameHeader(hb)
	if err != nil {
		t.Fatal(err)
	}
	// Past the bound, and within the file (grown with zeros, as
	// preallocated space): a reader without the bound would read it.
	h.Length = segment.MaxPayload + 1<<20
	segment.PutFrameHeader(hb, h)
	data = append(data, make([]byte, segment.MaxPayload+2<<20)...)
	c.WriteFile(name, data)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Open(crashDir, Options{FS: c, Logger: crashQuiet})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a frame claiming %d payload bytes: %v, want ErrCorrupt", h.Length, err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > segment.MaxPayload/2 {
		t.Fatalf("Open of a frame claiming %d payload bytes allocated %d bytes", h.Length, got)
	}
}

// TestGetOfFlippedValueByteIsCorrupt flips a byte inside a record's value
// in a sealed segment of a closed log, where the entries still decode:
// Get of that record must be ErrCorrupt, read through a mapping (the
// operating system's files) and through pread (the memory file system),
// never the altered value.
func TestGetOfFlippedValueByteIsCorrupt(t *testing.T) {
	value := bytes.Repeat([]byte("0123456789"), 30)
	for _, onDisk := range []bool{true, false} {
		t.Run(fmt.Sprintf("onDisk=%v", onDisk), func(t *testing.T) {
			dir, opts := crashDir, Options{SegmentSize: MinSegmentSize, Compression: CompressionNone, Logger: crashQuiet}
			var mem *vfstest.FS
			if onDisk {
				dir = t.TempDir()
			} else {
				mem = crashFS(t)
				opts.FS = mem
			}
			l, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			for range 30 {
				if _, err := l.Append(Batch{Records: []Record{{Key: []byte("k"), Value: value}}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			name := segName(dir, 1)
			read := os.ReadFile
			write := func(name string, b []byte) error { return os.WriteFile(name, b, 0o644) }
			if mem != nil {
				read, write = mem.ReadFile, mem.WriteFile
			}
			data, err := read(name)
			if err != nil {
				t.Fatal(err)
			}
			// The third record's value, well inside it.
			off := frameOffsets(t, data, name)[2] + segment.FrameHeaderSize + 100
			data[off] ^= 0x01
			if err := write(name, data); err != nil {
				t.Fatal(err)
			}
			l2, err := Open(dir, opts)
			if err != nil {
				t.Fatalf("Open (sealed segments are checked when read): %v", err)
			}
			defer l2.Close()
			e, err := l2.Get(2)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get of the damaged record: value intact %v, err %v; want ErrCorrupt", bytes.Equal(e.Value, value), err)
			}
			if _, err := l2.Get(3); err != nil {
				t.Fatalf("Get of an undamaged record of the same segment: %v", err)
			}
		})
	}
}

// TestCompressedFrameClaimingOverBoundDecodedLengthIsCorrupt appends to a
// closed log's newest segment a frame whose header and checksum are valid
// but whose S2 payload promises more decoded bytes than the format's bound.
// Open, or the read reaching the frame, must report ErrCorrupt, and neither
// may allocate anything near the promised size.
func TestCompressedFrameClaimingOverBoundDecodedLengthIsCorrupt(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	crashAppend(t, l, 3, "a")
	next := l.NextSeq()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	name := segName(crashDir, 1)
	data, err := fs.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	stored := binary.AppendUvarint(nil, segment.MaxPayload+1<<20)
	stored = append(stored, "not an s2 block"...)
	frame := make([]byte, segment.FrameHeaderSize, segment.FrameHeaderSize+len(stored))
	frame = append(frame, stored...)
	segment.PutFrameHeader(frame, segment.FrameHeader{Length: uint32(len(stored)), CRC: segment.Checksum(stored), Synced: uint32(len(data)), FirstSeq: next, Count: 1, Codec: segment.CodecS2})
	fs.WriteFile(name, append(data, frame...))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l2, err := Open(crashDir, Options{FS: fs, Logger: crashQuiet})
	if err == nil {
		_, err = crashSeqs(t, l2)
		l2.Close()
	}
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open and a read of every entry: %v, want ErrCorrupt", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > segment.MaxPayload/2 {
		t.Fatalf("a frame promising %d decoded bytes made Open and reads allocate %d bytes", segment.MaxPayload+1<<20, got)
	}
}
