// Command sidebyside runs the workloads of bench/WORKLOADS.md on the journal and
// on the reference engines side by side, and prints one markdown table of
// medians (min-max) with the ratio journal ÷ engine in every cell.
//
//	cd bench/peers && go run ./cmd/sidebyside            # full run, 15 rounds (~4-5 min)
//	cd bench/peers && go run ./cmd/sidebyside -quick     # smoke run (~1 min)
//	go run ./cmd/sidebyside -engines journal,raw-prealloc -workloads W1,W3 -rounds 7
//	cd bench/peers && go run ./cmd/sidebyside -scaling -png ../w3-scaling.png   # W3 vs writers chart (~2 min)
//
// Every (engine, workload) run happens in its own process (this binary
// re-executed with -child) in a fresh directory, so one engine's heap,
// page cache churn or background goroutines do not leak into the next
// one's figures, and peak RSS (M1) is that engine's alone. Runs are
// interleaved: each round runs every workload on every engine (engine
// order rotated each round), so drift of the shared, noisy machine hits
// all engines alike. W4b, O1, R1, D1 and M1 are measured by one child
// doing W4b, Close, Open, LoadAll, as in bench/WORKLOADS.md.
package main
