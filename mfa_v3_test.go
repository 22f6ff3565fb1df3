package basiq

import (
	"context"
	"net/http"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mfaJobJSON = `{"type":"job","id":"j1","jobType":"connection","steps":[
 {"title":"verify-credentials","status":"in-progress","result":{"type":"mfa","method":"token","description":"Enter the code","input":["One-time code"]}}],
 "links":{"self":"https://api.test/jobs/j1","source":"https://api.test/users/u-7/connections/c1"}}`

// mfaSeen records the answers' credentials and versions.
func mfaSeen(mt *httpmock.MockTransport) *[][2]string {
	var seen [][2]string
	mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa", func(r *http.Request) (*http.Response, error) {
		seen = append(seen, [2]string{r.Header.Get("Authorization"), r.Header.Get("basiq-version")})
		return jsonResp(202, `{"type":"job","id":"j1"}`)(r)
	})
	return &seen
}

func TestRespondMFAOnVersion3BindsTheTokenToTheJobsUser(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	tokens := recordTokens(t, mt)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, mfaJobJSON))
	seen := mfaSeen(mt)

	for range 2 {
		job, err := c.Jobs.RespondMFA(context.Background(), "j1", "1234")
		require.NoError(t, err)
		assert.Equal(t, "j1", job.ID)
	}
	assert.Equal(t, [][2]string{
		{"Bearer tok-CLIENT_ACCESS-3.0-u-7", "3.0"},
		{"Bearer tok-CLIENT_ACCESS-3.0-u-7", "3.0"},
	}, *seen)
	assert.Equal(t, []tokenRequest{
		{Scope: scopeServer, Version: "3.0"}, // reading the job
		{Scope: scopeClient, UserID: "u-7", Version: "3.0"},
		{Scope: scopeClient, UserID: "u-7", Version: "3.0"}, // a fresh one each time: none is kept
	}, tokens())
}

func TestRespondMFAForUserOnVersion3(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	tokens := recordTokens(t, mt)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, `{"id":"j1","steps":[{"title":"verify-credentials","status":"in-progress"}]}`))
	seen := mfaSeen(mt)

	// The job names no user: RespondMFA cannot bind the token and sends nothing.
	_, err := c.Jobs.RespondMFA(context.Background(), "j1", "1234")
	assert.Equal(t, []string{"userId"}, validationFields(t, err))
	assert.Empty(t, *seen)

	_, err = c.Jobs.RespondMFAForUser(context.Background(), "u-9", "j1", "1234")
	require.NoError(t, err)
	assert.Equal(t, [][2]string{{"Bearer tok-CLIENT_ACCESS-3.0-u-9", "3.0"}}, *seen)
	assert.Equal(t, tokenRequest{Scope: scopeClient, UserID: "u-9", Version: "3.0"}, tokens()[len(tokens())-1])

	_, err = c.Jobs.RespondMFAForUser(context.Background(), "..", "j1", "1234")
	assert.Equal(t, []string{"userId"}, validationFields(t, err))
	assert.Len(t, *seen, 1)
}

func TestRespondMFAOnVersion3ReportsAnUnreadableJob(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(404, `{"data":[{"code":"resource-not-found"}]}`))
	seen := mfaSeen(mt)
	_, err := c.Jobs.RespondMFA(context.Background(), "j1", "1234")
	require.ErrorIs(t, err, ErrNotFound)
	assert.NotContains(t, err.Error(), "1234")
	assert.Empty(t, *seen)
}

func TestRespondMFAOnVersion3NeverRenewsTheBoundToken(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	recordTokens(t, mt)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, mfaJobJSON))
	mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa", jsonResp(401, `{"data":[{"code":"invalid-authorization-token"}]}`))
	_, err := c.Jobs.RespondMFA(context.Background(), "j1", "1234")
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Equal(t, 1, calls(mt, "POST "+testBase+"/jobs/j1/mfa"), "the one-time code is sent once")
	assert.NotContains(t, err.Error(), "tok-CLIENT_ACCESS-3.0-u-7")
}

func TestRespondMFAOn2xKeepsTheUnboundClientToken(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("2.1"))
	tokens := recordTokens(t, mt)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, mfaJobJSON))
	seen := mfaSeen(mt)
	_, err := c.Jobs.RespondMFAForUser(context.Background(), "u-7", "j1", "1234")
	require.NoError(t, err)
	assert.Equal(t, [][2]string{{"Bearer tok-CLIENT_ACCESS-2.1", "2.1"}}, *seen)
	assert.Equal(t, tokenRequest{Scope: scopeClient, Version: "2.1"}, tokens()[1])
}
