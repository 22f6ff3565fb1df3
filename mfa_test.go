package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMFAChallengeStringIsCleaned(t *testing.T) {
	t.Parallel()
	for name, v := range hostileTexts {
		for _, e := range []*MFAChallenge{
			{JobID: v, Step: StepMFAChallenge, Method: "token"},
			{JobID: "j1", Step: v, Method: "token"},
			{JobID: "j1", Step: StepMFAChallenge, Method: v},
			{JobID: "j1", Step: StepMFAChallenge, Method: "token", Description: v},
			{JobID: v, Step: v, Method: v, Description: v, Questions: []string{v}, ResponseURL: v},
		} {
			assertCleanErrorString(t, e.Error(), name)
		}
	}
	assert.Equal(t, "basiq: job j1 waits for an MFA answer at step mfa-challenge (token): Enter the code sent to 04xx",
		(&MFAChallenge{JobID: "j1", Step: StepMFAChallenge, Method: "token", Description: "Enter the code sent to 04xx"}).Error())
}

// TestMFAChallengeStringMasksTheClientsSecrets checks that a challenge
// whose description quotes the API key or the access token does not put
// them in the error string; the fields keep what the API sent.
func TestMFAChallengeStringMasksTheClientsSecrets(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""},
		stepSpec{stMFA, "in-progress", `{"type":"mfa","method":"token","description":"key ` + testKey + ` token tok-1"}`})))
	_, err := c.WaitForJob(t.Context(), &Job{ID: "j1"}, fastPoll)
	var ch *MFAChallenge
	require.ErrorAs(t, err, &ch)
	assert.Equal(t, "basiq: job j1 waits for an MFA answer at step mfa-challenge (token): key "+redacted+" token "+redacted, err.Error())
	assert.Equal(t, "key "+testKey+" token tok-1", ch.Description, "the field keeps what the API sent")
}

func TestMFAChallengeInsideArrayResult(t *testing.T) {
	t.Parallel()
	var st Step
	require.NoError(t, json.Unmarshal([]byte(`{"title":"mfa-challenge","status":"in-progress","result":[
		{"type":"link","url":"/users/u1/connections/c1"},
		{"type":"mfa","method":"token","description":"Code","input":["One-time code"],"expiryMs":"60000"}]}`), &st))
	ch := mfaChallenge("j1", st)
	require.NotNil(t, ch, "a challenge that is not the first item is still seen")
	assert.Equal(t, time.Minute, ch.Expiry, "a numeric string expiry is read")

	var r StepResult
	require.NoError(t, json.Unmarshal([]byte(`{"type":"mfa","expiryMs":""}`), &r), "an odd expiry does not fail the job")
	assert.Zero(t, r.ExpiryMs)
}

// scopedTokens answers POST /token with a token named after the requested
// scope: srv-tok for SERVER_ACCESS, cli-tok for CLIENT_ACCESS.
func scopedTokens(t *testing.T) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, err
		}
		switch form.Get("scope") {
		case scopeServer:
			return tokenResponder("srv-tok", 3600)(r)
		case scopeClient:
			return tokenResponder("cli-tok", 3600)(r)
		}
		t.Errorf("token request with unexpected form %q", b)
		return jsonResp(http.StatusBadRequest, `{"type":"list","data":[{"code":"parameter-not-valid"}]}`)(r)
	}
}

