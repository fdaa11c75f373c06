package main

// Edit replaces Old, which must occur exactly once in the file, with New.
type Edit struct{ Old, New string }

// Mutant is one deliberate bug: Edits applied to File (a slash path from
// the repository root). Pkgs, if set, are the packages whose tests run
// against it; otherwise observers[dir of File].
type Mutant struct {
	Name  string
	Class string // durability, integrity, recovery, compaction, commandids, failure
	File  string
	Desc  string
	Edits []Edit
	Pkgs  []string
}

// observers lists, per package directory, the test packages of the root
// module that can observe a change to it: the package itself first, then
// the root package (the slowest, started early), then the rest. bench and
// the nested modules (raftstore, bench/peers) are left out.
var observers = map[string][]string{
	".":         {"."},
	"wal":       {"./wal", ".", "./wal/check", "./cmd/journal"},
	"segment":   {"./segment", ".", "./wal", "./wal/check", "./keyset", "./fuzz"},
	"keyset":    {"./keyset", ".", "./fuzz", "./cmd/journal"},
	"compactor": {"./compactor", ".", "./wal"},
	"index":     {"./index", ".", "./wal"},
	"vfs":       {"./vfs/vfstest", ".", "./wal", "./keyset", "./segment", "./compactor", "./fuzz", "./cmd/journal"},
}

