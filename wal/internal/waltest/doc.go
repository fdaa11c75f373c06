// Package waltest holds helpers for the tests of package wal and the
// packages beside it.
package waltest
