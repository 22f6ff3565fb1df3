package basiq

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// failOnUnexpected makes every request without a responder fail the test.
func failOnUnexpected(t *testing.T, mt *httpmock.MockTransport) {
	t.Helper()
	mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request %s %s", req.Method, req.URL)
		return nil, errors.New("unexpected request")
	})
}

const (
	stVerify       = StepVerifyCredentials
	stMFA          = StepMFAChallenge
	stAccounts     = StepRetrieveAccounts
	stTransactions = StepRetrieveTransactions
)

func TestStepResultDecoding(t *testing.T) {
	t.Parallel()
	link := StepResult{Type: "link", URL: "/users/u1/connections/c1"}
	locked := StepResult{Code: "invalid-credentials", Title: "Cannot login", Detail: "Account is locked"}

	tests := []struct {
		name string
		in   string
		want StepResult
	}{
		{"null", `null`, StepResult{}},
		{"link object", `{"type":"link","url":"/users/u1/connections/c1"}`, link},
		{"error with detail", `{"code":"invalid-credentials","title":"Cannot login","detail":"Account is locked"}`, locked},
		{"error with details", `{"code":"invalid-credentials","title":"Cannot login","details":"Account is locked"}`, locked},
		{"detail wins over details", `{"code":"invalid-credentials","title":"Cannot login","detail":"Account is locked","details":"other"}`, locked},
		{"mfa challenge", `{"type":"mfa","method":"token","description":"Enter the code","input":[{"type":"text","question":"One-time code"},"Second"],"expiryMs":1000,"links":{"response":"/jobs/1/mfa"},"extra":true}`,
			func() StepResult {
				r := StepResult{Type: "mfa", Method: "token", Description: "Enter the code", Questions: []string{"One-time code", "Second"}, ExpiryMs: 1000}
				r.Links.Response = "/jobs/1/mfa"
				return r
			}()},
		{"array of one link", `[{"type":"link","url":"/users/u1/connections/c1"}]`,
			StepResult{Type: "link", URL: "/users/u1/connections/c1", Items: []StepResult{link}}},
		{"array, error item first by code", `[{"type":"link","url":"/users/u1/connections/c1"},{"code":"invalid-credentials","title":"Cannot login","details":"Account is locked"}]`,
			StepResult{Code: "invalid-credentials", Title: "Cannot login", Detail: "Account is locked", Items: []StepResult{link, locked}}},
		{"array of two errors: the first", `[{"code":"a","detail":"first"},{"code":"b","detail":"second"}]`,
			StepResult{Code: "a", Detail: "first", Items: []StepResult{{Code: "a", Detail: "first"}, {Code: "b", Detail: "second"}}}},
		{"empty array", `[]`, StepResult{Items: []StepResult{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got StepResult
			require.NoError(t, json.Unmarshal([]byte(tc.in), &got))
			assert.Equal(t, tc.want, got)

			// Inside a step: null leaves Result nil, anything else sets it.
			var st Step
			require.NoError(t, json.Unmarshal([]byte(`{"title":"verify-credentials","status":"failed","result":`+tc.in+`}`), &st))
			if tc.in == "null" {
				assert.Nil(t, st.Result)
			} else {
				require.NotNil(t, st.Result)
				assert.Equal(t, tc.want, *st.Result)
			}
		})
	}

	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		got := StepResult{Code: "stale", URL: "stale"}
		require.NoError(t, json.Unmarshal([]byte(`{"type":"link","url":"/x"}`), &got))
		assert.Equal(t, StepResult{Type: "link", URL: "/x"}, got)
	})

	t.Run("not an object", func(t *testing.T) {
		t.Parallel()
		for _, in := range []string{`"oops"`, `42`, `["oops"]`} {
			var got StepResult
			assert.Error(t, json.Unmarshal([]byte(in), &got), in)
		}
	})
}

func TestJobDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		created     string // raw JSON, "" to leave the field out
		updated     string
		wantCreated time.Time
		wantUpdated time.Time
	}{
		{"RFC3339", `"2024-03-01T10:20:30Z"`, `"2024-03-01T10:20:45.123Z"`,
			time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), time.Date(2024, 3, 1, 10, 20, 45, 123e6, time.UTC)},
		{"RFC3339 with offset", `"2024-03-01T20:20:30+10:00"`, `"2024-03-01T20:20:30+10:00"`,
			time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC)},
		{"no zone", `"2024-03-01T10:20:30"`, `"2024-03-01T10:20:30.5"`,
			time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), time.Date(2024, 3, 1, 10, 20, 30, 5e8, time.UTC)},
		{"space separated", `"2024-03-01 10:20:30"`, `"2024-03-01"`,
			time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"missing", "", "", time.Time{}, time.Time{}},
		{"null and empty", `null`, `""`, time.Time{}, time.Time{}},
		{"garbage and number", `"yesterday"`, `1709288430`, time.Time{}, time.Time{}},
		{"object", `{"at":"2024-03-01"}`, `true`, time.Time{}, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fields := []string{`"type":"job"`, `"id":"j1"`,
				`"steps":[{"title":"verify-credentials","status":"success","result":null}]`,
				`"links":{"self":"https://api.test/jobs/j1","source":"https://api.test/users/u1/connections/c1"}`}
			if tc.created != "" {
				fields = append(fields, `"created":`+tc.created)
			}
			if tc.updated != "" {
				fields = append(fields, `"updated":`+tc.updated)
			}
			var j Job
			require.NoError(t, json.Unmarshal([]byte("{"+strings.Join(fields, ",")+"}"), &j))
			assert.True(t, tc.wantCreated.Equal(j.Created), "created: want %v, got %v", tc.wantCreated, j.Created)
			assert.True(t, tc.wantUpdated.Equal(j.Updated), "updated: want %v, got %v", tc.wantUpdated, j.Updated)
			assert.Equal(t, tc.wantCreated.IsZero(), j.Created.IsZero())
			// The rest of the job decodes whatever the timestamps look like.
			assert.Equal(t, "j1", j.ID)
			assert.Equal(t, []string{"verify-credentials=success"}, statuses(&j))
			assert.Equal(t, "https://api.test/jobs/j1", j.Links.Self)
			assert.Equal(t, "c1", j.ConnectionID())
			assert.False(t, j.Reused)
		})
	}

	t.Run("reused is not read from the body", func(t *testing.T) {
		t.Parallel()
		var j Job
		require.NoError(t, json.Unmarshal([]byte(`{"id":"j1","Reused":true,"reused":true}`), &j))
		assert.False(t, j.Reused)
	})

	t.Run("steps by title", func(t *testing.T) {
		t.Parallel()
		var j Job
		require.NoError(t, json.Unmarshal([]byte(jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "skipped", ""}, stepSpec{stAccounts, "in-progress", ""})), &j))
		require.NotNil(t, j.Step(stAccounts))
		assert.Equal(t, StepInProgress, j.Step(stAccounts).Status)
		assert.Equal(t, StepSkipped, j.Step(stMFA).Status)
		assert.Nil(t, j.Step(stTransactions))
	})
}

func TestJobConnectionID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		source string
		want   string
	}{
		{"https://au-api.basiq.io/users/u1/connections/c-123", "c-123"},
		{"/users/u1/connections/c-123", "c-123"},
		{"users/u1/connections/c-123", "c-123"},
		{"https://au-api.basiq.io/users/u1/connections/c-123/", "c-123"},
		{"/users/u1/connections/c-123//", "c-123"},
		{"https://au-api.basiq.io/users/u1/connections/c-123?x=1#f", "c-123"},
		{"/users/u1/connections/c%20123", "c 123"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.source, func(t *testing.T) {
			t.Parallel()
			j := Job{Links: JobLinks{Source: tc.source}}
			assert.Equal(t, tc.want, j.ConnectionID())
		})
	}
}

