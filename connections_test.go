package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secret values used by the connection tests. They are distinctive so that a
// leak into an error string or a log line cannot be a coincidence.
const (
	secretPassword     = "pw-hunter2-Zq9"
	secretUserToken    = "token:PTln18RhwL-secret"
	secretSecurityCode = "sc-778899-secret"
)

const (
	connInstURL  = testBase + "/institutions/AU00000"
	connPostURL  = testBase + "/users/u1/connections"
	connJobJSON  = `{"type":"job","id":"61723","links":{"self":"https://api.test/jobs/61723"}}`
	connErr503   = `{"type":"list","correlationId":"corr-503","data":[{"type":"error","code":"service-unavailable","title":"Service Unavailable","detail":"try later"}]}`
	getInstKey   = "GET " + connInstURL
	postConnKey  = "POST " + connPostURL
	postTokenKey = "POST " + testBase + "/token"
)

// institutionJSON is an AU00000 institution with the given authorization and
// optional captions.
func institutionJSON(t *testing.T, auth AuthorizationType, securityCodeCaption, secondaryLoginIDCaption string) string {
	t.Helper()
	m := map[string]any{
		"type": "institution", "id": "AU00000", "name": "Hooli Bank", "tier": "4",
		"authorization": string(auth), "status": "operational",
	}
	if securityCodeCaption != "" {
		m["securityCodeCaption"] = securityCodeCaption
	}
	if secondaryLoginIDCaption != "" {
		m["secondaryLoginIdCaption"] = secondaryLoginIDCaption
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// assertNoSecrets fails if s contains any of the secret values.
func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{secretPassword, secretUserToken, secretSecurityCode} {
		assert.NotContains(t, s, secret)
	}
}

// checkCreateRule creates a connection with p at an institution answering
// instJSON: with wantFields nil it must be posted exactly once; otherwise it
// must be refused, naming exactly those fields, with nothing posted and no
// secret in the error.
func checkCreateRule(t *testing.T, instJSON string, p ConnectionParams, wantFields []string) {
	t.Helper()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, instJSON))
	mt.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusAccepted, connJobJSON))

	p.Institution = InstitutionRef{ID: "AU00000"}
	job, err := c.Connections.Create(t.Context(), "u1", p)
	if wantFields == nil {
		require.NoError(t, err)
		require.NotNil(t, job)
		assert.Equal(t, "61723", job.ID)
		assert.Equal(t, 1, calls(mt, postConnKey), "Create must post exactly once")
		return
	}
	assert.Nil(t, job)
	assert.ElementsMatch(t, wantFields, validationFields(t, err))
	assert.Equal(t, 0, calls(mt, postConnKey), "a refused Create must post nothing")
	assertNoSecrets(t, err.Error())
	assertNoSecrets(t, fmt.Sprintf("%+v", err))
}

func TestCreateAuthorizationRules(t *testing.T) {
	t.Parallel()
	const future AuthorizationType = "open-banking-consent-v9" // a value the library does not know

	login := ConnectionParams{LoginID: "gavinBelson", Password: secretPassword}
	token := ConnectionParams{UserToken: secretUserToken}
	with := func(p ConnectionParams, f func(*ConnectionParams)) ConnectionParams { f(&p); return p }

	tests := []struct {
		name       string
		auth       AuthorizationType
		params     ConnectionParams
		wantFields []string // nil: Create posts
	}{
		{"user/login and password", AuthUser, login, nil},
		{"user/login and password and security code", AuthUser, with(login, func(p *ConnectionParams) { p.SecurityCode = secretSecurityCode }), nil},
		{"user/no password", AuthUser, ConnectionParams{LoginID: "gavinBelson"}, []string{"password"}},
		{"user/blank password", AuthUser, ConnectionParams{LoginID: "gavinBelson", Password: " \t "}, []string{"password"}},
		{"user/no login id", AuthUser, ConnectionParams{Password: secretPassword}, []string{"loginId"}},
		{"user/blank login id", AuthUser, ConnectionParams{LoginID: "  ", Password: secretPassword}, []string{"loginId"}},
		{"user/nothing", AuthUser, ConnectionParams{}, []string{"loginId", "password"}},
		{"user/user token too", AuthUser, with(login, func(p *ConnectionParams) { p.UserToken = secretUserToken }), []string{"userToken"}},
		{"user/user token only", AuthUser, token, []string{"loginId", "password", "userToken"}},
		{"user-mfa/login and password", AuthUserMFA, login, nil},
		{"user-mfa/no password", AuthUserMFA, ConnectionParams{LoginID: "gavinBelson"}, []string{"password"}},
		{"user-mfa/user token only", AuthUserMFA, token, []string{"loginId", "password", "userToken"}},
		{"user-mfa-intermittent/login and password", AuthUserMFAIntermittent, login, nil},
		{"user-mfa-intermittent/no login id", AuthUserMFAIntermittent, ConnectionParams{Password: secretPassword}, []string{"loginId"}},
		{"user-mfa-intermittent/user token too", AuthUserMFAIntermittent, with(login, func(p *ConnectionParams) { p.UserToken = secretUserToken }), []string{"userToken"}},
		{"token/user token", AuthToken, token, nil},
		{"token/nothing", AuthToken, ConnectionParams{}, []string{"userToken"}},
		{"token/blank user token", AuthToken, ConnectionParams{UserToken: "   "}, []string{"userToken"}},
		{"token/login and password only", AuthToken, login, []string{"userToken", "loginId", "password"}},
		{"token/user token and password", AuthToken, with(token, func(p *ConnectionParams) { p.Password = secretPassword }), []string{"password"}},
		{"token/user token and login id", AuthToken, with(token, func(p *ConnectionParams) { p.LoginID = "gavinBelson" }), []string{"loginId"}},
		{"user-token/user token", AuthUserToken, token, nil},
		{"user-token/login and password only", AuthUserToken, login, []string{"userToken", "loginId", "password"}},
		{"user-token/user token and password", AuthUserToken, with(token, func(p *ConnectionParams) { p.Password = secretPassword }), []string{"password"}},
		{"other/login and password", AuthOther, login, []string{"institution.id"}},
		{"other/user token", AuthOther, token, []string{"institution.id"}},
		{"other/nothing", AuthOther, ConnectionParams{}, []string{"institution.id"}},
		{"unknown/login and password", future, login, nil},
		{"unknown/login id only", future, ConnectionParams{LoginID: "gavinBelson"}, nil},
		{"unknown/user token only", future, token, nil},
		{"unknown/nothing", future, ConnectionParams{}, []string{"loginId"}},
		{"unknown/password only", future, ConnectionParams{Password: secretPassword}, []string{"loginId"}},
		{"unknown/blank login id and user token", future, ConnectionParams{LoginID: " ", UserToken: " ", Password: secretPassword}, []string{"loginId"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkCreateRule(t, institutionJSON(t, tc.auth, "", ""), tc.params, tc.wantFields)
		})
	}
}

