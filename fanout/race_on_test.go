//go:build race

package fanout

// raceEnabled reports whether the race detector is on: it allocates for
// its own bookkeeping, so allocation counts are checked without it.
const raceEnabled = true
