package vfstest

// Test helpers that inspect or set the state without counting, injection
// or hooks: pending counts, ReadFile, WriteFile and Dump.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// PendingWrites returns the number of unsynced writes (not counting
// truncates) of the file currently named name, or 0 if there is none.
func (fs *FS) PendingWrites(name string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(clean(name))
	if err != nil || n.isDir {
		return 0
	}
	c := 0
	for _, op := range n.pending {
		if !op.truncate {
			c++
		}
	}
	return c
}

// PendingDirOps returns the number of unsynced entry operations of the
// directory currently named dir, or 0 if there is none.
func (fs *FS) PendingDirOps(dir string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(clean(dir))
	if err != nil || !n.isDir {
		return 0
	}
	return len(n.dops)
}

// ReadFile returns the current content of the file name. It is a test helper:
// it is not counted, not subject to injected errors and calls no hook.
func (fs *FS) ReadFile(name string) ([]byte, error) {
	p := clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, err := fs.lookup(p)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	if n.isDir {
		return nil, pathErr("read", p, syscall.EISDIR)
	}
	return slices.Clone(n.data), nil
}

// WriteFile makes name a file holding data, durably: it creates missing
// parent directories, creates or replaces the file's content in place, syncs
// it, and syncs the directories it changed (which makes all their pending
// entry operations durable). It is a test helper: not counted, not subject to
// injected errors or capacity, and calls no hook.
func (fs *FS) WriteFile(name string, data []byte) error {
	p := clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir, base := filepath.Split(p)
	if base == "" {
		return pathErr("open", p, syscall.EISDIR)
	}
	if err := fs.mkdirAll(dir); err != nil {
		return pathErr("mkdir", dir, err)
	}
	d, err := fs.lookup(dir)
	if err != nil {
		return pathErr("open", p, err)
	}
	n := d.entries[base]
	if n != nil && n.isDir {
		return pathErr("open", p, syscall.EISDIR)
	}
	if n == nil {
		n = fs.newFile()
		fs.record(d, "create "+base, dirChange{base, n})
	}
	fs.setData(n, slices.Clone(data))
	n.durable = slices.Clone(data)
	n.pending = nil
	// Sync every directory on the path that has pending operations.
	for _, dd := range fs.pathDirs(p) {
		if len(dd.dops) > 0 {
			commitThrough(dd, len(dd.dops)-1)
		}
	}
	return nil
}

// pathDirs returns the directories from the root down to the parent of p.
func (fs *FS) pathDirs(p string) []*node {
	ds := []*node{fs.root}
	d := fs.root
	elems := strings.Split(p, string(filepath.Separator))
	for _, c := range elems[:len(elems)-1] {
		if c == "" {
			continue
		}
		d = d.entries[c]
		ds = append(ds, d)
	}
	return ds
}

// String returns [FS.Dump].
func (fs *FS) String() string { return fs.Dump() }

// Dump describes the tree for failure messages: each current entry with its
// inode number, current and durable size and pending operations, each
// directory's pending entry operations, and entries that are durable but no
// longer current (marked "durable only").
func (fs *FS) Dump() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var b strings.Builder
	seen := map[*node]bool{}
	var walk func(d *node, p string)
	walk = func(d *node, p string) {
		seen[d] = true
		fmt.Fprintf(&b, "%s/ dir#%d", strings.TrimSuffix(p, "/"), d.id)
		if len(d.dops) > 0 {
			b.WriteString(" pending:")
			for _, op := range d.dops {
				fmt.Fprintf(&b, " [%s]", op.desc)
			}
		}
		b.WriteByte('\n')
		names := map[string]bool{}
		for name := range d.entries {
			names[name] = true
		}
		for name := range d.durEntries {
			names[name] = true
		}
		sorted := make([]string, 0, len(names))
		for name := range names {
			sorted = append(sorted, name)
		}
		slices.Sort(sorted)
		for _, name := range sorted {
			cp := filepath.Join(p, name)
			n, cur := d.entries[name], true
			if n == nil {
				n, cur = d.durEntries[name], false
			}
			mark := ""
			if !cur {
				mark = " (durable only)"
			} else if d.durEntries[name] != n {
				mark = " (entry not durable)"
			}
			if n.isDir {
				if seen[n] {
					fmt.Fprintf(&b, "%s/ dir#%d (seen)%s\n", cp, n.id, mark)
					continue
				}
				if mark != "" {
					fmt.Fprintf(&b, "%s%s:\n", cp, mark)
				}
				walk(n, cp)
				continue
			}
			fmt.Fprintf(&b, "%s file#%d size=%d durable=%d%s", cp, n.id, len(n.data), len(n.durable), mark)
			if len(n.pending) > 0 {
				b.WriteString(" pending:")
				for i, op := range n.pending {
					if i == 16 {
						fmt.Fprintf(&b, " ...(%d more)", len(n.pending)-i)
						break
					}
					fmt.Fprintf(&b, " %s", op)
				}
			}
			b.WriteByte('\n')
		}
	}
	walk(fs.root, "/")
	return b.String()
}