func TestCreateCaptionsMakeFieldsRequired(t *testing.T) {
	t.Parallel()
	login := ConnectionParams{LoginID: "gavinBelson", Password: secretPassword}
	with := func(p ConnectionParams, f func(*ConnectionParams)) ConnectionParams { f(&p); return p }

	tests := []struct {
		name                  string
		auth                  AuthorizationType
		securityCodeCaption   string
		secondaryLoginCaption string
		params                ConnectionParams
		wantFields            []string // nil: Create posts
	}{
		{"no captions, no extras", AuthUser, "", "", login, nil},
		{"security code caption, code missing", AuthUser, "Security Number", "", login, []string{"securityCode"}},
		{"security code caption, code blank", AuthUser, "Security Number", "", with(login, func(p *ConnectionParams) { p.SecurityCode = "  " }), []string{"securityCode"}},
		{"security code caption, code given", AuthUser, "Security Number", "", with(login, func(p *ConnectionParams) { p.SecurityCode = secretSecurityCode }), nil},
		{"secondary login caption, missing", AuthUserMFA, "", "Customer ID", login, []string{"secondaryLoginId"}},
		{"secondary login caption, given", AuthUserMFA, "", "Customer ID", with(login, func(p *ConnectionParams) { p.SecondaryLoginID = "cust-1" }), nil},
		{"both captions, both missing", AuthUser, "Security Number", "Customer ID", login, []string{"securityCode", "secondaryLoginId"}},
		{"both captions, nothing at all", AuthUser, "Security Number", "Customer ID", ConnectionParams{}, []string{"loginId", "password", "securityCode", "secondaryLoginId"}},
		{"both captions, all given", AuthUser, "Security Number", "Customer ID", with(login, func(p *ConnectionParams) {
			p.SecurityCode, p.SecondaryLoginID = secretSecurityCode, "cust-1"
		}), nil},
		{"token with security code caption, code missing", AuthToken, "Security Number", "", ConnectionParams{UserToken: secretUserToken}, []string{"securityCode"}},
		{"token with security code caption, code given", AuthToken, "Security Number", "", ConnectionParams{UserToken: secretUserToken, SecurityCode: secretSecurityCode}, nil},
		{"unknown type with secondary caption, missing", "future-kind", "", "Customer ID", ConnectionParams{UserToken: secretUserToken}, []string{"secondaryLoginId"}},
		// An "other" institution cannot be connected at all: the captions add nothing.
		{"other ignores captions", AuthOther, "Security Number", "Customer ID", login, []string{"institution.id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkCreateRule(t, institutionJSON(t, tc.auth, tc.securityCodeCaption, tc.secondaryLoginCaption), tc.params, tc.wantFields)
		})
	}
}

func TestValidateWithoutIO(t *testing.T) {
	t.Parallel()
	p := ConnectionParams{LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"}}

	require.NoError(t, p.Validate(&Institution{ID: "AU00000", Authorization: AuthUser}))

	err := p.Validate(nil)
	assert.Equal(t, []string{"institution"}, validationFields(t, err))

	bad := ConnectionParams{Institution: InstitutionRef{ID: ".."}}
	fields := validationFields(t, bad.Validate(&Institution{ID: "AU00000", Authorization: AuthUser}))
	assert.ElementsMatch(t, []string{"institution.id", "loginId", "password"}, fields)
}

func TestCreateRefusesBadIDsBeforeAnyIO(t *testing.T) {
	t.Parallel()
	good := ConnectionParams{LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"}}
	withInst := func(id string) ConnectionParams { p := good; p.Institution.ID = id; return p }

	tests := []struct {
		name       string
		userID     string
		params     ConnectionParams
		wantFields []string
	}{
		{"empty institution id", "u1", withInst(""), []string{"institution.id"}},
		{"blank institution id", "u1", withInst("   "), []string{"institution.id"}},
		{"dot institution id", "u1", withInst("."), []string{"institution.id"}},
		{"dot-dot institution id", "u1", withInst(".."), []string{"institution.id"}},
		{"both bad", "", withInst(""), []string{"userId", "institution.id"}},
		{"both dot-dot", "..", withInst(".."), []string{"userId", "institution.id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, hooliJSON))
			var unexpected []string
			var mu sync.Mutex
			mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
				mu.Lock()
				unexpected = append(unexpected, req.Method+" "+req.URL.String())
				mu.Unlock()
				return nil, errors.New("unexpected request")
			})

			job, err := c.Connections.Create(t.Context(), tc.userID, tc.params)
			assert.Nil(t, job)
			assert.ElementsMatch(t, tc.wantFields, validationFields(t, err))
			assertNoSecrets(t, err.Error())
			assert.Equal(t, 0, mt.GetTotalCallCount(), "no request at all: calls %v", mt.GetCallCountInfo())
			assert.Equal(t, 0, calls(mt, postTokenKey), "no token request")
			assert.Equal(t, 0, calls(mt, getInstKey), "no institution lookup")
			mu.Lock()
			assert.Empty(t, unexpected)
			mu.Unlock()
		})
	}
}

