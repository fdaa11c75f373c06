// Command mutants is the repository's mutation-testing harness: it applies
// each deliberate bug of the list in mutants.go to a copy of the
// repository, runs the tests of every package that can observe it, and
// reports which bugs the tests catch (KILLED) and which they miss
// (SURVIVED). See README.md.
package main
