package basiq

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		assert.Equal(t, StepStatusInProgress, j.Step(stAccounts).Status)
		assert.Equal(t, StepStatusSkipped, j.Step(stMFA).Status)
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

func TestJobsList(t *testing.T) {
	t.Parallel()
	const jobsJSON = `{"type":"list","count":2,"data":[
		{"type":"job","id":"j1","created":"2024-03-01T10:00:00Z","updated":"",
		 "institution":{"type":"institution","id":"AU00000","links":{"self":"https://api.test/institutions/AU00000"}},
		 "steps":[{"title":"verify-credentials","status":"success","result":null},
		          {"title":"retrieve-accounts","status":"failed","result":{"code":"service-unavailable","title":"Unavailable"}}],
		 "links":{"self":"https://api.test/jobs/j1","source":"https://api.test/users/u1/connections/c1"}},
		{"type":"job","id":"j2","steps":[],"links":{"self":"https://api.test/jobs/j2"}}]}`

	c, _, rec := setup(t, http.MethodGet, userJobsURL, jsonResp(http.StatusOK, jobsJSON))

	jobs, err := c.Jobs.List(t.Context(), "u1", &JobFilter{ConnectionID: "c1"})
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	j := jobs[0]
	assert.Equal(t, "j1", j.ID)
	require.NotNil(t, j.Institution)
	assert.Equal(t, InstitutionRef{ID: "AU00000"}, *j.Institution)
	assert.Equal(t, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), j.Created)
	assert.True(t, j.Updated.IsZero())
	assert.Equal(t, "c1", j.ConnectionID())
	require.NotNil(t, j.Step(stAccounts))
	require.NotNil(t, j.Step(stAccounts).Result)
	assert.Equal(t, "service-unavailable", j.Step(stAccounts).Result.Code)
	assert.Nil(t, jobs[1].Institution)
	assert.Empty(t, jobs[1].ConnectionID())

	_, err = c.Jobs.List(t.Context(), "u1", nil)
	require.NoError(t, err)
	_, err = c.Jobs.List(t.Context(), "u1", &JobFilter{ConnectionID: "c1", Raw: "job.created.gt('2024-01-01')"})
	require.NoError(t, err)

	reqs := rec.all()
	require.Len(t, reqs, 3)
	assert.Equal(t, url.Values{"filter": {"connection.id.eq('c1')"}}, reqs[0].Query)
	assert.Equal(t, "connection.id.eq('c1')", reqs[0].Query.Get("filter"))
	assert.Empty(t, reqs[1].Query)
	assert.Equal(t, url.Values{"filter": {"connection.id.eq('c1'),job.created.gt('2024-01-01')"}}, reqs[2].Query)

	_, err = c.Jobs.List(t.Context(), "u1", &JobFilter{ConnectionID: "c1'"})
	assert.Equal(t, []string{"connectionId"}, validationFields(t, err))
	assert.Len(t, rec.all(), 3, "refused arguments make no request")
}

// userJobsURL lists user u1's jobs.
const userJobsURL = testBase + "/users/u1/jobs"

