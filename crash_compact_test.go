package journal

// Crash-state exploration of a churning journal with compaction and
// command IDs, on the in-memory vfstest filesystem.
//
// The workload registers, starts, fails, stops, removes and re-registers
// routes in batches, with CompactionThresholdEvents 20 and 4 KiB segments,
// so triggered compactions, early rotations, background segment rewrites
// and whole-segment deletions all happen; it calls Compact now and then,
// closes and reopens now and then, and interleaves enough AppendCommandID /
// RemoveCommandID calls to roll the command-ID snapshot over several times.
//
// The model knows every batch (seqs and events) and every compaction point:
// a compaction applies every tombstone appended before it, so what readers
// see is the log with, per route, its events up to its last tombstone below
// the latest applied point S removed. A triggered compaction is part of the
// batch that triggered it (its frame carries the flag), so it is applied
// exactly when that batch is present; the model predicts triggers with the
// documented rule and checks the prediction against the live journal after
// every batch. A Compact that returned before a crash state was taken must
// be applied in it; one in progress may or may not be.
//
// A crash state (strict or random, from the FS hook, from whatever
// goroutine did the operation) passes if Open succeeds and, for some batch
// count k (at least every acknowledged batch under Immediate, every synced
// one under Eventual; at most every batch issued) and some allowed point S,
// LoadAll/Entries equal model(k, S) exactly, original seqs included; the
// command IDs are the set after some operation between the last durable
// one and the last issued; and a probe batch appended after recovery gets
// the seq right after batch k-1 (never a durable batch's seq).
//
// Replay a failure: messages name the seed and the crash index;
//
//	go test -run 'TestCrashCompactionExploration/<mode>' -crash.seed=<seed> -crash.only=<index> -v

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/seglog/journal/vfs/vfstest"
)

// ccxPoint is a compaction: it applies every tombstone with seq < s.
type ccxPoint struct {
	s        uint64
	explicit bool // a Compact call (else triggered by batch `batch`)
	batch    int  // triggered: the batch's index; explicit: batches before it
	returned bool // explicit: Compact returned nil
}

type ccxModel struct {
	mu      sync.Mutex
	batches []cxBatch
	ends    []uint64 // ends[i]: seq after batch i
	trig    []bool   // trig[i]: batch i triggers a compaction (predicted, then observed)
	acked   int
	synced  int
	points  []ccxPoint // explicit compactions, in order
	next    uint64

	cmdHist   [][]string // cmdHist[i]: the command IDs after i operations issued
	cmdAcked  int
	cmdSynced int
}

// ccxBounds is what a crash state may show: lower bounds read before the
// clone, upper bounds after it (the model only grows).
type ccxBounds struct {
	mustHave     int // batches
	issued       int
	trig         []bool
	ends         []uint64
	batches      []cxBatch
	mandatory    uint64 // S of explicit compactions that returned
	optional     []uint64
	cmdLo, cmdHi int
	cmdHist      [][]string
}

func (m *ccxModel) lower(mode Durability) (mustHave int, mandatory uint64, cmdLo int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mustHave, cmdLo = m.acked, m.cmdAcked
	if mode == Eventual {
		mustHave, cmdLo = m.synced, m.cmdSynced
	}
	for _, p := range m.points {
		if p.returned {
			mandatory = max(mandatory, p.s)
		}
	}
	return
}

func (m *ccxModel) upper(b *ccxBounds) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b.issued = len(m.batches)
	b.batches = slices.Clone(m.batches)
	b.ends = slices.Clone(m.ends)
	b.trig = slices.Clone(m.trig)
	for _, p := range m.points {
		if !p.returned && p.s > b.mandatory {
			b.optional = append(b.optional, p.s)
		}
	}
	b.cmdHi = len(m.cmdHist) - 1
	b.cmdHist = m.cmdHist // append-only; entries never modified
}

