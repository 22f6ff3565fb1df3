package basiq

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func stepsJob(statuses ...StepStatus) *Job {
	titles := []string{StepVerifyCredentials, StepRetrieveAccounts, StepRetrieveTransactions}
	j := &Job{ID: "j1"}
	for i, s := range statuses {
		j.Steps = append(j.Steps, Step{Title: titles[i], Status: s})
	}
	return j
}

func TestExpectedScheduleSleepsThroughThenPollsDensely(t *testing.T) {
	t.Parallel()
	d := &StepDurations{VerifyCredentials: 3000, RetrieveAccounts: 3000, RetrieveTransactions: 6000}
	start := time.Unix(1000, 0)
	s := newExpectedSchedule(d, start)
	require.NotNil(t, s)

	// Before the first poll: the job is unlikely to end within ~10.5 s (12 s
	// mean less 0.6 standard deviations of about 2.6 s), so the first poll
	// waits about that long (up to 10% earlier, as jitter).
	first := s.next(start, &Job{ID: "j1"}, false)
	assert.Greater(t, first, 9*time.Second)
	assert.Less(t, first, 10500*time.Millisecond)

	// At 8.5 s the last step runs, started about when the others were due
	// (6 s): the end is expected around 12 s, so the wait is shorter.
	now := start.Add(8500 * time.Millisecond)
	wait := s.next(now, stepsJob(StepSuccess, StepSuccess, StepInProgress), true)
	assert.Less(t, wait, 2500*time.Millisecond)

	// It closes in on the expected end (about 12 s) with few polls, then
	// polls densely through the window, then backs off if the job runs late.
	running := stepsJob(StepSuccess, StepSuccess, StepInProgress)
	var waits []time.Duration
	for now = now.Add(wait); now.Before(start.Add(40 * time.Second)); {
		w := s.next(now, running, false)
		waits = append(waits, w)
		now = now.Add(w)
	}
	firstDense := -1
	for i, w := range waits {
		if w == densePoll && firstDense < 0 {
			firstDense = i
		}
		assert.LessOrEqual(t, w, latePollMax)
	}
	require.GreaterOrEqual(t, firstDense, 0, "it polls densely at some point: %v", waits)
	assert.LessOrEqual(t, firstDense, 3, "few polls before the window")
	dense := 0
	for _, w := range waits[firstDense:] {
		if w != densePoll {
			break
		}
		dense++
	}
	assert.Greater(t, dense, 3, "the window is polled densely")
	last := waits[len(waits)-1]
	assert.Greater(t, last, densePoll, "a late job is polled less often")
}

func TestExpectedScheduleNeedsDurations(t *testing.T) {
	t.Parallel()
	assert.Nil(t, newExpectedSchedule(nil, time.Now()))
	assert.Nil(t, newExpectedSchedule(&StepDurations{}, time.Now()))
}

func TestBackoffScheduleResetsOnChange(t *testing.T) {
	t.Parallel()
	b := &backoffSchedule{min: time.Second, max: 5 * time.Second}
	j := &Job{}
	assert.InDelta(t, time.Second, b.next(time.Now(), j, false), float64(110*time.Millisecond))
	for range 10 {
		assert.LessOrEqual(t, b.next(time.Now(), j, false), 5*time.Second)
	}
	assert.InDelta(t, 5*time.Second, b.cur, 0)
	assert.InDelta(t, time.Second, b.next(time.Now(), j, true), float64(110*time.Millisecond))
}