func TestJobsGet(t *testing.T) {
	t.Parallel()

	t.Run("path and decoding", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		var (
			mu      sync.Mutex
			headers http.Header
		)
		body := jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "in-progress", ""})
		mt.RegisterResponder(http.MethodGet, jobURL, func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			headers = req.Header.Clone()
			mu.Unlock()
			return jsonResp(http.StatusOK, body)(req)
		})

		job, err := c.Jobs.Get(t.Context(), "j1")
		require.NoError(t, err)
		require.NotNil(t, job)
		assert.Equal(t, "j1", job.ID)
		assert.Equal(t, []string{stVerify + "=success", stAccounts + "=in-progress"}, statuses(job))
		assert.Equal(t, "c1", job.ConnectionID())
		assert.Equal(t, 1, calls(mt, getJobKey))
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, "Bearer tok-1", headers.Get("Authorization"))
		assert.Equal(t, DefaultVersion, headers.Get("basiq-version"))
	})

	t.Run("escaping", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		var (
			mu    sync.Mutex
			paths []string
		)
		body := jobBody(t, "x", stepSpec{stVerify, "success", ""})
		mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			paths = append(paths, req.URL.EscapedPath()+"|"+req.URL.RawQuery)
			mu.Unlock()
			return jsonResp(http.StatusOK, body)(req)
		})
		for _, id := range []string{"a/b c", "../token", "j?x=1#y", "%2e%2e"} {
			_, err := c.Jobs.Get(t.Context(), id)
			require.NoError(t, err, id)
		}
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{
			"/jobs/a%2Fb%20c|",
			"/jobs/..%2Ftoken|",
			"/jobs/j%3Fx=1%23y|",
			"/jobs/%252e%252e|",
		}, paths)
	})

	t.Run("bad ids refused without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		for _, id := range []string{"", "  ", ".", "..", "j1\r\n"} {
			job, err := c.Jobs.Get(t.Context(), id)
			assert.Nil(t, job)
			require.ErrorIs(t, err, ErrValidation, "%q", id)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "jobId", ve.Field)
		}
		assert.Equal(t, 0, mt.GetTotalCallCount(), "no token request, no GET: %v", mt.GetCallCountInfo())
	})

	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusNotFound,
			`{"type":"list","correlationId":"c404","data":[{"type":"error","code":"resource-not-found","title":"Requested resource is not found.","detail":"Resource not found."}]}`))

		job, err := c.Jobs.Get(t.Context(), "j1")
		assert.Nil(t, job)
		require.ErrorIs(t, err, ErrNotFound)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
		assert.Equal(t, "resource-not-found", apiErr.Code())
		assert.Equal(t, "c404", apiErr.CorrelationID)
		assert.NotErrorIs(t, err, ErrUnauthorized)
		assert.Equal(t, 1, calls(mt, getJobKey), "a 404 is not retried")
	})
}

func TestWaitForJobSuccessAfterSeveralPolls(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
		jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "in-progress", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", `{"type":"link","url":"/users/u1/connections/c1"}`},
			stepSpec{stAccounts, "success", `{"type":"link","url":"/users/u1/accounts"}`}, stepSpec{stTransactions, "success", ""}),
	))

	var progress [][]string
	job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1", Reused: true}, fastPoll,
		WithProgress(func(j *Job) { progress = append(progress, statuses(j)) }))
	require.NoError(t, err)
	require.NotNil(t, job)
	assert.Equal(t, "j1", job.ID)
	assert.Equal(t, []string{stVerify + "=success", stAccounts + "=success", stTransactions + "=success"}, statuses(job))
	assert.Equal(t, "link", job.Step(stAccounts).Result.Type)
	assert.True(t, job.Reused, "Reused carries over from the job passed in")
	assert.Equal(t, 6, calls(mt, getJobKey), "one GET per scripted answer, none after success")
	assert.Equal(t, [][]string{
		{stVerify + "=in-progress", stAccounts + "=pending", stTransactions + "=pending"},
		{stVerify + "=success", stAccounts + "=in-progress", stTransactions + "=pending"},
		{stVerify + "=success", stAccounts + "=success", stTransactions + "=in-progress"},
		{stVerify + "=success", stAccounts + "=success", stTransactions + "=success"},
	}, progress, "progress once per change, not per poll")
}

