package bench

import "syscall"

// tmpfsMagic is the f_type of tmpfs in statfs(2).
const tmpfsMagic = 0x01021994

// IsTmpfs reports whether dir lives on tmpfs (where fdatasync is free and
// the figures would be meaningless).
func IsTmpfs(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == tmpfsMagic
}
