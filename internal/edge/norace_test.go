//go:build !race

package edge

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
