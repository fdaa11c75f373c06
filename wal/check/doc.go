// Package check finds and repairs damage in a log directory of package wal.
//
// Verify reports what is wrong; PlanRepair works out what Repair would cut
// and what that loses (salvaging the frames in the cut bytes); Repair (or
// RepairLocked) saves every byte it removes in a side file, then cuts the
// log at its first damage so that it opens again. All of them read the
// segments through wal.Inspect, the loader Open uses, so a directory that
// Verify calls clean is one Open accepts, and the damage Verify reports is
// where Open stops. None of them knows the byte layout of a segment: that
// is package segment's.
package check
