package basiq

import (
	"context"
	"net/http"
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
