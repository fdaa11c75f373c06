package wal

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// rvStatHookFS calls onStat before a Stat of a name with the given suffix.
type rvStatHookFS struct {
	*vfstest.FS
	suffix string
	onStat func()
}

func (f *rvStatHookFS) Stat(name string) (os.FileInfo, error) {
	if strings.HasSuffix(name, f.suffix) && f.onStat != nil {
		f.onStat()
		f.onStat = nil
	}
	return f.FS.Stat(name)
}

// TestViewOfLiveLogToleratesIndexWrittenDuringLoad: OpenView of a live log
// succeeds when the writer's background seal finishes a sealed segment's
// index while the view is loading that segment (after the view found no
// index, before it asks whether one exists). It guards against reporting
// such a segment, whose index matches it exactly, as ErrCorrupt.
func TestViewOfLiveLogToleratesIndexWrittenDuringLoad(t *testing.T) {
	fs := crashFS(t)
	release := make(chan struct{})
	blocked := make(chan struct{})
	var once sync.Once
	fs.OnOp(func(op vfstest.Op, name string) {
		if op == vfstest.OpCreate && strings.HasSuffix(name, fmt.Sprintf("%020d%s%s", 1, idxSuffix, tmpSuffix)) {
			once.Do(func() { close(blocked); <-release })
		}
	})
	l, err := Open(crashDir, Options{FS: fs, SegmentSize: MinSegmentSize, Logger: crashQuiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; l.active.ID() < 2; i++ {
		if _, err := l.Append(Batch{Time: int64(i), Records: rvRecs("k", 1, 500)}); err != nil {
			t.Fatal(err)
		}
	}
	<-blocked // the background is writing segment 1's index; the view starts now
	hfs := &rvStatHookFS{FS: fs, suffix: fmt.Sprintf("%020d%s", 1, idxSuffix), onStat: func() {
		close(release)
		l.WaitCompaction() // the background finished: the index is in place
	}}
	v, err := OpenView(crashDir, hfs)
	if hfs.onStat != nil {
		close(release) // the window was not reached; do not leave the background blocked
	}
	if err != nil {
		t.Fatalf("view of a healthy live log: %v", err)
	}
	v.Close()
}