func TestCreateCachesInstitutionPerClient(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, hooliJSON))
	mt.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusAccepted, connJobJSON))
	p := ConnectionParams{LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"}}

	for range 2 {
		_, err := c.Connections.Create(t.Context(), "u1", p)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, calls(mt, getInstKey), "the second Create must use the cached institution")
	assert.Equal(t, 2, calls(mt, postConnKey))

	// The cache belongs to the client: a second client looks it up itself.
	c2, mt2 := newMockClient(t)
	mt2.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, hooliJSON))
	mt2.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusAccepted, connJobJSON))
	_, err := c2.Connections.Create(t.Context(), "u1", p)
	require.NoError(t, err)
	assert.Equal(t, 1, calls(mt2, getInstKey))
	assert.Equal(t, 1, calls(mt, getInstKey), "the first client's transport saw no more lookups")
}

func TestCreateConcurrentLookupsShareOneGet(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, hooliJSON).Delay(50*time.Millisecond))
	mt.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusAccepted, connJobJSON))
	p := ConnectionParams{LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"}}

	const n = 20
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = c.Connections.Create(t.Context(), "u1", p)
		})
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		require.NoError(t, err, "goroutine %d", i)
	}
	assert.Equal(t, 1, calls(mt, getInstKey), "concurrent misses must share one lookup")
	assert.Equal(t, 1, calls(mt, postTokenKey), "one token for everyone")
	assert.Equal(t, n, calls(mt, postConnKey))
}

func TestCreatePostsWireForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		auth     AuthorizationType
		params   ConnectionParams
		wantBody string
	}{
		{
			"login",
			AuthUser,
			ConnectionParams{LoginID: "gavinBelson", Password: secretPassword},
			`{"loginId":"gavinBelson","password":"` + secretPassword + `","institution":{"id":"AU00000"}}`,
		},
		{
			"login with extras",
			AuthUser,
			ConnectionParams{LoginID: "gavinBelson", Password: secretPassword, SecurityCode: secretSecurityCode, SecondaryLoginID: "cust-1"},
			`{"loginId":"gavinBelson","password":"` + secretPassword + `","securityCode":"` + secretSecurityCode +
				`","secondaryLoginId":"cust-1","institution":{"id":"AU00000"}}`,
		},
		{
			"token",
			AuthToken,
			ConnectionParams{UserToken: secretUserToken},
			`{"userToken":"` + secretUserToken + `","institution":{"id":"AU00000"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, institutionJSON(t, tc.auth, "", "")))
			var (
				mu          sync.Mutex
				body        []byte
				contentType string
				authz       string
				readErr     error
			)
			mt.RegisterResponder(http.MethodPost, connPostURL, func(req *http.Request) (*http.Response, error) {
				b, err := io.ReadAll(req.Body)
				mu.Lock()
				body, readErr, contentType, authz = b, err, req.Header.Get("Content-Type"), req.Header.Get("Authorization")
				mu.Unlock()
				return jsonResp(http.StatusAccepted, connJobJSON)(req)
			})

			p := tc.params
			p.Institution = InstitutionRef{ID: "AU00000"}
			_, err := c.Connections.Create(t.Context(), "u1", p)
			require.NoError(t, err)

			mu.Lock()
			defer mu.Unlock()
			require.NoError(t, readErr)
			assert.JSONEq(t, tc.wantBody, string(body))
			var keys map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(body, &keys))
			for k := range keys {
				assert.Contains(t, []string{"loginId", "password", "securityCode", "secondaryLoginId", "userToken", "institution"}, k,
					"only wire names are posted")
			}
			assert.Equal(t, "application/json", contentType)
			assert.Equal(t, "Bearer tok-1", authz)
		})
	}
}

func TestCreateDebugLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mt := newMockClient(t, WithLogger(logger))
	mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, institutionJSON(t, AuthUser, "Security Number", "")))
	mt.RegisterResponder(http.MethodPost, connPostURL,
		jsonResp(http.StatusServiceUnavailable, connErr503).Then(jsonResp(http.StatusAccepted, connJobJSON)))

	_, err := c.Connections.Create(t.Context(), "u1", ConnectionParams{
		LoginID: "gavinBelson", Password: secretPassword, SecurityCode: secretSecurityCode, Institution: InstitutionRef{ID: "AU00000"},
	})
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	assert.Contains(t, out, "/users/u1/connections", "the debug log records the request")
	assertNoSecrets(t, out)
	assert.NotContains(t, out, "tok-1", "no bearer token in logs")
	assert.NotContains(t, out, testKey, "no API key in logs")
}

// lockedWriter serialises writes from concurrent log calls.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestCreateRetriesOn503(t *testing.T) {
	t.Parallel()
	p := ConnectionParams{LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"}}

	t.Run("recovers", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, hooliJSON))
		var (
			mu     sync.Mutex
			bodies []string
		)
		seq := jsonResp(http.StatusServiceUnavailable, connErr503).
			Then(jsonResp(http.StatusServiceUnavailable, connErr503)).
			Then(jsonResp(http.StatusAccepted, connJobJSON))
		mt.RegisterResponder(http.MethodPost, connPostURL, func(req *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(req.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			return seq(req)
		})

		job, err := c.Connections.Create(t.Context(), "u1", p)
		require.NoError(t, err)
		require.NotNil(t, job)
		assert.Equal(t, "61723", job.ID)
		assert.False(t, job.Reused)
		assert.Equal(t, 3, calls(mt, postConnKey))
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, bodies, 3)
		assert.NotEmpty(t, bodies[0])
		assert.Equal(t, bodies[0], bodies[1], "a retry posts the same body")
		assert.Equal(t, bodies[0], bodies[2], "a retry posts the same body")
	})

	t.Run("gives up", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, hooliJSON))
		mt.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusServiceUnavailable, connErr503))

		job, err := c.Connections.Create(t.Context(), "u1", p)
		require.Error(t, err)
		assert.Nil(t, job)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
		assert.Equal(t, "corr-503", apiErr.CorrelationID)
		assert.Equal(t, "service-unavailable", apiErr.Code())
		assert.NotErrorIs(t, err, ErrValidation)
		assert.Equal(t, 1+defaultMaxRetries, calls(mt, postConnKey), "one try and the default retries")
		assertNoSecrets(t, err.Error())
	})

	t.Run("not on 400", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, hooliJSON))
		mt.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusBadRequest,
			`{"type":"list","correlationId":"c400","data":[{"type":"error","code":"parameter-not-valid","title":"Parameter value is not valid","source":{"pointer":"/loginId"}}]}`))

		_, err := c.Connections.Create(t.Context(), "u1", p)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		assert.Equal(t, "/loginId", apiErr.Errors[0].Source.Pointer)
		assert.Equal(t, 1, calls(mt, postConnKey))
	})
}

func TestCreateInstitutionLookupFailure(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusNotFound,
		`{"type":"list","correlationId":"c404","data":[{"type":"error","code":"resource-not-found","title":"Requested resource is not found."}]}`))
	mt.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusAccepted, connJobJSON))

	_, err := c.Connections.Create(t.Context(), "u1", ConnectionParams{
		LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"},
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.NotErrorIs(t, err, ErrValidation)
	assert.Equal(t, 0, calls(mt, postConnKey))
	assertNoSecrets(t, err.Error())

	// A failed lookup is not cached: the next Create asks again.
	_, _ = c.Connections.Create(t.Context(), "u1", ConnectionParams{
		LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"},
	})
	assert.Equal(t, 2, calls(mt, getInstKey))
}

// credentialCall is a call that carries a bank password, with the URL it
// posts to.
type credentialCall struct {
	name string
	url  string
	call func(ctx context.Context, c *Client) (*Job, error)
}

var credentialCalls = []credentialCall{
	{"Create", connPostURL, func(ctx context.Context, c *Client) (*Job, error) {
		return c.Connections.Create(ctx, "u1", ConnectionParams{LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"}})
	}},
	{"Update", connPostURL + "/c1", func(ctx context.Context, c *Client) (*Job, error) {
		return c.Connections.Update(ctx, "u1", "c1", ConnectionUpdateParams{Password: secretPassword})
	}},
}

// outcome is one scripted answer to a credential POST: a status, or a
// transport error.
type outcome struct {
	status int
	err    error
}

func (o outcome) String() string {
	if o.err != nil {
		return o.err.Error()
	}
	return fmt.Sprint(o.status)
}

// Transport errors: one raised before the request was written, the others
// after it may have been.
var (
	dialRefused = &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	resetAfter  = &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}
	timeoutRead = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
)

// scriptCredentialPost answers the credential POST at url with outcomes in
// turn (the last one repeating, 202 with a job after them when ok is true)
// and records when each attempt came and whether it carried the password.
func scriptCredentialPost(t *testing.T, mt *httpmock.MockTransport, url string, outcomes []outcome) func() []time.Time {
	t.Helper()
	mt.RegisterResponder(http.MethodGet, connInstURL, jsonResp(http.StatusOK, hooliJSON))
	var (
		mu    sync.Mutex
		times []time.Time
	)
	mt.RegisterResponder(http.MethodPost, url, func(req *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		assert.Contains(t, string(b), secretPassword, "each attempt carries the password")
		o := outcomes[min(n, len(outcomes))-1]
		if o.err != nil {
			return nil, o.err
		}
		if o.status == http.StatusAccepted {
			return jsonResp(http.StatusAccepted, connJobJSON)(req)
		}
		return jsonResp(o.status, `{"type":"list","correlationId":"corr-x","data":[{"type":"error","code":"x"}]}`)(req)
	})
	return func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), times...)
	}
}

func TestPasswordSentAtMostTwiceWhenOutcomeUnknown(t *testing.T) {
	t.Parallel()
	for _, cc := range credentialCalls {
		for _, o := range []outcome{{status: 500}, {status: 502}, {status: 504}, {err: resetAfter}, {err: io.ErrUnexpectedEOF}, {err: timeoutRead}} {
			t.Run(cc.name+" "+o.String(), func(t *testing.T) {
				t.Parallel()
				c, mt := newMockClient(t, WithMaxRetries(5))
				attempts := scriptCredentialPost(t, mt, cc.url, []outcome{o})
				job, err := cc.call(t.Context(), c)
				require.Error(t, err)
				assert.Nil(t, job)
				assert.Len(t, attempts(), 2, "the first try and one repeat, no more")
				if o.status != 0 {
					var apiErr *APIError
					require.ErrorAs(t, err, &apiErr)
					assert.Equal(t, o.status, apiErr.StatusCode)
				}
				assertNoSecrets(t, err.Error())
			})
		}
	}
}

func TestPasswordResentFreelyWhenNotProcessed(t *testing.T) {
	t.Parallel()
	for _, cc := range credentialCalls {
		for _, o := range []outcome{{err: dialRefused}, {status: 429}, {status: 503}} {
			t.Run(cc.name+" "+o.String(), func(t *testing.T) {
				t.Parallel()
				c, mt := newMockClient(t)
				attempts := scriptCredentialPost(t, mt, cc.url, []outcome{o, o, o, {status: http.StatusAccepted}})
				job, err := cc.call(t.Context(), c)
				require.NoError(t, err)
				assert.Equal(t, "61723", job.ID)
				assert.Len(t, attempts(), 1+defaultMaxRetries, "every retry of the budget")
			})
		}
	}
}

func TestPasswordUnknownOutcomeRepeatedOnceAmongOtherRetries(t *testing.T) {
	t.Parallel()
	for _, cc := range credentialCalls {
		t.Run(cc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithMaxRetries(10))
			attempts := scriptCredentialPost(t, mt, cc.url, []outcome{
				{status: 503}, {status: 502}, {err: dialRefused}, {status: 429}, {err: resetAfter}, {status: http.StatusAccepted},
			})
			_, err := cc.call(t.Context(), c)
			require.Error(t, err)
			assert.Len(t, attempts(), 5, "the second unknown outcome ends the call")
		})
	}
}

func TestPasswordRepeatAfterUnknownOutcomeIsPrompt(t *testing.T) {
	for _, unknown := range []outcome{{status: 502}, {err: resetAfter}} {
		t.Run(unknown.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, mt := newMockClient(t, WithRetryWait(time.Second, time.Minute))
				attempts := scriptCredentialPost(t, mt, connPostURL, []outcome{
					{status: 503}, {status: 503}, unknown, {status: http.StatusAccepted},
				})
				_, err := credentialCalls[0].call(t.Context(), c)
				require.NoError(t, err)
				got := attempts()
				require.Len(t, got, 4)
				assert.Equal(t, time.Second, got[3].Sub(got[2]), "the repeat waits the minimum, not the exponential step")
			})
		})
	}
}

func TestRefreshKeepsItsRetries(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	url := connPostURL + "/c1/refresh"
	mt.RegisterResponder(http.MethodPost, url, jsonResp(http.StatusBadGateway, `{}`))
	_, err := c.Connections.Refresh(t.Context(), "u1", "c1")
	require.Error(t, err)
	assert.Equal(t, 1+defaultMaxRetries, calls(mt, "POST "+url), "a refresh carries no password: the whole budget")
}

// TestRefreshAllWithoutJobsIsInvalid checks that RefreshAll's 2xx answer
// must carry its list of jobs, each with a usable id.
func TestRefreshAllWithoutJobsIsInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"204", http.StatusNoContent, ""},
		{"null", http.StatusAccepted, "null"},
		{"empty object", http.StatusAccepted, "{}"},
		{"null data", http.StatusAccepted, `{"type":"list","data":null}`},
		{"a job without an id", http.StatusAccepted, `{"type":"list","data":[{"type":"job","id":"j1"},{"type":"job"}]}`},
		{"a job whose id is an escape code", http.StatusAccepted, `{"type":"list","data":[{"type":"job","id":"\u001b[2J"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections/refresh", jsonResp(tc.status, tc.body))
			jobs, err := c.Connections.RefreshAll(context.Background(), "u1")
			require.ErrorIs(t, err, ErrInvalidResponse)
			assert.Nil(t, jobs)
		})
	}
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections/refresh", jsonResp(http.StatusAccepted, `{"type":"list","data":[]}`))
	jobs, err := c.Connections.RefreshAll(context.Background(), "u1")
	require.NoError(t, err, "an empty list is a list")
	assert.Empty(t, jobs)
}

const (
	connC1URL      = testBase + "/users/u1/connections/c1"
	connListURL    = testBase + "/users/u1/connections"
	connRefreshURL = connC1URL + "/refresh"
	connRefAllURL  = testBase + "/users/u1/connections/refresh"

	connC1JSON = `{"type":"connection","id":"c1","status":"active",
		"createdDate":"2024-03-01T10:20:30Z","lastUsed":"2024-03-02 08:00:00","mfaEnabled":true,
		"institution":{"type":"institution","id":"AU00000","links":{"self":"https://api.test/institutions/AU00000"}},
		"accounts":{"type":"list","data":[
			{"type":"account","id":"a1","balance":"1234.56","availableFunds":12.5,"institution":"AU00000","connection":"c1",
			 "class":{"type":"transaction","product":"Everyday"},"lastUpdated":"2024-03-01T10:20:30Z"}]},
		"profile":{"fullName":"Gavin Belson"},
		"links":{"self":"https://api.test/users/u1/connections/c1","accounts":"https://api.test/users/u1/accounts?filter=connection.id.eq('c1')","transactions":"https://api.test/users/u1/transactions?filter=connection.id.eq('c1')"}}`
)

func TestConnectionDecoding(t *testing.T) {
	t.Parallel()
	var conn Connection
	require.NoError(t, json.Unmarshal([]byte(connC1JSON), &conn))
	assert.Equal(t, "c1", conn.ID)
	assert.Equal(t, ConnectionActive, conn.Status)
	assert.Equal(t, time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), conn.CreatedDate)
	assert.Equal(t, time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC), conn.LastUsed)
	assert.True(t, conn.MFAEnabled)
	assert.Equal(t, InstitutionRef{ID: "AU00000"}, conn.Institution)
	require.Len(t, conn.Accounts.Data, 1)
	a := conn.Accounts.Data[0]
	assert.Equal(t, "a1", a.ID)
	assert.Equal(t, Decimal("1234.56"), a.Balance)
	assert.Equal(t, Decimal("12.5"), a.AvailableFunds)
	assert.Equal(t, "AU00000", a.Institution)
	assert.Equal(t, "c1", a.Connection)
	assert.Equal(t, AccountClass{Type: "transaction", Product: "Everyday"}, a.Class)
	assert.JSONEq(t, `{"fullName":"Gavin Belson"}`, string(conn.Profile))
	assert.Equal(t, ConnectionLinks{
		Self:         "https://api.test/users/u1/connections/c1",
		Accounts:     "https://api.test/users/u1/accounts?filter=connection.id.eq('c1')",
		Transactions: "https://api.test/users/u1/transactions?filter=connection.id.eq('c1')",
	}, conn.Links)

	// Timestamps are lenient: anything unreadable is zero, not an error.
	for _, raw := range []string{`""`, `null`, `"last tuesday"`, `12345`, `{}`} {
		var c Connection
		require.NoError(t, json.Unmarshal([]byte(`{"id":"c1","createdDate":`+raw+`,"lastUsed":`+raw+`}`), &c), raw)
		assert.True(t, c.CreatedDate.IsZero(), raw)
		assert.True(t, c.LastUsed.IsZero(), raw)
	}
	var c Connection
	require.NoError(t, json.Unmarshal([]byte(`{"id":"c1","status":"pending"}`), &c))
	assert.Equal(t, ConnectionPending, c.Status)
	assert.Empty(t, c.Accounts.Data)
}

