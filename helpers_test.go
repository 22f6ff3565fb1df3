package basiq

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testBase is the base URL unit tests mock.
const testBase = "https://api.test"

// testKey is the API key unit tests use.
const testKey = "dGVzdC1hcHAta2V5LXNlY3JldA=="

// newMockClient returns a client whose requests go to a fresh per-test mock
// transport, with a token endpoint already registered and fast retries.
func newMockClient(t *testing.T, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokenResponder("tok-1", 3600))
	base := []Option{
		WithAPIKey(testKey),
		WithBaseURL(testBase),
		WithHTTPClient(&http.Client{Transport: mt}),
		WithRetryWait(time.Millisecond, 5*time.Millisecond),
	}
	c, err := NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return c, mt
}

// tokenResponder answers POST /token with tok.
func tokenResponder(tok string, expiresIn int) httpmock.Responder {
	return httpmock.NewJsonResponderOrPanic(http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": expiresIn,
	})
}

// calls returns how many times the mock saw "METHOD URL".
func calls(mt *httpmock.MockTransport, key string) int {
	return mt.GetCallCountInfo()[key]
}

// jsonResp returns a responder with a raw JSON body and status.
func jsonResp(status int, body string) httpmock.Responder {
	return func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(status, body)
		r.Header.Set("Content-Type", "application/json")
		return r, nil
	}
}

// hooli is the sandbox institution with user authorization.
const hooliJSON = `{"type":"institution","id":"AU00000","name":"Hooli Bank","tier":"4","authorization":"user","status":"operational"}`

// retryRule is what an endpoint may do when the API answers 5xx.
type retryRule int

const (
	// retrySafe: the request is repeated (GET, DELETE, job POSTs without
	// credentials, Users.Update).
	retrySafe retryRule = iota
	// retryNever: the request is sent once (Users.Create, RespondMFA).
	retryNever
	// retryCredential: a request carrying a bank credential is repeated
	// freely after 503 but at most once after an unknown outcome (502).
	retryCredential
)

// endpoint is one row of the table every public method that calls the API
// must pass (see basiq_test.go: TestEndpoint...). In the spirit of
// go-github's testMethod/testBadOptions: each check drives call with a mock
// answer for the request at method and path.
type endpoint struct {
	name   string
	method string   // HTTP method of the request under test
	path   string   // the path, one %s per id, in the order of fields
	fields []string // the ValidationError.Field of each id argument
	status int      // the status of a successful answer
	body   string   // a successful answer
	retry  retryRule
	// preRead is the path (one %s per id) of a read the method makes
	// before its request (RespondMFA reads the job it answers).
	preRead string
	// resource: the method returns one resource, which a 2xx answer must
	// carry.
	resource bool
	// startsJob: the method answers with a job (or a list of jobs), 202 for
	// a new one and 200 for one already running.
	startsJob bool
	// call invokes the method with these ids (len(fields) of them) and
	// returns its result and error.
	call func(ctx context.Context, c *Client, ids ...string) (any, error)
}

