package basiqtest

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t)
	good := map[string]string{"Authorization": "Basic " + srv.APIKey, "basiq-version": "2.0"}
	form := func(scope string) url.Values { return url.Values{"scope": {scope}} }

	r := c.send(http.MethodPost, "/token", form(ScopeServerAccess), good)
	require.Equal(t, http.StatusOK, r.status)
	m := r.obj(t)
	assert.Equal(t, "Bearer", m["token_type"])
	assert.InDelta(t, 3600, m["expires_in"], 0)
	assert.Len(t, str(m, "access_token"), 64)
	assert.NotEqual(t, c.tok, str(m, "access_token"), "tokens are fresh")

	// A client token may carry a userId: accepted and ignored.
	r = c.send(http.MethodPost, "/token", url.Values{"scope": {ScopeClientAccess}, "userId": {"u1"}}, good)
	require.Equal(t, http.StatusOK, r.status)

	tests := []struct {
		name   string
		form   url.Values
		hdr    map[string]string
		status int
		code   string
		detail string
	}{
		{"wrong key", form(ScopeServerAccess), map[string]string{"Authorization": "Basic nope", "basiq-version": "2.0"}, 404, "resource-not-found", ""},
		{"key with another scheme", form(ScopeServerAccess), map[string]string{"Authorization": "Bearer " + srv.APIKey, "basiq-version": "2.0"}, 404, "resource-not-found", ""},
		{"no key", form(ScopeServerAccess), map[string]string{"Authorization": "", "basiq-version": "2.0"}, 404, "resource-not-found", ""},
		{"no version", form(ScopeServerAccess), map[string]string{"Authorization": "Basic " + srv.APIKey}, 400, "parameter-not-supplied", ""},
		{"unknown version", form(ScopeServerAccess), map[string]string{"Authorization": "Basic " + srv.APIKey, "basiq-version": "9.9"}, 400, "parameter-not-valid", ""},
		{"bad scope", form("ROOT"), good, 400, "parameter-not-valid", ""},
		{"no scope", url.Values{}, good, 400, "parameter-not-valid", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.send(http.MethodPost, "/token", tt.form, tt.hdr)
			e := r.errBody(t, tt.status, tt.code)
			if tt.status == 404 {
				assert.Equal(t, "Unable to authenticate", e.Data[0].Title)
			}
		})
	}
	// Only the 200 answers count: the helper's, and the two above.
	assert.Equal(t, 3, srv.TokenRequests())
	assert.Equal(t, 2, srv.TokenRequestsByScope(ScopeServerAccess))
	assert.Equal(t, 1, srv.TokenRequestsByScope(ScopeClientAccess))
	assert.Equal(t, 0, srv.TokenRequestsByScope("ROOT"))
}

func TestCustomAPIKey(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t, WithAPIKey("a2V5OnNlY3JldA=="))
	assert.Equal(t, "a2V5OnNlY3JldA==", srv.APIKey)
	r := c.send(http.MethodPost, "/token", url.Values{"scope": {ScopeServerAccess}},
		map[string]string{"Authorization": "Basic " + DefaultAPIKey, "basiq-version": "2.0"})
	r.errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t)
	for name, hdr := range map[string]string{
		"none":          "",
		"unknown token": "Bearer 0123",
		"empty bearer":  "Bearer ",
		"basic":         "Basic " + srv.APIKey,
		"bare token":    c.tok,
	} {
		t.Run(name, func(t *testing.T) {
			r := c.send(http.MethodGet, "/institutions", nil, map[string]string{"Authorization": hdr})
			r.errBody(t, http.StatusUnauthorized, "invalid-authorization-token")
		})
	}

	// Scheme letter case does not matter.
	r := c.send(http.MethodGet, "/institutions", nil, map[string]string{"Authorization": "bearer " + c.tok})
	assert.Equal(t, http.StatusOK, r.status)

	// ExpireTokens: every token so far answers 403 "Token has expired".
	old := c.tok
	srv.ExpireTokens()
	e := c.get("/institutions").errBody(t, http.StatusForbidden, "access-denied")
	assert.Equal(t, "Token has expired", e.Data[0].Detail)
	c.tok = c.token(ScopeServerAccess)
	assert.Equal(t, http.StatusOK, c.get("/institutions").status)
	c.tok = old
	c.get("/institutions").errBody(t, http.StatusForbidden, "access-denied")
}