func TestConnectionsGet(t *testing.T) {
	t.Parallel()
	c, _, rec := setup(t, "", "", jsonResp(http.StatusOK, connC1JSON))

	conn, err := c.Connections.Get(t.Context(), "u1", "c1")
	require.NoError(t, err)
	require.NotNil(t, conn)
	assert.Equal(t, "c1", conn.ID)
	assert.Equal(t, time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), conn.CreatedDate)
	require.Len(t, conn.Accounts.Data, 1)
	assert.Equal(t, Decimal("1234.56"), conn.Accounts.Data[0].Balance)
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, "GET /users/u1/connections/c1", reqs[0].Method+" "+reqs[0].Path)
}

func TestConnectionsList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodGet, connListURL, jsonResp(http.StatusOK,
		`{"type":"list","count":2,"data":[`+connC1JSON+`,{"type":"connection","id":"c2","status":"invalid","createdDate":"","institution":{"id":"AU00001"}}]}`))

	conns, err := c.Connections.List(t.Context(), "u1")
	require.NoError(t, err)
	require.Len(t, conns, 2)
	assert.Equal(t, "c1", conns[0].ID)
	require.Len(t, conns[0].Accounts.Data, 1)
	assert.Equal(t, "a1", conns[0].Accounts.Data[0].ID)
	assert.Equal(t, "c2", conns[1].ID)
	assert.Equal(t, ConnectionInvalid, conns[1].Status)
	assert.True(t, conns[1].CreatedDate.IsZero())
	assert.Equal(t, "AU00001", conns[1].Institution.ID)
	assert.Equal(t, 1, calls(mt, "GET "+connListURL))
}