// wantPath is e's path with ids escaped as one segment each.
func (e endpoint) wantPath(ids ...string) string {
	esc := make([]any, len(ids))
	for i, id := range ids {
		esc[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(e.path, esc...)
}

// sampleIDs returns a valid id for each of e's fields.
func (e endpoint) sampleIDs() []string {
	ids := make([]string, len(e.fields))
	for i, f := range e.fields {
		ids[i] = strings.ToLower(f[:1]) + "1"
	}
	return ids
}

// result returns a method's result as an any.
func result[T any](v T, err error) (any, error) { return v, err }

// endpointJob is a job answer (202) of the job-creating endpoints.
const endpointJob = `{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1"}}`

// endpoints lists every public method that calls the API with ids, and
// Users.Create for the retry rule.
var endpoints = []endpoint{
	{name: "Users.Create", method: http.MethodPost, path: "/users", status: http.StatusCreated, body: userU1JSON, retry: retryNever, resource: true,
		call: func(ctx context.Context, c *Client, _ ...string) (any, error) {
			return result(c.Users.Create(ctx, UserParams{Email: "gavin@hooli.com"}))
		}},
	{name: "Users.Get", method: http.MethodGet, path: "/users/%s", fields: []string{"userId"}, status: http.StatusOK, body: userU1JSON, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Users.Get(ctx, ids[0]))
		}},
	{name: "Users.Update", method: http.MethodPost, path: "/users/%s", fields: []string{"userId"}, status: http.StatusOK, body: userU1JSON, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Users.Update(ctx, ids[0], UserParams{FirstName: "Gavin"}))
		}},
	{name: "Users.Delete", method: http.MethodDelete, path: "/users/%s", fields: []string{"userId"}, status: http.StatusNoContent,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return nil, c.Users.Delete(ctx, ids[0])
		}},
	{name: "Connections.Create", method: http.MethodPost, path: "/users/%s/connections", fields: []string{"userId"}, status: http.StatusAccepted, body: endpointJob, retry: retryCredential, startsJob: true, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Connections.Create(ctx, ids[0], ConnectionParams{LoginID: "gavin", Password: "hooli2016", Institution: InstitutionRef{ID: "AU00000"}}))
		}},
	{name: "Connections.Get", method: http.MethodGet, path: "/users/%s/connections/%s", fields: []string{"userId", "connectionId"}, status: http.StatusOK, body: connC1JSON, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Connections.Get(ctx, ids[0], ids[1]))
		}},
	{name: "Connections.List", method: http.MethodGet, path: "/users/%s/connections", fields: []string{"userId"}, status: http.StatusOK, body: `{"type":"list","data":[` + connC1JSON + `]}`,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Connections.List(ctx, ids[0]))
		}},
	{name: "Connections.Update", method: http.MethodPost, path: "/users/%s/connections/%s", fields: []string{"userId", "connectionId"}, status: http.StatusAccepted, body: endpointJob, retry: retryCredential, startsJob: true, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Connections.Update(ctx, ids[0], ids[1], ConnectionUpdateParams{Password: "hooli2017"}))
		}},
	{name: "Connections.Refresh", method: http.MethodPost, path: "/users/%s/connections/%s/refresh", fields: []string{"userId", "connectionId"}, status: http.StatusAccepted, body: endpointJob, startsJob: true, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Connections.Refresh(ctx, ids[0], ids[1]))
		}},
	{name: "Connections.RefreshAll", method: http.MethodPost, path: "/users/%s/connections/refresh", fields: []string{"userId"}, status: http.StatusAccepted, body: `{"type":"list","data":[` + endpointJob + `]}`, startsJob: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Connections.RefreshAll(ctx, ids[0]))
		}},
	{name: "Connections.Delete", method: http.MethodDelete, path: "/users/%s/connections/%s", fields: []string{"userId", "connectionId"}, status: http.StatusNoContent,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return nil, c.Connections.Delete(ctx, ids[0], ids[1])
		}},
	{name: "Jobs.Get", method: http.MethodGet, path: "/jobs/%s", fields: []string{"jobId"}, status: http.StatusOK, body: endpointJob, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Jobs.Get(ctx, ids[0]))
		}},
	{name: "Jobs.List", method: http.MethodGet, path: "/users/%s/jobs", fields: []string{"userId"}, status: http.StatusOK, body: `{"type":"list","data":[` + endpointJob + `]}`,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Jobs.List(ctx, ids[0], nil))
		}},
	{name: "Jobs.RespondMFA", method: http.MethodPost, path: "/jobs/%s/mfa", fields: []string{"jobId"}, status: http.StatusAccepted, body: endpointJob, retry: retryNever, resource: true, preRead: "/jobs/%s",
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Jobs.RespondMFA(ctx, ids[0], "123456"))
		}},
	{name: "Accounts.Get", method: http.MethodGet, path: "/users/%s/accounts/%s", fields: []string{"userId", "accountId"}, status: http.StatusOK, body: accountA1JSON, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Accounts.Get(ctx, ids[0], ids[1]))
		}},
	{name: "Accounts.List", method: http.MethodGet, path: "/users/%s/accounts", fields: []string{"userId"}, status: http.StatusOK, body: `{"type":"list","data":[` + accountA1JSON + `]}`,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Accounts.List(ctx, ids[0], nil))
		}},
	{name: "Transactions.Get", method: http.MethodGet, path: "/users/%s/transactions/%s", fields: []string{"userId", "transactionId"}, status: http.StatusOK, body: txJSON("t1"), resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Transactions.Get(ctx, ids[0], ids[1]))
		}},
	{name: "Transactions.List", method: http.MethodGet, path: "/users/%s/transactions", fields: []string{"userId"}, status: http.StatusOK, body: txPage("", "t1"),
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(collect(c.Transactions.List(ctx, ids[0], nil)))
		}},
	{name: "Institutions.Get", method: http.MethodGet, path: "/institutions/%s", fields: []string{"institution.id"}, status: http.StatusOK, body: hooliJSON, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Institutions.Get(ctx, ids[0]))
		}},
	{name: "Connections.Purge", method: http.MethodPost, path: "/users/%s/connections/%s/purge", fields: []string{"userId", "connectionId"}, status: http.StatusAccepted, body: `{}`,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return nil, c.Connections.Purge(ctx, ids[0], ids[1])
		}},
	{name: "Connectors.Get", method: http.MethodGet, path: "/connectors/%s/%s", fields: []string{"connectorId", "method"}, status: http.StatusOK, body: `{"type":"connector","id":"AU00000","method":"web","name":"Hooli"}`, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Connectors.Get(ctx, ids[0], ids[1]))
		}},
	{name: "Consents.List", method: http.MethodGet, path: "/users/%s/consents", fields: []string{"userId"}, status: http.StatusOK, body: `{"type":"list","data":[{"type":"consent","id":"k1","status":"active"}]}`,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Consents.List(ctx, ids[0]))
		}},
	{name: "Consents.Delete", method: http.MethodDelete, path: "/users/%s/consents/%s", fields: []string{"userId", "consentId"}, status: http.StatusNoContent,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return nil, c.Consents.Delete(ctx, ids[0], ids[1])
		}},
	{name: "AuthLinks.Create", method: http.MethodPost, path: "/users/%s/auth_link", fields: []string{"userId"}, status: http.StatusCreated, body: `{"type":"auth_link","id":"l1","links":{"public":"https://connect.basiq.io/l1"}}`, retry: retryNever, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.AuthLinks.Create(ctx, ids[0], "+61410000000"))
		}},
	{name: "AuthLinks.Get", method: http.MethodGet, path: "/users/%s/auth_link", fields: []string{"userId"}, status: http.StatusOK, body: `{"type":"auth_link","id":"l1","links":{"public":"https://connect.basiq.io/l1"}}`, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.AuthLinks.Get(ctx, ids[0]))
		}},
	{name: "AuthLinks.Delete", method: http.MethodDelete, path: "/users/%s/auth_link", fields: []string{"userId"}, status: http.StatusNoContent,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return nil, c.AuthLinks.Delete(ctx, ids[0])
		}},
	{name: "Events.Get", method: http.MethodGet, path: "/events/%s", fields: []string{"eventId"}, status: http.StatusOK, body: `{"type":"event","id":"e1"}`, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Events.Get(ctx, ids[0]))
		}},
	{name: "Webhooks.Create", method: http.MethodPost, path: "/notifications/webhooks", status: http.StatusCreated, body: webhookW1JSON, retry: retryNever, resource: true,
		call: func(ctx context.Context, c *Client, _ ...string) (any, error) {
			return result(c.Webhooks.Create(ctx, WebhookParams{URL: "https://app.example/hooks"}))
		}},
	{name: "Webhooks.List", method: http.MethodGet, path: "/notifications/webhooks", status: http.StatusOK, body: `{"type":"list","data":[` + webhookW1JSON + `]}`,
		call: func(ctx context.Context, c *Client, _ ...string) (any, error) {
			return result(c.Webhooks.List(ctx))
		}},
	{name: "Webhooks.Get", method: http.MethodGet, path: "/notifications/webhooks/%s", fields: []string{"webhookId"}, status: http.StatusOK, body: webhookW1JSON, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Webhooks.Get(ctx, ids[0]))
		}},
	{name: "Webhooks.Update", method: http.MethodPost, path: "/notifications/webhooks/%s", fields: []string{"webhookId"}, status: http.StatusOK, body: webhookW1JSON, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Webhooks.Update(ctx, ids[0], WebhookParams{Name: "renamed", URL: "https://app.example/hooks"}))
		}},
	{name: "Webhooks.Delete", method: http.MethodDelete, path: "/notifications/webhooks/%s", fields: []string{"webhookId"}, status: http.StatusNoContent,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return nil, c.Webhooks.Delete(ctx, ids[0])
		}},
	{name: "Webhooks.Messages", method: http.MethodGet, path: "/notifications/webhooks/%s/messages", fields: []string{"webhookId"}, status: http.StatusOK, body: `{"type":"list","data":[{"id":"m1"}]}`,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(collect(c.Webhooks.Messages(ctx, ids[0])))
		}},
	{name: "Webhooks.Message", method: http.MethodGet, path: "/notifications/webhooks/%s/messages/%s", fields: []string{"webhookId", "messageId"}, status: http.StatusOK, body: `{"id":"m1","attempts":[]}`, resource: true,
		call: func(ctx context.Context, c *Client, ids ...string) (any, error) {
			return result(c.Webhooks.Message(ctx, ids[0], ids[1]))
		}},
	{name: "Webhooks.SendTest", method: http.MethodPost, path: "/notifications/messages/test", status: http.StatusCreated, retry: retryNever,
		call: func(ctx context.Context, c *Client, _ ...string) (any, error) {
			return nil, c.Webhooks.SendTest(ctx, "user.created")
		}},
}

