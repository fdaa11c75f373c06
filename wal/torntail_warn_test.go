package wal

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs/vfstest"
)

// The warning Open logs when it cuts a torn tail gives the figures of the
// cut: its bytes and the sequence numbers of the batch whose write the
// crash cut short (or says they are unknown when its header is cut too).
func TestTornTailWarningGivesBytesAndSequenceNumbersCut(t *testing.T) {
	fs := crashFS(t)
	l := crashOpen(t, fs, Eventual)
	crashAppend(t, l, 2, "a") // 2 frames of 3 records: seqs 0..5
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	crashAppend(t, l, 3, "b") // 3 frames: seqs 6..14, the last 12..14
	name := segName(crashDir, 1)
	full, err := fs.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	full = full[:l.active.Offset()]
	crashed := fs.CrashClone(vfstest.CrashOptions{})
	l.Close()
	frameSize := (len(full) - segment.FileHeaderSize) / 5
	for _, tc := range []struct {
		name string
		cut  int // bytes removed from the end
		want []string
	}{
		{"header whole", 3, []string{"bytes=" + strconv.Itoa(frameSize-3), "first_seq=12", "last_seq=14", "records=3"}},
		{"header cut", frameSize - 5, []string{"bytes=5", `seqs="unknown`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := crashed.CrashClone(vfstest.CrashOptions{})
			if err := c.WriteFile(name, full[:len(full)-tc.cut]); err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			l2, err := Open(crashDir, Options{FS: c, Durability: Eventual, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatal(err)
			}
			l2.Close()
			line := ""
			for _, ln := range strings.Split(logged.String(), "\n") {
				if strings.Contains(ln, "cutting torn write") {
					line = ln
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("torn-tail warning lacks %s:\n%s", w, logged.String())
				}
			}
		})
	}
}
