// Package peers adapts the peer engines of the side-by-side benchmark
// (go.etcd.io/bbolt, github.com/tidwall/wal, github.com/cockroachdb/pebble)
// to bench.Engine. It lives in a nested module so the journal's own module
// gains no dependencies. Every peer stores the entry as JSON (see
// bench.AppendEntryJSON), keyed by its sequence number.
package peers
