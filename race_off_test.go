//go:build !race

package basiq

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = false