// endpointSetup returns a mock client for e and a counter of the requests
// that reach e's method and path (for these ids, escaped); each is answered
// by the next of answers, the last repeating (e's success when none). Any
// other request but the token and Connections.Create's institution lookup
// fails the test, and so does a repeat whose body differs from the first
// attempt's.
func endpointSetup(t *testing.T, e endpoint, ids []string, answers ...httpmock.Responder) (*Client, func() int) {
	t.Helper()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", jsonResp(http.StatusOK, hooliJSON))
	if len(answers) == 0 {
		answers = []httpmock.Responder{jsonResp(e.status, e.body)}
	}
	want := e.method + " " + e.wantPath(ids...)
	preRead := ""
	if e.preRead != "" {
		preRead = http.MethodGet + " " + endpoint{path: e.preRead}.wantPath(ids...)
	}
	var mu sync.Mutex
	n := 0
	var first []byte
	mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		got := r.Method + " " + r.URL.EscapedPath()
		if got == preRead {
			return jsonResp(http.StatusOK, `{"type":"job","id":"j1","steps":[]}`)(r)
		}
		if got != want {
			t.Errorf("%s: unexpected request %s, want %s", e.name, got, want)
			return jsonResp(http.StatusTeapot, `{}`)(r)
		}
		var body []byte
		if r.Body != nil {
			var err error
			if body, err = io.ReadAll(r.Body); err != nil {
				return nil, err
			}
		}
		mu.Lock()
		if n == 0 {
			first = body
		} else if !bytes.Equal(body, first) {
			t.Errorf("%s: attempt %d sent %q, the first %q", e.name, n+1, body, first)
		}
		a := answers[min(n, len(answers)-1)]
		n++
		mu.Unlock()
		return a(r)
	})
	return c, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// validationFields returns the Field of every *ValidationError in err, which
