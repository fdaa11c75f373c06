package journal_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/seglog/journal"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/wal"
)

// A runtime's journal: open it, append route events in atomic batches,
// replay them, keep the set of in-flight command IDs, and read the journal
// from outside while it is open. README.md shows this example's code.
func Example() {
	dir, err := os.MkdirTemp("", "journal-example-") // a runtime would use e.g. /var/lib/myruntime/journal
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{}) // Immediate durability: an append is on disk when it returns
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()

	// A batch is atomic: after any crash it is wholly present or wholly absent.
	err = j.AppendBatch([]journal.Event{
		{Kind: journal.RouteRegistered, RouteID: "orders"},
		{Kind: journal.RouteStarted, RouteID: "orders"},
	})
	if err != nil {
		log.Fatal(err)
	}
	err = j.AppendBatch([]journal.Event{
		{Kind: journal.RouteFailed, RouteID: "orders", Error: "connection refused"},
	})
	if err != nil {
		log.Fatal(err)
	}

	// Replay (after a restart, say): every live entry in sequence order,
	// streamed, with its batch's TimestampMs (LoadAll gives all events at once).
	for e, err := range j.Entries(0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Seq, e.Event.Kind, e.Event.RouteID)
	}

	// In-flight command IDs: a durable set.
	if err := j.AppendCommandID("cmd-42"); err != nil {
		log.Fatal(err)
	}
	ids, err := j.LoadCommandIDs() // sorted
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("in flight:", ids)
	if err := j.RemoveCommandID("cmd-42"); err != nil {
		log.Fatal(err)
	}

	// Read without the lock, even while this or another process appends:
	// newest first, filtered by route, cut at Limit.
	newest, err := journal.Inspect(dir, journal.InspectFilter{RouteID: "orders", Limit: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("newest for orders:", newest[0].Seq, newest[0].Event.Kind, newest[0].Event.Error)
	// Output:
	// 0 RouteRegistered orders
	// 1 RouteStarted orders
	// 2 RouteFailed orders
	// in flight: [cmd-42]
	// newest for orders: 2 RouteFailed connection refused
}

// Entries streams the live entries from a sequence number on: a consumer
// that has processed everything up to some entry resumes after it, here
// across a restart of the journal.
func ExampleJournal_Entries() {
	dir, err := os.MkdirTemp("", "journal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, route := range []string{"orders", "billing", "audit"} {
		err := j.AppendBatch([]journal.Event{
			{Kind: journal.RouteRegistered, RouteID: route},
			{Kind: journal.RouteStarted, RouteID: route},
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		log.Fatal(err)
	}

	j, err = journal.Open(dir, journal.Options{}) // the restart
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	processed := uint64(2) // the consumer had handled entries 0 to 2
	for e, err := range j.Entries(processed + 1) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Seq, e.Event.Kind, e.Event.RouteID)
	}
	// Output:
	// 3 RouteStarted billing
	// 4 RouteRegistered audit
	// 5 RouteStarted audit
}

// Command IDs are a durable set: adding one present or removing one absent
// is not an error, and the set survives a restart. ReadCommandIDs reads it
// without the lock, while the journal is open.
func ExampleJournal_AppendCommandID() {
	dir, err := os.MkdirTemp("", "journal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"cmd-7", "cmd-42", "cmd-42", "cmd-9"} {
		if err := j.AppendCommandID(id); err != nil {
			log.Fatal(err)
		}
	}
	for _, id := range []string{"cmd-9", "cmd-100"} { // cmd-100 was never added
		if err := j.RemoveCommandID(id); err != nil {
			log.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		log.Fatal(err)
	}

	j, err = journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	ids, err := j.LoadCommandIDs()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after restart:", ids) // sorted by bytes: "cmd-42" < "cmd-7"
	ids, err = journal.ReadCommandIDs(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("read from outside:", ids)
	// Output:
	// after restart: [cmd-42 cmd-7]
	// read from outside: [cmd-42 cmd-7]
}

// Inspect reads a journal another Journal (or process) has open, newest
// entry first; the filter keeps one route's entries and cuts them at Limit.
func ExampleInspect() {
	dir, err := os.MkdirTemp("", "journal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	err = j.AppendBatch([]journal.Event{
		{Kind: journal.RouteRegistered, RouteID: "orders"},
		{Kind: journal.RouteRegistered, RouteID: "billing"},
		{Kind: journal.RouteStarted, RouteID: "orders"},
		{Kind: journal.RouteStarted, RouteID: "billing"},
		{Kind: journal.RouteFailed, RouteID: "orders", Error: "connection refused"},
		{Kind: journal.RouteStopped, RouteID: "billing"},
	})
	if err != nil {
		log.Fatal(err)
	}

	entries, err := journal.Inspect(dir, journal.InspectFilter{RouteID: "orders", Limit: 2})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Seq, e.Event.Kind, e.Event.RouteID)
	}
	// Output:
	// 4 RouteFailed orders
	// 2 RouteStarted orders
}