func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithTokenLifetime(2*time.Second))
		r := c.tokenReq(ScopeServerAccess)
		assert.InDelta(t, 2, r.obj(t)["expires_in"], 0)
		assert.Equal(t, http.StatusOK, c.get("/institutions").status)
		time.Sleep(1999 * time.Millisecond)
		assert.Equal(t, http.StatusOK, c.get("/institutions").status)
		time.Sleep(time.Millisecond)
		e := c.get("/institutions").errBody(t, http.StatusForbidden, "access-denied")
		assert.Equal(t, "Token has expired", e.Data[0].Detail)
	})

	// expires_in is whole seconds, at least 1; the default is an hour.
	for d, want := range map[time.Duration]float64{300 * time.Millisecond: 1, 2500 * time.Millisecond: 2} {
		_, c := startServer(t, WithTokenLifetime(d))
		assert.InDelta(t, want, c.tokenReq(ScopeServerAccess).obj(t)["expires_in"], 0, "lifetime %v", d)
	}
	_, c := startServer(t)
	assert.InDelta(t, 3600, c.tokenReq(ScopeServerAccess).obj(t)["expires_in"], 0, "the default lifetime")
}

func TestScopes(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	jobID := c.connectLogin(user, InstHooli, LoginJared, PasswordJared)
	clientTok := c.token(ScopeClientAccess)
	asClient := map[string]string{"Authorization": "Bearer " + clientTok}

	// A client token reads a job and answers MFA, nothing else.
	assert.Equal(t, http.StatusOK, c.send(http.MethodGet, "/jobs/"+jobID, nil, asClient).status)
	for _, path := range []string{"/institutions", "/users/" + user, "/users/" + user + "/connections"} {
		e := c.send(http.MethodGet, path, nil, asClient).errBody(t, http.StatusForbidden, "forbidden-access")
		assert.Equal(t, "SERVER_ACCESS token required", e.Data[0].Detail)
	}
	// A server token cannot answer MFA.
	e := c.post("/jobs/"+jobID+"/mfa", `{"mfa-response":["1234"]}`).errBody(t, http.StatusForbidden, "forbidden-access")
	assert.Equal(t, "CLIENT_ACCESS token required", e.Data[0].Detail)
	// The client token gets past the scope check (this job waits for no MFA).
	c.send(http.MethodPost, "/jobs/"+jobID+"/mfa", `{"mfa-response":["1234"]}`, asClient).
		errBody(t, http.StatusBadRequest, "parameter-not-valid")
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	e := c.get("/nowhere").errBody(t, http.StatusNotFound, "resource-not-found")
	assert.Contains(t, e.Data[0].Detail, "/nowhere")
	c.get("/users/").errBody(t, http.StatusNotFound, "resource-not-found")

	r := c.send(http.MethodPut, "/users/x", `{}`, nil)
	r.errBody(t, http.StatusMethodNotAllowed, "method-not-allowed")
	assert.Contains(t, r.header.Get("Allow"), "POST")
	assert.Contains(t, r.header.Get("Allow"), "DELETE")
	c.send(http.MethodDelete, "/jobs/x", nil, nil).errBody(t, http.StatusMethodNotAllowed, "method-not-allowed")
	c.get("/token").errBody(t, http.StatusMethodNotAllowed, "method-not-allowed")

	// Unknown routes answer 404 before any token check.
	c.send(http.MethodGet, "/nowhere", nil, map[string]string{"Authorization": ""}).errBody(t, http.StatusNotFound, "resource-not-found")

	// Correlation ids are unique per answer.
	seen := map[string]bool{}
	for range 20 {
		e := c.get("/jobs/nope").errBody(t, http.StatusNotFound, "resource-not-found")
		assert.False(t, seen[e.CorrelationID])
		seen[e.CorrelationID] = true
	}
}