// is either one *ValidationError or several joined. It fails the test if any
// joined error is not a *ValidationError.
func validationFields(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrValidation)
	var errs []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	} else {
		errs = []error{err}
	}
	fields := make([]string, 0, len(errs))
	for _, e := range errs {
		var ve *ValidationError
		require.True(t, errors.As(e, &ve), "joined error %v (%T) is not a *ValidationError", e, e)
		assert.ErrorIs(t, e, ErrValidation)
		fields = append(fields, ve.Field)
	}
	return fields
}

// seenReq is what a recording responder saw of one request.
type seenReq struct {
	Method      string
	Path        string // escaped, as sent
	Query       url.Values
	Auth        string
	ContentType string
	Body        string
}

// reqRecorder keeps, in order, the requests its wrapped responders see. It is
// safe for concurrent use.
type reqRecorder struct {
	mu   sync.Mutex
	reqs []seenReq
}

// wrap records each request, then answers it with next.
func (rec *reqRecorder) wrap(next httpmock.Responder) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body)) // next may read it too
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seenReq{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(),
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(body),
		})
		rec.mu.Unlock()
		return next(r)
	}
}

// all returns a copy of the requests seen so far.
func (rec *reqRecorder) all() []seenReq {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

// failOnUnexpected makes every request without a responder fail the test.
func failOnUnexpected(t *testing.T, mt *httpmock.MockTransport) {
	t.Helper()
	mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request %s %s", req.Method, req.URL)
		return nil, errors.New("unexpected request")
	})
}

