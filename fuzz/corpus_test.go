package fuzz

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seglog/journal"
	"github.com/seglog/journal/keyset"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs/vfstest"
)

// TestWriteSeedCorpus regenerates the seed corpora under testdata/fuzz from
// real files. It only runs with FUZZ_WRITE_CORPUS=1.
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("FUZZ_WRITE_CORPUS") != "1" {
		t.Skip("set FUZZ_WRITE_CORPUS=1 to regenerate the seed corpora")
	}
	write := func(target, name string, args ...any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case bool:
				fmt.Fprintf(&b, "bool(%v)\n", v)
			default:
				t.Fatalf("type %T", a)
			}
		}
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mut := func(kind, file byte, off, arg int) []byte {
		return []byte{kind, file, byte(off), byte(off >> 8), byte(arg), byte(arg >> 8)}
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}

	// FuzzRecovery: variant byte, then 6-byte mutations (kind: 0 truncate,
	// 1 bit flip, 2 garbage, 3 append garbage, 4 zeros; file index into the
	// sorted directory listing).
	write("FuzzRecovery", "closed-intact", []byte{0})
	write("FuzzRecovery", "open-intact", []byte{1})
	write("FuzzRecovery", "eventual-intact", []byte{2})
	write("FuzzRecovery", "truncate-last-segment", cat([]byte{1}, mut(0, 9, 700, 0)))
	write("FuzzRecovery", "flip-in-sealed-segment", cat([]byte{0}, mut(1, 1, 300, 3)))
	write("FuzzRecovery", "garbage-in-index", cat([]byte{0}, mut(2, 0, 40, 17)))
	write("FuzzRecovery", "append-garbage-to-tail", cat([]byte{2}, mut(3, 9, 0, 90)))
	write("FuzzRecovery", "zero-tail-sector", cat([]byte{1}, mut(4, 9, 512, 511)))
	write("FuzzRecovery", "two-mutations", cat([]byte{1}, mut(1, 9, 100, 2), mut(0, 9, 2000, 0)))

	// FuzzSegmentReader: real segment and index files.
	fs := buildJournal(t, 0)
	names, _ := fs.List(recDir)
	for i, n := range names {
		if i > 3 {
			break
		}
		data, _ := fs.ReadFile(filepath.Join(recDir, n))
		write("FuzzSegmentReader", n, data)
	}
	fs2 := buildJournal(t, 2)
	names2, _ := fs2.List(recDir)
	last := names2[len(names2)-1]
	data, _ := fs2.ReadFile(filepath.Join(recDir, last))
	write("FuzzSegmentReader", "torn-tail", data[:len(data)-7])
	write("FuzzSegmentReader", "zero-padded", append(append([]byte{}, data...), make([]byte, 300)...))
	write("FuzzSegmentReader", "header-only", data[:32])
	write("FuzzSegmentReader", "empty", []byte{})
	write("FuzzSegmentReader", "every-flag-and-codec", everyFlagSegment(t))
	// before-prefix-*: journal files written before FlagPrefix existed,
	// kept as they are.

	// FuzzCommandDelta: real keyset files.
	ks := vfstest.New()
	ks.MkdirAll("/ks", 0o755)
	s, err := keyset.Open("/ks", keyset.Options{FS: ks})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		s.Add(fmt.Sprint("cmd-", i))
		if i%3 == 0 {
			s.Remove(fmt.Sprint("cmd-", i/2))
		}
	}
	s.Close()
	delta, _ := ks.ReadFile("/ks/keys.delta")
	write("FuzzCommandDelta", "delta-only", false, []byte{}, delta)
	write("FuzzCommandDelta", "delta-torn", false, []byte{}, delta[:len(delta)-5])
	write("FuzzCommandDelta", "empty", false, []byte{}, []byte{})
	// Force a rewrite to get a snapshot.
	s, err = keyset.Open("/ks", keyset.Options{FS: ks, Durability: keyset.Eventual})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1100 {
		if i%2 == 0 {
			s.Add("flip")
		} else {
			s.Remove("flip")
		}
	}
	s.Add("after-rewrite")
	s.Close()
	snap, err := ks.ReadFile("/ks/keys.snap")
	if err != nil {
		t.Fatal(err)
	}
	delta, _ = ks.ReadFile("/ks/keys.delta")
	write("FuzzCommandDelta", "snap-and-delta", true, snap, delta)
	write("FuzzCommandDelta", "snap-without-delta", true, snap, []byte{})
	write("FuzzCommandDelta", "snap-and-stale-delta", true, snap, func() []byte {
		d, _ := fs.ReadFile(filepath.Join(recDir, names[0])) // a segment file, generation 1
		return d[:32]
	}())

	// FuzzEventDecode: key, value (kind byte then error text), tombstone.
	write("FuzzEventDecode", "registered", []byte("route-1"), []byte{byte(journal.RouteRegistered)}, false)
	write("FuzzEventDecode", "failed-with-text", []byte("route-2"), append([]byte{byte(journal.RouteFailed)}, "connection refused"...), false)
	write("FuzzEventDecode", "removed-tombstone", []byte("route-3"), []byte{byte(journal.RouteRemoved)}, true)
	write("FuzzEventDecode", "removed-without-tombstone", []byte("route-3"), []byte{byte(journal.RouteRemoved)}, false)
	write("FuzzEventDecode", "unknown-kind", []byte("r"), []byte{0}, false)
	write("FuzzEventDecode", "empty-key", []byte{}, []byte{byte(journal.RouteStarted)}, false)
	write("FuzzEventDecode", "empty-value", []byte("r"), []byte{}, false)
	write("FuzzEventDecode", "text-on-started", []byte("r"), []byte{byte(journal.RouteStarted), 'x'}, false)

	// FuzzEntryJSON: the replaced system's entries, and near misses.
	write("FuzzEntryJSON", "started", []byte(`{"seq":123,"timestamp_ms":1764190000000,"event":{"RouteStarted":{"route_id":"route-42"}}}`))
	write("FuzzEntryJSON", "failed", []byte(`{"seq":1,"timestamp_ms":-2,"event":{"RouteFailed":{"route_id":"r1","error":"boom"}}}`))
	write("FuzzEntryJSON", "failed-empty-error", []byte(`{"seq":0,"timestamp_ms":0,"event":{"RouteFailed":{"route_id":"r1","error":""}}}`))
	write("FuzzEntryJSON", "escapes-unicode", []byte(`{"seq":5,"timestamp_ms":6,"event":{"RouteFailed":{"route_id":"a\"b\\路由\u00e9\ud83d\ude00","error":"\b\f\n\r\t\u0000 "}}}`))
	write("FuzzEntryJSON", "reordered-unknown-fields", []byte(` {"event":{"RouteRemoved":{"x":[1,{}],"route_id":"r"}},"timestamp_ms":4,"extra":null,"seq":3} `))
	write("FuzzEntryJSON", "two-kinds", []byte(`{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":"r"},"RouteStopped":{"route_id":"r"}}}`))
	write("FuzzEntryJSON", "unknown-kind", []byte(`{"seq":1,"timestamp_ms":2,"event":{"RouteExploded":{"route_id":"r"}}}`))
	write("FuzzEntryJSON", "missing-error", []byte(`{"seq":1,"timestamp_ms":2,"event":{"RouteFailed":{"route_id":"r"}}}`))
	write("FuzzEntryJSON", "empty-route-id", []byte(`{"seq":1,"timestamp_ms":2,"event":{"RouteStarted":{"route_id":""}}}`))
	write("FuzzEntryJSON", "wrong-types", []byte(`{"seq":"1","timestamp_ms":2.5,"event":{"RouteStarted":{"route_id":null}}}`))
	write("FuzzEntryJSON", "null", []byte(`null`))
	write("FuzzEntryJSON", "truncated", []byte(`{"seq":1,"timestamp_ms":2,"event":{"RouteSta`))
}

