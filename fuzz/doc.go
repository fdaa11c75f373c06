// Package fuzz holds the fuzz targets of the journal: recovery of damaged
// journal directories (FuzzRecovery), the segment reader and scanner on
// arbitrary bytes (FuzzSegmentReader), frame payloads under every codec and
// frame flag, prefix-compressed keys included (FuzzCompressedFrame), keyset
// snapshot and delta files (FuzzCommandDelta), event decoding through
// the public API (FuzzEventDecode) and an entry's JSON, decoded from any
// bytes and marshalled back (FuzzEntryJSON).
//
// Run one with
//
//	go test -fuzz=FuzzRecovery -fuzztime 30s ./fuzz/
//
// Without -fuzz, go test ./fuzz/ runs the seed corpora in
// testdata/fuzz/<FuzzName>/ as ordinary tests. The seeds are written by
// FUZZ_WRITE_CORPUS=1 go test -run TestWriteSeedCorpus ./fuzz/, except the
// before-prefix-* files of FuzzSegmentReader: journal files written before
// frames could have FlagPrefix, kept as they were.
package fuzz
