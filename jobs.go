package basiq

import (
	"bytes"
	"context"
	"encoding/json"
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
	// StepStatusPending: the step has not started.
	StepStatusPending StepStatus = "pending"
	// StepStatusInProgress: the step is running (an mfa-challenge step
	// waits for the customer's answer in this state).
	StepStatusInProgress StepStatus = "in-progress"
	// StepStatusSuccess: the step finished.
	StepStatusSuccess StepStatus = "success"
	// StepStatusFailed: the step failed; its result says why.
	StepStatusFailed StepStatus = "failed"
	// StepStatusSkipped: the step was not needed (an mfa-challenge the bank
	// did not ask for). It counts as done.
	StepStatusSkipped StepStatus = "skipped"
)

// The step statuses under their first names, which read like step titles.
//
// Deprecated: use the StepStatus... names, such as [StepStatusSuccess].
const (
	StepPending    = StepStatusPending
	StepInProgress = StepStatusInProgress
	StepSuccess    = StepStatusSuccess
	StepFailed     = StepStatusFailed
	StepSkipped    = StepStatusSkipped
)

// Known reports whether s is one of the statuses this library understands.
func (s StepStatus) Known() bool {
	switch s {
	case StepStatusPending, StepStatusInProgress, StepStatusSuccess, StepStatusFailed, StepStatusSkipped:
		return true
	}
	return false
}

// Done reports whether the step finished without failing.
func (s StepStatus) Done() bool { return s == StepStatusSuccess || s == StepStatusSkipped }

// StepTitle names the step titles; an alias so Step.Title and
// WithUntilStep keep their string signatures.
type StepTitle = string

// The step titles of a connection job, in the order they run (a Step's
// Title; its state is a [StepStatus]). Steps are always looked up by title:
// some institutions add an mfa-challenge step.
const (
	StepVerifyCredentials    StepTitle = "verify-credentials"
	StepMFAChallenge         StepTitle = "mfa-challenge"
	StepRetrieveAccounts     StepTitle = "retrieve-accounts"
	StepRetrieveTransactions StepTitle = "retrieve-transactions"
	StepRetrieveStatements   StepTitle = "retrieve-statements"
)

// Job is the background work behind a connection change, as GET /jobs/{id}
// answers. A job from [ConnectionsService.Create] carries only its id and links
// until it is fetched again; [Client.WaitForJob] does that.
type Job struct {
	// ID is the job's id.
	ID string `json:"id"`
	// JobType is the kind of job, as API version 3.0 gives it
	// ("connection", "statement", "report", ...); empty on 2.x.
	JobType string `json:"jobType,omitempty"`
	// Created and Updated are zero when the API does not give them.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Steps are the job's steps in the order they run.
	Steps []Step `json:"steps"`
	// Links are the job's own URL and its connection's URL.
	Links JobLinks `json:"links"`
	// Institution names the connection's institution. The API gives it on
	// the jobs of [JobsService.List]; [ConnectionsService.Create] sets it;
	// [Client.WaitForJob] uses it to plan its polls, and keeps it on the
	// jobs it returns.
	Institution *InstitutionRef `json:"institution,omitempty"`
	// Reused is true when the API answered 200 instead of 202: a job for this
	// connection was already queued or running, and this is that job.
	Reused bool `json:"-"`

	// answeredMFA identifies the challenge RespondMFA just answered, so
	// that WaitForJob does not report it again while the API still shows
	// it. It is one string per job: it cannot grow.
	answeredMFA string
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
	JobType     string      `json:"jobType"`
	Created     lenientTime `json:"created"`
	Updated     lenientTime `json:"updated"`
	Steps       []Step      `json:"steps"`
	Links       JobLinks    `json:"links"`
	Institution flexID      `json:"institution"`
}

func (w *jobWire) job() Job {
	j := Job{ID: w.ID, JobType: w.JobType, Created: w.Created.Time, Updated: w.Updated.Time, Steps: w.Steps, Links: w.Links}
	if w.Institution != "" {
		j.Institution = &InstitutionRef{ID: string(w.Institution)}
	}
	return j
}

// Step returns the step with this title, or nil. Steps are found by title,
// never by position.
func (j *Job) Step(title string) *Step {
	if j == nil {
		return nil
	}
	for i := range j.Steps {
		if j.Steps[i].Title == title {
			return &j.Steps[i]
		}
	}
	return nil
}

