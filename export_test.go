package basiq

// RaceEnabled tells the basiq_test package whether the race detector is on,
// so that simulations can shrink under its slowdown.
const RaceEnabled = raceEnabled
