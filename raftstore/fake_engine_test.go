package raftstore

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/seglog/journal/wal"
)

var (
	fakesMu sync.Mutex
	fakes   = map[string]*fakeState{}
)

// fakeState is an in-memory stand-in for the wal general-log API, with its
// documented semantics, used while that API is not on this branch. It
// outlives Close (one per directory), so restarts can be tested.
type fakeState struct {
	mu   sync.Mutex
	next uint64
	recs []wal.Entry // contiguous, recs[0].Seq is the first
	open bool
}

type fakeHandle struct {
	st     *fakeState
	closed bool
}

func openFake(dir string, _ wal.Options) (engine, error) {
	fakesMu.Lock()
	defer fakesMu.Unlock()
	st := fakes[dir]
	if st == nil {
		st = &fakeState{next: 1}
		fakes[dir] = st
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.open {
		return nil, fmt.Errorf("fake %s: %w", dir, wal.ErrLocked)
	}
	st.open = true
	return &fakeHandle{st: st}, nil
}

func (h *fakeHandle) lock() (*fakeState, error) {
	h.st.mu.Lock()
	if h.closed {
		h.st.mu.Unlock()
		return nil, wal.ErrClosed
	}
	return h.st, nil
}

func (h *fakeHandle) AppendAt(first uint64, b wal.Batch) error {
	st, err := h.lock()
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	if first != st.next && !(len(st.recs) == 0 && first >= 1) {
		return fmt.Errorf("%w: AppendAt(%d), next is %d", wal.ErrInvalid, first, st.next)
	}
	for i, r := range b.Records {
		st.recs = append(st.recs, wal.Entry{Seq: first + uint64(i), Time: b.Time,
			Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Tombstone: r.Tombstone})
	}
	st.next = first + uint64(len(b.Records))
	return nil
}

func (h *fakeHandle) Get(seq uint64) (wal.Entry, error) {
	st, err := h.lock()
	if err != nil {
		return wal.Entry{}, err
	}
	defer st.mu.Unlock()
	if len(st.recs) == 0 || seq < st.recs[0].Seq || seq >= st.next {
		return wal.Entry{}, fmt.Errorf("seq %d: %w", seq, wal.ErrNotFound)
	}
	e := st.recs[seq-st.recs[0].Seq]
	e.Key, e.Value = bytes.Clone(e.Key), bytes.Clone(e.Value)
	return e, nil
}

func (h *fakeHandle) FirstSeq() uint64 {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if len(h.st.recs) == 0 {
		return 0
	}
	return h.st.recs[0].Seq
}

func (h *fakeHandle) LastSeq() uint64 {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if len(h.st.recs) == 0 {
		return 0
	}
	return h.st.next - 1
}

func (h *fakeHandle) TruncateFront(seq uint64) error {
	st, err := h.lock()
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	for len(st.recs) > 0 && st.recs[0].Seq < seq {
		st.recs = st.recs[1:]
	}
	st.next = max(st.next, seq)
	return nil
}

func (h *fakeHandle) TruncateBack(seq uint64) error {
	st, err := h.lock()
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	for len(st.recs) > 0 && st.recs[len(st.recs)-1].Seq > seq {
		st.recs = st.recs[:len(st.recs)-1]
	}
	st.next = seq + 1
	return nil
}

func (h *fakeHandle) Sync() error {
	st, err := h.lock()
	if err != nil {
		return err
	}
	st.mu.Unlock()
	return nil
}

func (h *fakeHandle) Close() error {
	st, err := h.lock()
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	h.closed = true
	st.open = false
	return nil
}
