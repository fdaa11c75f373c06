package journal

import (
	"errors"
	"log/slog"
	"time"
)

// flusher makes Eventual appends durable in the background: every interval
// it syncs the log and the command ID set. A sync with nothing new to write
// returns without an fsync, so an idle journal costs a timer wake-up per
// interval and nothing else. Appends never wait for it: the log writes
// while an fsync is in flight. A failed fsync is sticky in the log (see
// ErrFailed), so the next call reports it.
type flusher struct {
	done chan struct{}
	quit chan struct{}
}

func startFlusher(interval time.Duration, syncLog, syncCommands func() error, log *slog.Logger) *flusher {
	if log == nil {
		log = slog.Default()
	}
	f := &flusher{done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		commandsFailed := false
		for {
			select {
			case <-f.quit:
				return
			case <-t.C:
			}
			// The log and the command ID set fail apart: a failed command
			// set must not stop the flushing of events, which still take
			// appends.
			if err := syncLog(); err != nil {
				if !errors.Is(err, ErrClosed) {
					// The log stays failed and every later call returns
					// the error; this says when it happened.
					log.Error("journal: background flush failed; appends are refused until reopened", "err", err)
				}
				return
			}
			if err := syncCommands(); err != nil && !commandsFailed && !errors.Is(err, ErrClosed) {
				commandsFailed = true
				log.Error("journal: background flush of command IDs failed; they are refused until reopened", "err", err)
			}
		}
	}()
	return f
}

// stop ends the flusher and waits for a flush in progress.
func (f *flusher) stop() {
	close(f.quit)
	<-f.done
}
