package main

import (
	"errors"
	"flag"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/seglog/journal"
)

// entryFilter is inspect's selection beyond --route and --limit: a first
// sequence number, a first time, event kinds, and the order.
type entryFilter struct {
	from        uint64
	since       sinceFlag
	kinds       kindsFlag
	oldestFirst bool
}

// register declares the filter's flags on fs.
func (f *entryFilter) register(fs *flag.FlagSet) {
	fs.Uint64Var(&f.from, "from", 0, "show only entries with sequence number `SEQ` or later")
	fs.Var(&f.since, "since", "show only entries of batches timestamped at or after `TIME`: RFC 3339 (2025-11-26T21:00:00Z) or a duration back from now (90m, 1h)")
	fs.Var(&f.kinds, "kind", "show only events of kind `KIND` (as printed, e.g. RouteFailed); repeat it or give a comma list for several")
	fs.BoolVar(&f.oldestFirst, "oldest-first", false, "list the oldest entries first")
}

// entries reads the journal in dir in the order asked, keeping the entries
// of route (all for "") that pass f, at most limit of them (0 = all). The
// library applies the route, the first sequence number and, when nothing
// else filters, the limit; the kinds and the time are applied here.
func (f *entryFilter) entries(dir, route string, limit int) iter.Seq2[journal.Entry, error] {
	lf := journal.InspectFilter{RouteID: route, From: f.from}
	here := len(f.kinds) > 0 || f.since.set
	if !here {
		lf.Limit = limit
	}
	src := journal.InspectNewest(dir, lf)
	if f.oldestFirst {
		src = journal.InspectOldest(dir, lf)
	}
	if !here {
		return src
	}
	return func(yield func(journal.Entry, error) bool) {
		n := 0
		for en, err := range src {
			if err == nil && !f.keep(en) {
				continue
			}
			if !yield(en, err) || err != nil {
				return
			}
			if n++; limit > 0 && n >= limit {
				return
			}
		}
	}
}

// keep says whether en passes the kind and time filters.
func (f *entryFilter) keep(en journal.Entry) bool {
	if f.since.set && en.TimestampMs < f.since.ms {
		return false
	}
	return len(f.kinds) == 0 || f.kinds[en.Event.Kind]
}

// sinceFlag is a point in time given as RFC 3339 or as a duration back
// from when the flag is parsed.
type sinceFlag struct {
	ms  int64 // Unix milliseconds
	set bool
}

func (s *sinceFlag) String() string {
	if !s.set {
		return ""
	}
	return formatTime(s.ms)
}

func (s *sinceFlag) Set(v string) error {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		s.ms, s.set = t.UnixMilli(), true
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("want an RFC 3339 time (2025-11-26T21:00:00Z) or a duration such as 1h")
	}
	s.ms, s.set = time.Now().Add(-d).UnixMilli(), true
	return nil
}

// kindsFlag is a set of event kinds, given by name, repeatedly or as a
// comma list.
type kindsFlag map[journal.EventKind]bool

func (k *kindsFlag) String() string {
	var names []string
	for kind := range *k {
		names = append(names, kind.String())
	}
	return strings.Join(names, ",")
}

func (k *kindsFlag) Set(v string) error {
	if *k == nil {
		*k = kindsFlag{}
	}
	for _, name := range strings.Split(v, ",") {
		kind, err := journal.ParseEventKind(strings.TrimSpace(name))
		if err != nil {
			return fmt.Errorf("unknown event kind %q (want one of %s)", name, kindList())
		}
		(*k)[kind] = true
	}
	return nil
}

// kindList names every event kind.
func kindList() string {
	var names []string
	for k := journal.RouteRegistered; k <= journal.RouteRemoved; k++ {
		names = append(names, k.String())
	}
	return strings.Join(names, ", ")
}
