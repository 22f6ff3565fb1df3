package basiq

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Default bounds of the wait between polls with [WithPollInterval]'s plain
// backoff, when the caller gives none.
const (
	defaultPollMin = time.Second
	defaultPollMax = 5 * time.Second
)

// The default schedule's constants.
const (
	// fastPollMin and fastPollMax bound the interval while
	// verify-credentials or mfa-challenge runs: 1 s on average, like
	// Basiq's own 1 s poller, so a wrong password or an MFA challenge is
	// seen within a second (95% of the time) at the same cost.
	fastPollMin = 950 * time.Millisecond
	fastPollMax = 1050 * time.Millisecond
	// densePollMin and densePollMax bound the interval where the job
	// probably ends: a sleep the risk bounds would cut under denseBelow is
	// cut to this instead. Polling about twice a second where the end is
	// likely, and about once a second or less elsewhere, gives a lower
	// median delay for fewer requests than any interval in between.
	densePollMin = 450 * time.Millisecond
	densePollMax = 550 * time.Millisecond
	denseBelow   = 700 * time.Millisecond
	// lateRisk bounds the chance, at each poll, that the job ends before
	// the next one.
	lateRisk = 0.35
	// tailRisk bounds the chance, at each poll, that the job ends more
	// than tailLag before the next poll; tailWiden widens the estimate's
	// spread for that bound.
	tailRisk  = 0.04
	tailLag   = time.Second
	tailWiden = 1.2
	// pollCost is what one poll is worth in seconds of expected delay
	// squared (see riskySleep).
	pollCost = 0.4
	// lateSleep bounds the sleep once a job runs past its estimate.
	lateSleep = 700 * time.Millisecond
	// trustFloor is the longest sleep allowed whatever the watch so far.
	trustFloor = 2500 * time.Millisecond
	// longestSleep bounds any one sleep of the default schedule.
	longestSleep = 20 * time.Second
	// progressSleep bounds the sleep when WithProgress is set, so a step
	// change is reported within 2 s.
	progressSleep = 1800 * time.Millisecond
	// longestStep is the longest a step is believed to take, whatever an
	// institution publishes: published averages are untrusted input.
	longestStep = 3 * time.Minute
	// deadlineMargin is how long before the context's deadline the last
	// poll is made, at most.
	deadlineMargin = 200 * time.Millisecond
	// stallAfter is how long a wait runs before the job counts as stalled
	// (Basiq's jobs take 3 to 30 s); the default schedule then backs off,
	// sleeping at least a thirtieth of the wait so far, up to stallSleep, so
	// a job that never ends is not polled more than once a second forever.
	stallAfter = 90 * time.Second
	// lookupGrace is how long a wait gives the read of its job's
	// institution, once started, before it plans without it.
	lookupGrace = 250 * time.Millisecond
	stallSleep  = 10 * time.Second
)

