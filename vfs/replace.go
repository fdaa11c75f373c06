package vfs

import "path/filepath"

// ReplaceFile durably replaces name with data: it writes name+".tmp"
// (created with fs's file mode, so it is never more open than name will
// be), syncs it, renames it over name and syncs the directory. After a crash
// name holds either its old content or data, never a mix; a leftover
// name+".tmp" is the caller's to remove.
func ReplaceFile(fs FS, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, name)
	}
	if err == nil {
		err = fs.SyncDir(filepath.Dir(name))
	}
	return err
}
