package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JobsService reads jobs: the background work that creating, refreshing or
// updating a connection starts.
type JobsService service

// StepStatus is the state of one step of a job.
type StepStatus string

// The step statuses the API uses.
const (
	StepPending    StepStatus = "pending"
	StepInProgress StepStatus = "in-progress"
	StepSuccess    StepStatus = "success"
	StepFailed     StepStatus = "failed"
	// StepSkipped: the step was not needed (an mfa-challenge the bank did not
	// ask for). It counts as done.
	StepSkipped StepStatus = "skipped"
)

// Known reports whether s is one of the statuses this library understands.
func (s StepStatus) Known() bool {
	switch s {
	case StepPending, StepInProgress, StepSuccess, StepFailed, StepSkipped:
		return true
	}
	return false
}

// Done reports whether the step finished without failing.
func (s StepStatus) Done() bool { return s == StepSuccess || s == StepSkipped }

// The step titles of a connection job, in the order they run. Steps are always
// looked up by title: some institutions add an mfa-challenge step.
const (
	StepVerifyCredentials    = "verify-credentials"
	StepMFAChallenge         = "mfa-challenge"
	StepRetrieveAccounts     = "retrieve-accounts"
	StepRetrieveTransactions = "retrieve-transactions"
	StepRetrieveStatements   = "retrieve-statements"
)

// Job is the background work behind a connection change, as GET /jobs/{id}
// answers. A job from [ConnectionsService.Create] carries only its id and links
// until it is fetched again; [Client.WaitForJob] does that.
type Job struct {
	// ID is the job's id.
	ID string `json:"id"`
	// Created and Updated are zero when the API does not give them.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Steps are the job's steps in the order they run.
	Steps []Step `json:"steps"`
	// Links are the job's own URL and its connection's URL.
	Links JobLinks `json:"links"`
	// Institution names the connection's institution; the API gives it on
	// the jobs of [JobsService.List].
	Institution *InstitutionRef `json:"institution,omitempty"`
	// Reused is true when the API answered 200 instead of 202: a job for this
	// connection was already queued or running, and this is that job.
	Reused bool `json:"-"`

	// expected are the institution's published step durations and
	// startedAt about when the job started, for WaitForJob's schedule; set
	// by ConnectionsService.Create.
	expected  *StepDurations
	startedAt time.Time
}

// JobLinks are the links of a job.
type JobLinks struct {
	// Self is the job's URL.
	Self string `json:"self,omitempty"`
	// Source is the URL of the connection the job works on; empty for some
	// kinds of job.
	Source string `json:"source,omitempty"`
}

// Step is one step of a job.
type Step struct {
	// Title names the step, such as [StepVerifyCredentials].
	Title string `json:"title"`
	// Status is the step's state.
	Status StepStatus `json:"status"`
	// Result is what the step produced: a link, an error or an MFA challenge;
	// nil while there is none.
	Result *StepResult `json:"result"`
}

