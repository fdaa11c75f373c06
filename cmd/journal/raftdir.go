package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// The CLI never writes a route journal's file into a raft log directory,
// and does not read one as a route journal (its records are raft entries,
// not route events): checkDir refuses them, saying which layout it found.
// The layouts, by their files:
//
//	raftstore (this repository's hashicorp/raft store on the wal):
//	    DIR/stable and DIR/log/ (a wal directory); DIR/log itself is
//	    recognised by the stable file beside it
//	hashicorp/raft-wal: DIR/wal-meta.db and DIR/*.wal segment files
//	hashicorp/raft-boltdb: a bolt database file (DIR/raft.db, or any file
//	    in DIR, or DIR itself, that starts with a bolt meta page)

// boltMagic is the magic number of a bolt meta page, after its 16-byte
// page header (bbolt's page.go and db.go), stored in native (little-endian
// on every platform bolt runs on) byte order.
const boltMagic = 0xED0CDAED

// raftDir says which raft log layout dir has, or "" for none.
func raftDir(dir string) string {
	if isFile(filepath.Join(dir, "wal-meta.db")) {
		segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
		return fmt.Sprintf("hashicorp/raft-wal: wal-meta.db and %d .wal segment file(s)", len(segs))
	}
	if isFile(filepath.Join(dir, "stable")) && isDir(filepath.Join(dir, "log")) {
		return "raftstore: the raft log in log/, its stable store in stable"
	}
	if filepath.Base(filepath.Clean(dir)) == "log" && isFile(filepath.Join(dir, "..", "stable")) {
		return "the log of a raftstore directory: its stable store is ../stable"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for i, de := range ents {
		if i == 256 {
			break // a journal directory holds few files; look no further
		}
		if de.Type().IsRegular() {
			if what := raftFile(filepath.Join(dir, de.Name())); what != "" {
				return what
			}
		}
	}
	return ""
}

// raftFile says what the file at path is if it is a bolt database (the
// file raft-boltdb keeps a raft log in), or "".
func raftFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var b [20]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return ""
	}
	if binary.LittleEndian.Uint32(b[16:]) != boltMagic {
		return ""
	}
	return fmt.Sprintf("hashicorp/raft-boltdb: %s is a bolt database", filepath.Base(path))
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
