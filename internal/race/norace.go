//go:build !race

// Package race reports whether the race detector is compiled in: allocation counts are not
// meaningful under it (sync.Pool drops items on purpose), so zero-allocation tests run in the
// non-race pass of `make test`.
package race

// Enabled is true when built with -race.
const Enabled = false