// StepResult is the result of a step. The API sends it as null, an object or
// an array of objects; all three decode into a StepResult whose fields are
// those of the first object (for a failed step, the first object carrying an
// error code), with every object of an array in Items.
type StepResult struct {
	// Type is "link", "mfa", or empty for an error.
	Type string `json:"type,omitempty"`
	// URL is the link of a "link" result.
	URL string `json:"url,omitempty"`
	// Code, Title and Detail describe an error result ("details" in some
	// versions of the API is read into Detail).
	Code   string `json:"code,omitempty"`
	Title  string `json:"title,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Method, Description, Questions, ExpiryMs and Links describe an "mfa"
	// result: the challenge the bank sets; see [MFAChallenge].
	Method      string   `json:"method,omitempty"`
	Description string   `json:"description,omitempty"`
	Questions   []string `json:"questions,omitempty"`
	ExpiryMs    int64    `json:"expiryMs,omitempty"`
	Links       struct {
		// Response is where the answer goes: POST /jobs/{id}/mfa.
		Response string `json:"response,omitempty"`
	} `json:"links"`
	// Items holds every object when the API sent an array.
	Items []StepResult `json:"items,omitempty"`
}

// UnmarshalJSON decodes a null, an object or an array of objects. An array
// holding anything but objects (or nulls) is refused: the API never sends
// one, and refusing it keeps decoding to one pass however deep a hostile
// answer nests.
func (r *StepResult) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*r = StepResult{}
		return nil
	case b[0] == '[':
		var wires []stepResultWire
		if err := json.Unmarshal(b, &wires); err != nil {
			return err
		}
		items := make([]StepResult, len(wires))
		for i := range wires {
			items[i] = wires[i].result()
		}
		*r = StepResult{}
		if i := slices.IndexFunc(items, func(it StepResult) bool { return it.Code != "" }); i >= 0 {
			*r = items[i] // an error explains the step best
		} else if i := slices.IndexFunc(items, func(it StepResult) bool { return it.Type == "mfa" }); i >= 0 {
			*r = items[i] // then a challenge, which the waiter must see
		} else if len(items) > 0 {
			*r = items[0]
		}
		r.Items = items
		return nil
	}
	var one stepResultWire
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*r = one.result()
	return nil
}

// maxExpiryMs is the longest MFA expiry read (a year); a longer one is
// ignored, so that Expiry never overflows a time.Duration.
const maxExpiryMs = 365 * 24 * 3600 * 1000

// stepResultWire is one result object as the API writes it. It has no
// decoder of its own, so an array of them decodes in a single pass.
type stepResultWire struct {
	Type        string            `json:"type"`
	URL         string            `json:"url"`
	Code        string            `json:"code"`
	Title       string            `json:"title"`
	Detail      string            `json:"detail"`
	Details     string            `json:"details"`
	Method      string            `json:"method"`
	Description string            `json:"description"`
	Input       []json.RawMessage `json:"input"`
	ExpiryMs    json.RawMessage   `json:"expiryMs"`
	Links       struct {
		Response string `json:"response"`
	} `json:"links"`
}

func (w *stepResultWire) result() StepResult {
	r := StepResult{Type: w.Type, URL: w.URL, Code: w.Code, Title: w.Title, Detail: w.Detail,
		Method: w.Method, Description: w.Description}
	if r.Detail == "" {
		r.Detail = w.Details
	}
	// expiryMs may be a number or a numeric string; anything else is ignored.
	if len(w.ExpiryMs) > 0 {
		if f, err := strconv.ParseFloat(strings.Trim(string(w.ExpiryMs), `"`), 64); err == nil && f > 0 && f <= maxExpiryMs {
			r.ExpiryMs = int64(f)
		}
	}
	r.Links.Response = w.Links.Response
	for _, in := range w.Input {
		if q := questionOf(in); q != "" {
			r.Questions = append(r.Questions, q)
		}
	}
	return r
}

// questionOf reads one MFA input: a bare string, or an object whose
// question, label, title or description names what to enter.
func questionOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct{ Question, Label, Title, Description string }
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	for _, q := range []string{obj.Question, obj.Label, obj.Title, obj.Description} {
		if q != "" {
			return q
		}
	}
	return ""
}

// UnmarshalJSON reads the timestamps leniently: a missing, empty or unusual
// timestamp leaves the field zero rather than failing the whole job. The
// institution may be an id or an object with one.
func (j *Job) UnmarshalJSON(b []byte) error {
	var w jobWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*j = w.job()
	return nil
}

// jobWire is a job as the API writes it. Decoding into it directly (rather
// than into a Job, whose UnmarshalJSON decodes again) saves a pass over the
// body on every poll.
type jobWire struct {
	ID          string      `json:"id"`
	Created     lenientTime `json:"created"`
	Updated     lenientTime `json:"updated"`
	Steps       []Step      `json:"steps"`
	Links       JobLinks    `json:"links"`
	Institution flexID      `json:"institution"`
}

func (w *jobWire) job() Job {
	j := Job{ID: w.ID, Created: w.Created.Time, Updated: w.Updated.Time, Steps: w.Steps, Links: w.Links}
	if w.Institution != "" {
		j.Institution = &InstitutionRef{ID: string(w.Institution)}
	}
	return j
}

// Step returns the step with this title, or nil. Steps are found by title,
// never by position.
func (j *Job) Step(title string) *Step {
	for i := range j.Steps {
		if j.Steps[i].Title == title {
			return &j.Steps[i]
		}
	}
	return nil
}

// ConnectionID returns the id of the connection the job works on: the last
// path segment of Links.Source, or "" if the job has no source link.
func (j *Job) ConnectionID() string {
	return lastSegment(j.Links.Source)
}

