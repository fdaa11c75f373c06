package wal_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/seglog/journal/wal"
)

// A general record log: append batches of records, read one back by its
// sequence number, and drop the oldest records once they are no longer
// needed (retention, or a consensus log's compaction after a snapshot).
func Example() {
	dir, err := os.MkdirTemp("", "wal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := wal.Open(dir, wal.Options{}) // Immediate durability
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		first, err := l.Append(wal.Batch{Records: []wal.Record{
			{Key: []byte("sensor-a"), Value: fmt.Appendf(nil, "reading %d", 2*i)},
			{Key: []byte("sensor-b"), Value: fmt.Appendf(nil, "reading %d", 2*i+1)},
		}})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("batch at", first)
	}

	e, err := l.Get(3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("entry 3: %s = %s\n", e.Key, e.Value)

	if err := l.TruncateFront(4); err != nil { // drop entries 0 to 3, durably
		log.Fatal(err)
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}

	l, err = wal.Open(dir, wal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	fmt.Println("after reopening, the log holds", l.FirstSeq(), "to", l.LastSeq())
	_, err = l.Get(3)
	fmt.Println("entry 3 gone:", errors.Is(err, wal.ErrNotFound))
	// Output:
	// batch at 0
	// batch at 2
	// batch at 4
	// entry 3: sensor-b = reading 3
	// after reopening, the log holds 4 to 5
	// entry 3 gone: true
}

// A caller that owns the numbering, such as a consensus log whose sequence
// numbers are its indexes, appends at a given number: any number while the
// log is empty, then NextSeq.
func ExampleLog_AppendAt() {
	dir, err := os.MkdirTemp("", "wal-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := wal.Open(dir, wal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	batch := wal.Batch{Records: []wal.Record{{Key: []byte("k"), Value: []byte("v")}}}
	if err := l.AppendAt(100, batch); err != nil {
		log.Fatal(err)
	}
	if err := l.AppendAt(l.NextSeq(), batch); err != nil {
		log.Fatal(err)
	}
	fmt.Println("holds", l.FirstSeq(), "to", l.LastSeq())
	err = l.AppendAt(500, batch) // a gap
	fmt.Println("gap refused:", errors.Is(err, wal.ErrInvalid))
	// Output:
	// holds 100 to 101
	// gap refused: true
}
