package vfstest_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/vfs/vfstest"
)

var _ vfs.FS = (*vfstest.FS)(nil)

func create(t *testing.T, fs *vfstest.FS, name string) vfs.File {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func writeAt(t *testing.T, f vfs.File, s string, off int64) {
	t.Helper()
	if n, err := f.WriteAt([]byte(s), off); err != nil || n != len(s) {
		t.Fatalf("WriteAt(%q, %d) = %d, %v", s, off, n, err)
	}
}

func mustSync(t *testing.T, f vfs.File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func mustSyncDir(t *testing.T, fs *vfstest.FS, dir string) {
	t.Helper()
	if err := fs.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, fs *vfstest.FS, name string) string {
	t.Helper()
	b, err := fs.ReadFile(name)
	if err != nil {
		t.Fatalf("ReadFile(%s): %v\n%s", name, err, fs)
	}
	return string(b)
}

func exists(fs *vfstest.FS, name string) bool {
	_, err := fs.Stat(name)
	return err == nil
}

func TestReadYourWrites(t *testing.T) {
	fs := vfstest.New()
	f := create(t, fs, "/a")
	writeAt(t, f, "hello", 0)
	writeAt(t, f, "world", 10)
	writeAt(t, f, "J", 0)
	want := "Jello\x00\x00\x00\x00\x00world"
	buf := make([]byte, len(want))
	if n, err := f.ReadAt(buf, 0); err != nil || string(buf[:n]) != want {
		t.Fatalf("ReadAt = %q, %v; want %q", buf[:n], err, want)
	}
	if got := readFile(t, fs, "a"); got != want {
		t.Fatalf("ReadFile = %q, want %q", got, want)
	}
	if sz, err := f.Size(); err != nil || sz != int64(len(want)) {
		t.Fatalf("Size = %d, %v", sz, err)
	}
	fi, err := fs.Stat("/a")
	if err != nil || fi.Size() != int64(len(want)) || fi.IsDir() || fi.Name() != "a" {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	// A second handle sees the same inode.
	g, err := fs.Open("/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ReadAt(buf, 0); err != nil || string(buf) != want {
		t.Fatalf("second handle ReadAt = %q, %v", buf, err)
	}
	if _, err := g.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("write on read-only handle: %v, want EBADF", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.ReadAt(buf, 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := g.Close(); err == nil {
		t.Fatal("double close succeeded")
	}
}

func TestReadAtEOF(t *testing.T) {
	fs := vfstest.New()
	f := create(t, fs, "/f")
	writeAt(t, f, "0123456789", 0)
	for _, tc := range []struct {
		off     int64
		n       int
		want    string
		wantEOF bool
	}{
		{0, 10, "0123456789", false},
		{0, 4, "0123", false},
		{6, 4, "6789", false},
		{6, 8, "6789", true},
		{10, 1, "", true},
		{20, 5, "", true},
	} {
		buf := make([]byte, tc.n)
		n, err := f.ReadAt(buf, tc.off)
		if string(buf[:n]) != tc.want || (err == io.EOF) != tc.wantEOF || (err != nil && err != io.EOF) {
			t.Errorf("ReadAt(len %d, off %d) = %q, %v; want %q, EOF %v", tc.n, tc.off, buf[:n], err, tc.want, tc.wantEOF)
		}
	}
	if _, err := f.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative offset read succeeded")
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []int64
		want string
	}{
		{"shrink", []int64{3}, "abc"},
		{"grow", []int64{8}, "abcdef\x00\x00"},
		{"shrink then grow zeroes", []int64{2, 5}, "ab\x00\x00\x00"},
		{"to zero", []int64{0}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfstest.New()
			f := create(t, fs, "/t")
			writeAt(t, f, "abcdef", 0)
			for _, sz := range tc.ops {
				if err := f.Truncate(sz); err != nil {
					t.Fatal(err)
				}
			}
			if got := readFile(t, fs, "/t"); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			mustSync(t, f)
			mustSyncDir(t, fs, "/")
			if got := readFile(t, fs.CrashClone(vfstest.CrashOptions{}), "/t"); got != tc.want {
				t.Fatalf("after sync and crash got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestListMkdirRemove(t *testing.T) {
	fs := vfstest.New()
	if err := fs.MkdirAll("/d/sub/deeper", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"c", "a", "b"} {
		create(t, fs, "/d/"+n).Close()
	}
	got, err := fs.List("/d")
	if want := []string{"a", "b", "c", "sub"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("List = %v, %v; want %v", got, err, want)
	}
	if _, err := fs.List("/d/a"); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("List(file) = %v", err)
	}
	if _, err := fs.List("/nope"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("List(missing) = %v", err)
	}
	if err := fs.MkdirAll("/d/a/x", 0o755); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("MkdirAll through file = %v", err)
	}
	if err := fs.MkdirAll("d/sub", 0o755); err != nil {
		t.Fatalf("MkdirAll existing: %v", err)
	}
	for _, tc := range []struct {
		name string
		want error
	}{
		{"/d/missing", os.ErrNotExist},
		{"/d/sub", syscall.ENOTEMPTY},
		{"/d/a", nil},
		{"/d/sub/deeper", nil},
		{"/d/sub", nil},
		{"/d/a", os.ErrNotExist},
	} {
		if err := fs.Remove(tc.name); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("Remove(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
	got, _ = fs.List("/d")
	if want := []string{"b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("List after removes = %v, want %v", got, want)
	}
	fi, err := fs.Stat("/d")
	if err != nil || !fi.IsDir() || !fi.Mode().IsDir() {
		t.Fatalf("Stat(dir) = %v, %v", fi, err)
	}
	if _, err := fs.Open("/d"); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("Open(dir) = %v", err)
	}
	if _, err := fs.Create("/nodir/x"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Create in missing dir = %v", err)
	}
	if _, err := fs.OpenReadWrite("/d/zzz"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadWrite(missing) = %v", err)
	}
}

func TestRelativePaths(t *testing.T) {
	fs := vfstest.New()
	if err := fs.WriteFile("x/y/z", []byte("data")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/x/y/z", "x/y/z", "./x/../x/y//z", "/x/y/./z"} {
		if got := readFile(t, fs, name); got != "data" {
			t.Errorf("ReadFile(%s) = %q", name, got)
		}
	}
}

func TestRename(t *testing.T) {
	for _, tc := range []struct {
		name       string
		src, dst   string
		wantErr    error
		wantList   map[string][]string
		wantDstVal string
	}{
		{"same dir", "/a/f", "/a/g", nil, map[string][]string{"/a": {"g", "old"}, "/b": {"x"}}, "F"},
		{"replace", "/a/f", "/a/old", nil, map[string][]string{"/a": {"old"}, "/b": {"x"}}, "F"},
		{"cross dir", "/a/f", "/b/f", nil, map[string][]string{"/a": {"old"}, "/b": {"f", "x"}}, "F"},
		{"cross dir replace", "/a/f", "/b/x", nil, map[string][]string{"/a": {"old"}, "/b": {"x"}}, "F"},
		{"missing", "/a/nope", "/a/g", os.ErrNotExist, map[string][]string{"/a": {"f", "old"}}, ""},
		{"into missing dir", "/a/f", "/c/f", os.ErrNotExist, map[string][]string{"/a": {"f", "old"}}, ""},
		{"file over dir", "/a/f", "/b", syscall.EISDIR, nil, ""},
		{"dir over file", "/b", "/a/f", syscall.ENOTDIR, nil, ""},
		{"dir into itself", "/a", "/a/sub", syscall.EINVAL, nil, ""},
		{"to itself", "/a/f", "/a/f", nil, map[string][]string{"/a": {"f", "old"}}, "F"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfstest.New()
			fs.WriteFile("/a/f", []byte("F"))
			fs.WriteFile("/a/old", []byte("OLD"))
			fs.WriteFile("/b/x", []byte("X"))
			err := fs.Rename(tc.src, tc.dst)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Rename = %v, want %v", err, tc.wantErr)
			}
			for dir, want := range tc.wantList {
				if got, _ := fs.List(dir); !slices.Equal(got, want) {
					t.Errorf("List(%s) = %v, want %v", dir, got, want)
				}
			}
			if tc.wantDstVal != "" {
				if got := readFile(t, fs, tc.dst); got != tc.wantDstVal {
					t.Errorf("dst = %q", got)
				}
			}
		})
	}
}

func TestOpenHandleSurvivesRenameAndRemove(t *testing.T) {
	fs := vfstest.New()
	f := create(t, fs, "/f")
	writeAt(t, f, "one", 0)
	if err := fs.Rename("/f", "/g"); err != nil {
		t.Fatal(err)
	}
	writeAt(t, f, "two", 3)
	if got := readFile(t, fs, "/g"); got != "onetwo" {
		t.Fatalf("after rename: %q", got)
	}
	if err := fs.Remove("/g"); err != nil {
		t.Fatal(err)
	}
	writeAt(t, f, "three", 6)
	mustSync(t, f)
	buf := make([]byte, 11)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "onetwothree" {
		t.Fatalf("after remove: %q, %v", buf, err)
	}
	if exists(fs, "/g") || exists(fs, "/f") {
		t.Fatal("removed name still visible")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fs.Used() != 0 {
		t.Fatalf("Used = %d after last handle of an unlinked file closed", fs.Used())
	}
}

func TestCreateTruncatesExisting(t *testing.T) {
	fs := vfstest.New()
	fs.WriteFile("/f", []byte("durable"))
	old, _ := fs.Open("/f")
	f := create(t, fs, "/f")
	if got := readFile(t, fs, "/f"); got != "" {
		t.Fatalf("after Create: %q", got)
	}
	if sz, _ := old.Size(); sz != 0 {
		t.Fatalf("old handle sees size %d; Create should truncate the same inode", sz)
	}
	writeAt(t, f, "new", 0)
	if got := readFile(t, fs.CrashClone(vfstest.CrashOptions{}), "/f"); got != "durable" {
		t.Fatalf("strict crash after unsynced Create truncation: %q", got)
	}
	mustSync(t, f)
	if got := readFile(t, fs.CrashClone(vfstest.CrashOptions{}), "/f"); got != "new" {
		t.Fatalf("strict crash after sync: %q", got)
	}
}

func TestLock(t *testing.T) {
	fs := vfstest.New()
	l, err := fs.Lock("/LOCK")
	if err != nil {
		t.Fatal(err)
	}
	if !exists(fs, "/LOCK") {
		t.Fatal("Lock did not create the file")
	}
	if _, err := fs.Lock("LOCK"); !errors.Is(err, vfs.ErrLocked) {
		t.Fatalf("second Lock = %v, want ErrLocked", err)
	}
	if _, err := fs.Lock("/other"); err != nil {
		t.Fatalf("Lock of another name: %v", err)
	}
	// Locks vanish on crash.
	mustSyncDir(t, fs, "/")
	c := fs.CrashClone(vfstest.CrashOptions{})
	if l2, err := c.Lock("/LOCK"); err != nil {
		t.Fatalf("Lock in crash clone: %v", err)
	} else {
		l2.Close()
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err == nil {
		t.Fatal("double Close of lock succeeded")
	}
	l3, err := fs.Lock("/LOCK")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	l3.Close()
	// A directory can be locked, without creating anything in it.
	fs.MkdirAll("/logdir", 0o755)
	dl, err := fs.Lock("/logdir")
	if err != nil {
		t.Fatalf("Lock(dir): %v", err)
	}
	if _, err := fs.Lock("/logdir/"); !errors.Is(err, vfs.ErrLocked) {
		t.Fatalf("second Lock(dir) = %v, want ErrLocked", err)
	}
	if names, _ := fs.List("/logdir"); len(names) != 0 {
		t.Fatalf("Lock(dir) created %v", names)
	}
	if fi, err := fs.Stat("/logdir"); err != nil || !fi.IsDir() {
		t.Fatalf("Stat after Lock(dir) = %v, %v", fi, err)
	}
	dl.Close()
	rl, err := fs.Lock("/")
	if err != nil {
		t.Fatalf("Lock(/): %v", err)
	}
	if _, err := fs.Lock("."); !errors.Is(err, vfs.ErrLocked) {
		t.Fatalf("second Lock(/) = %v", err)
	}
	rl.Close()
	if _, err := fs.Lock("/nodir/LOCK"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Lock in missing dir = %v", err)
	}
}

func TestDump(t *testing.T) {
	fs := vfstest.New()
	fs.WriteFile("/d/a", []byte("aaaa"))
	f := create(t, fs, "/d/b")
	writeAt(t, f, "bb", 0)
	fs.Remove("/d/a")
	s := fs.String()
	for _, want := range []string{"/d/a", "durable only", "/d/b", "entry not durable", "write[0,2)", "create b", "remove a"} {
		if !bytes.Contains([]byte(s), []byte(want)) {
			t.Errorf("Dump lacks %q:\n%s", want, s)
		}
	}
}
