package vfstest

// Crash clones: CrashOptions, FS.CrashClone and the cloner choosing which
// unsynced operations a power cut keeps.

import (
	"math/rand/v2"
	"slices"
)

// SectorSize is the granularity, in bytes, at which a random crash tears an
// unsynced write: each 512-byte-aligned piece survives or not independently.
const SectorSize = 512

// CrashOptions selects which crash state [FS.CrashClone] produces.
type CrashOptions struct {
	// Rand, if non-nil, chooses which unsynced operations survive (see the
	// package documentation). If nil the clone is the strict state: only
	// what was synced.
	Rand *rand.Rand
	// AnyOrder, with Rand, keeps any subset of each directory's pending
	// entry operations instead of a prefix: a filesystem that commits
	// metadata out of order, as POSIX allows between two directory syncs.
	// Code that needs one entry operation durable before another must sync
	// the directory between them; this model catches code that does not.
	AnyOrder bool
}

// CrashClone returns a new, independent FS holding a state a power cut at
// this moment could leave (see the package documentation), without changing
// fs. With a nil opts.Rand the state is the strict one: only synced data and
// synced directory entries. With a Rand the choice is a deterministic
// function of the Rand's state and fs's history. Everything in the clone is
// durable; it has no open files, locks, injected errors, capacity limit, hook
// or counts.
func (fs *FS) CrashClone(opts CrashOptions) *FS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	rng := opts.Rand
	kept := map[*dirOp]bool{}
	if rng != nil {
		for _, d := range fs.dirs {
			if len(d.dops) == 0 {
				continue
			}
			k := len(d.dops)
			if !opts.AnyOrder {
				k = rng.IntN(len(d.dops) + 1)
			}
			for i, op := range d.dops {
				kept[op] = i < k && (!opts.AnyOrder || rng.IntN(2) == 0)
			}
		}
		// Make cross-directory renames all-or-nothing: drop a half whose
		// partner is dropped (in order, with everything after it).
		for changed := true; changed; {
			changed = false
			for _, d := range fs.dirs {
				for i, op := range d.dops {
					if !kept[op] || op.partner == nil || kept[op.partner] {
						continue
					}
					changed = true
					for _, later := range d.dops[i:] {
						kept[later] = kept[later] && opts.AnyOrder && later != op
					}
				}
			}
		}
	}
	c := &cloner{dst: New(), kept: kept, rng: rng, memo: map[*node]*node{}}
	c.memo[fs.root] = c.dst.root
	c.fillDir(fs.root, c.dst.root)
	return c.dst
}

type cloner struct {
	dst  *FS
	kept map[*dirOp]bool // pending entry operations the crash keeps
	rng  *rand.Rand
	memo map[*node]*node
}

func (c *cloner) fillDir(d, nd *node) {
	ents := make(map[string]*node, len(d.durEntries))
	for k, v := range d.durEntries {
		ents[k] = v
	}
	for _, op := range d.dops {
		if c.kept[op] {
			applyChanges(ents, op.changes)
		}
	}
	names := make([]string, 0, len(ents))
	for name := range ents {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		child := ents[name]
		nc := c.memo[child]
		if nc == nil {
			if child.isDir {
				nc = c.dst.newDir()
				c.memo[child] = nc
				c.fillDir(child, nc)
			} else {
				nc = c.dst.newFile()
				c.memo[child] = nc
				nc.data = c.fileState(child)
				nc.durable = slices.Clone(nc.data)
				c.dst.used += int64(len(nc.data))
			}
		}
		if !nc.isDir {
			nc.nlink++
		}
		nd.entries[name] = nc
		nd.durEntries[name] = nc
	}
}

// fileState chooses the crash content of file n.
func (c *cloner) fileState(n *node) []byte {
	buf := slices.Clone(n.durable)
	if c.rng == nil {
		return buf
	}
	for _, op := range n.pending {
		if op.truncate {
			if c.rng.IntN(2) == 0 {
				buf = op.apply(buf)
			}
			continue
		}
		switch c.rng.IntN(3) {
		case 0: // whole
			buf = op.apply(buf)
		case 1: // dropped
		case 2: // torn
			end := op.off + int64(len(op.data))
			for s := op.off; s < end; {
				e := min((s/SectorSize+1)*SectorSize, end)
				if c.rng.IntN(2) == 0 {
					buf = fileOp{off: s, data: op.data[s-op.off : e-op.off]}.apply(buf)
				}
				s = e
			}
			if end > int64(len(buf)) && c.rng.IntN(2) == 0 {
				buf = resize(buf, end)
			}
		}
	}
	return buf
}