func TestConnectionsUpdate(t *testing.T) {
	t.Parallel()

	t.Run("posts the wire form; 202 is a new job", func(t *testing.T) {
		t.Parallel()
		c, _, rec := setup(t, http.MethodPost, connC1URL, jsonResp(http.StatusAccepted, connJobJSON))

		job, err := c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{
			Password: secretPassword, SecurityCode: secretSecurityCode, SecondaryLoginID: "cust-1",
		})
		require.NoError(t, err)
		require.NotNil(t, job)
		assert.Equal(t, "61723", job.ID)
		assert.False(t, job.Reused)

		_, err = c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{Password: secretPassword})
		require.NoError(t, err)

		reqs := rec.all()
		require.Len(t, reqs, 2)
		assert.Equal(t, "/users/u1/connections/c1", reqs[0].Path)
		assert.Equal(t, "application/json", reqs[0].ContentType)
		assert.Equal(t, map[string]any{
			"password": secretPassword, "securityCode": secretSecurityCode, "secondaryLoginId": "cust-1",
		}, jsonFields(t, reqs[0].Body), "the request carries the real secrets")
		assert.Equal(t, map[string]any{"password": secretPassword}, jsonFields(t, reqs[1].Body), "empty fields are not sent")
	})

	t.Run("password required, without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		for _, p := range []ConnectionUpdateParams{
			{},
			{Password: "  \t"},
			{SecurityCode: secretSecurityCode, SecondaryLoginID: "cust-1"},
		} {
			job, err := c.Connections.Update(t.Context(), "u1", "c1", p)
			assert.Nil(t, job)
			assert.Equal(t, []string{"password"}, validationFields(t, err))
			assertNoSecrets(t, err.Error())
		}
		_, err := c.Connections.Update(t.Context(), "", "c1\n", ConnectionUpdateParams{})
		assert.Equal(t, []string{"userId", "connectionId", "password"}, validationFields(t, err))
		assert.Equal(t, 0, mt.GetTotalCallCount(), "%v", mt.GetCallCountInfo())
	})

	t.Run("API error carries no secret", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, connC1URL, jsonResp(http.StatusBadRequest,
			`{"type":"list","correlationId":"c400","data":[{"code":"parameter-not-valid","title":"Parameter value is not valid","source":{"pointer":"/password"}}]}`))
		_, err := c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{Password: secretPassword, SecurityCode: secretSecurityCode})
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "/password", apiErr.Errors[0].Source.Pointer)
		assertNoSecrets(t, err.Error())
		assert.Equal(t, 1, calls(mt, "POST "+connC1URL))
	})
}