// fuzzJobSeeds are job bodies as GET /jobs/{id} (and POST .../connections)
// answer them, in the shapes the API reference and the v2 spec disagree on.
var fuzzJobSeeds = []string{
	// POST /users/{id}/connections answers 202 with a job without steps.
	`{"type":"job","id":"61723","links":{"self":"https://au-api.basiq.io/jobs/61723"}}`,
	// Running: results null.
	`{"type":"job","id":"j1","created":"2024-03-01T10:00:00Z","updated":"2024-03-01T10:00:02Z",
	  "steps":[{"title":"verify-credentials","status":"in-progress","result":null},
	           {"title":"retrieve-accounts","status":"pending","result":null},
	           {"title":"retrieve-transactions","status":"pending","result":null}],
	  "links":{"self":"https://au-api.basiq.io/jobs/j1","source":"https://au-api.basiq.io/users/u1/connections/c1"}}`,
	// Done: link results.
	`{"type":"job","id":"j2","steps":[
	   {"title":"verify-credentials","status":"success","result":{"type":"link","url":"/users/u1/connections/c2"}},
	   {"title":"retrieve-accounts","status":"success","result":{"type":"link","url":"/users/u1/accounts?filter=connection.id.eq('c2')"}},
	   {"title":"retrieve-transactions","status":"success","result":{"type":"link","url":"/users/u1/transactions?filter=connection.id.eq('c2')"}}],
	  "links":{"self":"/jobs/j2","source":"/users/u1/connections/c2"}}`,
	// Failed: "detail" (reference) and "details" (v2 spec).
	`{"type":"job","id":"j3","steps":[{"title":"verify-credentials","status":"failed",
	   "result":{"code":"invalid-credentials","title":"Cannot login to target institution using supplied credentials.","detail":"Account is locked"}},
	   {"title":"retrieve-accounts","status":"pending","result":null}],"links":{"source":"/users/u1/connections/c3"}}`,
	`{"type":"job","id":"j4","steps":[{"title":"verify-credentials","status":"failed",
	   "result":{"code":"account-not-accessible-requires-user-action","title":"User action required","details":"Log in to your bank and accept the terms"}}]}`,
	// Failed: result as an array.
	`{"type":"job","id":"j5","steps":[{"title":"verify-credentials","status":"failed",
	   "result":[{"type":"link","url":"/users/u1/connections/c5"},{"code":"service-unavailable","title":"Service unavailable","details":"The bank is unavailable"}]}]}`,
	`{"id":"j6","steps":[{"title":"verify-credentials","status":"success","result":[]},{"title":"retrieve-accounts","status":"success","result":[[{"code":"x"}]]}]}`,
	// MFA: one-time code, input of objects.
	`{"type":"job","id":"j7","steps":[{"title":"verify-credentials","status":"success","result":null},
	   {"title":"mfa-challenge","status":"in-progress","result":{"type":"mfa","method":"token",
	    "description":"Enter the code sent to your phone","input":[{"type":"text","question":"One-time code"}],
	    "expiryMs":120000,"links":{"response":"https://au-api.basiq.io/jobs/j7/mfa"}}},
	   {"title":"retrieve-accounts","status":"pending","result":null}]}`,
	// MFA: security questions, input of strings and odd objects.
	`{"id":"j8","steps":[{"title":"mfa-challenge","status":"pending","result":{"type":"mfa","method":"security-questions",
	   "input":["Name of your first pet?",{"label":"Mother's maiden name"},{"title":"t"},{"description":"d"},{},1,null,["x"]],
	   "expiryMs":1.2e5,"links":{"response":"/jobs/j8/mfa"}}}]}`,
	`{"id":"j9","steps":[{"title":"mfa-challenge","status":"skipped","result":{"type":"mfa"}},{"title":"retrieve-accounts","status":"success"}]}`,
	`{"id":"j10","steps":[{"title":"mfa-challenge","status":"failed","result":{"type":"mfa","code":"job-timed-out"}}]}`,
	// Unknown statuses.
	`{"id":"j11","steps":[{"title":"verify-credentials","status":"queued"}]}`,
	`{"id":"j12","steps":[{"title":"verify-credentials","status":""},{"title":"retrieve-accounts","status":"failed"}]}`,
	`{"id":"j13","steps":[{"title":"verify-credentials","status":"SUCCESS"}]}`,
	// Jobs list items: institution as an object or an id; odd timestamps.
	`{"type":"job","id":"j14","created":"2024-03-01 10:00:00","updated":"","institution":{"id":"AU00000","links":{}},"steps":[],"links":{"source":"connections/"}}`,
	`{"id":"j15","created":1709287200,"updated":null,"institution":"AU00000","steps":null,"links":{"source":"%zz"}}`,
	// links.source in odd forms.
	`{"id":"j16","steps":[{"title":"a","status":"success"}],"links":{"source":"http://[::1"}}`,
	`{"id":"j17","steps":[{"title":"a","status":"success"}],"links":{"source":"/"}}`,
	`{"id":"j18","steps":[{"title":"a","status":"success"}],"links":{"source":"/users/u1/connections/a%2Fb%00"}}`,
	`{"id":"j19","steps":[{"title":"a","status":"success"}],"links":{"source":"mailto:someone@example.com"}}`,
	// Not a job at all.
	``, `null`, `{}`, `[]`, `"job"`, `{"steps":{}}`,
	`{"type":"job","id":"j20","steps":[{"title":"verify-credentials","status":"fail`,
}