// WaitForJob polls job until every step has succeeded (or been skipped) and
// returns the final job. It returns early:
//
//   - with a *JobError (matching [ErrJobFailed]) as soon as any step fails,
//     naming the step and Basiq's failure code;
//   - with an *MFAChallenge (matching [ErrMFARequired]) when a step waits for
//     the customer's answer; answer with [JobsService.RespondMFA] and call
//     WaitForJob again (the challenge just answered is not reported again
//     while the API still shows it; a new challenge is);
//   - with the job as soon as the step named by [WithUntilStep] has succeeded;
//   - with the context's error, wrapped, when ctx is cancelled or its deadline
//     passes; when the next poll would come after the deadline, WaitForJob
//     polls once just before it, so the job returned beside the error is as
//     fresh as it can be;
//   - with an error matching [ErrInvalidResponse] when the job has a step
//     status this library does not know or, once fetched, has no steps.
//
// On an early return the last job seen is returned beside the error.
//
// The job is fetched from its links.self when that link is under the base URL
// (its origin and path prefix; a relative link is resolved against the base
// URL), and otherwise from GET /jobs/{id} on the base URL, so the access token
// never goes to another origin or outside the prefix.
//
// When to poll: every second on average (with jitter) while
// verify-credentials or mfa-challenge runs, so a wrong password or an MFA
// challenge is reported within a second. After that, WaitForJob estimates
// when the job ends from the institution's published step durations
// (stats.averageDurationMs, or [WithExpectedDurations]; a step over a few
// minutes counts as unpublished), from the durations this Client saw at the
// same institution (a few dozen per institution, kept in the Client), and
// from the job's own pace, learnt at each step change. It then sleeps as
// long as the job is unlikely to end meanwhile: long while it cannot be near
// its end, about half a second where it probably ends, and under a second
// once it runs late; a wait past 90 s (a stalled job: Basiq's take 3 to
// 30 s) backs off, sleeping a thirtieth of the wait so far, up to 10 s. The
// institution is the job's Institution, or that of its connection (read in
// the background, once, with GET /users/{id}/connections/{id}, and
// remembered; a slow or failing read delays a poll by a quarter of a second
// at most). Against polling every second this sends about a quarter
// fewer requests (the fewest savings with no published durations, or on
// short jobs), with a median delay no longer, and fewer again once a few
// jobs at the institution have been seen (figures in BENCHMARKS.md). While
// a job stays in verify-credentials it polls as often as a 1 s poller, so
// short jobs save least and a failed login or an MFA challenge saves
// nothing; reading the connection costs one request; and [WithProgress],
// which caps each sleep at 1.8 s, costs more on long jobs.
// [WithPollInterval] replaces the schedule with a plain backoff.
func (c *Client) WaitForJob(ctx context.Context, job *Job, opts ...WaitOption) (*Job, error) {
	cfg := waitConfig{minInterval: defaultPollMin, maxInterval: defaultPollMax}
	// The client's defaults first, so the call's own options override them.
	for _, o := range slices.Concat(c.waitDefaults, opts) {
		if o != nil {
			o(&cfg)
		}
	}
	if err := joinValidation(cfg.errs); err != nil {
		return job, err
	}
	if job == nil {
		return nil, &ValidationError{Field: "job", Reason: "is required: pass the job the call that started it returned, or &Job{ID: id}"}
	}
	path, err := c.jobPath(job)
	if err != nil {
		return job, err
	}

	var sched schedule = &backoffSchedule{min: cfg.minInterval, max: cfg.maxInterval}
	var est *estimateSchedule
	if !cfg.fixedBounds {
		est = newEstimateSchedule(time.Now(), job, cfg.untilStep)
		if cfg.expected != nil {
			est.setPrior(sanePublished(cfg.expected))
		}
		sched = est
	}
	current, polled, changed := job, false, false
	lastChance, waitStart := false, time.Now()
	lookupWaited := false
	// The job's institution is read in the background, so that a slow or
	// failing read holds up a poll by lookupGrace at most; the schedule
	// takes what it finds when it arrives.
	var banks chan bankInfo
	lookupCtx, stopLookup := context.WithCancel(ctx)
	defer func() {
		stopLookup()
		if banks != nil {
			<-banks // the lookup has ended: no goroutine outlives the wait
		}
	}()
	for {
		// A step the job does not have would be waited for in vain, or
		// a typo pass unseen on a job already done: it is refused as soon
		// as the job's steps are known, whatever its state.
		if cfg.untilStep != "" && len(current.Steps) > 0 && current.Step(cfg.untilStep) == nil {
			return current, &ValidationError{Field: "untilStep",
				Reason: fmt.Sprintf("names no step of job %s (%q): give the title of one of its steps, such as StepRetrieveAccounts", clean(current.ID, 100), clean(cfg.untilStep, 100))}
		}
		if polled || len(current.Steps) > 0 {
			done, err := judgeJob(current, cfg.untilStep, polled)
			if polled {
				forgetAnswered(current)
			}
			if done && est != nil {
				est.remember(c.waits, time.Now(), current)
			}
			if done || err != nil {
				return current, c.maskJobText(err)
			}
		}
		if est != nil && (polled || len(current.Steps) > 0) && !est.resolved && est.needsInstitution(current) {
			est.resolved = true
			if info, ok := c.lookupBank(nil, current, cfg.expected != nil); ok {
				c.useBank(est, info) // known without a request
			} else {
				banks = make(chan bankInfo, 1)
				go func(job Job) {
					info, _ := c.lookupBank(lookupCtx, &job, cfg.expected != nil)
					banks <- info
				}(*current)
			}
		}
		if banks != nil {
			// A lookup just started gets a moment (the usual answer takes
			// milliseconds) before the schedule goes on without it; later,
			// its answer is taken when it is there.
			grace := 0 * time.Millisecond
			if !lookupWaited {
				grace, lookupWaited = lookupGrace, true
			}
			if info, ok := receiveWithin(ctx, banks, grace); ok {
				c.useBank(est, info)
				banks = nil
			}
		}
		d := sched.next(time.Now(), current, changed)
		if waited := time.Since(waitStart); est != nil && waited > stallAfter {
			d = max(d, min(waited/30, stallSleep))
		}
		if cfg.progress != nil {
			d = min(d, progressSleep)
		}
		if dl, ok := ctx.Deadline(); ok {
			// Never sleep through the deadline: poll once just before it.
			left := time.Until(dl)
			margin := min(deadlineMargin, left/5)
			if d > left-margin {
				if lastChance {
					<-ctx.Done()
					return current, errorf("waiting for job %s: %w", clean(current.ID, 100), ctx.Err())
				}
				d, lastChance = max(left-margin, 0), true
			}
		}
		if err := sleepCtx(ctx, d); err != nil {
			return current, errorf("waiting for job %s: %w", clean(current.ID, 100), err)
		}
		next, err := c.Jobs.get(ctx, path)
		if err != nil {
			return current, errorf("waiting for job %s: %w", clean(current.ID, 100), err)
		}
		if next.ID == "" {
			next.ID = current.ID
		}
		next.Reused, next.answeredMFA = current.Reused, current.answeredMFA
		if next.Institution == nil && current.Institution != nil {
			ref := *current.Institution
			next.Institution = &ref
		}
		changed = stepsChanged(current, next)
		if changed && cfg.progress != nil {
			cfg.progress(next)
		}
		current, polled = next, true
	}
}

