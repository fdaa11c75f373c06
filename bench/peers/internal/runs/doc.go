// Package runs holds what the side-by-side commands (cmd/sidebyside,
// cmd/raftbench) share: running one measurement in a child process (the
// command re-executed) that prints its metrics on a result line, and may
// then die of SIGKILL as a crash would; and the formatting of the figures.
package runs
