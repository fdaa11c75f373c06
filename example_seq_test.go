package journal_test

import (
	"fmt"
	"log"
	"os"

	"github.com/seglog/journal"
)

// Append says which sequence numbers a batch got; NextSeq and LastSeq say
// where the journal stands, and Stats what it has done since Open.
func ExampleJournal_Append() {
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

	if _, ok := j.LastSeq(); !ok {
		fmt.Println("empty; next seq", j.NextSeq())
	}
	first, err := j.Append([]journal.Event{
		{Kind: journal.RouteRegistered, RouteID: "orders"},
		{Kind: journal.RouteStarted, RouteID: "orders"},
	})
	if err != nil {
		log.Fatal(err)
	}
	last, _ := j.LastSeq()
	fmt.Println("batch at", first, "last", last, "next", j.NextSeq())

	st := j.Stats()
	durable, _ := st.LastDurableSeq()
	fmt.Println(st.Batches, "batch,", st.Events, "events, durable through", durable)
	// Output:
	// empty; next seq 0
	// batch at 0 last 1 next 2
	// 1 batch, 2 events, durable through 1
}