// FuzzDecodeJob decodes job bodies in every shape the API and its spec
// disagree on, and checks what the waiter reads of them: no panic, a
// consistent judgement, ConnectionID only from links.source, stepsChanged
// reflexive. Seeds: fuzzJobSeeds and testdata/fuzz/FuzzDecodeJob; .ci/fuzz
// runs it for a budget:
//
//	go test -run '^$' -fuzz '^FuzzDecodeJob$' -fuzztime 60s .
//
// Checks marked "Found by fuzzing:" guard issues a fuzzer once found.
func FuzzDecodeJob(f *testing.F) {
	for _, s := range fuzzJobSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var job Job
		if err := json.Unmarshal(data, &job); err != nil {
			return // a decode error becomes ErrInvalidResponse in send
		}
		for _, st := range job.Steps {
			if job.Step(st.Title) == nil {
				t.Fatalf("Step(%q) = nil for a step the job has", st.Title)
			}
			je := newJobError(job.ID, st)
			if je.Step != st.Title || je.JobID != job.ID || !errors.Is(je, ErrJobFailed) || je.Error() == "" {
				t.Fatalf("newJobError(%q, %+v) = %+v", job.ID, st, je)
			}
			if ch := mfaChallenge(job.ID, st); ch != nil {
				if st.Status.Done() || st.Status == StepStatusFailed {
					t.Fatalf("mfaChallenge for a step with status %q", st.Status)
				}
				if !errors.Is(ch, ErrMFARequired) || ch.Error() == "" || ch.fingerprint() == "" {
					t.Fatalf("mfaChallenge = %+v", ch)
				}
			}
			// With untilStep, judgeJob may only stop early on a step that is done.
			if done, err := judgeJob(&job, st.Title, true); done && err != nil {
				t.Fatalf("judgeJob(until %q) = true, %v", st.Title, err)
			}
		}
		if _, err := judgeJob(&job, "", false); len(job.Steps) == 0 && err != nil {
			t.Fatalf("judgeJob(not fetched) of a job without steps = %v", err)
		}
		done, err := judgeJob(&job, "", true)
		fuzzCheckJudge(t, &job, done, err)

		id := job.ConnectionID()
		if job.Links.Source == "" && id != "" {
			t.Fatalf("ConnectionID() = %q without links.source", id)
		}
		if !stepsChangedIsReflexive(&job) {
			// Found by fuzzing: two steps with one title and different statuses
			// make stepsChanged(j, j) true, so WaitForJob would reset its
			// interval and call the progress callback on every poll.
			t.Fatalf("stepsChanged(job, job) = true")
		}
	})
}

func stepsChangedIsReflexive(job *Job) bool {
	clone := *job
	return !stepsChanged(job, &clone)
}

