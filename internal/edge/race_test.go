//go:build race

package edge

// raceEnabled: the race detector is on. Under it sync.Pool drops a share of
// what is put back, on purpose, so allocation counts mean nothing.
const raceEnabled = true