func TestConnectionsRefresh(t *testing.T) {
	t.Parallel()
	c, _, rec := setup(t, http.MethodPost, connRefreshURL, jsonResp(http.StatusAccepted, connJobJSON))

	job, err := c.Connections.Refresh(t.Context(), "u1", "c1")
	require.NoError(t, err)
	assert.Equal(t, "61723", job.ID)
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/users/u1/connections/c1/refresh", reqs[0].Path)
	assert.Empty(t, reqs[0].Body)
	assert.Equal(t, "Bearer tok-1", reqs[0].Auth)
}

func TestConnectionsRefreshAll(t *testing.T) {
	t.Parallel()
	const twoJobs = `{"type":"list","data":[
		{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1","source":"https://api.test/users/u1/connections/c1"}},
		{"type":"job","id":"j2","links":{"self":"https://api.test/jobs/j2","source":"https://api.test/users/u1/connections/c2"}}]}`
	for _, tc := range []struct {
		status int
		reused bool
	}{{http.StatusAccepted, false}, {http.StatusOK, true}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			c, _, rec := setup(t, http.MethodPost, connRefAllURL, jsonResp(tc.status, twoJobs))

			jobs, err := c.Connections.RefreshAll(t.Context(), "u1")
			require.NoError(t, err)
			require.Len(t, jobs, 2)
			assert.Equal(t, []string{"j1", "j2"}, []string{jobs[0].ID, jobs[1].ID})
			assert.Equal(t, []string{"c1", "c2"}, []string{jobs[0].ConnectionID(), jobs[1].ConnectionID()})
			for _, j := range jobs {
				assert.Equal(t, tc.reused, j.Reused, j.ID)
			}
			reqs := rec.all()
			require.Len(t, reqs, 1)
			assert.Equal(t, "/users/u1/connections/refresh", reqs[0].Path)
			assert.Empty(t, reqs[0].Body)
		})
	}

	t.Run("empty list", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, connRefAllURL, jsonResp(http.StatusAccepted, `{"type":"list","data":[]}`))
		jobs, err := c.Connections.RefreshAll(t.Context(), "u1")
		require.NoError(t, err)
		assert.Empty(t, jobs)
	})

	t.Run("error", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, connRefAllURL, jsonResp(http.StatusForbidden,
			`{"type":"list","data":[{"code":"forbidden-access","title":"Forbidden"}]}`))
		jobs, err := c.Connections.RefreshAll(t.Context(), "u1")
		assert.Nil(t, jobs)
		require.ErrorIs(t, err, ErrForbidden)
	})
}

func TestConnectionsDelete(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodDelete, connC1URL, httpmock.NewStringResponder(http.StatusNoContent, ""))

	require.NoError(t, c.Connections.Delete(t.Context(), "u1", "c1"))
	assert.Equal(t, 1, calls(mt, "DELETE "+connC1URL))
}

// TestCredentialParamsRedaction checks that the parameters carrying bank
// credentials never show them, however they are printed, logged or
// marshalled (alone, behind pointers, in structs, slices, maps and
// interfaces), while the fields that are not secret stay readable.
func TestCredentialParamsRedaction(t *testing.T) {
	t.Parallel()
	t.Run("ConnectionParams", func(t *testing.T) {
		t.Parallel()
		checkRedaction(t, ConnectionParams{
			LoginID:          "gavinBelson",
			Password:         secretPassword,
			UserToken:        secretUserToken,
			SecurityCode:     secretSecurityCode,
			SecondaryLoginID: "cust-1",
			Institution:      InstitutionRef{ID: "AU00000"},
		}, ConnectionParams{LoginID: "x"}, "gavinBelson", map[string]string{
			"loginId": "gavinBelson", "password": redacted, "userToken": redacted,
			"securityCode": redacted, "secondaryLoginId": "cust-1", "institution": "AU00000",
		}, "", "")
	})
	t.Run("ConnectionUpdateParams", func(t *testing.T) {
		t.Parallel()
		checkRedaction(t,
			ConnectionUpdateParams{Password: secretPassword, SecurityCode: secretSecurityCode, SecondaryLoginID: "cust-1"},
			ConnectionUpdateParams{SecondaryLoginID: "x"}, "cust-1",
			map[string]string{"password": redacted, "securityCode": redacted, "secondaryLoginId": "cust-1"},
			`{"password":"[REDACTED]","securityCode":"[REDACTED]","secondaryLoginId":"cust-1"}`, `{}`)
	})
}