// fastPoll keeps WaitForJob tests fast.
var fastPoll = WithPollInterval(time.Millisecond, 5*time.Millisecond)

const (
	jobURL    = testBase + "/jobs/j1"
	getJobKey = "GET " + jobURL
)

// stepSpec is one step in a job body: title, status and an optional raw JSON result.
type stepSpec struct{ title, status, result string }

// jobBody renders a job answer with the given steps.
func jobBody(t *testing.T, id string, steps ...stepSpec) string {
	t.Helper()
	type step struct {
		Title  string          `json:"title"`
		Status string          `json:"status"`
		Result json.RawMessage `json:"result"`
	}
	out := struct {
		Type  string            `json:"type"`
		ID    string            `json:"id"`
		Steps []step            `json:"steps"`
		Links map[string]string `json:"links"`
	}{Type: "job", ID: id, Steps: []step{}, Links: map[string]string{
		"self": "https://api.test/jobs/" + id, "source": "https://api.test/users/u1/connections/c1",
	}}
	for _, s := range steps {
		r := json.RawMessage("null")
		if s.result != "" {
			r = json.RawMessage(s.result)
		}
		out.Steps = append(out.Steps, step{Title: s.title, Status: s.status, Result: r})
	}
	b, err := json.Marshal(out)
	require.NoError(t, err)
	return string(b)
}

// jobSequence answers 200 with each body in turn, then repeats the last one.
func jobSequence(bodies ...string) httpmock.Responder {
	r := jsonResp(http.StatusOK, bodies[0])
	for _, b := range bodies[1:] {
		r = r.Then(jsonResp(http.StatusOK, b))
	}
	return r
}

// waitCtx bounds a WaitForJob call, so that a waiter that never returns fails
// the test instead of hanging it.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// statuses summarises a job's steps as "title=status" in order.
func statuses(j *Job) []string {
	out := make([]string, len(j.Steps))
	for i, s := range j.Steps {
		out[i] = s.Title + "=" + string(s.Status)
	}
	return out
}

const (
	stVerify       = StepVerifyCredentials
	stMFA          = StepMFAChallenge
	stAccounts     = StepRetrieveAccounts
	stTransactions = StepRetrieveTransactions
)