func lastSegment(link string) string {
	if link == "" {
		return ""
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	seg := p[strings.LastIndex(p, "/")+1:]
	if s, err := url.PathUnescape(seg); err == nil {
		return s
	}
	return seg
}

// Get returns a job: GET /jobs/{id}.
func (s *JobsService) Get(ctx context.Context, jobID string) (*Job, error) {
	if err := checkID("jobId", jobID); err != nil {
		return nil, err
	}
	return s.get(ctx, pathf("jobs/%s", jobID))
}

// get fetches the job at path, a path relative to the base URL or a link on
// its origin.
func (s *JobsService) get(ctx context.Context, path string) (*Job, error) {
	var w jobWire
	if err := s.client.get(ctx, path, &w); err != nil {
		return nil, err
	}
	job := w.job()
	return &job, nil
}

// postJob sends a POST that starts a job. The API answers 202 with a new job,
// or 200 with the job already queued or running for the same connection
// (Reused); because of that rule a repeat meets the running job instead of
// starting a second one, so a POST without credentials (Refresh) is retried
// like a read. secrets are the body's secret values (the customer's bank
// credentials), masked in any error answer that quotes them; a body holding
// any is repeated only under the stricter rules of [withCredentialRetry],
// since a repeat that arrives after the job ended is another login at the
// bank.
func (c *Client) postJob(ctx context.Context, path string, body any, secrets ...string) (*Job, error) {
	req, err := c.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(secrets, func(s string) bool { return s != "" }) {
		req = withCredentialRetry(req)
	} else {
		req = withRetry(req)
	}
	job := new(Job)
	resp, err := c.do(withSecrets(req, secrets...), job)
	if err != nil {
		return nil, err
	}
	job.Reused = resp.StatusCode == http.StatusOK
	return job, nil
}

// Default bounds of the wait between polls in WaitForJob.
const (
	defaultPollMin = time.Second
	defaultPollMax = 5 * time.Second
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
//     passes;
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
// When to poll: a job from [ConnectionsService.Create] carries its
// institution's published step durations (stats.averageDurationMs; or give
// them with [WithExpectedDurations]). WaitForJob then estimates when the job
// will end from which step is running and when it started, sleeps through
// the time it cannot be near its end, polls every 450 ms inside the window
// where it most likely ends, then about every second if it runs late. This
// needs under half the requests of polling every second, with a shorter
// median delay (see BENCHMARKS.md). Without durations, or with
// [WithPollInterval], polls start min apart (default 1 s) and back off, with
// jitter, towards max (default 5 s) while no step changes; a change brings
// the interval back to min.
func (c *Client) WaitForJob(ctx context.Context, job *Job, opts ...WaitOption) (*Job, error) {
	cfg := waitConfig{minInterval: defaultPollMin, maxInterval: defaultPollMax}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.err != nil {
		return job, cfg.err
	}
	if job == nil {
		return nil, &ValidationError{Field: "job", Reason: "required"}
	}
	path, err := c.jobPath(job)
	if err != nil {
		return job, err
	}

	var sched schedule = &backoffSchedule{min: cfg.minInterval, max: cfg.maxInterval}
	if !cfg.fixedBounds {
		expected, start := job.expected, job.startedAt
		if cfg.expected != nil {
			expected = cfg.expected
		}
		if start.IsZero() {
			start = time.Now()
		}
		if es := newExpectedSchedule(expected, start); es != nil {
			sched = es
		}
	}
	current, polled, changed := job, false, false
	for {
		if polled || len(current.Steps) > 0 {
			done, err := judgeJob(current, cfg.untilStep, polled)
			if polled {
				err = c.mfa.observe(current.ID, err)
			}
			if done || err != nil {
				return current, err
			}
		}
		if err := sleepCtx(ctx, sched.next(time.Now(), current, changed)); err != nil {
			return current, fmt.Errorf("basiq: waiting for job %s: %w", current.ID, err)
		}
		next, err := c.Jobs.get(ctx, path)
		if err != nil {
			return current, fmt.Errorf("basiq: waiting for job %s: %w", current.ID, err)
		}
		if next.ID == "" {
			next.ID = current.ID
		}
		next.Reused = current.Reused
		changed = stepsChanged(current, next)
		if changed && cfg.progress != nil {
			cfg.progress(next)
		}
		current, polled = next, true
	}
}

// jobPath is where WaitForJob polls a job: its own link when that is under
// the base URL (origin and path prefix), otherwise /jobs/{id}.
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
// not yet. fetched is true once the job has been read back from the API.
func judgeJob(job *Job, untilStep string, fetched bool) (bool, error) {
	if len(job.Steps) == 0 {
		if fetched {
			return false, fmt.Errorf("%w: job %s has no steps", ErrInvalidResponse, job.ID)
		}
		return false, nil
	}
	allDone := true
	for _, st := range job.Steps {
		switch {
		case st.Status == StepFailed:
			return false, newJobError(job.ID, st)
		case !st.Status.Known():
			return false, fmt.Errorf("%w: job %s step %q has unknown status %q", ErrInvalidResponse, job.ID, st.Title, st.Status)
		case fetched && mfaChallenge(job.ID, st) != nil:
			// Only a job read back counts: the job passed in may predate
			// the answer the caller just gave.
			return false, mfaChallenge(job.ID, st)
		case untilStep != "" && st.Title == untilStep && st.Status.Done():
			return true, nil
		case !st.Status.Done():
			allDone = false
		}
	}
	return allDone, nil
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

func (x *Job) resourceID() string { return x.ID }

func (w *jobWire) resourceID() string { return w.ID }