func TestRespondMFA(t *testing.T) {
	t.Parallel()
	const acceptedJob = `{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1"}}`

	t.Run("posts the answer with a client token", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		var tokens, jobs, answers reqRecorder
		mt.RegisterResponder(http.MethodPost, testBase+"/token", tokens.wrap(scopedTokens(t)))
		mt.RegisterResponder(http.MethodGet, jobURL, jobs.wrap(jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "success", ""}))))
		mt.RegisterResponder(http.MethodPost, mfaURL, answers.wrap(jsonResp(http.StatusAccepted, acceptedJob)))

		_, err := c.Jobs.Get(t.Context(), "j1")
		require.NoError(t, err)
		job, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.NoError(t, err)
		require.NotNil(t, job)
		assert.Equal(t, "j1", job.ID)
		assert.Equal(t, "https://api.test/jobs/j1", job.Links.Self)
		_, err = c.Jobs.Get(t.Context(), "j1")
		require.NoError(t, err)
		_, err = c.Jobs.RespondMFA(t.Context(), "j1", "Fluffy", "Paris")
		require.NoError(t, err)

		// Two token requests, one per scope; both tokens are cached.
		tokReqs := tokens.all()
		require.Len(t, tokReqs, 2, "one token per scope, each fetched once")
		form0, err := url.ParseQuery(tokReqs[0].Body)
		require.NoError(t, err)
		form1, err := url.ParseQuery(tokReqs[1].Body)
		require.NoError(t, err)
		assert.Equal(t, url.Values{"scope": {scopeServer}}, form0)
		assert.Equal(t, url.Values{"scope": {scopeClient}}, form1)
		for _, r := range tokReqs {
			assert.Equal(t, "Basic "+testKey, r.Auth)
			assert.Equal(t, "application/x-www-form-urlencoded", r.ContentType)
		}

		ans := answers.all()
		require.Len(t, ans, 2)
		for _, r := range ans {
			assert.Equal(t, "/jobs/j1/mfa", r.Path)
			assert.Equal(t, "Bearer cli-tok", r.Auth, "the answer goes with the client token")
			assert.NotEqual(t, "Bearer srv-tok", r.Auth, "never with the server token")
			assert.Equal(t, "application/json", r.ContentType)
		}
		assert.JSONEq(t, `{"mfa-response":["1234"]}`, ans[0].Body)
		assert.JSONEq(t, `{"mfa-response":["Fluffy","Paris"]}`, ans[1].Body)

		gets := jobs.all()
		require.Len(t, gets, 4, "two reads, and one before each answer to know the challenge answered")
		for _, r := range gets {
			assert.Equal(t, "Bearer srv-tok", r.Auth, "other calls keep the server token")
		}
	})

	t.Run("each scope's token fetched once, the server's for reads", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		var tokens, jobs reqRecorder
		mt.RegisterResponder(http.MethodPost, testBase+"/token", tokens.wrap(scopedTokens(t)))
		mt.RegisterResponder(http.MethodGet, jobURL, jobs.wrap(jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "success", ""}))))
		mt.RegisterResponder(http.MethodPost, mfaURL, jsonResp(http.StatusAccepted, acceptedJob))

		_, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.NoError(t, err)
		_, err = c.Jobs.Get(t.Context(), "j1")
		require.NoError(t, err)
		_, err = c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.NoError(t, err)

		tokReqs := tokens.all()
		require.Len(t, tokReqs, 2)
		assert.Equal(t, "scope="+scopeServer, tokReqs[0].Body, "RespondMFA reads the job first")
		assert.Equal(t, "scope="+scopeClient, tokReqs[1].Body)
		require.Len(t, jobs.all(), 3)
		for _, r := range jobs.all() {
			assert.Equal(t, "Bearer srv-tok", r.Auth)
		}
	})

	t.Run("an accepted answer that names no job is an invalid response", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, mfaURL, jsonResp(http.StatusAccepted, `{"type":"job"}`))
		job, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.ErrorIs(t, err, ErrInvalidResponse)
		assert.Nil(t, job)
	})

	t.Run("not retried on a network error", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, mfaURL, httpmock.NewErrorResponder(errors.New("connection reset by peer")))
		_, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.Error(t, err)
		assert.Equal(t, 1, calls(mt, postMFAKey))
	})

	t.Run("empty answers refused without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		tests := []struct {
			jobID      string
			answers    []string
			wantFields []string
		}{
			{"j1", nil, []string{"mfa-response"}},
			{"j1", []string{""}, []string{"mfa-response"}},
			{"j1", []string{" \t"}, []string{"mfa-response"}},
			{"j1", []string{"1234", ""}, []string{"mfa-response"}},
			{"", []string{"1234"}, []string{"jobId"}},
			{"..", nil, []string{"jobId", "mfa-response"}},
		}
		for _, tc := range tests {
			job, err := c.Jobs.RespondMFA(t.Context(), tc.jobID, tc.answers...)
			assert.Nil(t, job)
			assert.Equal(t, tc.wantFields, validationFields(t, err), "%q %q", tc.jobID, tc.answers)
		}
		assert.Equal(t, 0, mt.GetTotalCallCount(), "no token request, no POST: %v", mt.GetCallCountInfo())
	})

	t.Run("the answer is never in errors or logs", func(t *testing.T) {
		t.Parallel()
		failures := map[string]httpmock.Responder{
			"500 JSON": jsonResp(http.StatusInternalServerError,
				`{"type":"list","correlationId":"c500","data":[{"code":"internal-server-error","title":"Internal Server Error","detail":"boom"}]}`),
			"400 HTML":      httpmock.NewStringResponder(http.StatusBadRequest, "<html><body>Bad Request</body></html>"),
			"network error": httpmock.NewErrorResponder(errors.New("connection reset by peer")),
			"bad 2xx body":  jsonResp(http.StatusAccepted, `{"type":"job",`),
		}
		for name, fail := range failures {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var (
					buf bytes.Buffer
					mu  sync.Mutex
				)
				logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
				c, mt := newMockClient(t, WithLogger(logger))
				mt.RegisterResponder(http.MethodPost, testBase+"/token", scopedTokens(t))
				mt.RegisterResponder(http.MethodPost, mfaURL, fail)

				job, err := c.Jobs.RespondMFA(t.Context(), "j1", mfaCode, mfaCode+"-second")
				assert.Nil(t, job)
				require.Error(t, err)
				assert.NotContains(t, err.Error(), mfaCode)
				assert.NotContains(t, fmt.Sprintf("%+v", err), mfaCode)
				assert.Equal(t, 1, calls(mt, postMFAKey))

				mu.Lock()
				defer mu.Unlock()
				out := buf.String()
				assert.Contains(t, out, "/jobs/j1/mfa", "the debug log records the request")
				assert.NotContains(t, out, mfaCode)
				assert.NotContains(t, out, "cli-tok")
				assert.NotContains(t, out, testKey)
			})
		}
	})
}