// receiveWithin takes a value from ch if one comes within d (at once when
// d is 0) and before ctx ends.
func receiveWithin[T any](ctx context.Context, ch <-chan T, d time.Duration) (T, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
	}
	if d <= 0 {
		var zero T
		return zero, false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case v := <-ch:
		return v, true
	case <-t.C:
	case <-ctx.Done():
	}
	var zero T
	return zero, false
}

// bankInfo is what the background lookup found of a waited job's
// institution: its id, the connection it was found from, and its published
// step durations when the schedule needs them.
type bankInfo struct {
	instID, connID string
	published      *StepDurations
}

// lookupBank finds the institution of the job's connection: the job's own,
// or the one remembered for its connection, or read with
// GET /users/{userId}/connections/{id}; then, unless the caller gave
// durations, its published step durations, from the client's cache or read.
// Each read is a hint: one attempt, bounded by hintTimeout. Failures only
// leave the schedule with less to go on. With a nil ctx it makes no request,
// and reports false when one would be needed.
func (c *Client) lookupBank(ctx context.Context, job *Job, haveDurations bool) (bankInfo, bool) {
	var info bankInfo
	info.connID = job.ConnectionID()
	if strings.ContainsAny(info.connID, "/\\") || checkID("connectionId", info.connID) != nil {
		info.connID = "" // an id from a link is one path segment, or none
	}
	if job.Institution != nil {
		info.instID = job.Institution.ID
	}
	if info.instID == "" && info.connID != "" {
		info.instID = c.waits.institutionOf(info.connID)
	}
	if info.instID == "" && info.connID != "" {
		if ctx == nil {
			return bankInfo{}, false
		}
		if userID := sourceUser(job.Links.Source); userID != "" {
			readCtx, cancel := context.WithTimeout(withoutResponse(ctx), hintTimeout)
			var conn Connection
			if _, err := c.call(readCtx, http.MethodGet, pathf("users/%s/connections/%s", userID, info.connID), nil, &conn, withNoRepeat()); err == nil {
				info.instID = conn.Institution.ID
			}
			cancel()
		}
	}
	if checkID("institution.id", info.instID) != nil {
		return bankInfo{}, true
	}
	if !haveDurations {
		if inst, ok := c.insts.lookup(info.instID); ok {
			if inst.Stats != nil {
				info.published = inst.Stats.AverageDurationMs
			}
			return info, true
		}
		if ctx == nil {
			return bankInfo{}, false
		}
		readCtx, cancel := context.WithTimeout(withoutResponse(ctx), hintTimeout)
		inst, err := c.insts.get(readCtx, info.instID, func(ctx context.Context) (Institution, error) {
			var in Institution
			if _, err := c.call(ctx, http.MethodGet, pathf("institutions/%s", info.instID), nil, &in, withNoRepeat()); err != nil {
				return Institution{}, err
			}
			c.insts.put(info.instID, in)
			return in, nil
		})
		cancel()
		if err == nil && inst.Stats != nil {
			info.published = inst.Stats.AverageDurationMs
		}
	}
	return info, true
}

// useBank gives the schedule what the lookup found: the durations this
// client has seen at the institution and its published ones.
func (c *Client) useBank(est *estimateSchedule, info bankInfo) {
	if info.instID == "" {
		return
	}
	if info.connID != "" {
		c.waits.rememberConnection(info.connID, info.instID)
	}
	est.bank = info.instID
	est.seen = c.waits.seen(info.instID)
	if info.published != nil {
		est.setPrior(sanePublished(info.published))
	}
}

// sourceUser returns the user id in a connection link such as
// ".../users/{userId}/connections/{id}", or "".
func sourceUser(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i := len(segs) - 3; i >= 0; i-- {
		if segs[i] == "users" && segs[i+2] == "connections" {
			if s, err := url.PathUnescape(segs[i+1]); err == nil && !strings.ContainsAny(s, "/\\") && checkID("userId", s) == nil {
				return s
			}
			return ""
		}
	}
	return ""
}

// maskJobText gives a *JobError or *MFAChallenge the spellings of the
// secrets the client holds, which its Error masks: the step's text comes
// from the server, which saw the API key at /token and the access token on
// every request.
func (c *Client) maskJobText(err error) error {
	var je *JobError
	var ch *MFAChallenge
	switch {
	case errors.As(err, &je):
		je.forms = hide(secretForms(c.heldSecrets()))
	case errors.As(err, &ch):
		ch.forms = hide(secretForms(c.heldSecrets()))
	}
	return err
}

// jobPath is where WaitForJob polls a job: its own link when that is under
// the base URL, otherwise /jobs/{id}.
func (c *Client) jobPath(job *Job) (string, error) {
	if _, ok := c.resolve(job.Links.Self); ok {
		return job.Links.Self, nil
	}
	if err := checkID("job.id", job.ID); err != nil {
		return "", err
	}
	return pathf("jobs/%s", job.ID), nil
}

