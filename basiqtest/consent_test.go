package basiqtest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browser is a plain http.Client that does not follow redirects, as a test
// of the Consent UI drives it.
func browser() *http.Client {
	return &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// page GETs u and returns the status and body.
func page(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := browser().Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// submit POSTs the form and returns the answer, unfollowed.
func submit(t *testing.T, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	res, err := browser().PostForm(u, form)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func TestConsentUIShowsAFormForABoundClientToken(t *testing.T) {
	srv, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	tok := c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {uid}})

	status, body := page(t, srv.URL+"/consent/home?"+url.Values{"token": {tok}, "state": {`<s&"x">`}, "institutionId": {InstHooli}}.Encode())
	require.Equal(t, http.StatusOK, status, body)
	for _, want := range []string{`<form method="post"`, `name="institutionId"`, `name="loginId"`, `name="password"`,
		`value="` + tok + `"`, `&lt;s&amp;&#34;x&#34;&gt;`, `value="` + InstHooli + `" selected`} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, `<s&"x">`, "the state is escaped")

	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "nope", http.StatusUnauthorized},
		{"server token", c.tok, http.StatusForbidden},
		{"2.x client token, bound to no user", c.tokenFor(ScopeClientAccess, "2.1", url.Values{"userId": {uid}}), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := page(t, srv.URL+"/consent/home?token="+url.QueryEscape(tt.token))
			assert.Equal(t, tt.status, status, body)
			assert.NotContains(t, body, "<form")
		})
	}
}

func TestConsentUIRefusesAnExpiredToken(t *testing.T) {
	srv, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	tok := c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {uid}})
	srv.ExpireTokens()
	status, _ := page(t, srv.URL+"/consent/home?token="+tok)
	assert.Equal(t, http.StatusForbidden, status)
	res, _ := submit(t, srv.URL+"/consent/home", url.Values{"token": {tok}, "institutionId": {InstHooli},
		"loginId": {LoginGavinBelson}, "password": {PasswordGavinBelson}})
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
}

func TestConsentUISubmitConnectsAndRedirectsWithJobIDsAndState(t *testing.T) {
	srv, c := startServer(t, WithConsentRedirectURL("https://app.example/basiq/back?from=basiq"))
	uid := c.createUser("a@hooli.example")
	tok := c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {uid}})

	res, body := submit(t, srv.URL+"/consent/home", url.Values{"token": {tok}, "state": {"s 1"},
		"institutionId": {InstHooli}, "loginId": {LoginGavinBelson}, "password": {PasswordGavinBelson}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "app.example", loc.Host)
	assert.Equal(t, "/basiq/back", loc.Path)
	assert.Equal(t, "basiq", loc.Query().Get("from"))
	assert.Equal(t, "s 1", loc.Query().Get("state"))
	jobIDs := strings.Split(loc.Query().Get("jobIds"), ",")
	require.Len(t, jobIDs, 1)

	// The job is the sandbox login's, readable by the client token.
	j := c.as(tok).wait(jobIDs[0])
	assert.Equal(t, []string{"verify-credentials=success", "retrieve-accounts=success", "retrieve-transactions=success"}, j.statuses())
	conns := list(t, c.get("/users/"+uid+"/connections"))
	require.Len(t, conns, 1)
	assert.Equal(t, "active", str(conns[0], "status"))

	// One active consent.
	consents := list(t, c.get("/users/"+uid+"/consents"))
	require.Len(t, consents, 1)
	assert.Equal(t, "active", str(consents[0], "status"))
	assert.Equal(t, "consent", str(consents[0], "type"))

	// A bad login still redirects; its job fails as in 2.x.
	res, _ = submit(t, srv.URL+"/consent/home", url.Values{"token": {tok}, "institutionId": {InstHooli},
		"loginId": {LoginBighead}, "password": {PasswordBighead}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	loc, _ = url.Parse(res.Header.Get("Location"))
	st, _ := c.wait(loc.Query().Get("jobIds")).step("verify-credentials")
	assert.Equal(t, "failed", st)
	assert.Len(t, list(t, c.get("/users/"+uid+"/consents")), 1, "one consent covers both")

	// The password never reaches the recorded requests.
	for _, r := range srv.Requests() {
		assert.NotContains(t, r.Body, PasswordGavinBelson)
		assert.NotContains(t, r.Body, tok)
		assert.NotContains(t, r.RawQuery, tok)
	}
}

func TestConsentUIRedisplaysTheFormWhenCredentialsAreMissing(t *testing.T) {
	srv, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	tok := c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {uid}})
	res, body := submit(t, srv.URL+"/consent/home", url.Values{"token": {tok}, "institutionId": {InstHooli}, "loginId": {LoginGavinBelson}})
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Contains(t, body, "password is required")
	assert.Contains(t, body, "<form")
	assert.Empty(t, list(t, c.get("/users/"+uid+"/connections")))
}