// ccxExpected is model(k, S): the events of batches[:k] without, per route,
// those up to its last tombstone below s.
func ccxExpected(batches []cxBatch, k int, s uint64) []Entry {
	cut := map[string]uint64{}
	for _, b := range batches[:k] {
		for i, e := range b.events {
			if q := b.first + uint64(i); e.Kind == RouteRemoved && q < s {
				cut[e.RouteID] = q + 1
			}
		}
	}
	var out []Entry
	for _, b := range batches[:k] {
		for i, e := range b.events {
			q := b.first + uint64(i)
			if q < cut[e.RouteID] {
				continue
			}
			out = append(out, Entry{Seq: q, Event: e})
		}
	}
	return out
}

func ccxEqual(got, want []Entry) bool {
	return slices.EqualFunc(got, want, func(a, b Entry) bool { return a.Seq == b.Seq && a.Event == b.Event })
}

// ccxMatches returns the batch counts k (with the compaction point used)
// whose model equals got.
func ccxMatches(got []Entry, b *ccxBounds) (ks []int) {
	for k := b.mustHave; k <= b.issued; k++ {
		if k > 0 && len(got) > 0 && got[len(got)-1].Seq >= b.ends[k-1] {
			continue
		}
		// Mandatory: every explicit compaction that returned, and every
		// triggered one whose batch is present. Optional: a Compact in
		// progress (only if the batches before it are present).
		lo := b.mandatory
		for i := range k {
			if b.trig[i] {
				lo = max(lo, b.ends[i])
			}
		}
		cands := []uint64{lo}
		var end uint64
		if k > 0 {
			end = b.ends[k-1]
		}
		for _, s := range b.optional {
			if s > lo && s <= end {
				cands = append(cands, s)
			}
		}
		// The batch in flight may or may not carry its trigger (the model's
		// prediction is checked after it returns).
		if k == b.issued && k > 0 && b.trig[k-1] {
			var lo2 uint64 = b.mandatory
			for i := range k - 1 {
				if b.trig[i] {
					lo2 = max(lo2, b.ends[i])
				}
			}
			cands = append(cands, lo2)
		}
		for _, s := range cands {
			if ccxEqual(got, ccxExpected(b.batches, k, s)) {
				ks = append(ks, k)
				break
			}
		}
	}
	return ks
}

func ccxCheck(clone *vfstest.FS, dir string, opts Options, b *ccxBounds) error {
	j, got, err := openCrashState(clone, dir, opts)
	if err != nil {
		return err
	}
	defer j.Close()
	ks := ccxMatches(got, b)
	if len(ks) == 0 {
		return fmt.Errorf("%d entries match no acknowledged prefix k in [%d, %d] under any allowed compaction (mandatory point %d, optional %v): a lost live event, a partial or undone removal, or a resurrected event\n%s",
			len(got), b.mustHave, b.issued, b.mandatory, b.optional, ccxDiff(got, b))
	}
	ids, err := j.LoadCommandIDs()
	if err != nil {
		return fmt.Errorf("LoadCommandIDs: %w", err)
	}
	okIDs := false
	for i := b.cmdLo; i <= b.cmdHi && !okIDs; i++ {
		okIDs = slices.Equal(ids, b.cmdHist[i])
	}
	if !okIDs {
		return fmt.Errorf("command IDs %q are the set after none of operations %d..%d (after %d: %q)", ids, b.cmdLo, b.cmdHi, b.cmdLo, b.cmdHist[b.cmdLo])
	}
	probe := Event{Kind: RouteRegistered, RouteID: "probe-after-crash"}
	if err := j.AppendBatch([]Event{probe}); err != nil {
		return fmt.Errorf("AppendBatch after recovery: %w", err)
	}
	var p Entry
	for e, err := range j.Entries(0) {
		if err != nil {
			return fmt.Errorf("Entries(0) after probe: %w", err)
		}
		p = e
	}
	if p.Event != probe {
		return fmt.Errorf("probe is not the last entry (%+v)", p)
	}
	okSeq := false
	for _, k := range ks {
		var want uint64
		if k > 0 {
			want = b.ends[k-1]
		}
		okSeq = okSeq || p.Seq == want
	}
	if !okSeq {
		return fmt.Errorf("probe got seq %d; want the seq right after the present batches (matching k: %v)", p.Seq, ks)
	}
	if b.mustHave > 0 && p.Seq < b.ends[b.mustHave-1] {
		return fmt.Errorf("probe reused seq %d of a durable batch", p.Seq)
	}
	if ids2, _ := j.LoadCommandIDs(); !slices.Equal(ids, ids2) {
		return fmt.Errorf("command IDs changed by an append")
	}
	return nil
}