// Compact removes the events of removed routes: every event of such a route
// up to its last RouteRemoved. A route registered again keeps its new
// events, and survivors keep their sequence numbers.
func ExampleJournal_Compact() {
	dir, err := os.MkdirTemp("", "journal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	err = j.AppendBatch([]journal.Event{
		{Kind: journal.RouteRegistered, RouteID: "orders"},
		{Kind: journal.RouteRegistered, RouteID: "billing"},
		{Kind: journal.RouteRemoved, RouteID: "billing"},
		{Kind: journal.RouteStarted, RouteID: "orders"},
		{Kind: journal.RouteRegistered, RouteID: "billing"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := j.Compact(); err != nil {
		log.Fatal(err)
	}
	for e, err := range j.Entries(0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Seq, e.Event.Kind, e.Event.RouteID)
	}
	// Output:
	// 0 RouteRegistered orders
	// 3 RouteStarted orders
	// 4 RouteRegistered billing
}

// A journal directory has one owner at a time: a second Open, from this
// process or another, fails at once with an error matching ErrLocked.
func ExampleOpen_locked() {
	dir, err := os.MkdirTemp("", "journal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	_, err = journal.Open(dir, journal.Options{})
	fmt.Println("second Open locked out:", errors.Is(err, journal.ErrLocked))

	if err := j.Close(); err != nil {
		log.Fatal(err)
	}
	j, err = journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	fmt.Println("opened again once the first was closed")
	// Output:
	// second Open locked out: true
	// opened again once the first was closed
}

// Damage a crash cannot explain, such as a flipped bit in a record that was
// synced, is ErrCorrupt, and errors.As says which file and where.
func ExampleInspect_corrupt() {
	dir, err := os.MkdirTemp("", "journal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, route := range []string{"orders", "billing"} {
		if err := j.AppendBatch([]journal.Event{{Kind: journal.RouteRegistered, RouteID: route}}); err != nil {
			log.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		log.Fatal(err)
	}

	// Flip a bit inside the first batch, a record that was synced: past the
	// first segment file's header and the batch's frame header.
	seg := wal.SegmentPath(dir, 1)
	b, err := os.ReadFile(seg)
	if err != nil {
		log.Fatal(err)
	}
	b[segment.FileHeaderSize+segment.FrameHeaderSize+3] ^= 0x08
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		log.Fatal(err)
	}

	_, err = journal.Inspect(dir, journal.InspectFilter{})
	fmt.Println("corrupt:", errors.Is(err, journal.ErrCorrupt))
	var ce *segment.CorruptError
	if errors.As(err, &ce) {
		fmt.Printf("in %s, frame at offset %d\n", filepath.Base(ce.File), ce.Offset)
	}
	// Output:
	// corrupt: true
	// in 00000000000000000001.seg, frame at offset 32
}