func TestConsentUIWithoutRedirectOptionLandsOnItsOwnDonePage(t *testing.T) {
	srv, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	tok := c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {uid}})
	res, _ := submit(t, srv.URL+"/consent/home", url.Values{"token": {tok}, "institutionId": {InstHooli},
		"loginId": {LoginGavinBelson}, "password": {PasswordGavinBelson}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	loc := res.Header.Get("Location")
	assert.True(t, strings.HasPrefix(loc, srv.URL+"/consent/done?"), loc)
	status, body := page(t, loc)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "jobIds")
}

func TestConsentsListAndRevoke(t *testing.T) {
	srv, c := startServer(t, WithConsentLifetime(time.Hour))
	uid := c.createUser("a@hooli.example")
	consentID := srv.AddConsent(uid)
	jobID := c.connectLogin(uid, InstHooli, LoginGavinBelson, PasswordGavinBelson)
	c.wait(jobID)

	items := list(t, c.get("/users/"+uid+"/consents"))
	require.Len(t, items, 1)
	assert.Equal(t, consentID, str(items[0], "id"))
	for _, k := range []string{"created", "updated", "expiryDate", "purpose", "data", "links"} {
		assert.Contains(t, items[0], k)
	}

	require.Equal(t, http.StatusNoContent, c.del("/users/"+uid+"/consents/"+consentID).status)
	items = list(t, c.get("/users/"+uid+"/consents"))
	require.Len(t, items, 1)
	assert.Equal(t, "revoked", str(items[0], "status"))
	assert.Empty(t, list(t, c.get("/users/"+uid+"/connections")), "revoking deletes the data collected under it")
	c.del("/users/"+uid+"/consents/"+consentID).errBody(t, http.StatusBadRequest, "parameter-not-valid")
	c.del("/users/"+uid+"/consents/nope").errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestConsentsExpireAfterTheirLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c := inProcessServer(t, WithConsentLifetime(time.Hour), WithTokenLifetime(2*time.Hour))
		uid := c.createUser("a@hooli.example")
		srv.AddConsent(uid)
		time.Sleep(time.Hour - time.Second)
		assert.Equal(t, "active", str(list(t, c.get("/users/"+uid+"/consents"))[0], "status"))
		time.Sleep(time.Second)
		assert.Equal(t, "expired", str(list(t, c.get("/users/"+uid+"/consents"))[0], "status"))
	})
}

// TestConsentTokenMaskedInMalformedQueriesAndForms checks that the client
// token the Consent UI receives is masked in Server.Requests even when the
// query or form has a pair the URL parser refuses: the handlers still read
// the token from such a query.
func TestConsentTokenMaskedInMalformedQueriesAndForms(t *testing.T) {
	t.Parallel()
	const tok = "0123456789abcdef0123456789abcdef"
	for _, q := range []string{"token=" + tok + "&x=%zz", "token=" + tok + "&a=b;c", "x=%zz&token=" + tok} {
		assert.NotContains(t, maskQuery(q), tok, q)
	}
	assert.NotContains(t, maskBody("application/x-www-form-urlencoded", []byte("token="+tok+"&institutionId=AU00000&x=%zz")), tok)
	assert.Equal(t, "a=1&b=%zz", maskQuery("a=1&b=%zz"), "a query without a token is kept as it came")
}
