package basiq

import (
	"math"
	"math/rand/v2"
	"time"
)

// A schedule decides how long WaitForJob sleeps before its next poll. It is
// told each job it fetched and whether a step changed.
type schedule interface {
	next(now time.Time, job *Job, changed bool) time.Duration
}

// backoffSchedule polls from min, growing by half while nothing changes, up to
// max; a change brings it back to min. It is used when the caller sets
// WithPollInterval, or when nothing is known of the steps' durations.
type backoffSchedule struct {
	min, max, cur time.Duration
}

func (b *backoffSchedule) next(_ time.Time, _ *Job, changed bool) time.Duration {
	switch {
	case b.cur == 0 || changed:
		b.cur = b.min
	default:
		b.cur = min(b.cur*3/2, b.max)
	}
	return min(jitter(b.cur), b.max)
}

// The expected-duration schedule's constants.
const (
	// durationSpread is the assumed relative spread (standard deviation over
	// mean) of a step's duration around the institution's published average.
	durationSpread = 0.35
	// windowSigmas is how far, in standard deviations of the estimated end,
	// the dense polling window reaches each side of the estimate.
	windowSigmas = 0.6
	// densePoll is the interval inside the window: the delay between the job
	// finishing and WaitForJob returning is then under densePoll.
	densePoll = 450 * time.Millisecond
	// latePollMax bounds the interval once a job has outlasted its window.
	latePollMax = time.Second
)

// expectedSchedule uses the institution's published step durations
// (stats.averageDurationMs) to poll rarely while the job cannot be near its
// end, and every densePoll inside the window where it most likely ends. The
// estimate of the end is renewed at every poll from which step is running
// and when it was seen to start, since steps run in a known order.
type expectedSchedule struct {
	d       StepDurations // milliseconds, as published
	start   time.Time     // when the job started (about when it was created)
	last    time.Time     // the previous poll
	current string        // title of the step running at the previous poll
	since   time.Time     // estimated start of that step
	// denseUntil is the end of the dense window, once entered for the
	// running step; late is the interval after it, growing.
	denseUntil time.Time
	late       time.Duration
}

// newExpectedSchedule returns a schedule for a job created at start, or nil
// when the durations are unusable.
func newExpectedSchedule(d *StepDurations, start time.Time) *expectedSchedule {
	if d == nil || d.VerifyCredentials+d.RetrieveAccounts+d.RetrieveTransactions <= 0 {
		return nil
	}
	return &expectedSchedule{d: *d, start: start, last: start, since: start}
}

// mean returns a step's published average duration.
func (e *expectedSchedule) mean(title string) time.Duration {
	ms := 0.0
	switch title {
	case StepVerifyCredentials:
		ms = e.d.VerifyCredentials
	case StepRetrieveAccounts:
		ms = e.d.RetrieveAccounts
	case StepRetrieveTransactions:
		ms = e.d.RetrieveTransactions
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// connectionSteps are the timed steps of a connection job, in order; a job
// that has not been fetched yet is assumed to have them.
var connectionSteps = []string{StepVerifyCredentials, StepRetrieveAccounts, StepRetrieveTransactions}

func (e *expectedSchedule) next(now time.Time, job *Job, _ bool) time.Duration {
	titles := connectionSteps
	running := ""
	if len(job.Steps) > 0 {
		titles = titles[:0:0]
		for _, st := range job.Steps {
			if st.Status.Done() {
				continue
			}
			titles = append(titles, st.Title)
			if running == "" {
				running = st.Title
			}
		}
	} else {
		running = StepVerifyCredentials
	}
	if running != e.current {
		// The running step started between the previous poll and this one:
		// most likely when the steps before it were due to end.
		if e.current != "" {
			t, counting := e.since, false
			for _, title := range connectionSteps {
				if title == running {
					break
				}
				counting = counting || title == e.current
				if counting {
					t = t.Add(e.mean(title))
				}
			}
			switch {
			case t.Before(e.last):
				t = e.last
			case t.After(now):
				t = now
			}
			e.since = t
		}
		e.current = running
		e.denseUntil, e.late = time.Time{}, 0
	}
	e.last = now

	// Estimated time left: what remains of the running step's mean (none
	// once it runs late) and the later steps' means. The spread is that of
	// the steps' whole durations.
	var left time.Duration
	var variance float64
	for i, title := range titles {
		m := e.mean(title)
		if i == 0 {
			left += max(m-now.Sub(e.since), 0)
		} else {
			left += m
		}
		variance += math.Pow(durationSpread*m.Seconds(), 2)
	}
	sigma := time.Duration(math.Sqrt(variance) * float64(time.Second))
	windowStart := left - time.Duration(windowSigmas*float64(sigma))
	windowEnd := left + time.Duration(windowSigmas*float64(sigma))

	if !e.denseUntil.IsZero() {
		if now.Before(e.denseUntil) {
			return densePoll
		}
		// Past the window: the job runs late. Few jobs do, so polling
		// about every second costs little and keeps their delay short.
		e.late = min(max(e.late*3/2, 2*densePoll), latePollMax)
		return e.late
	}
	if windowStart > densePoll {
		// A little early rather than late, spread so waiters do not poll
		// in step.
		return windowStart - time.Duration(rand.Int64N(int64(windowStart/10)+1))
	}
	e.denseUntil = now.Add(windowEnd)
	return densePoll
}
