package basiq

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MFAChallenge is the error [Client.WaitForJob] returns, beside the job, when a
// step waits for the customer to answer a multi-factor challenge from their
// bank. It matches [ErrMFARequired]; read it with errors.As, ask the customer,
// answer with [JobsService.RespondMFA], then wait for the job again.
type MFAChallenge struct {
	// JobID is the job waiting for the answer.
	JobID string
	// Step is the waiting step's title, usually [StepMFAChallenge].
	Step string
	// Method is how the bank asks: "token" (a one-time code) or
	// "security-questions".
	Method string
	// Description is the bank's instruction to show the customer.
	Description string
	// Questions are the prompts to answer, in order; RespondMFA takes one
	// answer per question.
	Questions []string
	// Expiry is how long the challenge stays open, when the API says.
	Expiry time.Duration
	// ResponseURL is the API's link for the answer (POST /jobs/{id}/mfa).
	ResponseURL string
}

// Error describes the challenge; it holds no secret. The fields come from the
// server: the string carries them cleaned (one line, valid UTF-8, each
// bounded), as [APIError.Error] does; the fields themselves are left as the
// API sent them.
func (e *MFAChallenge) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "basiq: job %s waits for an MFA answer at step %s", clean(e.JobID, 100), clean(e.Step, 100))
	if m := clean(e.Method, 50); m != "" {
		fmt.Fprintf(&b, " (%s)", m)
	}
	if d := clean(e.Description, 300); d != "" {
		fmt.Fprintf(&b, ": %s", d)
	}
	return b.String()
}

// fingerprint identifies a challenge by what it asks.
func (e *MFAChallenge) fingerprint() string {
	return strings.Join(append([]string{e.Step, e.Method, e.Description, e.ResponseURL}, e.Questions...), "\x00")
}

// Is makes errors.Is(err, ErrMFARequired) true.
func (e *MFAChallenge) Is(target error) bool { return target == ErrMFARequired }

// mfaChallenge returns the challenge a step waits on, or nil.
func mfaChallenge(jobID string, st Step) *MFAChallenge {
	r := st.Result
	if r == nil || r.Type != "mfa" || st.Status.Done() || st.Status == StepFailed {
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

// mfaMemory remembers, per job, the challenge WaitForJob last reported and
// the one the caller then answered, so that a wait after RespondMFA does not
// report the answered challenge again while the API still shows it (the API
// may take a moment to process an answer). A poll without that challenge, or
// with another one, ends the memory of it.
type mfaMemory struct {
	mu       sync.Mutex
	reported map[string]string // job id -> fingerprint
	answered map[string]string // job id -> fingerprint
}

// maxMFAMemory bounds the memory: jobs whose challenges are never answered
// must not grow it without limit.
const maxMFAMemory = 10000

// observe takes what judging a polled job found: a challenge already
// answered becomes nil (keep waiting), a new one is remembered as reported.
func (m *mfaMemory) observe(jobID string, err error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch, ok := err.(*MFAChallenge)
	if !ok {
		delete(m.answered, jobID)
		delete(m.reported, jobID)
		return err
	}
	fp := ch.fingerprint()
	if m.answered[jobID] == fp {
		return nil
	}
	delete(m.answered, jobID)
	if m.reported == nil || len(m.reported) >= maxMFAMemory {
		m.reported = map[string]string{}
	}
	m.reported[jobID] = fp
	return err
}

// answer marks the challenge last reported for the job as answered.
func (m *mfaMemory) answer(jobID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fp, ok := m.reported[jobID]
	if !ok {
		return
	}
	delete(m.reported, jobID)
	if m.answered == nil || len(m.answered) >= maxMFAMemory {
		m.answered = map[string]string{}
	}
	m.answered[jobID] = fp
}

// mfaVersion is the first API version with the MFA endpoints.
const mfaVersion = "2.1"

// mfaBody is the wire form of an MFA answer.
type mfaBody struct {
	Response []string `json:"mfa-response"`
}

// RespondMFA answers a job's MFA challenge: POST /jobs/{id}/mfa with one answer
// per question (a one-time code is one answer). The API takes the answer only
// with a CLIENT_ACCESS token, which the client fetches and caches beside its
// server token, and from API version 2.1, which this call sends when the
// client is set to an earlier one. It returns the job; pass it to [Client.WaitForJob] to go on
// waiting. An answer is never retried (a one-time code may not be reused) and
// never appears in errors or logs. A 2xx answer that names no job is an error
// matching [ErrInvalidResponse]; the API may still have taken the answer, so
// wait on the job by its id rather than ask the customer again.
func (s *JobsService) RespondMFA(ctx context.Context, jobID string, answers ...string) (*Job, error) {
	errs := []error{checkID("jobId", jobID)}
	if len(answers) == 0 {
		errs = append(errs, &ValidationError{Field: "mfa-response", Reason: "required: at least one answer"})
	}
	for _, a := range answers {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, &ValidationError{Field: "mfa-response", Reason: "answers must not be empty"})
			break
		}
	}
	if err := joinValidation(errs); err != nil {
		return nil, err
	}
	req, err := s.client.newRequest(ctx, http.MethodPost, pathf("jobs/%s/mfa", jobID), mfaBody{Response: answers})
	if err != nil {
		return nil, err
	}
	if v := s.client.version; v == "1.0" || v == "2.0" {
		req.Header.Set("basiq-version", mfaVersion) // the endpoint exists from 2.1
	}
	job := new(Job)
	if _, err := s.client.do(withSecrets(withScope(req, ScopeClientAccess), answers...), job); err != nil {
		return nil, err
	}
	s.client.mfa.answer(jobID)
	return job, nil
}

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
	var b filterBuilder
	if f != nil {
		b.eq("connectionId", "connection.id", f.ConnectionID)
		b.raw(f.Raw)
	}
	q, err := b.query(0, 0)
	if err != nil {
		return nil, err
	}
	return collect(paginate[Job](ctx, s.client, withQuery(pathf("users/%s/jobs", userID), q)))
}
