//go:build unix

package bench

import "syscall"

// MinorFaults is the process's minor page faults so far, and false where
// the platform does not count them.
func MinorFaults() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return int64(ru.Minflt), true
}