// everyFlagSegment is a segment image with a frame for each combination of
// FlagSparse, FlagPrefix and FlagTimed under each codec, the keys shaped like route
// IDs that share prefixes, repeat and are empty.
func everyFlagSegment(t *testing.T) []byte {
	img := make([]byte, segment.FileHeaderSize)
	segment.PutFileHeader(img, segment.FileHeader{ID: 1})
	keys := []string{"route-1", "route-10", "route-10", "", "route-2", "x"}
	seq := uint64(0)
	for _, codec := range []uint8{segment.CodecNone, segment.CodecS2, segment.CodecZstd} {
		comp, err := segment.NewCompressor(codec, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, flags := range []uint8{0, segment.FlagSparse, segment.FlagPrefix, segment.FlagSparse | segment.FlagPrefix, segment.FlagTimed, segment.FlagTimed | segment.FlagSparse | segment.FlagPrefix} {
			var es []segment.Entry
			for i, k := range keys {
				time := int64(1)
				if flags&segment.FlagTimed != 0 {
					time += int64(i*i) - 3 // steps forward, back and not at all
				}
				es = append(es, segment.Entry{Seq: seq, Time: time, Key: []byte(k), Value: fmt.Appendf(nil, "v%d", seq), Tombstone: i == 4})
				seq++
				if flags&segment.FlagSparse != 0 {
					seq += uint64(i % 2)
				}
			}
			stored, used := comp.Compress(nil, encodeEntries(nil, segment.FrameHeader{Time: 1, Flags: flags}, es))
			fh := make([]byte, segment.FrameHeaderSize)
			segment.PutFrameHeader(fh, segment.FrameHeader{Length: uint32(len(stored)), CRC: segment.Checksum(stored), Synced: uint32(len(img)), FirstSeq: es[0].Seq, Time: 1, Count: uint32(len(es)), Codec: used, Flags: flags})
			img = append(append(img, fh...), stored...)
		}
	}
	return img
}
