package check_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
	"github.com/seglog/journal/wal/check"
)

// TestVerifyAgreesWithOpen damages a closed log as an operator's mishaps
// would and checks that Verify calls it damaged exactly when Open refuses
// it or reading it back fails (Open trusts a sealed segment's index, so a
// damaged payload there shows at its read), and that the damage Verify
// reports first is in the file Open or the read names.
// Before Verify read segments through Open's loader, a sealed segment cut
// short at a frame boundary, one grown by zeros and a newest segment with
// a damaged header and data after it were clean to Verify and refused by
// Open.
func TestVerifyAgreesWithOpen(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		refused bool // by Open or a read, and damaged to Verify
	}{
		{"clean", func(*testing.T, string) {}, false},
		{"payload bit of a sealed segment", func(t *testing.T, dir string) {
			offs, _ := frames(t, segPath(dir, 1))
			flipBit(t, segPath(dir, 1), offs[1]+50)
		}, true},
		{"torn tail of the newest segment", func(t *testing.T, dir string) {
			appendBytes(t, segPath(dir, lastSeg(t, dir)), []byte{1, 2, 3, 4, 5, 6, 7, 8})
		}, false},
		{"sealed segment cut at a frame boundary, index gone", func(t *testing.T, dir string) {
			offs, _ := frames(t, segPath(dir, 1))
			must(t, os.Truncate(segPath(dir, 1), offs[len(offs)-1]))
			must(t, os.Remove(idxPath(dir, 1)))
		}, true},
		{"sealed segment grown by zeros, index gone", func(t *testing.T, dir string) {
			appendBytes(t, segPath(dir, 1), make([]byte, 4096))
			must(t, os.Remove(idxPath(dir, 1)))
		}, true},
		{"sealed segment grown by zeros, index kept", func(t *testing.T, dir string) {
			appendBytes(t, segPath(dir, 1), make([]byte, 4096))
		}, true},
		{"sealed segment cut at a frame boundary, index kept", func(t *testing.T, dir string) {
			offs, _ := frames(t, segPath(dir, 1))
			must(t, os.Truncate(segPath(dir, 1), offs[len(offs)-1]))
		}, true},
		{"sealed segment's index damaged", func(t *testing.T, dir string) {
			flipBit(t, idxPath(dir, 1), 40)
		}, false},
		{"sealed segment's index cut short", func(t *testing.T, dir string) {
			must(t, os.Truncate(idxPath(dir, 1), 20))
		}, false},
		{"newest segment cut to half after Close", func(t *testing.T, dir string) {
			p := segPath(dir, lastSeg(t, dir))
			fi, err := os.Stat(p)
			must(t, err)
			must(t, os.Truncate(p, fi.Size()/2))
		}, true},
		{"newest segment read back as zeros after Close", func(t *testing.T, dir string) {
			p := segPath(dir, lastSeg(t, dir))
			fi, err := os.Stat(p)
			must(t, err)
			must(t, os.WriteFile(p, make([]byte, fi.Size()), 0o644))
		}, true},
		{"newest segment's header damaged, frames after it", func(t *testing.T, dir string) {
			flipBit(t, segPath(dir, lastSeg(t, dir)), 3)
		}, true},
		{"oldest segment deleted", func(t *testing.T, dir string) {
			must(t, os.Remove(segPath(dir, 1)))
		}, true},
		{"middle segment deleted", func(t *testing.T, dir string) {
			must(t, os.Remove(segPath(dir, 2)))
		}, true},
		{"newest segment cut to half after Close, index gone", func(t *testing.T, dir string) {
			p := segPath(dir, lastSeg(t, dir))
			fi, err := os.Stat(p)
			must(t, err)
			must(t, os.Truncate(p, fi.Size()/2))
			must(t, os.Remove(idxPath(dir, lastSeg(t, dir))))
		}, true},
		{"manifest deleted", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, "manifest.log")))
		}, true},
		{"manifest's header damaged", func(t *testing.T, dir string) {
			flipBit(t, filepath.Join(dir, "manifest.log"), 20)
		}, true},
		{"manifest cut short", func(t *testing.T, dir string) {
			must(t, os.Truncate(filepath.Join(dir, "manifest.log"), 10))
		}, true},
		{"bounds file damaged", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "bounds.meta"), []byte("SGLBNDS1 damaged"), 0o644))
		}, true},
		{"compaction checkpoint damaged", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "compaction.cpt"), []byte("SEGCPT\x00\x02 damaged"), 0o644))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, repeat(100, 3)...)
			tc.damage(t, dir)
			r, err := check.Verify(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			l, oerr := wal.Open(dir, wal.Options{Logger: quiet})
			if oerr == nil {
				for _, err := range l.Entries(0) {
					if err != nil {
						oerr = err
						break
					}
				}
				l.Close()
			}
			if refused := oerr != nil; refused != tc.refused || r.Clean() == refused {
				t.Fatalf("Open and read: %v; Verify damage %v; want both to say damaged=%v", oerr, r.Damage, tc.refused)
			}
			if oerr != nil && !errors.Is(oerr, wal.ErrCorrupt) {
				t.Fatalf("Open or read refused with %v; want ErrCorrupt", oerr)
			}
			var ce *segment.CorruptError
			if oerr != nil && (!errors.As(oerr, &ce) || ce.File != r.Damage[0].File) {
				t.Fatalf("Verify's first damage is in %s; Open or read refused with %v", r.Damage[0].File, oerr)
			}
			if oerr == nil {
				return
			}
			// Repair makes it open, and then Verify agrees.
			if _, err := check.Repair(dir, nil, filepath.Join(t.TempDir(), "side.cut")); err != nil {
				t.Fatalf("Repair: %v", err)
			}
			l, err = wal.Open(dir, wal.Options{Logger: quiet})
			if err != nil {
				t.Fatalf("Open after Repair: %v", err)
			}
			l.Close()
			if r, err := check.Verify(dir, nil); err != nil || !r.Clean() {
				t.Fatalf("Verify after Repair: %v, damage %v", err, r.Damage)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// appendBytes appends b to the file at path.
func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.Write(b)
	must(t, err)
	must(t, f.Close())
}

// lastSeg is the number of the newest segment of the log in dir.
func lastSeg(t *testing.T, dir string) int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	must(t, err)
	if len(names) == 0 {
		t.Fatal("no segments")
	}
	return len(names)
}
