//go:build race

package basiq

// raceEnabled is true when the tests run under the race detector, which
// slows CPU-bound work several times: time bounds on CPU work apply only
// without it.
const raceEnabled = true
