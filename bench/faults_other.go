//go:build !unix

package bench

// MinorFaults is not counted on this platform: false.
func MinorFaults() (int64, bool) { return 0, false }
