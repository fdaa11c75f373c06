// Package compactor removes dead entries from a log of keyed entries.
//
// The rule: a tombstone entry with key K and sequence number S removes every
// entry with key K and a sequence number <= S, itself included; entries of
// K after S survive. Removal happens in two steps. Applying (State.Apply)
// is logical and O(1) per tombstone: from then on readers skip the removed
// entries (a DeadSet answers "is this entry removed?"). Rewriting
// (Rewrite) is physical: a sealed segment holding enough removed entries is
// copied without them and atomically replaces the old file.
//
// State does the bookkeeping incrementally, so deciding whether anything
// is removable costs O(1) per appended entry, and applying costs time
// proportional to the tombstones applied, never a re-read of the log.
package compactor
