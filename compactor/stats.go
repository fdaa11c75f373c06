package compactor

// Read-only figures for reporting (journal stats). They are computed from
// the existing bookkeeping and change nothing.

// PendingRemovable is the number of entries that applying the pending
// tombstones would remove, the tombstones themselves included: for every
// key with a tombstone not yet applied, its live entries up to and
// including its last tombstone. They are still live (counted by Live).
func (s *State) PendingRemovable() uint64 {
	var n uint64
	for _, ks := range s.pending {
		n += ks.live - ks.sinceTomb
	}
	return n
}

// DeadOnDisk is the number of removed entries (no longer counted by Live,
// skipped by readers) still present in segment files, until a rewrite drops
// them. It sums the per-segment counts, which stay right when a segment
// deleted by a compaction is found gone (SegmentGone) before a checkpoint
// recorded the per-key purge.
func (s *State) DeadOnDisk() uint64 {
	var n uint64
	for _, sc := range s.segs {
		n += sc.Dead
	}
	return n
}

// Removable is PendingRemovable plus DeadOnDisk: the entries a compaction
// now (Log.Compact) would leave out or drop from disk.
func (s *State) Removable() uint64 { return s.PendingRemovable() + s.DeadOnDisk() }
