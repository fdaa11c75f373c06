package peers

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/seglog/journal"
	"github.com/seglog/journal/bench"
	twal "github.com/tidwall/wal"
	bolt "go.etcd.io/bbolt"
)

// ---- bbolt: one read-write transaction per batch, key = big-endian seq,
// NoSync for Eventual. Default options otherwise (FillPercent 0.5).

var boltBucket = []byte("events")

type boltEngine struct {
	db  *bolt.DB
	seq uint64 // only touched inside Update, which bbolt serializes
}

// OpenBolt opens a bbolt engine in dir.
func OpenBolt(dir string, d journal.Durability) (bench.Engine, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: d == journal.Eventual})
	if err != nil {
		return nil, err
	}
	e := &boltEngine{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(boltBucket)
		if err != nil {
			return err
		}
		if k, _ := b.Cursor().Last(); k != nil {
			e.seq = binary.BigEndian.Uint64(k) + 1
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *boltEngine) Append(batch []journal.Event) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		ts := time.Now().UnixMilli()
		// bbolt needs keys and values valid until the commit: one buffer
		// per transaction (an earlier slice stays valid if buf grows).
		buf := make([]byte, 0, len(batch)*(8+bench.RawBytesPerEvent))
		for _, ev := range batch {
			at := len(buf)
			buf = binary.BigEndian.AppendUint64(buf, e.seq)
			key := buf[at : at+8]
			var err error
			if buf, err = bench.AppendEntryJSON(buf, e.seq, ts, ev); err != nil {
				return err
			}
			if err := b.Put(key, buf[at+8:]); err != nil {
				return err
			}
			e.seq++
		}
		return nil
	})
}

func (e *boltEngine) LoadAll() ([]journal.Event, error) {
	var out []journal.Event
	intern := make(map[string]string)
	err := e.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			ent, err := bench.ParseEntryJSON(v, intern)
			if err != nil {
				return err
			}
			out = append(out, ent.Event)
		}
		return nil
	})
	return out, err
}

func (e *boltEngine) Close() error { return e.db.Close() }

// ---- tidwall/wal: Write per single event, wal.Batch for batches, NoSync
// for Eventual (otherwise it fsyncs every write). Default options
// otherwise. Indexes must be consecutive, so commits are serialized here.

type tidwallEngine struct {
	mu   sync.Mutex
	log  *twal.Log
	next uint64
	b    twal.Batch
	buf  []byte
}

// OpenTidwall opens a tidwall/wal engine in dir.
func OpenTidwall(dir string, d journal.Durability) (bench.Engine, error) {
	opts := *twal.DefaultOptions
	opts.NoSync = d == journal.Eventual
	l, err := twal.Open(dir, &opts)
	if err != nil {
		return nil, err
	}
	last, err := l.LastIndex()
	if err != nil {
		l.Close()
		return nil, err
	}
	return &tidwallEngine{log: l, next: last + 1}, nil
}

func (e *tidwallEngine) Append(batch []journal.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := time.Now().UnixMilli()
	if len(batch) == 1 {
		var err error
		if e.buf, err = bench.AppendEntryJSON(e.buf[:0], e.next-1, ts, batch[0]); err != nil {
			return err
		}
		if err := e.log.Write(e.next, e.buf); err != nil {
			return err
		}
		e.next++
		return nil
	}
	e.b.Clear() // of what an invalid event left in it
	next := e.next
	for _, ev := range batch {
		var err error
		if e.buf, err = bench.AppendEntryJSON(e.buf[:0], next-1, ts, ev); err != nil {
			return err
		}
		e.b.Write(next, e.buf) // copies
		next++
	}
	e.next = next
	return e.log.WriteBatch(&e.b)
}

func (e *tidwallEngine) LoadAll() ([]journal.Event, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	first, err := e.log.FirstIndex()
	if err != nil {
		return nil, err
	}
	out := make([]journal.Event, 0, e.next-first)
	intern := make(map[string]string)
	for i := first; i < e.next && first > 0; i++ {
		v, err := e.log.Read(i)
		if err != nil {
			return nil, err
		}
		ent, err := bench.ParseEntryJSON(v, intern)
		if err != nil {
			return nil, err
		}
		out = append(out, ent.Event)
	}
	return out, nil
}

func (e *tidwallEngine) Close() error { return e.log.Close() }

// ---- pebble: one pebble.Batch per commit, pebble.Sync (Immediate) or
// pebble.NoSync (Eventual); pebble group-commits concurrent Sync batches
// itself. Default options otherwise (logging silenced).

type quiet struct{}

func (quiet) Infof(string, ...interface{})  {}
func (quiet) Errorf(string, ...interface{}) {}
func (quiet) Fatalf(format string, args ...interface{}) {
	panic(errors.New("pebble fatal: " + format))
}

type pebbleEngine struct {
	db   *pebble.DB
	wo   *pebble.WriteOptions
	next atomic.Uint64
}

// OpenPebble opens a pebble engine in dir.
func OpenPebble(dir string, d journal.Durability) (bench.Engine, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		return nil, err
	}
	e := &pebbleEngine{db: db, wo: pebble.Sync}
	if d == journal.Eventual {
		e.wo = pebble.NoSync
	}
	it, err := db.NewIter(nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	if it.Last() {
		e.next.Store(binary.BigEndian.Uint64(it.Key()) + 1)
	}
	if err := it.Close(); err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *pebbleEngine) Append(batch []journal.Event) error {
	n := uint64(len(batch))
	seq := e.next.Add(n) - n
	ts := time.Now().UnixMilli()
	b := e.db.NewBatch()
	defer b.Close()
	var key [8]byte
	var val []byte
	for i, ev := range batch {
		binary.BigEndian.PutUint64(key[:], seq+uint64(i))
		var err error
		if val, err = bench.AppendEntryJSON(val[:0], seq+uint64(i), ts, ev); err != nil {
			return err
		}
		if err := b.Set(key[:], val, nil); err != nil { // Set copies
			return err
		}
	}
	return b.Commit(e.wo)
}

func (e *pebbleEngine) LoadAll() ([]journal.Event, error) {
	it, err := e.db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	out := make([]journal.Event, 0, e.next.Load())
	intern := make(map[string]string)
	for ok := it.First(); ok; ok = it.Next() {
		ent, err := bench.ParseEntryJSON(it.Value(), intern)
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, ent.Event)
	}
	return out, it.Close()
}

func (e *pebbleEngine) Close() error { return e.db.Close() }