// judgeJob decides whether waiting is over: done, failed (a *JobError), or
// not yet. fetched is true once the job has been read back from the API. A
// challenge the caller has just answered (RespondMFA marks it on the job it
// returns) is not reported again while the API still shows it: its step
// counts as running, and the steps after it are judged as usual.
func judgeJob(job *Job, untilStep string, fetched bool) (bool, error) {
	if len(job.Steps) == 0 {
		if fetched {
			return false, fmt.Errorf("%w: job %s has no steps", ErrInvalidResponse, clean(job.ID, 100))
		}
		return false, nil
	}
	allDone := true
	for _, st := range job.Steps {
		switch {
		case st.Status == StepStatusFailed:
			return false, newJobError(job.ID, st)
		case !st.Status.Known():
			return false, fmt.Errorf("%w: job %s step %q has unknown status %q", ErrInvalidResponse, clean(job.ID, 100), clean(st.Title, 100), clean(string(st.Status), 100))
		case fetched && mfaChallenge(job.ID, st) != nil:
			// Only a job read back counts: the job passed in may predate
			// the answer the caller just gave.
			if ch := mfaChallenge(job.ID, st); job.answeredMFA == "" || ch.fingerprint() != job.answeredMFA {
				return false, ch
			}
			allDone = false
		case untilStep != "" && st.Title == untilStep && st.Status.Done():
			return true, nil
		case !st.Status.Done():
			allDone = false
		}
	}
	return allDone, nil
}

// forgetAnswered ends the memory of the challenge just answered once a
// polled job no longer shows it, so the same challenge shown again later is
// reported.
func forgetAnswered(job *Job) {
	if job.answeredMFA == "" {
		return
	}
	for _, st := range job.Steps {
		if ch := mfaChallenge(job.ID, st); ch != nil && ch.fingerprint() == job.answeredMFA {
			return
		}
	}
	job.answeredMFA = ""
}

// pendingChallenge returns the fingerprint of the challenge a job waits on,
// or "".
func pendingChallenge(job *Job) string {
	for _, st := range job.Steps {
		if ch := mfaChallenge(job.ID, st); ch != nil {
			return ch.fingerprint()
		}
	}
	return ""
}

// fingerprint identifies a challenge by what it asks.
func (e *MFAChallenge) fingerprint() string {
	return strings.Join(append([]string{e.Step, e.Method, e.Description, e.ResponseURL}, e.Questions...), "\x00")
}

// mfaChallenge returns the challenge a step waits on, or nil.
func mfaChallenge(jobID string, st Step) *MFAChallenge {
	r := st.Result
	if r == nil || r.Type != "mfa" || st.Status.Done() || st.Status == StepStatusFailed {
		return nil
	}
	return &MFAChallenge{
		JobID:       jobID,
		Step:        st.Title,
		Method:      r.Method,
		Description: r.Description,
		Questions:   r.Questions,
		Expiry:      time.Duration(r.ExpiryMs) * time.Millisecond,
		ResponseURL: r.Links.Response,
	}
}

func newJobError(jobID string, st Step) *JobError {
	e := &JobError{JobID: jobID, Step: st.Title}
	if r := st.Result; r != nil {
		e.Code, e.Title, e.Detail = r.Code, r.Title, r.Detail
	}
	return e
}

// stepsChanged reports whether any step appeared or changed status.
func stepsChanged(prev, next *Job) bool {
	return !slices.EqualFunc(prev.Steps, next.Steps, func(a, b Step) bool {
		return a.Title == b.Title && a.Status == b.Status
	})
}

// jitter spreads d by up to ±10%, so that many waiters do not poll in step.
func jitter(d time.Duration) time.Duration {
	spread := d / 10
	if spread <= 0 {
		return d
	}
	return d - spread + rand.N(2*spread+1)
}

// between returns a random duration in [lo, hi].
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// sleepCtx waits for d or until ctx is done, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// A schedule decides how long WaitForJob sleeps before its next poll. It is
// told each job it fetched and whether a step changed.
type schedule interface {
	next(now time.Time, job *Job, changed bool) time.Duration
}

// backoffSchedule polls from min, growing by half while nothing changes, up to
// max; a change brings it back to min. It is used when the caller sets
// WithPollInterval.
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

// timedSteps are the steps whose durations institutions publish and the
// schedule learns, in the order they run.
var timedSteps = [...]string{StepVerifyCredentials, StepRetrieveAccounts, StepRetrieveTransactions}

// stepIndex returns title's index in timedSteps, or -1.
func stepIndex(title string) int {
	for i, t := range timedSteps {
		if t == title {
			return i
		}
	}
	return -1
}

// sanePublished converts published averages (milliseconds) to durations,
// dropping what no step takes (zero, negative, not a number, or more than
// longestStep): such a step counts as unpublished. It returns nil when
// nothing is left.
func sanePublished(d *StepDurations) *[3]time.Duration {
	if d == nil {
		return nil
	}
	var out [3]time.Duration
	ok := false
	for i, ms := range []float64{d.VerifyCredentials, d.RetrieveAccounts, d.RetrieveTransactions} {
		if !(ms > 0) || ms > float64(longestStep/time.Millisecond) {
			continue // zero, negative, NaN, or more than any bank takes
		}
		out[i] = time.Duration(ms * float64(time.Millisecond))
		ok = ok || out[i] > 0
	}
	if !ok {
		return nil
	}
	return &out
}

