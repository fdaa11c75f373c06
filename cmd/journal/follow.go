package main

import (
	"bufio"
	"context"
	"io"
	"iter"
	"os"
	"os/signal"
	"syscall"

	"github.com/seglog/journal"
)

// runFollow is inspect --follow: the last f.limit entries oldest first,
// then new ones, until SIGINT or SIGTERM (exit status 0).
func runFollow(e *env, dir string, f *inspectFlags) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	from := f.filter.from
	if f.limit > 0 {
		// Where the last f.limit selected entries start: the oldest of the
		// newest.
		newest := *f
		newest.filter.oldestFirst = false
		for en, err := range newest.filter.entries(dir, f.route, f.limit) {
			if err != nil {
				return failDir(e, "inspect", dir, err)
			}
			from = en.Seq
		}
	}
	entries := func(yield func(journal.Entry, error) bool) {
		for en, err := range journal.FollowDir(ctx, dir, from) {
			if err == nil && (f.route != "" && en.Event.RouteID != f.route || !f.filter.keep(en)) {
				continue
			}
			if !yield(en, err) {
				return
			}
		}
	}
	if err := streamFollow(ctx, e.stdout, entries, f.json); err != nil {
		return failDir(e, "inspect", dir, err)
	}
	return 0
}

// streamFollow prints entries as streamEntries does, but writes out what
// it has whenever no entry is waiting: each burst of new entries reaches w
// at once (a table block per burst, the header once). It returns when the
// iteration ends: nil when ctx ended it.
func streamFollow(ctx context.Context, w io.Writer, entries iter.Seq2[journal.Entry, error], asJSON bool) error {
	type item struct {
		en  journal.Entry
		err error
	}
	ch := make(chan item, tableBlock)
	go func() {
		defer close(ch)
		for en, err := range entries {
			select {
			case ch <- item{en, err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	bw := bufio.NewWriterSize(w, 64<<10)
	var block []journal.Entry
	header := true
	flush := func() error {
		if len(block) > 0 || header {
			if err := writeBlock(bw, block, header, asJSON); err != nil {
				return err
			}
			header, block = false, block[:0]
		}
		return bw.Flush()
	}
	for {
		it, ok := <-ch
		if ok && it.err == nil {
			if block = append(block, it.en); len(block) < tableBlock && len(ch) > 0 {
				continue // more waiting: print them together
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if it.err != nil {
			return it.err
		}
	}
}