var mutants = []Mutant{
	// --- durability -------------------------------------------------
	{
		Name: "segment-sync-skipped", Class: "durability", File: "segment/writer.go",
		Desc: "the writer's group commit never calls fdatasync: Immediate appends are acknowledged unsynced",
		Edits: []Edit{{
			Old: `			if serr := w.f.Sync(); serr != nil {`,
			New: `			if serr := error(nil); serr != nil { // fdatasync skipped`,
		}},
	},
	{
		Name: "segment-synced-before-fsync", Class: "durability", File: "segment/writer.go",
		Desc: "the group commit marks the offset durable before the fdatasync runs",
		Edits: []Edit{{
			Old: `		cover := max(through, w.written.Load(), qAt+int64(len(q)))
		w.mu.Unlock()`,
			New: `		cover := max(through, w.written.Load(), qAt+int64(len(q)))
		w.synced.Store(max(w.synced.Load(), cover))
		w.mu.Unlock()`,
		}},
	},
	{
		Name: "wal-sync-covers-later", Class: "durability", File: "wal/groupcommit.go",
		Desc: "a finished fdatasync releases waiters of batches written after it started",
		Edits: []Edit{{
			Old: `l.syncedSeq.Store(max(l.syncedSeq.Load(), upto))`,
			New: `l.syncedSeq.Store(l.nextSeq.Load())`,
		}},
	},
	{
		Name: "wal-newseg-no-dirsync", Class: "durability", File: "wal/seal.go",
		Desc: "createSegment does not fsync the directory after creating a segment",
		Edits: []Edit{{
			Old: `	if err := l.fs.SyncDir(l.dir); err != nil {
		w.Close()
		return fmt.Errorf("sync directory %s: %w", l.dir, err)
	}
	l.setActive(w)`,
			New: `	l.setActive(w)`,
		}},
	},
	{
		Name: "vfs-replace-no-dirsync", Class: "durability", File: "vfs/replace.go",
		Desc: "ReplaceFile (checkpoint, bounds file) renames without a directory fsync",
		Edits: []Edit{
			{Old: `import "path/filepath"
`, New: ``},
			{Old: `	if err == nil {
		err = fs.SyncDir(filepath.Dir(name))
	}
`, New: ``},
		},
	},
	{
		Name: "segment-seal-cut-not-synced", Class: "durability", File: "segment/writer.go",
		Desc: "Seal truncates the sealed segment to its data but does not sync the cut",
		Edits: []Edit{{
			Old: `		w.size.Store(w.off)
		if err := w.f.Sync(); err != nil {
			return w.setFailed(fmt.Errorf("sync %s: %w", w.name, err))
		}
`,
			New: `		w.size.Store(w.off)
`,
		}},
	},
	{
		Name: "wal-front-not-durable", Class: "durability", File: "wal/truncate.go",
		Desc: "TruncateFront moves the front in memory without recording it in the manifest",
		Edits: []Edit{{
			Old: `	return l.dropBelowFront(manifest.Edit{Front: seq, SetFront: true})`,
			New: `	return l.dropBelowFront(manifest.Edit{})`,
		}},
	},

	// --- integrity ---------------------------------------------------
	{
		Name: "segment-scan-no-payload-crc", Class: "integrity", File: "segment/reader.go",
		Desc: "Reader/Scan does not verify the payload CRC of a frame",
		Edits: []Edit{{
			Old: `	p, err := framePayload(h, fb)
	return h, p, err
}`,
			New: `	return h, fb[FrameHeaderSize:], nil
}`,
		}},
	},
	{
		Name: "segment-read-no-payload-crc", Class: "integrity", File: "segment/readinto.go",
		Desc: "random reads (ReadFrameInto/FrameAt) and salvage do not verify the payload CRC",
		Edits: []Edit{{
			Old: `	p, err := framePayload(h, fb)
	return h, p, err
}

// framePayload`,
			New: `	return h, fb[FrameHeaderSize:], nil
}

// framePayload`,
		}},
	},
	{
		Name: "segment-batch-keys-overwritten", Class: "integrity", File: "segment/entry.go",
		Desc: "NextBatch empties the key buffer without keeping the previous key: a key sharing it is overwritten within the batch",
		Edits: []Edit{{
			Old: `		b := append((*it.scratch)[:0], it.prevKey...)
		it.prevKey = b[:len(b):len(b)]
		*it.scratch = b`,
			New: `		*it.scratch = (*it.scratch)[:0]`,
		}},
	},
	{
		Name: "wal-runs-past-visible", Class: "integrity", File: "wal/read.go",
		Desc: "a run of entries is taken whole when it starts below the visible bound: entries not yet visible are read",
		Edits: []Edit{{
			Old: `run[len(run)-1].Seq < s.visible`,
			New: `run[0].Seq < s.visible`,
		}},
	},
	{
		Name: "segment-header-crc-short", Class: "integrity", File: "segment/format.go",
		Desc: "the frame-header CRC covers bytes [4,36): codec, flags and reserved bytes unprotected",
		Edits: []Edit{
			{Old: `Checksum(dst[4:FrameHeaderSize])`, New: `Checksum(dst[4:36])`},
			{Old: `Checksum(src[4:]), binary`, New: `Checksum(src[4:36]), binary`},
		},
	},
	{
		Name: "segment-no-length-bound", Class: "integrity", File: "segment/format.go",
		Desc: "ParseFrameHeader drops the MaxPayload bound on the frame length",
		Edits: []Edit{{
			Old: `	case h.Length > MaxPayload:
		return h, Corruptf("", -1, "frame length %d over limit", h.Length)
`,
			New: ``,
		}},
	},
	{
		Name: "segment-decoded-len-unbounded", Class: "integrity", File: "segment/codec.go",
		Desc: "decodedLen accepts a compressed payload claiming more than MaxPayload decoded bytes",
		Edits: []Edit{{
			Old: `	case n > MaxPayload:
		return 0, Corruptf("", -1, "codec %d payload claims %d decoded bytes, over limit", h.Codec, n)
`,
			New: ``,
		}},
	},
	{
		Name: "segment-index-size-unchecked", Class: "integrity", File: "segment/indexfile.go",
		Desc: "an index file is trusted without checking the segment size it was written for",
		Edits: []Edit{{
			Old: `	case ih.SegSize != segSize:
		return frames, buf, IndexStale
`,
			New: ``,
		}},
	},

	// --- recovery ----------------------------------------------------
	{
		Name: "segment-damage-always-torn", Class: "recovery", File: "segment/scan.go",
		Desc: "classifyEnd notes a later durable claim but still cuts the damage as a torn tail",
		Edits: []Edit{{
			Old: `	if claimed {
		why := fmt.Sprintf("(a valid frame at offset %d records offset %d as durable)", at, res.End)`,
			New: `	if claimed && false {
		why := fmt.Sprintf("(a valid frame at offset %d records offset %d as durable)", at, res.End)`,
		}},
	},
	{
		Name: "segment-torn-cut-one-short", Class: "recovery", File: "segment/writer.go",
		Desc: "Recover cuts the newest file one byte before the end of its last valid frame",
		Edits: []Edit{{
			Old: `if err := f.Truncate(end); err != nil {`,
			New: `if err := f.Truncate(end - 1); err != nil {`,
		}},
	},
	{
		Name: "segment-torn-tail-not-cut", Class: "recovery", File: "segment/writer.go",
		Desc: "Recover leaves a torn tail in place (the truncate is skipped, the sync kept)",
		Edits: []Edit{{
			Old: `		if err := f.Truncate(end); err != nil {
			return nil, fmt.Errorf("cut %s at %d: %w", name, end, err)
		}
`,
			New: ``,
		}},
	},
	{
		Name: "segment-torn-cut-not-synced", Class: "recovery", File: "segment/writer.go",
		Desc: "Recover cuts the torn tail but does not sync the cut",
		Edits: []Edit{{
			Old: `		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("sync %s: %w", name, err)
		}
`,
			New: ``,
		}},
	},
	{
		Name: "segment-recover-no-rewrite", Class: "recovery", File: "segment/writer.go",
		Desc: "Recover does not rewrite the bytes no fsync confirmed before syncing them",
		Edits: []Edit{{
			Old: `	if from < end {
		if err := rewriteUnconfirmed(f, from, end); err != nil {
			return nil, fmt.Errorf("rewrite %s from %d: %w", name, from, err)
		}
	}
`,
			New: ``,
		}},
	},
	{
		Name: "wal-next-seq-reuses-last", Class: "recovery", File: "wal/load.go",
		Desc: "after recovery nextSeq is the last sequence number instead of the one after it",
		Edits: []Edit{{
			Old: `ld.nextSeq = max(ld.nextSeq, w.prevLast+1)`,
			New: `ld.nextSeq = max(ld.nextSeq, w.prevLast)`,
		}},
	},
	{
		Name: "wal-next-seq-ignores-front", Class: "recovery", File: "wal/load.go",
		Desc: "load does not start nextSeq at the front: numbers below a TruncateFront past the end are reused",
		Edits: []Edit{{
			Old: `ld := &loaded{names: names, idx: index.New(), nextSeq: front}`,
			New: `ld := &loaded{names: names, idx: index.New()}`,
		}},
	},
	{
		Name: "wal-bad-last-header-recreated", Class: "recovery", File: "wal/load.go",
		Desc: "a damaged header of the newest segment is taken for a crash at creation even with frames after it",
		Edits: []Edit{{
			Old: `			if nz < 0 {`,
			New: `			if nz < 0 || last {`,
		}},
	},

	{
		Name: "wal-mapped-read-not-awaited", Class: "integrity", File: "wal/read.go",
		Desc: "a file is cut or its mapping released while Gets still read it",
		Edits: []Edit{{
			Old: `		sg.ref.mapReads.Wait()`,
			New: `		_ = sg`,
		}},
	},

	// --- compaction --------------------------------------------------
	{
		Name: "compactor-tombstone-exclusive", Class: "compaction", File: "compactor/state.go",
		Desc: "DeadSet.IsDead: a tombstone removes entries below it (<) but not itself",
		Edits: []Edit{{
			Old: `return ok && seq <= it.seq`,
			New: `return ok && seq < it.seq`,
		}},
	},
	{
		Name: "wal-checkpoint-recorded-early", Class: "compaction", File: "wal/compact.go",
		Desc: "cptThrough is advanced before the checkpoint file is durably written (kept on error)",
		Edits: []Edit{{
			Old: `	if err := compactor.WriteCheckpoint(l.fs, l.dir, body); err != nil {
		return err
	}
	l.cptThrough = through
`,
			New: `	l.cptThrough = through
	if err := compactor.WriteCheckpoint(l.fs, l.dir, body); err != nil {
		return err
	}
`,
		}},
	},
	{
		Name: "wal-compact-deletes-live-seg", Class: "compaction", File: "wal/compact.go",
		Desc: "a segment with exactly one live record is treated as all-dead and deleted",
		Edits: []Edit{{
			Old: `copyAny := counts.Dead < counts.Total || retainTombstones`,
			New: `copyAny := counts.Dead+1 < counts.Total || retainTombstones`,
		}},
	},
	// wal-rewrite-uncovered-seg (candidate checking a segment's own base
	// against the checkpoint) is retired: since rewrites keep the
	// tombstones an older segment needs and FlagCompact, a replay that
	// meets a rewritten segment rebuilds the same state, so the mutant
	// changes nothing any test (or user) can observe. The check stays in
	// candidate as a second line of defence.
	{
		Name: "wal-dead-dropped-before-durable", Class: "compaction", File: "wal/compact.go",
		Desc: "durableDead waits for visibility, not durability, of the batches that applied removals",
		Edits: []Edit{{
			Old: `for l.lastApplyUpto > l.syncedSeq.Load() {`,
			New: `for l.lastApplyUpto > l.visibleSeq.Load() {`,
		}},
	},

	// --- command IDs (keyset) ----------------------------------------
	{
		Name: "keyset-last-delta-lost", Class: "commandids", File: "keyset/keyset.go",
		Desc: "the delta is scanned one byte short: its last record is not replayed (and is cut)",
		Edits: []Edit{{
			Old: `res, err = segment.ScanEntries(f, size, path,`,
			New: `res, err = segment.ScanEntries(f, size-1, path,`,
		}},
	},
	{
		Name: "keyset-remove-as-add", Class: "commandids", File: "keyset/keyset.go",
		Desc: "delta replay applies a remove (tombstone) as an add",
		Edits: []Edit{{
			Old: `delete(keys, string(e.Key))`,
			New: `keys[string(e.Key)] = struct{}{}`,
		}},
	},
	{
		Name: "keyset-no-dirsync-between-renames", Class: "commandids", File: "keyset/keyset.go",
		Desc: "no directory fsync between the snapshot rename and the delta rename of a rewrite",
		Edits: []Edit{{
			Old: `	if err := s.step(renamed); err != nil {
		return err
	}
	if err := s.fs.SyncDir(s.dir); err != nil {`,
			New: `	if err := s.step(renamed); err != nil {
		return err
	}
	if renamed == stepRenamed {
		return nil // the snapshot's rename left unsynced
	}
	if err := s.fs.SyncDir(s.dir); err != nil {`,
		}},
	},
	{
		Name: "keyset-torn-tail-not-cut", Class: "commandids", File: "keyset/keyset.go",
		Desc: "Open keeps a torn delta tail: it tells recovery the valid frames end at the file's end",
		Edits: []Edit{{
			Old: `segment.Recover(df, s.deltaPath, s.gen, res.MaxSynced, res.End, size, 0, res.Tail)`,
			New: `segment.Recover(df, s.deltaPath, s.gen, res.MaxSynced, size, size, 0, res.Tail)`,
		}},
	},
	{
		Name: "keyset-sync-covers-later", Class: "commandids", File: "keyset/keyset.go",
		Desc: "a finished delta fsync marks operations written during it durable",
		Edits: []Edit{{
			Old: `s.durable = max(s.durable, target)`,
			New: `s.durable = max(target, s.written)`,
		}},
	},

	// --- damage ------------------------------------------------------
	{
		Name: "wal-stale-index-taken-for-damaged", Class: "integrity", File: "wal/load.go",
		Desc: "a sound index recording another size for a sealed segment is rebuilt instead of refusing: a segment that lost frames is accepted",
		Edits: []Edit{{
			Old: `		case segment.IndexStale:
			// Its index was written at sealing: a size that no longer
			// matches means the segment lost or gained bytes.
			return segment.Corruptf(name, -1, "sealed segment's size %d is not the size its index recorded when it was sealed", size)
		case segment.IndexDamaged:`,
			New: `		case segment.IndexStale, segment.IndexDamaged:`,
		}},
	},
	{
		Name: "wal-sealed-newest-recreated", Class: "recovery", File: "wal/load.go",
		Desc: "a newest segment with a bad header is recreated as half-made even when the manifest lists it (its header was durable)",
		Edits: []Edit{{
			Old: `		halfMade := !listed
`,
			New: `		halfMade := true
`,
		}},
		Pkgs: []string{"./wal/check", "./wal"},
	},
	{
		Name: "wal-newest-shorter-than-sealed-cut-as-torn", Class: "recovery", File: "wal/load.go",
		Desc: "a newest segment shorter than its index says Close sealed it is cut as a torn tail, losing acknowledged events",
		Edits: []Edit{{
			Old: `hok && end < ih.SegSize {`,
			New: `hok && end < 0 {`,
		}},
		Pkgs: []string{"./wal/check", "./wal", "."},
	},
	{
		Name: "compactor-gone-segment-counted", Class: "compaction", File: "compactor/state.go",
		Desc: "Apply counts removed entries into a segment that is gone (nil dereference)",
		Edits: []Edit{{
			Old: `			if sc := s.segs[ks.bySeg[0].seg]; sc != nil {
				sc.Dead += take
			}`,
			New: `			s.segs[ks.bySeg[0].seg].Dead += take`,
		}},
	},
	{
		Name: "wal-listed-segment-missing-ignored", Class: "integrity", File: "wal/load.go",
		Desc: "a segment the manifest lists but the directory lacks is not reported: Open accepts the journal without its events",
		Edits: []Edit{{
			Old: `if _, found := slices.BinarySearch(ids, id); !found {`,
			New: `if _, found := slices.BinarySearch(ids, id); false && !found {`,
		}},
		Pkgs: []string{"./wal", "./wal/check", "."},
	},
	{
		Name: "wal-durable-boundary-ignored", Class: "integrity", File: "wal/load.go",
		Desc: "frames ending before the manifest's durable boundary are taken for a torn tail and cut",
		Edits: []Edit{{
			Old: `	case end < durable:`,
			New: `	case end < 0:`,
		}},
		Pkgs: []string{"./wal", "./wal/check", "."},
	},
	{
		Name: "wal-rotation-not-listed", Class: "integrity", File: "wal/seal.go",
		Desc: "rotation records the sealed segment but not the new one before frames go into it",
		Edits: []Edit{{
			Old: `l.record(manifest.Edit{Set: []manifest.Segment{sealed, next}})`,
			New: `l.record(manifest.Edit{Set: []manifest.Segment{sealed, next}[:1]})`,
		}},
		Pkgs: []string{"./wal", "."},
	},
	{
		Name: "compactor-tombstone-not-kept", Class: "compaction", File: "compactor/copylive.go",
		Desc: "a rewrite drops a tombstone while an older segment still holds what it removed: a lost checkpoint brings the record back",
		Edits: []Edit{{
			Old: `if !e.Tombstone || !o.RetainTombstones {`,
			New: `if true {`,
		}},
		Pkgs: []string{"./wal", "."},
	},
	{
		Name: "compactor-rewrite-drops-compact-flag", Class: "compaction", File: "compactor/copylive.go",
		Desc: "a rewritten frame loses FlagCompact: a replay without the checkpoint never applies its tombstones",
		Edits: []Edit{{
			Old: `(h.Flags&segment.FlagCompact != 0 || res.Retained > retained)`,
			New: `(false && res.Retained > retained)`,
		}},
		Pkgs: []string{"./wal", "."},
	},
	{
		Name: "keyset-mark-ignored", Class: "integrity", File: "keyset/keyset.go",
		Desc: "a delta ending before the end the manifest recorded is taken for a torn tail",
		Edits: []Edit{{
			Old: `	case gen == m.Gen && end < m.End:`,
			New: `	case gen == m.Gen && end < 0:`,
		}},
		Pkgs: []string{".", "./keyset"},
	},
	{
		Name: "repair-drops-frames-after-damage", Class: "integrity", File: "wal/check/keep.go",
		Desc: "repair keeps only the frames before the damage, losing intact ones after it",
		Edits: []Edit{{
			Old: `		if f.First >= after && f.First >= rw.Header.Base {`,
			New: `		if f.First >= after && f.First >= rw.Header.Base && f.Offset < s.DamageAt {`,
		}},
		Pkgs: []string{"./wal/check", "./cmd/journal", "."},
	},
	{
		Name: "journal-commands-checked-after-log-recovery", Class: "integrity", File: "journal.go",
		Desc: "Open checks the command IDs only after the log's recovery changed files: a refused Open changes the directory",
		Edits: []Edit{{
			Old: `	if _, _, err := keyset.ReadKeysMarked(opts.FS, dir, commandSetName, mark); err != nil {
		return nil, fmt.Errorf("journal: command IDs: %w", err)
	}
`,
			New: ``,
		}},
	},

	// --- failure handling --------------------------------------------
	{
		Name: "wal-sync-error-ignored", Class: "failure", File: "wal/groupcommit.go",
		Desc: "a failed group-commit fdatasync is logged and the batches counted durable",
		Edits: []Edit{{
			Old: `		if err != nil {
			err = l.fail(err)
			if g != nil {
				close(g.done)
			}
			return err
		}
		l.syncedSeq.Store(max(l.syncedSeq.Load(), upto))`,
			New: `		if err != nil {
			l.log.Warn("wal: sync failed", "err", err)
		}
		l.syncedSeq.Store(max(l.syncedSeq.Load(), upto))`,
		}},
	},
	{
		Name: "segment-sync-error-ignored", Class: "failure", File: "segment/writer.go",
		Desc: "the writer's group commit counts a failed fdatasync as done",
		Edits: []Edit{{
			Old: `		if err != nil {
			return w.fail(err)
		}
		w.synced.Store(max(w.synced.Load(), cover))`,
			New: `		_ = err // the failure is dropped
		w.synced.Store(max(w.synced.Load(), cover))`,
		}},
	},
	{
		Name: "segment-writer-fail-not-sticky", Class: "failure", File: "segment/writer.go",
		Desc: "the writer reports a failed write or fdatasync without keeping it: later frames and syncs go on",
		Edits: []Edit{{
			Old: `	if w.err == nil {
		w.err = err
		w.failed.Store(true)
	}
	w.cond.Broadcast()
	return w.err`,
			New: `	w.cond.Broadcast()
	return err`,
		}},
	},
	{
		Name: "wal-fail-not-sticky", Class: "failure", File: "wal/append.go",
		Desc: "fail() reports the error but does not set l.failed: appends continue after a failed write/sync",
		Edits: []Edit{{
			Old: `		l.failed = err
`,
			New: ``,
		}},
	},
	{
		Name: "keyset-fail-not-sticky", Class: "failure", File: "keyset/keyset.go",
		Desc: "keyset fail() returns the error without keeping it: the set stays usable after a failed fsync",
		Edits: []Edit{{
			Old: `	if s.err == nil {
		s.err = fmt.Errorf("keyset: unusable until reopened: %w", err)
	}
	s.cond.Broadcast()
	return s.err`,
			New: `	s.cond.Broadcast()
	return fmt.Errorf("keyset: unusable until reopened: %w", err)`,
		}},
	},
	{
		Name: "wal-tail-index-unverified", Class: "recovery", File: "wal/load.go",
		Desc: "Open trusts the tail index without proving its last frame against the segment",
		Edits: []Edit{{
			Old: `	if err != nil || h.FirstSeq != fr.First || h.Count != fr.Count {
		return frames[:0], segment.FileHeaderSize
	}`,
			New: `	if false && (err != nil || h.FirstSeq != fr.First || h.Count != fr.Count) {
		return frames[:0], segment.FileHeaderSize
	}
	_ = p`,
		}, {
			Old: `	if last, err := segment.LastSeq(h, p); err != nil || last != fr.Last {`,
			New: `	if last, err := segment.LastSeq(h, p); false && (err != nil || last != fr.Last) {`,
		}},
	},
	{
		Name: "wal-tail-index-lists-unsynced", Class: "recovery", File: "wal/tail.go",
		Desc: "the tail index lists frames written while the sync ran, not only those it made durable",
		Edits: []Edit{{
			Old: `	for n > 0 && int64(frames[n-1].Offset) >= off {`,
			New: `	for false && n > 0 && int64(frames[n-1].Offset) >= off {`,
		}},
	},
	{
		Name: "wal-repack-before-seal-job", Class: "compaction", File: "wal/repack.go",
		Desc: "a segment whose seal job is queued is repacked; the job then writes a stale index over the new one",
		Edits: []Edit{{
			Old: `		if l.sealPending(s.id) {`,
			New: `		if false && l.sealPending(s.id) {`,
		}},
	},
	{
		Name: "wal-checkpoint-before-durable", Class: "compaction", File: "wal/compact.go",
		Desc: "a checkpoint taken as a sync starts is written at once, before that sync makes the log durable through it",
		Edits: []Edit{{
			Old: `	l.cptPend, l.cptPendThrough = compactor.EncodeCheckpoint(l.cs), l.nextSeq`,
			New: `	defer func() { l.cptDue = true; l.kickBackground() }()
	l.cptPend, l.cptPendThrough = compactor.EncodeCheckpoint(l.cs), l.nextSeq`,
		}},
	},
	{
		Name: "wal-observe-out-of-order", Class: "compaction", File: "wal/observe.go",
		Desc: "Open's scan feeds the compaction state although frames before it are newer than the checkpoint (seen out of order)",
		Edits: []Edit{{
			Old: `	if o.cs.Through() < next {`,
			New: `	if false && o.cs.Through() < next {`,
		}},
	},
	{
		Name: "wal-observed-checkpoint-coverage", Class: "compaction", File: "wal/recover.go",
		Desc: "after Open's scan fed the compaction state, the log takes its Through for what the checkpoint file covers",
		Edits: []Edit{{
			Old: `		cs, onDisk := obs.cs, obs.onDisk`,
			New: `		cs, onDisk := obs.cs, obs.cs.Through()`,
		}},
	},
	{
		Name: "wal-inspect-ignores-cut", Class: "damage", File: "wal/inspect.go",
		Desc: "verify (Inspect) reads a crashed TruncateBack's files as they are, not as Open will finish the cut",
		Edits: []Edit{{
			Old: `		ls.cut = b.cut`,
			New: `		_ = b.cut`,
		}},
	},
	{
		Name: "wal-view-ignores-cut", Class: "damage", File: "wal/view.go",
		Desc: "a view reads a crashed TruncateBack's files as they are, not as Open will finish the cut",
		Edits: []Edit{{
			Old: `listing{cut: b.cut}`,
			New: `listing{}`,
		}},
	},
	{
		Name: "segment-pwrite-into-map", Class: "durability", File: "segment/writer.go",
		Desc: "WriteWithSyscalls is ignored: Immediate frames are stored into the mapping",
		Edits: []Edit{{
			Old: `&& !w.syscallWrites {`,
			New: `{`,
		}},
	},
	{
		Name: "wal-lazy-tip-unchecked", Class: "integrity", File: "wal/lazy.go",
		Desc: "the newest segment's last frame, read alone from its index file, is used without checking it against the segment",
		Edits: []Edit{{
			Old: `if tipOK && lastFrameIs(f, size, tip) {`,
			New: `if tipOK {`,
		}},
		Pkgs: []string{"./wal"},
	},
	{
		Name: "wal-lazy-list-unchecked", Class: "integrity", File: "wal/lazy.go",
		Desc: "a sealed segment's frame list, read when first needed, is used though damaged",
		Edits: []Edit{{
			Old: `if st == segment.IndexOK && len(frames) == int(ih.Frames) && segment.Summarize(frames) == ih.IndexSummary {`,
			New: `if st != segment.IndexMissing {`,
		}},
	},
	{
		Name: "wal-lazy-repairs-newest", Class: "recovery", File: "wal/lazy.go",
		Desc: "a damaged list of the newest segment's index is queued to be written again, with a size the segment grows past",
		Edits: []Edit{{
			Old: `w.lazy.loader(w, s, ih, !last)`,
			New: `w.lazy.loader(w, s, ih, true)`,
		}},
		Pkgs: []string{"./wal"},
	},
	{
		Name: "wal-leftovers-before-removal-durable", Class: "recovery", File: "wal/recover.go",
		Desc: "Open deletes the files a removal left before the manifest edit recording it is durable",
		Edits: []Edit{{
			Old: `		if len(ld.leftovers) > 0 {`,
			New: `		if false {`,
		}},
		Pkgs: []string{"./wal"},
	},
	{
		Name: "index-lazy-tip-any-seq", Class: "integrity", File: "index/index.go",
		Desc: "a lazy segment's tip answers for sequence numbers before its last frame",
		Edits: []Edit{{
			Old: `s.tip.Count > 0 && seq >= s.tip.First {`,
			New: `s.tip.Count > 0 {`,
		}},
	},
	{
		Name: "segment-queue-not-joined", Class: "durability", File: "segment/writer.go",
		Desc: "a frame written while others are queued lands past them, and the queue's write overwrites it",
		Edits: []Edit{{
			Old: `	if w.queue(frame, off, end, false) {`,
			New: `	if false {`,
		}},
	},
	{
		Name: "segment-queue-not-written", Class: "durability", File: "segment/writer.go",
		Desc: "Sync syncs without writing the frames queued while the last sync ran",
		Edits: []Edit{{
			Old: `		if len(q) > 0 {
			// The frames queued while the last sync ran, in one write.`,
			New: `		if false {
			// The frames queued while the last sync ran, in one write.`,
		}},
	},
	{
		Name: "wal-failed-sync-keeps-group", Class: "failure", File: "wal/groupcommit.go",
		Desc: "a failed group sync leaves the appends it was to cover waiting for ever",
		Edits: []Edit{{
			Old: `			err = l.fail(err)
			if g != nil {
				close(g.done)
			}`,
			New: `			err = l.fail(err)`,
		}},
		Pkgs: []string{"./wal"},
	},
	{
		Name: "wal-leaderless-group-waits", Class: "failure", File: "wal/groupcommit.go",
		Desc: "a group whose leader returns without syncing is never released",
		Edits: []Edit{{
			Old: `		l.nextSync = nil
		close(g.done)`,
			New: `		l.nextSync = nil`,
		}},
		Pkgs: []string{"./wal"},
	},
	{
		Name: "wal-group-released-unsynced", Class: "durability", File: "wal/groupcommit.go",
		Desc: "a released group member reports its batch durable without reading how far the log is synced",
		Edits: []Edit{{
			Old: `		if l.syncedSeq.Load() >= target {
			return true, nil
		}`,
			New: `		if true {
			return true, nil
		}`,
		}},
	},
	{
		Name: "segment-recover-next-sync-claims", Class: "recovery", File: "segment/writer.go",
		Desc: "RecoverForNextSync lets the frames written next claim the rewritten, unsynced tail as durable",
		Edits: []Edit{{
			Old: `		w.synced.Store(min(from, end-1))`,
			New: `		_ = from`,
		}},
		Pkgs: []string{"./segment", "./wal/manifest", "./wal"},
	},
	{
		Name: "wal-kept-tail-outlives-truncate", Class: "recovery", File: "wal/tail.go",
		Desc: "a TruncateBack leaves the tail index Open kept from an earlier session",
		Edits: []Edit{{
			Old: `		if !remove || !l.staleTail {`,
			New: `		if true {`,
		}},
	},
	{
		Name: "segment-zeros-map-fault-crashes", Class: "failure", File: "segment/scan.go",
		Desc: "a fault while comparing a mapped range with zeros crashes the process instead of falling back to reads",
		Edits: []Edit{{
			Old: `		if recover() != nil {
			ok = false
		}`,
			New: `		_ = ok`,
		}},
	},
}
