package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

func TestStableStore(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	// Missing keys: the exact error raft recognises.
	if v, err := s.Get([]byte("CurrentTerm")); err != ErrKeyNotFound || err.Error() != "not found" || v != nil {
		t.Fatalf("Get of missing key = %q, %v; want nil, \"not found\"", v, err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != ErrKeyNotFound || v != 0 {
		t.Fatalf("GetUint64 of missing key = %d, %v; want 0, \"not found\"", v, err)
	}
	sets := []struct {
		key, val []byte
	}{
		{[]byte("LastVoteCand"), []byte("node-2")},
		{[]byte("empty"), []byte{}},
		{[]byte(""), []byte("empty key")},
		{[]byte("bin\x00\xff"), bytes.Repeat([]byte{0, 1, 2}, 1000)},
		{[]byte("LastVoteCand"), []byte("node-3")}, // overwrite
	}
	for _, kv := range sets {
		if err := s.Set(kv.key, kv.val); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"CurrentTerm", "LastVoteTerm"} {
		if err := s.SetUint64([]byte(k), 1<<40+7); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		for _, kv := range sets[1:] {
			if v, err := s.Get(kv.key); err != nil || !bytes.Equal(v, kv.val) {
				t.Fatalf("Get(%q) = %q, %v; want %q", kv.key, v, err, kv.val)
			}
		}
		if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 1<<40+7 {
			t.Fatalf("GetUint64 = %d, %v", v, err)
		}
		if _, err := s.GetUint64([]byte("LastVoteCand")); !errors.Is(err, ErrInvalid) {
			t.Fatalf("GetUint64 of a 6-byte value: %v; want ErrInvalid", err)
		}
		if _, err := s.Get([]byte("nope")); err != ErrKeyNotFound {
			t.Fatalf("Get(nope): %v", err)
		}
	}
	check(s)
	// The returned value is a copy.
	v, _ := s.Get([]byte("LastVoteCand"))
	v[0] = 'X'
	check(s)
	s.Close()
	s = openT(t, dir)
	check(s)
	s.Close()
}

// A damaged stable file is an error at Open, never an empty store.
func TestStableStoreDamageIsAnError(t *testing.T) {
	damage := map[string]func(b []byte) []byte{
		"torn (cut short)":  func(b []byte) []byte { return b[:len(b)-3] },
		"cut to the magic":  func(b []byte) []byte { return b[:8] },
		"empty":             func(b []byte) []byte { return nil },
		"flipped bit":       func(b []byte) []byte { b[12] ^= 4; return b },
		"zeroed":            func(b []byte) []byte { return make([]byte, len(b)) },
		"garbage appended":  func(b []byte) []byte { return append(b, 1, 2, 3) },
		"bad magic":         func(b []byte) []byte { b[0] = 'X'; return b },
		"flipped checksum":  func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"zero-filled tail":  func(b []byte) []byte { return append(b[:len(b)-6], 0, 0, 0, 0, 0, 0) },
		"extended by zeros": func(b []byte) []byte { return append(b, make([]byte, 512)...) },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stable")
			s, err := OpenStableStore(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.SetUint64([]byte("CurrentTerm"), 9)
			s.Set([]byte("LastVoteCand"), []byte("node-1"))
			s.Close()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, f(b), 0o644); err != nil {
				t.Fatal(err)
			}
			if s, err := OpenStableStore(path, nil); !errors.Is(err, ErrCorrupt) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open of damaged file: %v; want ErrCorrupt", err)
			}
		})
	}
}

// A leftover temp file (a Set cut short by a crash) is removed and the
// state before that Set is kept.
func TestStableStoreLeftoverTemp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stable")
	s, err := OpenStableStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetUint64([]byte("k"), 1)
	s.Close()
	os.WriteFile(path+".tmp", []byte("half a new fi"), 0o644)
	s, err = OpenStableStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.GetUint64([]byte("k")); v != 1 || err != nil {
		t.Fatalf("GetUint64 = %d, %v; want 1", v, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("leftover temp file not removed: %v", err)
	}
}

// Power cuts at every filesystem operation of a run of Sets, on the
// in-memory crash-simulating filesystem: the state a cut leaves opens, holds
// every Set that had returned, and is exactly the state after some prefix of
// the Sets (the one in flight wholly or not at all).
func TestStableStorePowerCut(t *testing.T) {
	fs := vfstest.New()
	const path = "/data/node/stable"
	rng := rand.New(rand.NewPCG(1, 2))
	type crash struct {
		clone *vfstest.FS
		acked int // Sets returned before the cut
	}
	var crashes []crash
	acked := 0
	fs.OnOp(func(op vfstest.Op, name string) {
		crashes = append(crashes,
			crash{fs.CrashClone(vfstest.CrashOptions{}), acked},
			crash{fs.CrashClone(vfstest.CrashOptions{Rand: rand.New(rand.NewPCG(rng.Uint64(), 0))}), acked})
	})
	s, err := OpenStableStore(path, fs)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	for i := 1; i <= n; i++ {
		if err := s.SetUint64([]byte("term"), uint64(i)); err != nil {
			t.Fatal(err)
		}
		// A second key with a value of growing size, spanning sectors.
		if err := s.Set([]byte("cand"), bytes.Repeat([]byte{byte(i)}, 300*i)); err != nil {
			t.Fatal(err)
		}
		acked = i
	}
	fs.OnOp(nil)
	s.Close()
	for ci, c := range crashes {
		s, err := OpenStableStore(path, c.clone)
		if err != nil {
			t.Fatalf("crash %d (after %d acked): Open: %v\n%s", ci, c.acked, err, c.clone.Dump())
		}
		term, err := s.GetUint64([]byte("term"))
		if err != nil && !(err == ErrKeyNotFound && c.acked == 0) {
			t.Fatalf("crash %d: GetUint64: %v", ci, err)
		}
		cand, err := s.Get([]byte("cand"))
		if err != nil && !(err == ErrKeyNotFound && term <= 1) {
			t.Fatalf("crash %d: Get: %v", ci, err)
		}
		s.Close()
		if int(term) < c.acked || int(term) > c.acked+1 {
			t.Fatalf("crash %d: term %d after %d acknowledged rounds", ci, term, c.acked)
		}
		// cand is that of round term or term-1 (the Set in flight).
		if cand != nil && !bytes.Equal(cand, bytes.Repeat([]byte{byte(term)}, 300*int(term))) &&
			!bytes.Equal(cand, bytes.Repeat([]byte{byte(term - 1)}, 300*int(term-1))) {
			t.Fatalf("crash %d: cand of %d bytes does not belong to term %d", ci, len(cand), term)
		}
	}
	if len(crashes) < 4*n {
		t.Fatalf("only %d crash states taken", len(crashes))
	}
	t.Log(fmt.Sprintf("%d crash states checked", len(crashes)))
}