const (
	mfaURL     = testBase + "/jobs/j1/mfa"
	postMFAKey = "POST " + mfaURL

	// mfaCode is an MFA answer distinctive enough that finding it in a log
	// line or an error string cannot be a coincidence.
	mfaCode = "mfa-code-573920"
)

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
		ch := mfaChallenge("j1", Step{Title: StepMFAChallenge, Status: StepStatusInProgress, Result: &r})
		require.NotNil(t, ch)
		assert.Equal(t, tc.want, ch.Expiry, tc.raw)
	}
}

// TestRespondMFASendsTheAnswerOnce checks that an MFA answer is sent once
// whatever the answer: not after 5xx, not even after a 401 or 403 refusing
// the access token, which a gateway may send after forwarding the code.
func TestRespondMFASendsTheAnswerOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"401 without a body", http.StatusUnauthorized, `{}`},
		{"401 invalid token", http.StatusUnauthorized, `{"type":"list","data":[{"code":"invalid-authorization-token"}]}`},
		{"403 token expired", http.StatusForbidden, `{"type":"list","data":[{"code":"access-denied","detail":"Token has expired"}]}`},
		{"502", http.StatusBadGateway, `{}`},
		{"503", http.StatusServiceUnavailable, `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(http.StatusOK, `{"id":"j1","steps":[]}`))
			mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa", jsonResp(tc.status, tc.body))
			_, err := c.Jobs.RespondMFA(context.Background(), "j1", "123456")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, 1, calls(mt, "POST "+testBase+"/jobs/j1/mfa"), "the code was sent once")
		})
	}
}

// TestRespondMFAReadNeverDelaysTheCode checks that the read RespondMFA makes
// before answering (to know which challenge it answers) is one bounded
// attempt: a slow, rate-limited or failing read does not hold up the code,
// which expires.
func TestRespondMFAReadNeverDelaysTheCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		get  httpmock.Responder
	}{
		{"503 asking for a minute", func(r *http.Request) (*http.Response, error) {
			resp := httpmock.NewStringResponse(http.StatusServiceUnavailable, `{}`)
			resp.Header.Set("Retry-After", "60")
			return resp, nil
		}},
		{"500", jsonResp(http.StatusInternalServerError, `{}`)},
		{"hangs", func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, mt := newMockClient(t)
				mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", tc.get)
				mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa", jsonResp(http.StatusAccepted, `{"type":"job","id":"j1"}`))
				start := time.Now()
				job, err := c.Jobs.RespondMFA(context.Background(), "j1", "123456")
				require.NoError(t, err)
				assert.Equal(t, "j1", job.ID)
				assert.LessOrEqual(t, time.Since(start), hintTimeout, "the code went out within the read's bound")
				assert.Equal(t, 1, calls(mt, "GET "+testBase+"/jobs/j1"), "one attempt at the read")
			})
		})
	}
}