func TestRouteConflicts(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	job := c.wait(c.connectLogin(user, InstHooli, LoginJared, PasswordJared))
	conn := job.connID()

	// POST .../connections/refresh is refresh-all (a list), not an update of
	// a connection called "refresh".
	r := c.post("/users/"+user+"/connections/refresh", nil)
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	assert.Equal(t, "list", str(r.obj(t), "type"))
	// POST .../connections/{id} is the update.
	r = c.post("/users/"+user+"/connections/"+conn, map[string]string{"password": PasswordJared})
	require.Contains(t, []int{200, 202}, r.status, "body: %s", r.body)
	assert.Equal(t, "job", str(r.obj(t), "type"))
	// GET .../connections/refresh is a connection that does not exist.
	c.get("/users/"+user+"/connections/refresh").errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestRequestsMasked(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	c.connect(user, InstSecurityCode, map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson, "securityCode": "987654"})
	c.connect(user, InstToken, map[string]string{"userToken": SandboxUserToken})
	mfaJob := str(c.connect(user, InstMFA, map[string]string{"loginId": LoginRichard, "password": PasswordRichard}).obj(t), "id")
	clientTok := c.token(ScopeClientAccess)
	c.send(http.MethodPost, "/jobs/"+mfaJob+"/mfa", `{"mfa-response":["1234"]}`, map[string]string{"Authorization": "Bearer " + clientTok})
	// Secrets in other letter cases, nested, in a broken body and in a form.
	c.post("/users/"+user+"/connections", `{"Password":"hunter2","institution":{"id":"AU00000","loginId":"x","nested":[{"USERTOKEN":"tok-secret"}]}}`)
	c.post("/users/"+user+"/connections", `{"loginId":"x","password":"broken-secret"`)
	c.send(http.MethodPost, "/users", url.Values{"password": {"form-secret"}, "email": {"f@x.example"}}, nil)

	reqs := srv.Requests()
	require.Len(t, reqs, 10)
	dump := fmt.Sprintf("%+v", reqs)
	for _, secret := range []string{srv.APIKey, c.tok, clientTok, PasswordGavinBelson, PasswordRichard, "987654",
		SandboxUserToken, "PTln18RhwL", `"1234"`, "hunter2", "tok-secret", "broken-secret", "form-secret"} {
		assert.NotContains(t, dump, secret)
	}
	for _, r := range reqs {
		for _, v := range r.Header.Values("Authorization") {
			assert.Contains(t, []string{"Basic [REDACTED]", "Bearer [REDACTED]"}, v)
		}
	}

	// Order, method, path, status, and what is not secret, are kept.
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, "/token", reqs[0].Path)
	assert.Equal(t, "scope=SERVER_ACCESS", reqs[0].Body)
	assert.Equal(t, 200, reqs[0].Status)
	assert.Equal(t, "/users", reqs[1].Path)
	assert.Equal(t, `{"email":"a@b.example"}`, reqs[1].Body)
	assert.Equal(t, 201, reqs[1].Status)
	assert.Contains(t, reqs[2].Body, `"securityCode":"[REDACTED]"`)
	assert.Contains(t, reqs[2].Body, `"password":"[REDACTED]"`)
	assert.Contains(t, reqs[2].Body, `"loginId":"gavinBelson"`)
	assert.Equal(t, 202, reqs[2].Status)
	assert.Contains(t, reqs[3].Body, `"userToken":"[REDACTED]"`)
	assert.Equal(t, "/jobs/"+mfaJob+"/mfa", reqs[6].Path)
	assert.Equal(t, `{"mfa-response":"[REDACTED]"}`, reqs[6].Body)
	assert.Contains(t, reqs[8].Body, "[REDACTED]")
	assert.Equal(t, 400, reqs[8].Status)
	assert.Contains(t, reqs[9].Body, "password=%5BREDACTED%5D")

	// Requests returns copies.
	reqs[0].Header.Set("X", "y")
	assert.Empty(t, srv.Requests()[0].Header.Get("X"))

	// The query string is kept.
	c.get("/institutions?filter=institution.id.eq('AU00000')")
	last := srv.Requests()[len(srv.Requests())-1]
	assert.Equal(t, "filter=institution.id.eq('AU00000')", last.RawQuery)
}

