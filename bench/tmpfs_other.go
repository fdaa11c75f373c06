//go:build !linux

package bench

// IsTmpfs reports false: only Linux is checked for a memory-backed
// directory.
func IsTmpfs(dir string) bool { return false }