// setup returns a mock client (see newMockClient) whose requests of method
// to url are answered by resp and recorded; any other request fails the test.
// With method "", every request is answered by resp and recorded. It is
// this package's go-github setup: tests register further responders on the
// returned transport.
func setup(t *testing.T, method, url string, resp httpmock.Responder, opts ...Option) (*Client, *httpmock.MockTransport, *reqRecorder) {
	t.Helper()
	c, mt := newMockClient(t, opts...)
	rec := new(reqRecorder)
	if method == "" {
		mt.RegisterNoResponder(rec.wrap(resp))
		return c, mt, rec
	}
	failOnUnexpected(t, mt)
	mt.RegisterResponder(method, url, rec.wrap(resp))
	return c, mt, rec
}

// redirect answers with status and a Location header.
func redirect(status int, location string) httpmock.Responder {
	return func(*http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(status, "")
		resp.Header.Set("Location", location)
		return resp, nil
	}
}

// eachID runs f as a parallel subtest for each id argument (index i, named
// field) of each endpoint.
func eachID(t *testing.T, f func(t *testing.T, e endpoint, i int, field string)) {
	t.Helper()
	for _, e := range endpoints {
		for i, field := range e.fields {
			t.Run(e.name+"/"+field, func(t *testing.T) {
				t.Parallel()
				f(t, e, i, field)
			})
		}
	}
}

// newPrefixClient is a mock client whose base URL has a path prefix
// (prefixBase), with its token endpoint, and a function returning the
// requests that reached no responder.
func newPrefixClient(t *testing.T, opts ...Option) (*Client, *httpmock.MockTransport, func() []string) {
	t.Helper()
	c, mt := newMockClient(t, append([]Option{WithBaseURL(prefixBase)}, opts...)...)
	mt.RegisterResponder(http.MethodPost, prefixBase+"/token", tokenResponder("tok", 3600))
	return c, mt, recordAll(mt)
}

// fmtVerbs are the fmt verbs, flags and widths a value holding a secret is
// formatted with in the formatting tests, bad verbs included.
var fmtVerbs = []string{
	"%s", "%q", "%v", "%+v", "%#v", "%x", "%X", "%t", "%e", "%d", "%T", "%p", "%b", "%o", "%c", "%U", "%g", "%z",
	"%10s", "%-40v", "%+q", "%#q", "%#x", "% x", "% X", "%08d", "%.300s", "%+#v", "%!", "%[2]s", "%w",
}

// assertHidden checks that none of forbidden shows when v is formatted
// with every verb of fmtVerbs (but those skip names), printed, encoded as
// JSON (when it encodes), as gob (when withGob and it encodes) and logged
// through log/slog's JSON and text handlers.
func assertHidden(t *testing.T, v any, forbidden []string, skip func(verb string) bool, withGob bool) {
	t.Helper()
	check := func(what, out string) {
		t.Helper()
		for _, f := range forbidden {
			if !assert.NotContains(t, out, f, "%s shows a secret", what) {
				return
			}
		}
	}
	for _, verb := range fmtVerbs {
		if skip == nil || !skip(verb) {
			check(verb, fmt.Sprintf(verb, v))
		}
	}
	check("Sprint", fmt.Sprint(v))
	check("Sprintln", fmt.Sprintln(v))
	if b, err := json.Marshal(v); err == nil {
		check("encoding/json", string(b))
	}
	var gobOut bytes.Buffer
	if err := gob.NewEncoder(&gobOut).Encode(v); withGob && err == nil {
		check("encoding/gob", gobOut.String())
	}
	for _, h := range []func(io.Writer) slog.Handler{
		func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
		func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
	} {
		var logs bytes.Buffer
		l := slog.New(h(&logs))
		l.Info("value", "v", v)
		l.Info("value", slog.Any("v", v), slog.Group("g", "v", v))
		l.With("v", v).Info("value")
		check("log/slog", logs.String())
	}
}