func TestWaitForJobStepFailure(t *testing.T) {
	t.Parallel()
	const lockedResult = `{"code":"invalid-credentials","title":"Cannot login to target institution using supplied credentials.","detail":"Account is locked"}`

	tests := []struct {
		name   string
		result string
	}{
		{"object with detail", lockedResult},
		{"object with details", `{"code":"invalid-credentials","title":"Cannot login to target institution using supplied credentials.","details":"Account is locked"}`},
		{"array", `[{"type":"link","url":"/x"},` + lockedResult + `]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			failOnUnexpected(t, mt)
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
				jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
				jobBody(t, "j1", stepSpec{stVerify, "failed", tc.result}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
			))

			job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrJobFailed)
			assert.NotErrorIs(t, err, ErrInvalidResponse)
			var jobErr *JobError
			require.ErrorAs(t, err, &jobErr)
			assert.Equal(t, "j1", jobErr.JobID)
			assert.Equal(t, StepVerifyCredentials, jobErr.Step)
			assert.Equal(t, "invalid-credentials", jobErr.Code)
			assert.Equal(t, "Account is locked", jobErr.Detail)
			assert.Contains(t, err.Error(), "invalid-credentials")
			assert.Equal(t, 2, calls(mt, getJobKey), "returns at the poll that shows the failure")
			require.NotNil(t, job, "the last job seen is returned beside the error")
			assert.Equal(t, StepFailed, job.Step(stVerify).Status)
		})
	}

	t.Run("later step", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "skipped", ""}, stepSpec{stAccounts, "failed", `{"code":"service-unavailable","title":"Down"}`}, stepSpec{stTransactions, "pending", ""}),
		))
		_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
		var jobErr *JobError
		require.ErrorAs(t, err, &jobErr)
		assert.Equal(t, StepRetrieveAccounts, jobErr.Step)
		assert.Equal(t, "service-unavailable", jobErr.Code)
		assert.Equal(t, 1, calls(mt, getJobKey))
	})

	t.Run("failed without result", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "failed", ""}, stepSpec{stAccounts, "pending", ""})))
		_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
		var jobErr *JobError
		require.ErrorAs(t, err, &jobErr)
		assert.Equal(t, StepVerifyCredentials, jobErr.Step)
		assert.Empty(t, jobErr.Code)
	})
}

func TestWaitForJobMFAChallengeAndSkipped(t *testing.T) {
	t.Parallel()

	t.Run("mfa-challenge before retrieve-accounts", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "in-progress", `{"type":"mfa","method":"token","description":"Enter the code"}`}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "in-progress", ""}),
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""}),
		))

		// The challenge stops the wait, with the job and what the bank asks.
		job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll, WithUntilStep(StepRetrieveAccounts))
		require.ErrorIs(t, err, ErrMFARequired)
		var ch *MFAChallenge
		require.ErrorAs(t, err, &ch)
		assert.Equal(t, &MFAChallenge{JobID: "j1", Step: stMFA, Method: "token", Description: "Enter the code"}, ch)
		assert.Equal(t, StepInProgress, job.Step(stMFA).Status)
		assert.Equal(t, 1, calls(mt, getJobKey))

		// Waiting again (after the answer) goes on from the job it returned.
		// Until retrieve-accounts: the third step by position, found by title.
		job, err = c.WaitForJob(waitCtx(t), job, fastPoll, WithUntilStep(StepRetrieveAccounts))
		require.NoError(t, err)
		assert.Equal(t, StepSuccess, job.Step(stAccounts).Status)
		assert.Equal(t, StepInProgress, job.Step(stTransactions).Status)
		assert.Equal(t, 3, calls(mt, getJobKey))

		// All steps, mfa included.
		job, err = c.WaitForJob(waitCtx(t), job, fastPoll)
		require.NoError(t, err)
		assert.Equal(t, []string{stVerify + "=success", stMFA + "=success", stAccounts + "=success", stTransactions + "=success"}, statuses(job))
		assert.Equal(t, 4, calls(mt, getJobKey))
	})

	t.Run("skipped counts as done", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stMFA, "pending", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "skipped", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""}),
			// Never reached: a "skipped" step must not keep the waiter polling.
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "failed", `{"code":"should-not-be-seen"}`}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""}),
		))
		job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
		require.NoError(t, err)
		assert.Equal(t, StepSkipped, job.Step(stMFA).Status)
		assert.Equal(t, 2, calls(mt, getJobKey))
	})

	t.Run("until step skipped", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "skipped", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		))
		job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll, WithUntilStep(StepMFAChallenge))
		require.NoError(t, err)
		assert.Equal(t, StepSkipped, job.Step(stMFA).Status)
		assert.Equal(t, 1, calls(mt, getJobKey))
	})
}

func TestWaitForJobUntilStep(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
		jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "in-progress", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""}),
	))

	job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll, WithUntilStep(StepRetrieveAccounts))
	require.NoError(t, err)
	assert.Equal(t, []string{stVerify + "=success", stAccounts + "=success", stTransactions + "=in-progress"}, statuses(job))
	assert.Equal(t, 3, calls(mt, getJobKey), "returns at the poll where retrieve-accounts succeeded")
}

func TestWaitForJobCancellation(t *testing.T) {
	t.Parallel()
	slowPoll := WithPollInterval(10*time.Second, 10*time.Second)

	t.Run("cancel while sleeping", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
		ctx, cancel := context.WithCancel(waitCtx(t))
		time.AfterFunc(20*time.Millisecond, cancel)

		start := time.Now()
		job, err := c.WaitForJob(ctx, &Job{ID: "j1"}, slowPoll)
		elapsed := time.Since(start)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, elapsed, time.Second, "must not sleep out the poll interval")
		assert.GreaterOrEqual(t, elapsed, 15*time.Millisecond, "returned before the cancel")
		require.NotNil(t, job)
		assert.Equal(t, "j1", job.ID)
		assert.Equal(t, 0, calls(mt, getJobKey))
	})

	t.Run("cancel while sleeping after a poll", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
		ctx, cancel := context.WithCancel(waitCtx(t))
		var once sync.Once
		start := time.Now()
		// The cancel comes 20 ms after the first poll, while the waiter sleeps
		// between polls that see no change.
		job, err := c.WaitForJob(ctx, &Job{ID: "j1"}, WithPollInterval(5*time.Millisecond, 10*time.Second),
			WithProgress(func(*Job) { once.Do(func() { time.AfterFunc(20*time.Millisecond, cancel) }) }))
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), time.Second)
		assert.GreaterOrEqual(t, calls(mt, getJobKey), 1)
		require.NotNil(t, job)
		assert.Equal(t, []string{stVerify + "=in-progress"}, statuses(job), "the last job seen comes back")
	})

	t.Run("cancel during a request", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		ctx, cancel := context.WithCancel(waitCtx(t))
		mt.RegisterResponder(http.MethodGet, jobURL, func(req *http.Request) (*http.Response, error) {
			time.AfterFunc(20*time.Millisecond, cancel)
			<-release // a server that never answers
			return nil, errors.New("released")
		})
		start := time.Now()
		_, err := c.WaitForJob(ctx, &Job{ID: "j1"}, fastPoll)
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), time.Second)
		assert.Equal(t, 1, calls(mt, getJobKey), "a cancelled request is not retried")
	})

	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.WaitForJob(ctx, &Job{ID: "j1"}, slowPoll)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), time.Second)
	})

	t.Run("deadline while polling a job that never finishes", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		job, err := c.WaitForJob(ctx, &Job{ID: "j1"}, fastPoll)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Greater(t, calls(mt, getJobKey), 1, "polled more than once before the deadline")
		require.NotNil(t, job)
		assert.Equal(t, StepInProgress, job.Step(stVerify).Status)
	})
}

func TestWaitForJobFollowsLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		base    string // "" for testBase
		self    string
		wantURL string
		foreign string // a URL that must never be requested
		noJobID bool
	}{
		{name: "absolute on base", self: "https://api.test/jobs/1", wantURL: "https://api.test/jobs/1"},
		{name: "relative", self: "/jobs/1", wantURL: "https://api.test/jobs/1"},
		{name: "relative without id", self: "/jobs/1", wantURL: "https://api.test/jobs/1", noJobID: true},
		{name: "other host", self: "https://evil.test/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "https://evil.test/jobs/1"},
		{name: "same host, other port", self: "https://api.test:8443/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "https://api.test:8443/jobs/1"},
		{name: "same host, http", self: "http://api.test/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "http://api.test/jobs/1"},
		{name: "scheme-relative other host", self: "//evil.test/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "https://evil.test/jobs/1"},
		{name: "userinfo trick", self: "https://api.test@evil.test/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "https://api.test@evil.test/jobs/1"},
		{name: "prefix, relative", base: "https://api.test/prefix", self: "/jobs/1", wantURL: "https://api.test/prefix/jobs/1"},
		{name: "prefix, relative with prefix", base: "https://api.test/prefix", self: "/prefix/jobs/1", wantURL: "https://api.test/prefix/jobs/1"},
		{name: "prefix, other host", base: "https://api.test/prefix", self: "https://evil.test/prefix/jobs/1",
			wantURL: "https://api.test/prefix/jobs/1", foreign: "https://evil.test/prefix/jobs/1"},
		{name: "prefix, no link", base: "https://api.test/prefix/", self: "", wantURL: "https://api.test/prefix/jobs/1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if tc.base != "" {
				opts = append(opts, WithBaseURL(tc.base))
			}
			c, mt := newMockClient(t, opts...)
			mt.RegisterResponder(http.MethodPost, "https://api.test/prefix/token", tokenResponder("tok-1", 3600))

			var (
				mu        sync.Mutex
				leaked    []string // requests carrying a bearer token off the base origin
				requested []string
			)
			record := func(req *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				requested = append(requested, req.Method+" "+req.URL.String())
				if req.URL.Hostname() != "api.test" || req.URL.Scheme != "https" || req.URL.Port() != "" {
					leaked = append(leaked, req.URL.String()+" Authorization="+req.Header.Get("Authorization"))
				}
			}
			done := jobBody(t, "1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""})
			mt.RegisterResponder(http.MethodGet, tc.wantURL, func(req *http.Request) (*http.Response, error) {
				record(req)
				return jsonResp(http.StatusOK, done)(req)
			})
			if tc.foreign != "" {
				mt.RegisterResponder(http.MethodGet, tc.foreign, func(req *http.Request) (*http.Response, error) {
					record(req)
					return jsonResp(http.StatusOK, done)(req)
				})
			}
			mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
				record(req)
				return nil, errors.New("unexpected request")
			})

			in := &Job{ID: "1", Links: JobLinks{Self: tc.self}}
			if tc.noJobID {
				in.ID = ""
			}
			job, err := c.WaitForJob(waitCtx(t), in, fastPoll)
			require.NoError(t, err)
			assert.Equal(t, "1", job.ID)
			assert.Equal(t, 1, calls(mt, "GET "+tc.wantURL), "calls: %v", mt.GetCallCountInfo())
			if tc.foreign != "" {
				assert.Equal(t, 0, calls(mt, "GET "+tc.foreign))
			}
			mu.Lock()
			defer mu.Unlock()
			assert.Empty(t, leaked, "no request left the base origin")
			assert.Equal(t, []string{"GET " + tc.wantURL}, requested)
		})
	}
}

func TestWaitForJobInvalidResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{"unknown step status", `{"id":"j1","steps":[{"title":"verify-credentials","status":"success"},{"title":"retrieve-accounts","status":"paused"}]}`},
		{"unknown status on first step", `{"id":"j1","steps":[{"title":"verify-credentials","status":"queued"},{"title":"retrieve-accounts","status":"pending"}]}`},
		{"empty step status", `{"id":"j1","steps":[{"title":"verify-credentials","status":""}]}`},
		{"no steps", `{"id":"j1","steps":[]}`},
		{"null steps", `{"id":"j1","steps":null}`},
		{"steps missing", `{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1"}}`},
		{"not JSON", `<html>oops</html>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, tc.body))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()

			_, err := c.WaitForJob(ctx, &Job{ID: "j1"}, fastPoll)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidResponse)
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "an error, not an endless wait")
			assert.NotErrorIs(t, err, ErrJobFailed)
			assert.Equal(t, 1, calls(mt, getJobKey))
		})
	}

	t.Run("unknown status on the job passed in", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1", Steps: []Step{{Title: stVerify, Status: "paused"}}}, fastPoll)
		require.ErrorIs(t, err, ErrInvalidResponse)
		assert.Equal(t, 0, mt.GetTotalCallCount())
	})
}

func TestWaitForJobInvalidInputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		job       *Job
		opts      []WaitOption
		wantField string
	}{
		{"nil job", nil, []WaitOption{fastPoll}, "job"},
		{"no id, no link", &Job{}, []WaitOption{fastPoll}, "job.id"},
		{"blank id, no link", &Job{ID: "  "}, []WaitOption{fastPoll}, "job.id"},
		{"dot-dot id, no link", &Job{ID: ".."}, []WaitOption{fastPoll}, "job.id"},
		{"no id, foreign link", &Job{Links: JobLinks{Self: "https://evil.test/jobs/1"}}, []WaitOption{fastPoll}, "job.id"},
		{"zero min interval", &Job{ID: "j1"}, []WaitOption{WithPollInterval(0, 5*time.Millisecond)}, "pollInterval"},
		{"negative min interval", &Job{ID: "j1"}, []WaitOption{WithPollInterval(-time.Millisecond, 5*time.Millisecond)}, "pollInterval"},
		{"max below min", &Job{ID: "j1"}, []WaitOption{WithPollInterval(10*time.Millisecond, 5*time.Millisecond)}, "pollInterval"},
		{"bad interval then good", &Job{ID: "j1"}, []WaitOption{WithPollInterval(0, 0), fastPoll}, "pollInterval"},
		{"bad interval and nil job", nil, []WaitOption{WithPollInterval(0, 5*time.Millisecond)}, "pollInterval"},
		{"nil progress", &Job{ID: "j1"}, []WaitOption{WithProgress(nil)}, "progress"},
		{"blank until-step", &Job{ID: "j1"}, []WaitOption{WithUntilStep(" ")}, "untilStep"},
		{"negative expected duration", &Job{ID: "j1"}, []WaitOption{WithExpectedDurations(StepDurations{VerifyCredentials: -1})}, "expectedDurations"},
		{"NaN expected duration", &Job{ID: "j1"}, []WaitOption{WithExpectedDurations(StepDurations{RetrieveAccounts: math.NaN()})}, "expectedDurations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "success", ""})))

			_, err := c.WaitForJob(waitCtx(t), tc.job, tc.opts...)
			require.ErrorIs(t, err, ErrValidation)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.wantField, ve.Field)
			assert.Equal(t, 0, mt.GetTotalCallCount(), "no I/O: %v", mt.GetCallCountInfo())
		})
	}
}

func TestWaitForJobAlreadyFinished(t *testing.T) {
	t.Parallel()

	t.Run("complete", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		in := &Job{ID: "j1", Steps: []Step{{Title: stVerify, Status: StepSuccess}, {Title: stMFA, Status: StepSkipped}, {Title: stAccounts, Status: StepSuccess}}}
		called := false
		start := time.Now()
		job, err := c.WaitForJob(waitCtx(t), in, WithPollInterval(10*time.Second, 10*time.Second),
			WithProgress(func(*Job) { called = true }))
		require.NoError(t, err)
		assert.Same(t, in, job)
		assert.Less(t, time.Since(start), time.Second, "no sleep before judging the job passed in")
		assert.Equal(t, 0, mt.GetTotalCallCount())
		assert.False(t, called)
	})

	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		in := &Job{ID: "j1", Steps: []Step{{Title: stVerify, Status: StepFailed, Result: &StepResult{Code: "invalid-credentials", Detail: "Account is locked"}}}}
		job, err := c.WaitForJob(waitCtx(t), in, WithPollInterval(10*time.Second, 10*time.Second))
		var jobErr *JobError
		require.ErrorAs(t, err, &jobErr)
		assert.Equal(t, "invalid-credentials", jobErr.Code)
		assert.Same(t, in, job)
		assert.Equal(t, 0, mt.GetTotalCallCount())
	})

	t.Run("until step already done", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		in := &Job{ID: "j1", Steps: []Step{{Title: stVerify, Status: StepSuccess}, {Title: stAccounts, Status: StepSuccess}, {Title: stTransactions, Status: StepInProgress}}}
		job, err := c.WaitForJob(waitCtx(t), in, fastPoll, WithUntilStep(StepRetrieveAccounts))
		require.NoError(t, err)
		assert.Same(t, in, job)
		assert.Equal(t, 0, mt.GetTotalCallCount())
	})
}

// TestDeeplyNestedStepResultIsRefusedQuickly checks that a job whose step
// result nests arrays thousands deep (valid JSON, about 2 MiB) is decoded or
// refused in one linear pass rather than re-decoded at every level.
func TestDeeplyNestedStepResultIsRefusedQuickly(t *testing.T) {
	pad := `{"pad":"` + strings.Repeat("x", 200) + `"},`
	for _, tc := range []struct {
		name, open, close string
		depth             int
		refused           bool
	}{
		// Arrays in arrays: the API only ever sends an array of objects.
		{"arrays of arrays", "[" + pad, "]", 9000, true},
		// Nesting inside an object's unknown field is skipped, not decoded.
		{"objects nesting arrays", `[` + pad + pad + `{"x":`, "}]", 4500, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			depth := tc.depth // below encoding/json's own nesting limit, so the JSON is valid
			var b strings.Builder
			b.WriteString(`{"type":"job","id":"j1","steps":[{"title":"verify-credentials","status":"in-progress","result":`)
			b.WriteString(strings.Repeat(tc.open, depth))
			b.WriteString(`{}`)
			b.WriteString(strings.Repeat(tc.close, depth))
			b.WriteString(`}],"links":{"self":"https://api.test/jobs/j1"}}`)
			require.True(t, json.Valid([]byte(b.String())))
			require.Greater(t, b.Len(), 1<<20)

			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, b.String()))
			start := time.Now()
			_, err := c.Jobs.Get(context.Background(), "j1")
			elapsed := time.Since(start)
			if tc.refused {
				require.ErrorIs(t, err, ErrInvalidResponse)
			} else {
				require.NoError(t, err)
			}
			// Generous for -race on a loaded machine; the quadratic
			// decode took minutes of CPU.
			assert.Less(t, elapsed, 2*time.Second)
		})
	}
}

// TestStepResultDecodeCostIsLinear measures the decoder alone: a hostile
// result of about 2 MiB must be refused in well under 100 ms of work.
func TestStepResultDecodeCostIsLinear(t *testing.T) {
	pad := `{"pad":"` + strings.Repeat("x", 200) + `"},`
	raw := []byte(strings.Repeat("["+pad, 9000) + "{}" + strings.Repeat("]", 9000))
	var r StepResult
	start := time.Now()
	err := json.Unmarshal(raw, &r)
	elapsed := time.Since(start)
	require.Error(t, err)
	if !raceEnabled {
		assert.Less(t, elapsed, 100*time.Millisecond)
	}
}

// TestMFAExpiryNeverOverflows checks that an absurd expiryMs is ignored
// rather than wrapped into a negative or wrong duration.
func TestMFAExpiryNeverOverflows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want time.Duration
	}{
		{`120000`, 2 * time.Minute},
		{`"120000"`, 2 * time.Minute},
		{`9300000000000`, 0},
		{`999999999999999`, 0},
		{`1e300`, 0},
		{`-5`, 0},
	} {
		var r StepResult
		require.NoError(t, json.Unmarshal([]byte(`{"type":"mfa","expiryMs":`+tc.raw+`}`), &r))
		ch := mfaChallenge("j1", Step{Title: StepMFAChallenge, Status: StepInProgress, Result: &r})
		require.NotNil(t, ch)
		assert.Equal(t, tc.want, ch.Expiry, tc.raw)
	}
}

// TestWaitErrorsCarryNoControlCharactersFromIDs checks that a job id or step
// from the server reaches WaitForJob's error strings cleaned and bounded.
func TestWaitErrorsCarryNoControlCharactersFromIDs(t *testing.T) {
	t.Parallel()
	hostileID := "j1\r\nforged \x1b[31mred" + strings.Repeat("x", 1<<20)
	for _, body := range []string{
		`{"id":` + strconv.Quote(hostileID) + `,"steps":[]}`,
		`{"id":` + strconv.Quote(hostileID) + `,"steps":[{"title":"a\r\nb","status":"\u001b[2Jodd"}]}`,
	} {
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, body))
		_, err := c.WaitForJob(context.Background(), &Job{ID: "j1", Links: JobLinks{Self: jobURL}}, fastPoll)
		require.ErrorIs(t, err, ErrInvalidResponse)
		assert.False(t, strings.ContainsAny(err.Error(), "\r\n\x1b"), "%.200q", err.Error())
		assert.Less(t, len(err.Error()), 1000)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, jobURL, func(r *http.Request) (*http.Response, error) {
		cancel()
		return jsonResp(http.StatusOK, `{"id":"j1","steps":[{"title":"verify-credentials","status":"in-progress"}]}`)(r)
	})
	_, err := c.WaitForJob(ctx, &Job{ID: hostileID, Links: JobLinks{Self: jobURL}}, fastPoll)
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, strings.ContainsAny(err.Error(), "\r\n\x1b"))
	assert.Less(t, len(err.Error()), 1000)
}