// fuzzCheckJudge checks judgeJob's verdict against a model of the rules in
// its doc: the first decisive step in order decides; a failed step is a
// *JobError, a waiting step with an mfa result an *MFAChallenge, a status
// this library does not know ErrInvalidResponse; otherwise the job is done
// when every step is success or skipped.
func fuzzCheckJudge(t *testing.T, job *Job, done bool, err error) {
	t.Helper()
	everyDone := len(job.Steps) > 0
	for _, st := range job.Steps {
		if st.Status != "success" && st.Status != "skipped" {
			everyDone = false
		}
	}
	if done && (err != nil || !everyDone) {
		t.Fatalf("judgeJob = done, %v for steps %+v", err, job.Steps)
	}
	if everyDone && (!done || err != nil) {
		t.Fatalf("judgeJob = %v, %v for a job whose steps are all done", done, err)
	}
	kinds := 0
	for _, s := range []error{ErrJobFailed, ErrMFARequired, ErrInvalidResponse} {
		if errors.Is(err, s) {
			kinds++
		}
	}
	if err != nil && kinds != 1 {
		t.Fatalf("judgeJob error %v matches %d of ErrJobFailed, ErrMFARequired, ErrInvalidResponse", err, kinds)
	}

	kind, at := "wait", -1
	if len(job.Steps) == 0 {
		kind = "invalid"
	}
	if everyDone {
		kind = "done"
	}
decide:
	for i, st := range job.Steps {
		switch {
		case st.Status == "success" || st.Status == "skipped":
			continue
		case st.Status == "failed":
			kind, at = "failed", i
		case st.Status != "pending" && st.Status != "in-progress":
			kind, at = "invalid", i
		case st.Result != nil && st.Result.Type == "mfa":
			kind, at = "mfa", i
		default:
			continue
		}
		break decide
	}
	switch kind {
	case "done":
		// checked above
	case "wait":
		if done || err != nil {
			t.Fatalf("judgeJob = %v, %v; want not done, nil (steps %+v)", done, err, job.Steps)
		}
	case "failed":
		var je *JobError
		if done || !errors.As(err, &je) || je.Step != job.Steps[at].Title || je.JobID != job.ID {
			t.Fatalf("judgeJob = %v, %v; want a *JobError for step %d %+v", done, err, at, job.Steps[at])
		}
		if r := job.Steps[at].Result; r != nil && (je.Code != r.Code || je.Detail != r.Detail) {
			t.Fatalf("JobError %+v does not carry the result %+v", je, r)
		}
	case "mfa":
		var ch *MFAChallenge
		if done || !errors.As(err, &ch) || ch.Step != job.Steps[at].Title {
			t.Fatalf("judgeJob = %v, %v; want an *MFAChallenge for step %d %+v", done, err, at, job.Steps[at])
		}
	case "invalid":
		if done || !errors.Is(err, ErrInvalidResponse) {
			t.Fatalf("judgeJob = %v, %v; want ErrInvalidResponse (steps %+v)", done, err, job.Steps)
		}
	}
}

// TestStepTitlesKeepStringSignatures checks that the step title constants
// are StepTitle, an alias of string, so that Step.Title, Job.Step and
// WithUntilStep take them and plain strings alike, and that every title
// Basiq's published files list has a constant.
func TestStepTitlesKeepStringSignatures(t *testing.T) {
	t.Parallel()
	assert.Equal(t, reflect.TypeFor[string](), reflect.TypeFor[StepTitle]())
	titles := []StepTitle{StepVerifyCredentials, StepMFAChallenge, StepRetrieveAccounts, StepRetrieveTransactions, StepRetrieveStatements}
	job := &Job{Steps: []Step{{Title: StepVerifyCredentials}, {Title: "retrieve-accounts"}}}
	var s string = StepRetrieveAccounts
	assert.Same(t, &job.Steps[1], job.Step(s))
	assert.Same(t, &job.Steps[0], job.Step(StepVerifyCredentials))
	assert.NotNil(t, WithUntilStep(StepRetrieveTransactions))

	for _, file := range []string{"v2/swagger.json", "v3/core.yml"} {
		for _, v := range specEnum(t, file, "JobsStep", "title") {
			assert.Contains(t, titles, v, "%s: step title %q", file, v)
		}
	}
}

// A nil *Job answers as a job with nothing yet: no connection, no step.
func TestNilJobHasNoConnectionAndNoStep(t *testing.T) {
	t.Parallel()
	var j *Job
	assert.NotPanics(t, func() {
		assert.Empty(t, j.ConnectionID())
		assert.Nil(t, j.Step(StepVerifyCredentials))
	})
}