// Uncertainties of the estimate, as sigmas of natural logarithms.
const (
	// stepSigma: how much one step's duration varies around its bank's
	// typical duration.
	stepSigma = 0.35
	// minSeen is how many observations of a step the client needs before it
	// trusts them over the published averages.
	minSeen = 3
)

// defaultStep is what a step is assumed to take with nothing published nor
// seen.
var defaultStep = [3]time.Duration{3 * time.Second, 3 * time.Second, 5250 * time.Millisecond}

// estimateSchedule is WaitForJob's default schedule. It polls about every
// second while verify-credentials or mfa-challenge runs. After that it keeps
// a log-normal estimate of when the job ends and sleeps until the chance
// that the job ended meanwhile reaches lateRisk, or about half a second
// where it probably ends. The estimate's median is the
// remaining steps' typical durations (seen at this bank, or published, or a
// default) times the job's pace, learnt from the steps it watched; its
// spread shrinks as the pace is learnt. A job that runs past its estimate
// has a growing chance of ending at any moment, so polling tightens by
// itself.
type estimateSchedule struct {
	begin     time.Time
	untilStep string
	rng       *rand.Rand
	// fresh: the job had no steps when the wait began, so it had just
	// been started.
	fresh bool

	// What is known of the bank: published durations (sane), what this
	// client saw there; bank is its id once resolved.
	published *[3]time.Duration
	seen      seenStats
	bank      string
	resolved  bool

	// The watch: the previous poll, the step running then, and the bracket
	// in which that step started (lo == hi when known exactly, zero when
	// unknown).
	last             time.Time
	polls            int
	running          string
	startLo, startHi time.Time
	// observed[i] is timedSteps[i]'s duration as watched, with the width
	// of the uncertainty; zero when not watched.
	observed [3]time.Duration
	obsWidth [3]time.Duration
}

func newEstimateSchedule(now time.Time, job *Job, untilStep string) *estimateSchedule {
	// The jitter comes from the job and the instant the wait began: waits
	// on different jobs, or begun at different times, spread apart, and a
	// simulation on a fake clock repeats exactly.
	h := fnv.New64a()
	_, _ = h.Write([]byte(job.ID))
	return &estimateSchedule{begin: now, last: now, untilStep: untilStep, fresh: len(job.Steps) == 0,
		rng: rand.New(rand.NewPCG(uint64(now.UnixNano()), h.Sum64()))}
}

func (e *estimateSchedule) setPrior(p *[3]time.Duration) { e.published = p }

// needsInstitution reports whether the schedule would use what is known of
// the job's bank: once the job is past verify-credentials.
func (e *estimateSchedule) needsInstitution(job *Job) bool {
	r := runningStep(job)
	return r != "" && r != StepVerifyCredentials && r != StepMFAChallenge
}

// runningStep returns the title of the first step not done, "" when all are
// done, or verify-credentials for a job not fetched yet.
func runningStep(job *Job) string {
	if len(job.Steps) == 0 {
		return StepVerifyCredentials
	}
	for _, st := range job.Steps {
		if !st.Status.Done() {
			return st.Title
		}
	}
	return ""
}

// Where a step's typical duration comes from, most trusted first.
const (
	srcSeen      = iota // this client's recent jobs at the bank
	srcPublished        // the bank's published averages, or WithExpectedDurations
	srcDefault          // nothing known
)

// typical returns step i's typical duration and where it comes from. All
// steps come from one source, so that a pace learnt against one applies to
// the others: what this client saw at the bank once it saw every step
// minSeen times, else the published averages (a step left out falls back to
// the default), else the defaults.
func (e *estimateSchedule) typical(i int) (time.Duration, int) {
	if i < 0 {
		return defaultStep[1], srcDefault
	}
	seenAll := true
	for k := range timedSteps {
		if _, n := e.seen.median(k); n < minSeen {
			seenAll = false
		}
	}
	switch {
	case seenAll:
		d, _ := e.seen.median(i)
		return d, srcSeen
	case e.published != nil && e.published[i] > 0:
		return e.published[i], srcPublished
	case e.published != nil:
		return defaultStep[i], srcPublished
	}
	return defaultStep[i], srcDefault
}

// A paceComponent is one part of the prior on the log of a job's pace
// against the typical durations: a normal of mean 0 and this sigma, with
// this weight.
type paceComponent struct{ weight, sigma float64 }

// pacePriors are the priors per source: durations seen or published are
// most often about right (the first component), sometimes far off (the
// second: a bank whose averages are wrong, or absurd). With nothing known,
// the defaults are a typical bank's, and a job, taking 3-30 s in all, is
// most often within a factor of two of them, sometimes far off.
var pacePriors = [...][]paceComponent{
	srcSeen:      {{0.85, 0.2}, {0.15, 1.5}},
	srcPublished: {{0.7, 0.4}, {0.3, 2.5}},
	srcDefault:   {{0.7, 0.6}, {0.3, 2.5}},
}

