package wal

import "errors"

// The background worker: index files and checkpoints of sealed segments,
// then segment rewrites worth doing (compaction, repacking); run inline
// under Options.Inline.

// kickBackground starts the background worker, unless one runs, if sealed
// segments wait for their index and checkpoint or a sealed segment is
// worth rewriting. Called with l.mu held.
func (l *Log) kickBackground() {
	// A Backup waiting for the slot gets it first: a worker started by
	// every rotation would otherwise keep it from ever getting it.
	if l.working || l.slotWanted > 0 || l.state != stateOpen || l.failed != nil {
		return
	}
	l.takeRepairs()
	if len(l.sealQ) == 0 && !l.cptDue && (!l.repackDue || l.opts.NoRepack) {
		if l.cs == nil {
			return
		}
		if _, _, ok := l.candidate(rewriteWorthy); !ok {
			return
		}
	}
	l.working = true
	if l.opts.Inline {
		l.inlineDue = true // Append runs it before returning
		return
	}
	go l.backgroundWork()
}

// backgroundWork writes pending index files and checkpoints, then rewrites
// segments worth it: compaction first, then repacking (repack.go). Called
// without l.mu, with l.working set.
func (l *Log) backgroundWork() {
	var err error
	for {
		err = l.drainSeals(true)
		if err == nil && l.cs != nil {
			err = l.checkpointDue()
		}
		if err == nil && l.cs != nil {
			err = l.rewritePass(false)
		}
		if err == nil {
			err = l.repackPass()
		}
		l.mu.Lock()
		// A rotation during the pass queued more: do it now rather than
		// leave it until the next trigger, unless a Backup waits for the
		// slot (backupEnd restarts this).
		if err != nil || l.state != stateOpen || len(l.sealQ) == 0 && !l.repackDue && !l.cptDue || l.slotWanted > 0 {
			break
		}
		l.mu.Unlock()
	}
	if err != nil && !errors.Is(err, ErrClosed) {
		// Retried at the next trigger; the log stays correct meanwhile.
		l.log.Warn("wal: background seal or compaction failed; will retry", "dir", l.dir, "err", err)
	}
	// Close waits for the slot: nothing after this touches the log.
	l.working = false
	l.cond.Broadcast()
	l.mu.Unlock()
}

// runInline does the background work due under Options.Inline. Called with
// l.mu held; releases it meanwhile.
func (l *Log) runInline() {
	if !l.inlineDue {
		return
	}
	l.inlineDue = false
	l.mu.Unlock()
	l.backgroundWork()
	l.mu.Lock()
}
