// Package bench holds the benchmark workloads of WORKLOADS.md
// (W1..W4b, O1, R1, D1, M1, C1, C2, X1, S1, X1s, N1, F1, W3-256): the event
// generator, the workload drivers, the raw reference engines (append+fdatasync on a growing or
// preallocated file, and raw-group) and the journal adapter. The go test
// benchmarks in this package and the side-by-side runner in bench/peers
// (a nested module that adds bbolt, tidwall/wal and pebble) share them, so
// every engine runs exactly the same workload code.
package bench