func TestUnstartedServerAndHandler(t *testing.T) {
	t.Parallel()
	srv := NewUnstartedServer()
	defer srv.Close()
	assert.Empty(t, srv.URL)

	do := func(method, target, body, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("basiq-version", "2.1")
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := do(http.MethodPost, "/token", "scope=SERVER_ACCESS", "Basic "+srv.APIKey)
	require.Equal(t, http.StatusOK, rec.Code)
	tok := str(resp{body: rec.Body.Bytes()}.obj(t), "access_token")
	rec = do(http.MethodGet, "/institutions/AU00000", "", "Bearer "+tok)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, UnstartedURL+"/institutions/AU00000", str(resp{body: rec.Body.Bytes()}.obj(t), "links", "self"))

	// Through Transport, links are on the origin the request was sent to.
	hc := &http.Client{Transport: srv.Transport()}
	req, _ := http.NewRequest(http.MethodGet, "https://api.example:8443/institutions/AU00000", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := hc.Do(req)
	require.NoError(t, err)
	var in map[string]any
	require.NoError(t, jsonDecode(res.Body, &in))
	res.Body.Close()
	assert.Equal(t, "https://api.example:8443/institutions/AU00000", str(in, "links", "self"))

	// Started, links use its URL.
	srv.Start()
	require.NotEmpty(t, srv.URL)
	rec = do(http.MethodGet, "/institutions/AU00000", "", "Bearer "+tok)
	assert.Equal(t, srv.URL+"/institutions/AU00000", str(resp{body: rec.Body.Bytes()}.obj(t), "links", "self"))
	assert.Panics(t, srv.Start)

	srv.Close()
	srv.Close() // idempotent
	assert.Panics(t, srv.Start)
	_, err = http.Get(srv.URL + "/institutions")
	assert.Error(t, err)
}

func TestRequestBodyTooLarge(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	big := `{"email":"a@b.example","x":"` + strings.Repeat("a", maxBodyBytes) + `"}`
	c.post("/users", big).errBody(t, http.StatusBadRequest, "invalid-content")
}

// TestOptionsRefuseValuesTheyCannotUse checks that an option given a value
// it cannot use stops the server's construction with an error naming the
// option, instead of being silently ignored.
func TestOptionsRefuseValuesTheyCannotUse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		option string
		opt    Option
	}{
		{"apiKey", WithAPIKey("")},
		{"tokenLifetime", WithTokenLifetime(0)},
		{"stepDuration", WithStepDuration(-time.Second)},
		{"stepDurations", WithStepDurations(nil)},
		{"transactionsPerAccount", WithTransactionsPerAccount(-1)},
		{"institutions", WithInstitutions(Institution{Name: "No id"})},
		{"jobTiming", WithJobTiming(JobTiming{Scale: -1})},
		{"jobTiming", WithJobTiming(JobTiming{Spread: math.NaN()})},
		{"jobTiming", WithJobTiming(JobTiming{Scale: 1e300})},
		{"jobTiming", WithJobTiming(JobTiming{Spread: 40})},
		{"apiKey", WithAPIKey("   ")},
		{"jobTiming", WithJobTiming(JobTiming{TotalMin: 5 * time.Second, TotalMax: time.Second})},
		{"publishedAverages", WithPublishedAverages(nil)},
		{"failingLoginAfter", WithFailingLoginAfter(-time.Second)},
		{"consentRedirectURL", WithConsentRedirectURL("")},
		{"consentRedirectURL", WithConsentRedirectURL("/relative")},
		{"consentRedirectURL", WithConsentRedirectURL("ftp://x.example/")},
		{"consentRedirectURL", WithConsentRedirectURL("https://x.example/#frag")},
		{"consentRedirectURL", WithConsentRedirectURL("https:///nohost")},
		{"consentRedirectURL", WithConsentRedirectURL("http://x.example/\x00")},
		{"consentLifetime", WithConsentLifetime(0)},
	} {
		func() {
			defer func() {
				ve, ok := recover().(*basiq.ValidationError)
				require.True(t, ok, "%s: NewUnstartedServer must panic with a *basiq.ValidationError", tc.option)
				require.ErrorIs(t, ve, basiq.ErrValidation)
				assert.Equal(t, tc.option, ve.Field)
			}()
			NewUnstartedServer(tc.opt)
		}()
	}
}

// TestClientPanicsWithNewClientsError checks that Client, given an option
// NewClient refuses, panics with NewClient's error itself, as NewServer
// does with its options', so a recovered value matches with errors.Is and
// errors.As and reads with one prefix.
func TestClientPanicsWithNewClientsError(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	var v any
	func() {
		defer func() { v = recover() }()
		srv.Client(basiq.WithRetryWait(0, 0))
	}()
	err, ok := v.(error)
	require.True(t, ok, "the panic value is an error: %#v", v)
	require.ErrorIs(t, err, basiq.ErrValidation)
	var ve *basiq.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "retryWait", ve.Field)
	assert.Equal(t, 1, strings.Count(err.Error(), "basiq"), "%q", err.Error())
}