// pacePosterior returns the law of the log pace given the observations xs
// (log of watched over typical durations) with noise variances vs, under
// the mixture prior: each component is updated and weighed by how well it
// explains the observations.
func pacePosterior(prior []paceComponent, xs, vs []float64) []pacePart {
	var q, sum, prec float64
	for i, x := range xs {
		q += x * x / vs[i]
		sum += x / vs[i]
		prec += 1 / vs[i]
	}
	parts := make([]pacePart, len(prior))
	best := math.Inf(-1)
	for k, c := range prior {
		p := 1/(c.sigma*c.sigma) + prec
		parts[k] = pacePart{
			w:        math.Log(c.weight) - 0.5*(q-sum*sum/p) - 0.5*math.Log(c.sigma*c.sigma*p),
			mean:     sum / p,
			variance: 1 / p,
		}
		best = max(best, parts[k].w)
	}
	var wsum float64
	for k := range parts {
		parts[k].w = math.Exp(parts[k].w - best)
		wsum += parts[k].w
	}
	for k := range parts {
		parts[k].w /= wsum
	}
	return parts
}

// pacePart is one component of the law of a job's log pace: weight, mean
// and variance.
type pacePart struct{ w, mean, variance float64 }

func (e *estimateSchedule) next(now time.Time, job *Job, _ bool) time.Duration {
	running := runningStep(job)
	if e.polls == 0 && len(job.Steps) > 0 {
		// The first look at the job. A job that had no steps when the wait
		// began came straight from the POST that started it: its first
		// step started about when the wait began. So did a first step
		// still running.
		e.running = running
		e.startLo, e.startHi = time.Time{}, time.Time{}
		if first := job.Steps[0]; e.fresh || first.Title == running {
			e.running = first.Title
			e.startLo, e.startHi = e.begin, e.begin
		}
	}
	if len(job.Steps) > 0 {
		e.polls++
	}
	if running != e.running {
		// The running step changed between the previous poll and now. A
		// step watched from start to end gives its duration.
		if i := stepIndex(e.running); i >= 0 && !e.startLo.IsZero() && e.stepEnded(job, e.running) {
			lo, hi := e.last.Sub(e.startHi), now.Sub(e.startLo)
			if lo < 0 {
				lo = 0
			}
			e.observed[i], e.obsWidth[i] = (lo+hi)/2, hi-lo
		}
		e.startLo, e.startHi = e.last, now
		e.running = running
	}
	e.last = now

	if running == StepVerifyCredentials || running == StepMFAChallenge || running == "" {
		return between(e.rng, fastPollMin, fastPollMax)
	}
	return e.sleep(now, job, running)
}

// stepEnded reports whether the step with this title is done in job.
func (e *estimateSchedule) stepEnded(job *Job, title string) bool {
	st := job.Step(title)
	return st != nil && st.Status.Done()
}

// sleep chooses the sleep after verify-credentials: the longest that keeps
// the chance of the job ending meanwhile under lateRisk, or the dense
// interval where the job probably ends.
func (e *estimateSchedule) sleep(now time.Time, job *Job, running string) time.Duration {
	law := e.remaining(job, running)
	// The running step started in [startLo, startHi]; when that is unknown
	// (it ran before the wait began), at the wait's start.
	start := e.begin
	if !e.startLo.IsZero() {
		start = e.startLo.Add(e.startHi.Sub(e.startLo) / 2)
	}
	elapsed := max(now.Sub(start).Seconds(), 1e-3)
	d := riskySleep(between(e.rng, densePollMin, densePollMax), elapsed, law)
	// Estimates from published or default durations are trusted only as
	// far as the job has been watched: a sleep never exceeds the watch so
	// far (at least trustFloor), so a wrong estimate costs little delay.
	watched := now.Sub(e.begin)
	if !e.startLo.IsZero() {
		watched = max(watched, now.Sub(e.startLo))
	}
	return min(d, max(watched, trustFloor))
}

// riskySleep chooses a sleep when the remaining duration, counted from the
// running step's start, follows law and elapsed seconds have passed without
// the job ending. Where the job's chance of ending soon (its hazard rate h)
// is low the sleep is long: sqrt(2*pollCost/h), which balances the expected
// delay against the cost of a poll. It never lets the chance of ending
// meanwhile pass lateRisk, nor the chance of ending more than tailLag before
// the next poll pass tailRisk (under a law widened by tailWiden, as
// estimates err more than they think); once the law's median has passed it
// stays within lateSleep. A sleep these bounds cut under denseBelow, where
// the job probably ends, becomes dense.
func riskySleep(dense time.Duration, elapsed float64, law endLaw) time.Duration {
	surv := law.surv(elapsed)
	if !(surv > 1e-9) {
		return dense
	}
	hazard := law.density(elapsed) / surv
	d := math.Sqrt(2 * pollCost / max(hazard, 1e-12))
	d = min(d, law.reach((1-lateRisk)*surv, elapsed)-elapsed)
	wide := law.widen(tailWiden)
	d = min(d, wide.reach((1-tailRisk)*wide.surv(elapsed), elapsed)-elapsed+tailLag.Seconds())
	if elapsed > law.reach(0.5, 0) {
		d = min(d, lateSleep.Seconds())
	}
	if math.IsNaN(d) || d > longestSleep.Seconds() {
		return longestSleep
	}
	if d < denseBelow.Seconds() {
		return dense
	}
	return time.Duration(d * float64(time.Second))
}