// ccxDiff describes how got differs from the model of the closest prefix.
func ccxDiff(got []Entry, b *ccxBounds) string {
	var sb strings.Builder
	for k := b.mustHave; k <= b.issued; k++ {
		lo := b.mandatory
		for i := range k {
			if b.trig[i] {
				lo = max(lo, b.ends[i])
			}
		}
		want := ccxExpected(b.batches, k, lo)
		i := 0
		for i < len(got) && i < len(want) && got[i].Seq == want[i].Seq && got[i].Event == want[i].Event {
			i++
		}
		fmt.Fprintf(&sb, "  k=%d S=%d: %d entries, want %d; first difference at %d:", k, lo, len(got), len(want), i)
		if i < len(got) {
			fmt.Fprintf(&sb, " got seq %d %v %s;", got[i].Seq, got[i].Event.Kind, got[i].Event.RouteID)
		}
		if i < len(want) {
			fmt.Fprintf(&sb, " want seq %d %v %s", want[i].Seq, want[i].Event.Kind, want[i].Event.RouteID)
		}
		sb.WriteString("\n")
	}
	// Per route, its events of the issued batches: present (+) or not (-);
	// a compaction leaves a run of - then only +.
	full := ccxExpected(b.batches, b.issued, 0)
	present := map[uint64]bool{}
	for _, e := range got {
		present[e.Seq] = true
	}
	byRoute := map[string][]string{}
	var routes []string
	for _, e := range full {
		r := e.Event.RouteID
		if byRoute[r] == nil {
			routes = append(routes, r)
		}
		c := "-"
		if present[e.Seq] {
			c = "+"
		}
		k := strings.TrimPrefix(e.Event.Kind.String(), "Route")[:3]
		byRoute[r] = append(byRoute[r], fmt.Sprintf("%s%d%s", c, e.Seq, k))
	}
	slices.Sort(routes)
	for _, r := range routes {
		fmt.Fprintf(&sb, "  %s: %s\n", r, strings.Join(byRoute[r], " "))
	}
	return sb.String()
}

// ccxGen makes a batch of route lifecycle events.
type ccxGen struct {
	rng   *rand.Rand
	state map[string]int // 0 unregistered, 1 registered, 2 started, 3 stopped/failed
}

func (g *ccxGen) batch() []Event {
	n := 1 + g.rng.IntN(5)
	evs := make([]Event, 0, n)
	for range n {
		r := fmt.Sprintf("route-%d", g.rng.IntN(12))
		var e Event
		switch st := g.state[r]; {
		case st == 0:
			e, g.state[r] = Event{Kind: RouteRegistered, RouteID: r}, 1
		case g.rng.IntN(4) == 0:
			e, g.state[r] = Event{Kind: RouteRemoved, RouteID: r}, 0
		case st == 1 || st == 3:
			e, g.state[r] = Event{Kind: RouteStarted, RouteID: r}, 2
		case g.rng.IntN(3) == 0:
			e, g.state[r] = Event{Kind: RouteFailed, RouteID: r, Error: strings.Repeat("boom ", g.rng.IntN(60))}, 3
		default:
			e, g.state[r] = Event{Kind: RouteStopped, RouteID: r}, 3
		}
		evs = append(evs, e)
	}
	return evs
}

