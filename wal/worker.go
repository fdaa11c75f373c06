package wal

import "errors"

// The background worker: index files and checkpoints of sealed segments,
// then segment rewrites worth doing; run inline under Options.Inline.

// kickBackground starts the background worker, unless one runs, if sealed
// segments wait for their index and checkpoint or a sealed segment is
// worth rewriting. Called with l.mu held.
func (l *Log) kickBackground() {
	if l.rewriting || l.closed || l.failed != nil {
		return
	}
	if len(l.sealQ) == 0 {
		if l.cs == nil {
			return
		}
		if _, ok := l.candidate(rewriteWorthy); !ok {
			return
		}
	}
	l.rewriting = true
	if l.opts.Inline {
		l.inlineDue = true // Append runs it before returning
		return
	}
	l.bg.Add(1)
	go func() {
		defer l.bg.Done()
		l.backgroundWork()
	}()
}

// backgroundWork writes pending index files and checkpoints, then rewrites
// segments worth it. Called without l.mu, with l.rewriting set.
func (l *Log) backgroundWork() {
	var err error
	for {
		err = l.drainSeals()
		if err == nil && l.cs != nil {
			err = l.rewritePass(false)
		}
		l.mu.Lock()
		// A rotation during the pass queued more: do it now rather than
		// leave it until the next trigger.
		if err != nil || l.closed || len(l.sealQ) == 0 {
			break
		}
		l.mu.Unlock()
	}
	l.rewriting = false
	l.cond.Broadcast()
	l.mu.Unlock()
	if err != nil && !errors.Is(err, ErrClosed) {
		// Retried at the next trigger; the log stays correct meanwhile.
		l.log.Warn("wal: background seal or compaction failed; will retry", "dir", l.dir, "err", err)
	}
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