// endLaw is a mixture of log-normal laws of a duration in seconds.
type endLaw []lognormal

// lognormal is one part of an endLaw: weight w, and the mean and sigma of
// the log.
type lognormal struct{ w, mu, sigma float64 }

// surv is the chance the duration exceeds x.
func (l endLaw) surv(x float64) float64 {
	lx := math.Log(x)
	var s float64
	for _, c := range l {
		s += c.w * 0.5 * math.Erfc((lx-c.mu)/(c.sigma*math.Sqrt2))
	}
	return s
}

// density is the law's probability density at x.
func (l endLaw) density(x float64) float64 {
	lx := math.Log(x)
	var f float64
	for _, c := range l {
		z := (lx - c.mu) / c.sigma
		f += c.w * math.Exp(-z*z/2) / (math.Sqrt(2*math.Pi) * c.sigma * x)
	}
	return f
}

// widen returns the law with every sigma multiplied by f.
func (l endLaw) widen(f float64) endLaw {
	out := make(endLaw, len(l))
	for i, c := range l {
		out[i] = lognormal{c.w, c.mu, c.sigma * f}
	}
	return out
}

// reach returns the duration, at least from, at which the chance of
// exceeding it falls to s, by bisection on its log.
func (l endLaw) reach(s, from float64) float64 {
	lo := math.Log(max(from, 1e-3))
	if l.surv(math.Exp(lo)) <= s {
		return math.Exp(lo)
	}
	hi := lo
	for _, c := range l {
		hi = max(hi, c.mu+10*c.sigma)
	}
	for range 60 {
		mid := (lo + hi) / 2
		if l.surv(math.Exp(mid)) > s {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp(hi)
}

// remaining estimates, from its start, how long the running step and the
// steps after it (up to WithUntilStep's) take: one log-normal law per
// component of the job's pace.
func (e *estimateSchedule) remaining(job *Job, running string) endLaw {
	// The job's pace against the typical durations, from the steps it was
	// watched through.
	var xs, vs []float64
	weakest := srcSeen
	for i := range timedSteps {
		typ, src := e.typical(i)
		weakest = max(weakest, src)
		if e.observed[i] <= 0 || typ <= 0 {
			continue
		}
		obs := e.observed[i].Seconds()
		xs = append(xs, math.Log(obs/typ.Seconds()))
		vs = append(vs, stepSigma*stepSigma+math.Pow(e.obsWidth[i].Seconds()/max(obs, 0.1), 2)/12)
	}
	paces := pacePosterior(pacePriors[weakest], xs, vs)

	var total, spread float64
	counting := false
	titles := stepTitles(job)
	for _, title := range titles {
		if title == running {
			counting = true
		}
		if !counting {
			continue
		}
		if st := job.Step(title); st != nil && st.Status.Done() {
			continue
		}
		typ, _ := e.typical(stepIndex(title))
		if title == StepMFAChallenge {
			typ = 0
		}
		s := typ.Seconds()
		total += s
		spread += math.Pow(stepSigma*s, 2)
		if e.untilStep != "" && title == e.untilStep {
			break
		}
	}
	if total <= 0 {
		total, spread = defaultStep[2].Seconds(), math.Pow(stepSigma*defaultStep[2].Seconds(), 2)
	}
	stepVar := spread / (total * total)
	law := make(endLaw, len(paces))
	for i, p := range paces {
		mu := math.Log(total) + p.mean
		mu = min(max(mu, math.Log(0.1)), math.Log((3 * longestStep).Seconds()))
		law[i] = lognormal{w: p.w, mu: mu, sigma: math.Sqrt(p.variance + stepVar)}
	}
	return law
}

// stepTitles lists the job's step titles, or the connection steps for a job
// not fetched yet.
func stepTitles(job *Job) []string {
	if len(job.Steps) == 0 {
		return timedSteps[:]
	}
	titles := make([]string, len(job.Steps))
	for i, st := range job.Steps {
		titles[i] = st.Title
	}
	return titles
}

// remember records, in the client's memory of its bank, the durations of the
// steps this wait watched from start to end.
func (e *estimateSchedule) remember(m *waitMemory, now time.Time, job *Job) {
	e.next(now, job, false) // closes the step that just ended
	if e.bank == "" {
		return
	}
	for i, d := range e.observed {
		// Only durations watched closely enough teach something.
		if d > 0 && e.obsWidth[i] <= 2*fastPollMax {
			m.record(e.bank, i, d)
		}
	}
}

// Bounds of a client's memory of the jobs it waited on.
const (
	memoryBanks       = 64   // institutions remembered
	memorySamples     = 32   // durations remembered per step and institution
	memoryConnections = 4096 // connection -> institution entries
)

// waitMemory is what a Client remembers of the jobs it waited on, to
// schedule the next ones better: recent step durations per institution and
// the institution of each connection it met. Its size is bounded.
type waitMemory struct {
	mu    sync.Mutex
	banks map[string]*bankMemory
	conns map[string]string
	tick  uint64
}

// bankMemory holds an institution's recent step durations, per timed step,
// as rings.
type bankMemory struct {
	used    uint64
	samples [3][]time.Duration
	next    [3]int
}

// seenStats is a copy of what was seen at one bank.
type seenStats struct {
	samples [3][]time.Duration
}

// median returns the median of step i's durations and how many there are.
func (s seenStats) median(i int) (time.Duration, int) {
	n := len(s.samples[i])
	if n == 0 {
		return 0, 0
	}
	return s.samples[i][n/2], n
}

func newWaitMemory() *waitMemory {
	return &waitMemory{banks: map[string]*bankMemory{}, conns: map[string]string{}}
}

// seen returns a sorted copy of what was seen at bank.
func (m *waitMemory) seen(bank string) seenStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s seenStats
	if b := m.banks[bank]; b != nil {
		m.tick++
		b.used = m.tick
		for i := range b.samples {
			s.samples[i] = slices.Clone(b.samples[i])
			slices.Sort(s.samples[i])
		}
	}
	return s
}

// record adds a duration of step i at bank.
func (m *waitMemory) record(bank string, i int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.banks[bank]
	if b == nil {
		if len(m.banks) >= memoryBanks {
			// Forget the institution used least recently.
			var oldest string
			for id, ob := range m.banks {
				if oldest == "" || ob.used < m.banks[oldest].used {
					oldest = id
				}
			}
			delete(m.banks, oldest)
		}
		b = &bankMemory{}
		m.banks[bank] = b
	}
	m.tick++
	b.used = m.tick
	if len(b.samples[i]) < memorySamples {
		b.samples[i] = append(b.samples[i], d)
		return
	}
	b.samples[i][b.next[i]] = d
	b.next[i] = (b.next[i] + 1) % memorySamples
}

// institutionOf returns the institution remembered for a connection, or "".
func (m *waitMemory) institutionOf(connID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conns[connID]
}

// rememberConnection records a connection's institution.
func (m *waitMemory) rememberConnection(connID, instID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.conns[connID]; !ok && len(m.conns) >= memoryConnections {
		for id := range m.conns { // forget an arbitrary half
			if len(m.conns) < memoryConnections/2 {
				break
			}
			delete(m.conns, id)
		}
	}
	m.conns[connID] = instID
}

// maxConcurrentWaits bounds how many jobs one WaitForJobs call polls at once.
const maxConcurrentWaits = 8

// WaitForJobs waits for several jobs at once, such as the jobs the Consent
// UI started ([ConsentRedirect.JobIDs]), each with [Client.WaitForJob] and
// opts, at most 8 at a time. It returns each job's final state, in the order
// of jobIDs (a job whose wait ended early is the last state seen, nil if
// none was), and the first error met, in time: a failed job's *JobError, an
// [*MFAChallenge], an API error or the context's end. The other jobs' waits
// go on after one fails, so their jobs are still returned.
//
// An empty list, an id that no request could carry, and a bad option are
// refused before any request with an error matching [ErrValidation]. An id
// given twice is waited for once. With [WithProgress], fn is called from the
// waiting goroutines, one call at a time.
func (c *Client) WaitForJobs(ctx context.Context, jobIDs []string, opts ...WaitOption) ([]*Job, error) {
	if len(jobIDs) == 0 {
		return nil, &ValidationError{Field: "jobIds", Reason: "is required: give at least one job id"}
	}
	errs := make([]error, 0, len(jobIDs))
	for _, id := range jobIDs {
		errs = append(errs, checkID("jobIds", id))
	}
	var probe waitConfig
	for _, o := range opts {
		if o != nil {
			o(&probe)
		}
	}
	if err := joinValidation(append(errs, probe.errs...)); err != nil {
		return nil, err
	}
	// One progress call at a time, whichever job it reports.
	var progressMu sync.Mutex
	opts = append(slices.Clip(opts), func(w *waitConfig) {
		if fn := w.progress; fn != nil {
			w.progress = func(j *Job) {
				progressMu.Lock()
				defer progressMu.Unlock()
				fn(j)
			}
		}
	})

	first := map[string]int{} // id -> index of its first mention
	for i, id := range jobIDs {
		if _, ok := first[id]; !ok {
			first[id] = i
		}
	}
	jobs := make([]*Job, len(jobIDs))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, maxConcurrentWaits)
	)
	for id, i := range first {
		wg.Go(func() {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
				mu.Lock()
				if firstErr == nil {
					firstErr = errorf("waiting for job %s: %w", clean(id, 100), ctx.Err())
				}
				mu.Unlock()
				return
			}
			job, err := c.WaitForJob(ctx, &Job{ID: id}, opts...)
			mu.Lock()
			defer mu.Unlock()
			if job != nil && len(job.Steps) > 0 { // a state read from the API
				jobs[i] = job
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	for i, id := range jobIDs {
		jobs[i] = jobs[first[id]]
	}
	return jobs, firstErr
}