// ConnectionID returns the id of the connection the job works on: the last
// path segment of Links.Source, or "" if the job has no source link. A job
// straight from [ConnectionsService.Create] has none yet (the API answers
// with the job's id and self link only): wait for it with
// [Client.WaitForJob] first, which returns the job as the API reads it.
func (j *Job) ConnectionID() string {
	if j == nil {
		return ""
	}
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
	var a jobAnswer
	if _, err := s.client.call(ctx, http.MethodGet, path, nil, &a); err != nil {
		return nil, err
	}
	job := a.job()
	return &job, nil
}

// jobAnswer is a job answer, decoded on the fast path into plain, or
// leniently into wire (see [plainDecodeSafe]).
type jobAnswer struct {
	plain   jobPlain
	wire    jobWire
	lenient bool
}

// jobPlain is a job whose step results decode as plain objects.
type jobPlain struct {
	ID          string      `json:"id"`
	JobType     string      `json:"jobType"`
	Created     lenientTime `json:"created"`
	Updated     lenientTime `json:"updated"`
	Steps       []stepPlain `json:"steps"`
	Links       JobLinks    `json:"links"`
	Institution flexID      `json:"institution"`
}

// stepPlain is a step whose result, if any, is one object.
type stepPlain struct {
	Title  string          `json:"title"`
	Status StepStatus      `json:"status"`
	Result *stepResultWire `json:"result"`
}

func (a *jobAnswer) decodeAnswer(body []byte) error {
	if json.Unmarshal(body, &a.plain) == nil {
		objects := 0
		for i := range a.plain.Steps {
			if a.plain.Steps[i].Result != nil {
				objects++
			}
		}
		if plainDecodeSafe(body, "result", objects) {
			return nil
		}
	}
	a.lenient = true
	return json.Unmarshal(body, &a.wire)
}

func (a *jobAnswer) resourceID() string {
	if a.lenient {
		return a.wire.ID
	}
	return a.plain.ID
}

// job returns the decoded job.
func (a *jobAnswer) job() Job {
	if a.lenient {
		return a.wire.job()
	}
	p := &a.plain
	j := Job{ID: p.ID, JobType: p.JobType, Created: p.Created.Time, Updated: p.Updated.Time, Links: p.Links}
	if p.Steps != nil {
		j.Steps = make([]Step, len(p.Steps))
		var results []StepResult // one allocation for all the results
		for i, st := range p.Steps {
			j.Steps[i] = Step{Title: st.Title, Status: st.Status}
			if st.Result == nil {
				continue
			}
			if results == nil {
				results = make([]StepResult, 0, len(p.Steps)-i)
			}
			results = append(results, st.Result.result())
			j.Steps[i].Result = &results[len(results)-1]
		}
	}
	if p.Institution != "" {
		j.Institution = &InstitutionRef{ID: string(p.Institution)}
	}
	return j
}

// postJob sends a POST that starts a job. The API answers 202 with a new job,
// or 200 with the job already queued or running for the same connection
// (Reused); because of that rule a repeat meets the running job instead of
// starting a second one, so a POST without credentials (Refresh) is retried
// like a read. secrets are the body's secret values (the customer's bank
// credentials): see withCredentials for how such a call is repeated.
func (c *Client) postJob(ctx context.Context, path string, body any, secrets ...string) (*Job, error) {
	var a jobAnswer
	resp, err := c.call(ctx, http.MethodPost, path, body, &a, withCredentials(secrets...))
	if err != nil {
		return nil, err
	}
	job := a.job()
	job.Reused = resp.StatusCode == http.StatusOK
	return &job, nil
}

func (x *Job) resourceID() string { return x.ID }

func (w *jobWire) resourceID() string { return w.ID }

// JobFilter narrows [JobsService.List].
type JobFilter struct {
	// ConnectionID keeps the jobs of one connection.
	ConnectionID string
	// Raw is a filter in Basiq's grammar, appended unchanged.
	Raw string
}

// List returns a user's jobs: GET /users/{userId}/jobs, narrowed by f (nil
// for all).
func (s *JobsService) List(ctx context.Context, userID string, f *JobFilter) ([]Job, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	return listAll[Job](ctx, s.client, pathf("users/%s/jobs", userID), f)
}

// query returns the filter's query values; a nil filter has none.
func (f *JobFilter) query() (url.Values, error) {
	var b filterBuilder
	if f != nil {
		b.eq("connectionId", "connection.id", f.ConnectionID)
		b.raw(f.Raw)
	}
	return b.query(0, 0)
}
