package basiqtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Fixtures builds the JSON bodies of the answers a unit test of code that
// uses the SDK most often needs, for a mock transport such as
// jarcoal/httpmock: an access token, an institution, and a connection job
// just started, in progress, done, failed and waiting for an MFA answer.
// The bodies are rendered by the same code that renders the [Server]'s
// answers, so they have exactly the shapes the Server serves (and that the
// SDK decodes); nothing has to be guessed from Basiq's documentation.
//
// The zero value is ready to use; its empty fields take the defaults their
// comments give. Each method returns a new body.
type Fixtures struct {
	// BaseURL is the origin (and optional path prefix) absolute links in
	// the bodies start with, such as the job's links.self: set it to the
	// base URL the client under test uses. Default "https://basiq.test".
	BaseURL string
	// UserID, ConnectionID and JobID are the ids the bodies carry.
	// Defaults "user-1", "connection-1" and "job-1".
	UserID, ConnectionID, JobID string
	// InstitutionID is the sandbox institution of the job and of
	// [Fixtures.Institution]. Default [InstHooli]; [Fixtures.JobMFA]
	// uses [InstMFA] when it is left empty.
	InstitutionID string
}

// fixtureEpoch is when fixture jobs start: a fixed instant, so bodies are
// the same on every run.
var fixtureEpoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fixtureStep is how long each step of a fixture job takes.
const fixtureStep = 2 * time.Second

func (f Fixtures) withDefaults(inst string) Fixtures {
	// A trailing slash would double the one each link's path starts with.
	f.BaseURL = strings.TrimRight(f.BaseURL, "/")
	if f.BaseURL == "" {
		f.BaseURL = "https://basiq.test"
	}
	if f.UserID == "" {
		f.UserID = "user-1"
	}
	if f.ConnectionID == "" {
		f.ConnectionID = "connection-1"
	}
	if f.JobID == "" {
		f.JobID = "job-1"
	}
	if f.InstitutionID == "" {
		f.InstitutionID = inst
	}
	return f
}

// render marshals v; the values rendered here always marshal.
func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("basiqtest: rendering a fixture: %v", err))
	}
	return string(b)
}

// call returns a call as the route handlers see it, at now, with links on
// f.BaseURL.
func (f Fixtures) call(now time.Time) *call {
	r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}, Header: http.Header{}}
	return &call{r: r, now: now, base: f.BaseURL}
}

// Token is the answer to POST /token: an access token, of type Bearer,
// valid for an hour.
func (f Fixtures) Token() string {
	return render(map[string]any{"access_token": "fixture-access-token", "token_type": "Bearer", "expires_in": int(DefaultTokenLifetime / time.Second)})
}

// Institution is the answer to GET /institutions/{id} for the sandbox
// institution f.InstitutionID (default [InstHooli]), with published step
// durations of 2 s each. It panics for an id that is not a sandbox
// institution's.
func (f Fixtures) Institution() string {
	f = f.withDefaults(InstHooli)
	s := NewUnstartedServer(WithStepDuration(fixtureStep))
	defer s.Close()
	in, ok := s.instByID[f.InstitutionID]
	if !ok {
		panic("basiqtest: Fixtures.Institution: no sandbox institution " + f.InstitutionID)
	}
	return render(s.institutionView(f.call(fixtureEpoch), in))
}

// JobCreated is the answer (202 Accepted) to the calls that start a job,
// such as POST /users/{id}/connections: the job's type, id and links.self.
func (f Fixtures) JobCreated() string {
	f = f.withDefaults(InstHooli)
	return render(shortJob(f.call(fixtureEpoch), &job{id: f.JobID}))
}

// JobInProgress is the answer to GET /jobs/{id} while verify-credentials
// runs: that step in-progress, the later ones pending.
func (f Fixtures) JobInProgress() string {
	return f.jobAt(fixtureStep/2, nil, false)
}

// JobDone is the answer to GET /jobs/{id} once the job is over: every step
// succeeded, with links to the connection, its accounts and its
// transactions.
func (f Fixtures) JobDone() string {
	return f.jobAt(10*fixtureStep, nil, false)
}

// JobFailed is the answer to GET /jobs/{id} when verify-credentials failed:
// the step's result has Basiq's code (for example "invalid-credentials"),
// title and detail; the later steps stay pending. Empty code and detail
// give "invalid-credentials" and "Account is locked", as the Server answers
// for [LoginBighead].
func (f Fixtures) JobFailed(code, detail string) string {
	e := *loginOutcome(LoginBighead, PasswordBighead)
	if code != "" {
		e.code = code
	}
	if detail != "" {
		e.detail = detail
	}
	return f.jobAt(10*fixtureStep, &e, false)
}

// JobMFA is the answer to GET /jobs/{id} when the bank asks for a one-time
// code: verify-credentials succeeded and mfa-challenge is in-progress with
// an "mfa" result (its description, questions, expiry and the link to POST
// the answer to). Its institution defaults to [InstMFA].
func (f Fixtures) JobMFA() string {
	return f.jobAt(fixtureStep+fixtureStep/2, nil, true)
}

// jobAt renders the job at after its start.
func (f Fixtures) jobAt(after time.Duration, fails *stepError, mfa bool) string {
	inst := InstHooli
	if mfa {
		inst = InstMFA
	}
	f = f.withDefaults(inst)
	j := &job{
		id: f.JobID, userID: f.UserID, connID: f.ConnectionID, instID: f.InstitutionID, created: fixtureEpoch,
		durVerify: fixtureStep, durAccounts: fixtureStep, durTransactions: fixtureStep,
		verifyErr: fails, hasMFA: mfa, askMFA: mfa,
	}
	return render((&Server{}).jobView(f.call(fixtureEpoch.Add(after)), j, false))
}