// ccxRule simulates the documented trigger rule: after an append, pending
// tombstones are applied if at least threshold events are live.
type ccxRule struct {
	threshold uint64
	live      uint64
	routes    map[string]*ccxRoute
	pending   bool
}

type ccxRoute struct {
	live, sinceTomb uint64
	tomb            bool // a tombstone not applied yet
}

func (r *ccxRule) observe(evs []Event) bool {
	for _, e := range evs {
		rt := r.routes[e.RouteID]
		if rt == nil {
			rt = &ccxRoute{}
			r.routes[e.RouteID] = rt
		}
		rt.live++
		r.live++
		if e.Kind == RouteRemoved {
			rt.sinceTomb, rt.tomb, r.pending = 0, true, true
		} else {
			rt.sinceTomb++
		}
	}
	return r.pending && r.live >= r.threshold
}

func (r *ccxRule) apply() {
	for _, rt := range r.routes {
		if rt.tomb {
			n := rt.live - rt.sinceTomb
			rt.live -= n
			r.live -= n
			rt.tomb = false
		}
	}
	r.pending = false
}

// With waitBG the workload waits for the background rewriter after every
// batch, so no append runs beside a rewrite pass (see
// wal.TestCrashRewriteUsesOnlyDurableRemovals for why Eventual needs it).
func runCompactionCrashWorkload(t *testing.T, seed uint64, mode Durability, nBatches int, waitBG bool) (states int) {
	t.Helper()
	const dir = "/data/journal"
	const threshold = 20
	rng := rand.New(rand.NewPCG(seed, 0xc0a1))
	fs := vfstest.New()
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs.SyncDir("/")
	fs.SyncDir("/data")
	opts := Options{Durability: mode, SegmentSize: 4 << 10, CompactionThresholdEvents: threshold, FS: fs, Logger: quiet, FlushInterval: -1}

	m := &ccxModel{cmdHist: [][]string{{}}}
	var (
		hmu      sync.Mutex // serializes hook calls (main and background goroutines)
		crashIdx int
		failures int
		randoms  = 2
		cnt      struct{ snapRewrites, segRewrites, segDeletes int }
	)
	if testing.Short() {
		randoms = 0
	}
	hookRng := rand.New(rand.NewPCG(seed, 0xbeef))
	fs.OnOp(func(op vfstest.Op, name string) {
		hmu.Lock()
		defer hmu.Unlock()
		strict, nRand := false, 0
		cmdFile := strings.Contains(name, commandSetName+".")
		switch {
		case op == vfstest.OpRename && strings.HasSuffix(name, commandSetName+".snap.tmp"):
			cnt.snapRewrites++
		case op == vfstest.OpRename && strings.HasSuffix(name, ".seg.tmp"):
			cnt.segRewrites++
		case op == vfstest.OpRemove && strings.HasSuffix(name, ".seg"):
			cnt.segDeletes++
		}
		switch op {
		case vfstest.OpSync:
			if cmdFile && strings.HasSuffix(name, ".delta") {
				// One fsync per command operation under Immediate: sample.
				if hookRng.IntN(10) != 0 {
					return
				}
				strict = true
				break
			}
			strict, nRand = true, randoms
		case vfstest.OpSyncDir, vfstest.OpRename, vfstest.OpRemove:
			strict, nRand = true, randoms
		case vfstest.OpWrite:
			if hookRng.IntN(6) != 0 {
				return
			}
			nRand = 1
		case vfstest.OpTruncate, vfstest.OpCreate:
			nRand = min(randoms, 1)
		default:
			return
		}
		b := &ccxBounds{}
		b.mustHave, b.mandatory, b.cmdLo = m.lower(mode)
		for r := -1; r < nRand; r++ {
			if r < 0 && !strict {
				continue
			}
			idx := crashIdx
			crashIdx++
			if *crashOnly >= 0 && idx != *crashOnly {
				continue
			}
			var co vfstest.CrashOptions
			kind := "strict"
			if r >= 0 {
				co.Rand = rand.New(rand.NewPCG(seed, uint64(idx)))
				kind = fmt.Sprintf("random(PCG(%d,%d))", seed, idx)
			}
			states++
			clone := fs.CrashClone(co)
			bb := *b
			m.upper(&bb)
			if err := ccxCheck(clone, dir, opts, &bb); err != nil {
				failures++
				if failures <= 3 {
					t.Errorf("seed=%d crash=%d (%s) after %s %s; %d batches issued, %d durable: %v\ncrash state:\n%s",
						seed, idx, kind, op, name, bb.issued, bb.mustHave, err, clone.Dump())
				}
			}
		}
	})
	defer fs.OnOp(nil)

	j, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("seed=%d: Open: %v", seed, err)
	}
	gen := &ccxGen{rng: rng, state: map[string]int{}}
	rule := &ccxRule{threshold: threshold, routes: map[string]*ccxRoute{}}
	// verify compares the live journal with the model's current state.
	verify := func(ctx string) {
		m.mu.Lock()
		b := &ccxBounds{mustHave: len(m.batches), issued: len(m.batches), batches: m.batches, ends: m.ends, trig: m.trig}
		for _, p := range m.points {
			b.mandatory = max(b.mandatory, p.s)
		}
		m.mu.Unlock()
		var got []Entry
		for e, err := range j.Entries(0) {
			if err != nil {
				t.Fatalf("seed=%d %s: Entries: %v", seed, ctx, err)
			}
			got = append(got, e)
		}
		if len(ccxMatches(got, b)) == 0 {
			t.Fatalf("seed=%d %s: the live journal (%d entries) differs from the model: the trigger rule (>= %d live events and a pending tombstone) was not applied as documented\n%s",
				seed, ctx, len(got), threshold, ccxDiff(got, b))
		}
	}
	cmdLive := []string{}
	cmdNext := 0
	for bi := 0; bi < nBatches; bi++ {
		if failures > 3 {
			t.Fatalf("seed=%d: too many failures, stopping", seed)
		}
		evs := gen.batch()
		trig := rule.observe(evs)
		if trig {
			rule.apply()
		}
		m.mu.Lock()
		m.batches = append(m.batches, cxBatch{first: m.next, events: evs})
		m.next += uint64(len(evs))
		m.ends = append(m.ends, m.next)
		m.trig = append(m.trig, trig)
		m.mu.Unlock()
		if err := j.AppendBatch(evs); err != nil {
			t.Fatalf("seed=%d: AppendBatch %d: %v", seed, bi, err)
		}
		m.mu.Lock()
		m.batches[len(m.batches)-1].acked = true
		m.acked = len(m.batches)
		if mode == Immediate {
			m.synced = m.acked
		}
		m.mu.Unlock()
		if waitBG {
			j.log.WaitCompaction()
		}
		verify(fmt.Sprintf("after batch %d", bi))

		// Command IDs: mostly short-lived, so the set stays small and the
		// delta outgrows it (a snapshot rewrite every ~1024 operations).
		for range 4 + rng.IntN(7) {
			var id string
			remove := len(cmdLive) > 0 && (len(cmdLive) > 8 || rng.IntN(2) == 0)
			if remove {
				i := rng.IntN(len(cmdLive))
				id = cmdLive[i]
				cmdLive = slices.Delete(cmdLive, i, i+1)
			} else {
				id = fmt.Sprintf("cmd-%d-%s", cmdNext, strings.Repeat("x", rng.IntN(40)))
				cmdNext++
				cmdLive = append(cmdLive, id)
			}
			next := slices.Clone(cmdLive)
			slices.Sort(next)
			m.mu.Lock()
			m.cmdHist = append(m.cmdHist, next)
			m.mu.Unlock()
			if remove {
				err = j.RemoveCommandID(id)
			} else {
				err = j.AppendCommandID(id)
			}
			if err != nil {
				t.Fatalf("seed=%d: command op: %v", seed, err)
			}
			m.mu.Lock()
			m.cmdAcked = len(m.cmdHist) - 1
			if mode == Immediate {
				m.cmdSynced = m.cmdAcked
			}
			m.mu.Unlock()
		}

		switch {
		case rng.IntN(12) == 0:
			m.mu.Lock()
			m.points = append(m.points, ccxPoint{s: m.next, explicit: true, batch: len(m.batches)})
			pi := len(m.points) - 1
			m.mu.Unlock()
			if err := j.Compact(); err != nil {
				t.Fatalf("seed=%d: Compact: %v", seed, err)
			}
			rule.apply()
			m.mu.Lock()
			m.points[pi].returned = true
			m.synced = m.acked // Compact makes the log durable
			m.mu.Unlock()
			verify(fmt.Sprintf("after Compact after batch %d", bi))
		case mode == Eventual && rng.IntN(6) == 0:
			if err := j.Sync(); err != nil {
				t.Fatalf("seed=%d: Sync: %v", seed, err)
			}
			m.mu.Lock()
			m.synced, m.cmdSynced = m.acked, m.cmdAcked
			m.mu.Unlock()
		case rng.IntN(30) == 0:
			if err := j.Close(); err != nil {
				t.Fatalf("seed=%d: Close: %v", seed, err)
			}
			m.mu.Lock()
			m.synced, m.cmdSynced = m.acked, m.cmdAcked
			m.mu.Unlock()
			if j, err = Open(dir, opts); err != nil {
				t.Fatalf("seed=%d: reopen: %v", seed, err)
			}
			verify(fmt.Sprintf("after reopen after batch %d", bi))
		}
	}
	j.log.WaitCompaction()
	if err := j.Close(); err != nil {
		t.Fatalf("seed=%d: Close: %v", seed, err)
	}
	fs.OnOp(nil)
	m.synced, m.cmdSynced = m.acked, m.cmdAcked
	b := &ccxBounds{}
	b.mustHave, b.mandatory, b.cmdLo = m.lower(mode)
	m.upper(b)
	b.mustHave, b.cmdLo = b.issued, b.cmdHi
	if err := ccxCheck(fs.CrashClone(vfstest.CrashOptions{}), dir, opts, b); err != nil {
		t.Errorf("seed=%d: final strict state: %v", seed, err)
	}
	t.Logf("seed=%d: %d batches, %d explicit compactions, %d triggered, %d segment rewrites, %d segment deletions, %d command ops, %d command snapshot rewrites; %d crash states; final files: %d",
		seed, len(m.batches), len(m.points), countTrue(m.trig), cnt.segRewrites, cnt.segDeletes, len(m.cmdHist)-1, cnt.snapRewrites, states, len(fsList(fs, dir)))
	if cnt.snapRewrites == 0 || cnt.segRewrites == 0 || cnt.segDeletes == 0 || countTrue(m.trig) == 0 || len(m.points) == 0 {
		t.Errorf("seed=%d: the workload did not exercise everything (see the counts above)", seed)
	}
	return states
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func fsList(fs *vfstest.FS, dir string) []string {
	names, _ := fs.List(dir)
	return names
}

// TestCrashCompactionExploration: see the top of this file. Under
// Immediate background rewrites run beside appends; under Eventual the
// workload waits for them after each batch (Eventual/ConcurrentRewrites,
// skipped, runs them beside appends and finds the known bug of
// wal.TestCrashRewriteUsesOnlyDurableRemovals).
func TestCrashCompactionExploration(t *testing.T) {
	seeds := []uint64{1, 2}
	if *crashSeed != 0 {
		seeds = []uint64{*crashSeed}
	}
	for _, c := range []struct {
		name   string
		mode   Durability
		waitBG bool
		skip   string
	}{
		{"Immediate", Immediate, false, ""},
		{"Eventual", Eventual, true, ""},
		{"Eventual/ConcurrentRewrites", Eventual, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				t.Skip(c.skip)
			}
			for _, seed := range seeds {
				runCompactionCrashWorkload(t, seed, c.mode, 300, c.waitBG)
			}
		})
	}
}