// checkRedaction runs TestCredentialParamsRedaction's checks on p, whose
// non-secret field shown must appear wherever p does; unset has no secret
// set and must not be marked as if it had; logged is the JSON log form of p,
// and marshalled and zeroMarshalled, when set, the exact json.Marshal forms
// of p and of T's zero value.
func checkRedaction[T fmt.Stringer](t *testing.T, p, unset T, shown string, logged map[string]string, marshalled, zeroMarshalled string) {
	type wrapper struct {
		Name   string
		Params T
	}
	type ptrWrapper struct {
		Params *T
	}
	values := map[string]any{
		"value":          p,
		"pointer":        &p,
		"struct":         wrapper{Name: "w", Params: p},
		"pointer struct": &wrapper{Name: "w", Params: p},
		"struct pointer": ptrWrapper{Params: &p},
		"slice":          []T{p},
		"map":            map[string]T{"k": p},
		"any slice":      []any{p, &p},
	}

	t.Run("fmt", func(t *testing.T) {
		for name, v := range values {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				out := fmt.Sprintf(verb, v)
				assertNoSecrets(t, out)
				assert.Contains(t, out, redacted, "%s with %s: %s", name, verb, out)
				assert.Contains(t, out, shown, "%s with %s: the field that is not secret is shown", name, verb)
			}
		}
		assert.Equal(t, p.String(), fmt.Sprint(p))
		assert.Equal(t, p.String(), fmt.Sprintf("%#v", p))
		assert.NotContains(t, unset.String(), redacted, "unset secrets are not marked as set")
	})

	t.Run("slog", func(t *testing.T) {
		for name, newHandler := range map[string]func(io.Writer) slog.Handler{
			"json": func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
			"text": func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
		} {
			var buf bytes.Buffer
			l := slog.New(newHandler(&buf))
			l.Info("connect", slog.Any("params", p))
			l.Info("connect", slog.Any("params", &p))
			l.Info("connect", "params", p)
			l.Info("connect", slog.Group("req", slog.Any("params", p)))
			l.With(slog.Any("params", p)).Info("connect")
			l.Info("connect", slog.Any("req", wrapper{Name: "w", Params: p}))
			l.Info("connect", slog.Any("req", &wrapper{Name: "w", Params: p}))
			l.Info("connect", slog.Any("req", ptrWrapper{Params: &p}))
			l.Info("connect", slog.Any("all", []T{p}))
			out := buf.String()
			assertNoSecrets(t, out)
			assert.Equal(t, 9, strings.Count(out, shown), "%s: every record shows the params: %s", name, out)
			assert.Equal(t, 9, strings.Count(strings.TrimSpace(out), "\n")+1, "%s: one line per record", name)
			assert.Contains(t, out, redacted, name)
		}
	})

	t.Run("json handler shape", func(t *testing.T) {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("connect", slog.Any("params", p))
		var rec struct {
			Params map[string]string `json:"params"`
		}
		require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
		assert.Equal(t, logged, rec.Params)
	})

	t.Run("json.Marshal", func(t *testing.T) {
		b, err := json.Marshal(p)
		require.NoError(t, err)
		assertNoSecrets(t, string(b))
		if marshalled != "" {
			assert.JSONEq(t, marshalled, string(b))
		}
		for name, v := range values {
			b, err := json.Marshal(v)
			require.NoError(t, err, name)
			assertNoSecrets(t, string(b))
			assert.Contains(t, string(b), redacted, name)
		}
		var zero T
		b, err = json.Marshal(zero)
		require.NoError(t, err)
		assert.NotContains(t, string(b), redacted, "unset secrets are not marked as set")
		if zeroMarshalled != "" {
			assert.JSONEq(t, zeroMarshalled, string(b))
		}
	})
}

// TestConnectionStatusesCoverTheSpec checks that every connection status
// Basiq's 2.x and 3.0 files list (and "init", which the reference pages
// add for 3.0) is a known constant, and that one the library does not
// know is read unchanged.
func TestConnectionStatusesCoverTheSpec(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"v2/swagger.json", "v2/core-with-connection-create.yml", "v3/data.yml"} {
		for _, schema := range []string{"ConnectionsData", "ConnectionGetResponseResource"} {
			for _, v := range specEnum(t, file, schema, "status") {
				assert.True(t, ConnectionStatus(v).Known(), "%s %s: %q", file, schema, v)
			}
		}
	}
	assert.True(t, ConnectionInit.Known())
	var c Connection
	require.NoError(t, json.Unmarshal([]byte(`{"id":"c1","status":"suspended"}`), &c))
	assert.Equal(t, ConnectionStatus("suspended"), c.Status)
	assert.False(t, c.Status.Known())
}

// A job straight from Create has no links.source yet, so its ConnectionID
// is empty; a connection method given that empty id says to wait for the
// job first, before any request.
func TestEmptyConnectionIDFromAnUnwaitedJobSaysToWaitForIt(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", jsonResp(http.StatusOK, hooliJSON))
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections", jsonResp(http.StatusAccepted, endpointJob))
	job, err := c.Connections.Create(t.Context(), "u1", ConnectionParams{LoginID: "gavin", Password: secretPassword, Institution: InstitutionRef{ID: "AU00000"}})
	require.NoError(t, err)
	require.Empty(t, job.ConnectionID(), "no links.source yet")
	failOnUnexpected(t, mt)

	ctx := t.Context()
	for name, call := range map[string]func(id string) error{
		"Get": func(id string) error { _, err := c.Connections.Get(ctx, "u1", id); return err },
		"Update": func(id string) error {
			_, err := c.Connections.Update(ctx, "u1", id, ConnectionUpdateParams{Password: "x"})
			return err
		},
		"Refresh": func(id string) error { _, err := c.Connections.Refresh(ctx, "u1", id); return err },
		"Delete":  func(id string) error { return c.Connections.Delete(ctx, "u1", id) },
		"Purge":   func(id string) error { return c.Connections.Purge(ctx, "u1", id) },
	} {
		t.Run(name, func(t *testing.T) {
			err := call(job.ConnectionID())
			assert.Equal(t, []string{"connectionId"}, validationFields(t, err))
			assert.Contains(t, err.Error(), "WaitForJob")
			assert.Contains(t, err.Error(), "ConnectionID")
		})
	}
	// A blank user id is reported beside it.
	_, err = c.Connections.Get(ctx, " ", job.ConnectionID())
	assert.Equal(t, []string{"userId", "connectionId"}, validationFields(t, err))
	assert.Equal(t, 1, calls(mt, "POST "+testBase+"/users/u1/connections"))
}
