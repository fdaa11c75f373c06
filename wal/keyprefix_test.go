package wal

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs/vfstest"
)

// frameFlags returns the flags of every frame in the log's segment files,
// in file order.
func frameFlags(t *testing.T, fs *vfstest.FS) []uint8 {
	t.Helper()
	names, err := fs.List(crashDir)
	if err != nil {
		t.Fatal(err)
	}
	var flags []uint8
	for _, n := range names {
		if !strings.HasSuffix(n, ".seg") {
			continue
		}
		data, err := fs.ReadFile(path.Join(crashDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := segment.Scan(bytes.NewReader(data), int64(len(data)), n, func(_ int64, h segment.FrameHeader, _ []byte) error {
			flags = append(flags, h.Flags)
			return nil
		}); err != nil {
			t.Fatalf("scan %s: %v", n, err)
		}
	}
	return flags
}

func keyed(keys ...string) []Record {
	var recs []Record
	for i, k := range keys {
		var key []byte
		if k != "-" {
			key = []byte(k)
		}
		recs = append(recs, Record{Key: key, Value: fmt.Appendf(nil, "value %d of %s", i, k), Tombstone: i%3 == 2})
	}
	return recs
}

// recordsOf reads back the log's records in order.
func recordsOf(t *testing.T, l *Log) []Record {
	t.Helper()
	var got []Record
	for e, err := range l.Entries(0) {
		if err != nil {
			t.Fatalf("Entries: %v", err)
		}
		got = append(got, Record{Key: bytes.Clone(e.Key), Value: bytes.Clone(e.Value), Tombstone: e.Tombstone})
	}
	return got
}

func fmtRecords(rs []Record) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "{%q %q %v} ", r.Key, r.Value, r.Tombstone)
	}
	return b.String()
}

func sameRecords(a, b []Record) bool {
	return slices.EqualFunc(a, b, func(x, y Record) bool {
		return bytes.Equal(x.Key, y.Key) && bytes.Equal(x.Value, y.Value) && x.Tombstone == y.Tombstone
	})
}

func TestAppendPrefixCompressesOnlyBatchesWhoseKeysShareBytes(t *testing.T) {
	cases := []struct {
		name   string
		recs   []Record
		prefix bool
	}{
		{"one record", keyed("route-1"), false},
		{"route keys", keyed("route-1", "route-2", "route-10", "route-10", "", "route-3"), true},
		{"two keys sharing a prefix", keyed("route-1", "route-2"), true},
		{"no keys, as the raft store writes", keyed("-", "-", "-", "-"), false},
		{"keys sharing nothing", keyed("a", "b", "c"), false},
		{"keys sharing one byte each", keyed("ab", "ac", "ad"), false},
	}
	for _, c := range cases {
		for _, comp := range []Compression{CompressionNone, CompressionS2} {
			t.Run(fmt.Sprintf("%s/%v", c.name, comp), func(t *testing.T) {
				fs := crashFS(t)
				opts := Options{FS: fs, Logger: crashQuiet, Compression: comp}
				l, err := Open(crashDir, opts)
				if err != nil {
					t.Fatal(err)
				}
				first, err := l.Append(Batch{Time: 1, Records: c.recs})
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range c.recs {
					e, err := l.Get(first + uint64(i))
					if err != nil || !sameRecords([]Record{{Key: e.Key, Value: e.Value, Tombstone: e.Tombstone}}, []Record{want}) {
						t.Fatalf("Get(%d) = %q %q %v, %v; want %q %q %v", first+uint64(i), e.Key, e.Value, e.Tombstone, err, want.Key, want.Value, want.Tombstone)
					}
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				flags := frameFlags(t, fs)
				if len(flags) != 1 || (flags[0]&segment.FlagPrefix != 0) != c.prefix {
					t.Fatalf("frame flags %v, want one frame with FlagPrefix %v", flags, c.prefix)
				}
				if l, err = Open(crashDir, opts); err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				if got := recordsOf(t, l); !sameRecords(got, c.recs) {
					t.Fatalf("after reopen: %s, want %s", fmtRecords(got), fmtRecords(c.recs))
				}
			})
		}
	}
}

func TestBatchLimitCountsKeysInFullUnderPrefixCompression(t *testing.T) {
	// Two records with one key of over half MaxBatchBytes: prefix encoding
	// would store it once, but the frame's keys would exceed what a reader
	// rebuilds, so the batch is refused as before.
	key := bytes.Repeat([]byte{'k'}, MaxBatchBytes/2+1)
	l := crashOpen(t, crashFS(t), Eventual)
	defer l.Close()
	_, err := l.Append(Batch{Records: []Record{{Key: key}, {Key: key}}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Append of keys totalling %d bytes: %v, want ErrInvalid", 2*len(key), err)
	}
	if n := l.NextSeq(); n != 0 {
		t.Fatalf("NextSeq %d after a refused batch, want 0", n)
	}
}

func TestTruncateBackInsidePrefixFrameKeepsTheKeys(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Immediate)
	var recs []Record
	for i := range 10 {
		recs = append(recs, keyed(fmt.Sprintf("route-%d", i))...)
	}
	if _, err := l.Append(Batch{Time: 1, Records: recs}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Batch{Time: 2, Records: keyed("route-10", "route-11")}); err != nil {
		t.Fatal(err)
	}
	if flags := frameFlags(t, fs); len(flags) != 2 || flags[0]&flags[1]&segment.FlagPrefix == 0 {
		t.Fatalf("frame flags %v, want two frames with FlagPrefix to cut into", flags)
	}
	if err := l.TruncateBack(3); err != nil {
		t.Fatalf("TruncateBack(3): %v", err)
	}
	want := recs[:4]
	if got := recordsOf(t, l); !sameRecords(got, want) {
		t.Fatalf("after TruncateBack(3): %s, want %s", fmtRecords(got), fmtRecords(want))
	}
	more := keyed("route-20", "route-21", "route-22")
	if _, err := l.Append(Batch{Time: 3, Records: more}); err != nil {
		t.Fatal(err)
	}
	want = append(slices.Clone(want), more...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = crashOpen(t, fs, Immediate)
	defer l.Close()
	if got := recordsOf(t, l); !sameRecords(got, want) {
		t.Fatalf("after reopen: %s, want %s", fmtRecords(got), fmtRecords(want))
	}
	// Newest first, through a view: all of a frame's keys are held at once.
	v, err := OpenView(crashDir, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var newest []Record
	for e, err := range v.Newest() {
		if err != nil {
			t.Fatalf("Newest: %v", err)
		}
		newest = append(newest, Record{Key: e.Key, Value: e.Value, Tombstone: e.Tombstone})
	}
	slices.Reverse(newest)
	if !sameRecords(newest, want) {
		t.Fatalf("Newest, reversed: %s, want %s", fmtRecords(newest), fmtRecords(want))
	}
}
