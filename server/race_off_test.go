//go:build !race

package server_test

// raceEnabled shortens the heavier tests under the race detector, which
// still run all their logic.
const raceEnabled = false
