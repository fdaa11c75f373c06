//go:build unix

package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The mode is what the journal asks for; the process's umask still takes
// bits away and nothing adds them back. Umask is process-wide: this test
// must not run in parallel with others.
func TestFileModeRespectsUmask(t *testing.T) {
	for _, tc := range []struct {
		name              string
		umask             int
		mode              os.FileMode
		wantFile, wantDir os.FileMode
	}{
		{"default under 022", 0o022, 0, 0o600, 0o700},
		{"default under 0", 0, 0, 0o600, 0o700},
		{"group readable under 0", 0, 0o640, 0o640, 0o750},
		{"group readable under 077", 0o077, 0o640, 0o600, 0o700},
		{"group writable under 027", 0o027, 0o660, 0o640, 0o750},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "made")
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			driveJournal(t, base, tc.mode)
			syscall.Umask(old)
			eachMade(t, base, func(p string, fi os.FileInfo) {
				want := tc.wantFile
				if fi.IsDir() {
					want = tc.wantDir
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s: %v, want %v", p, got, want)
				}
			})
		})
	}
}
