package basiq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenRequest is what one POST /token carried.
type tokenRequest struct {
	Scope, UserID, Version string
}

// recordTokens answers POST /token with a token named after the scope (and
// user) asked for, and records each request.
func recordTokens(t *testing.T, mt *httpmock.MockTransport) func() []tokenRequest {
	t.Helper()
	var (
		mu  sync.Mutex
		got []tokenRequest
	)
	mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		tr := tokenRequest{Scope: r.PostForm.Get("scope"), UserID: r.PostForm.Get("userId"), Version: r.Header.Get("basiq-version")}
		mu.Lock()
		got = append(got, tr)
		mu.Unlock()
		tok := "tok-" + tr.Scope + "-" + tr.Version
		if tr.UserID != "" {
			tok += "-" + tr.UserID
		}
		return tokenResponder(tok, 3600)(r)
	})
	return func() []tokenRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]tokenRequest(nil), got...)
	}
}

func TestTokensAreRequestedWithTheClientsVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, serverTok, clientTok string
	}{
		{"", "2.0", "2.1"}, // the default
		{"2.0", "2.0", "2.1"},
		{"2.1", "2.1", "2.1"},
		{"3.0", "3.0", "3.0"},
	} {
		t.Run("version "+tc.version, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if tc.version != "" {
				opts = append(opts, WithVersion(tc.version))
			}
			c, mt := newMockClient(t, opts...)
			tokens := recordTokens(t, mt)
			var versions []string
			mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
				versions = append(versions, r.Header.Get("basiq-version"))
				return jsonResp(200, `{"id":"j1","steps":[{"title":"verify-credentials","status":"in-progress"}],"links":{"source":"/users/u1/connections/c1"}}`)(r)
			})
			mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa", jsonResp(202, `{"id":"j1"}`))
			ctx := context.Background()
			_, err := c.Jobs.Get(ctx, "j1")
			require.NoError(t, err)
			_, err = c.Jobs.RespondMFA(ctx, "j1", "1234")
			require.NoError(t, err)
			got := tokens()
			require.Len(t, got, 2)
			assert.Equal(t, tokenRequest{Scope: scopeServer, Version: tc.serverTok}, got[0])
			assert.Equal(t, scopeClient, got[1].Scope)
			assert.Equal(t, tc.clientTok, got[1].Version, "the MFA token needs at least 2.1, and the client's version from there")
			if versionAtLeast(tc.clientTok, "3.0") {
				assert.Equal(t, "u1", got[1].UserID, "3.0 binds it to the job's user")
			} else {
				assert.Empty(t, got[1].UserID)
			}
			assert.Equal(t, tc.serverTok, versions[0], "requests repeat the client's version")
		})
	}
}

func TestVersionAtLeast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v, want string
		ok      bool
	}{
		{"3.0", "3.0", true}, {"3.1", "3.0", true}, {"10.0", "3.0", true}, {"3", "3.0", true},
		{"2.1", "3.0", false}, {"2.0", "2.1", false}, {"2.10", "2.9", true},
		{"", "2.1", false}, {"x", "2.1", false}, {"3.x", "3.0", false}, {"-3.0", "2.0", false},
	} {
		assert.Equal(t, tc.ok, versionAtLeast(tc.v, tc.want), "%q >= %q", tc.v, tc.want)
	}
}

func TestClientTokenAsksForAUserBoundToken(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"2.0", "3.0"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithVersion(version))
			var auth []string
			mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
				auth = append(auth, r.Header.Get("Authorization"))
				assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
				return tokenResponder("cli-tok-9Zq", 1800)(r)
			})
			before := time.Now()
			tok, err := c.ClientToken(context.Background(), "user 1/2")
			require.NoError(t, err)
			assert.Equal(t, "cli-tok-9Zq", tok.Value)
			assert.Equal(t, "user 1/2", tok.UserID)
			assert.WithinDuration(t, before.Add(30*time.Minute), tok.ExpiresAt, 5*time.Second)
			require.Len(t, auth, 1)
			assert.Equal(t, "Basic "+testKey, auth[0])
		})
	}
}

func TestClientTokenFormAndVersion(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"2.0", "2.1", "3.0"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithVersion(version))
			tokens := recordTokens(t, mt)
			_, err := c.ClientToken(context.Background(), "u-42")
			require.NoError(t, err)
			assert.Equal(t, []tokenRequest{{Scope: scopeClient, UserID: "u-42", Version: version}}, tokens())
		})
	}
}

func TestClientTokenIsNeverUsedForTheClientsOwnCalls(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	tokens := recordTokens(t, mt)
	var bearer []string
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1", func(r *http.Request) (*http.Response, error) {
		bearer = append(bearer, r.Header.Get("Authorization"))
		return jsonResp(200, `{"id":"u1"}`)(r)
	})
	ctx := context.Background()
	for range 2 {
		_, err := c.ClientToken(ctx, "u1")
		require.NoError(t, err)
	}
	_, err := c.Users.Get(ctx, "u1")
	require.NoError(t, err)
	got := tokens()
	require.Len(t, got, 3, "each ClientToken call asks for a new token, and the server call for its own")
	assert.Equal(t, scopeServer, got[2].Scope)
	assert.Equal(t, []string{"Bearer tok-SERVER_ACCESS-3.0"}, bearer)
}

func TestClientTokenRefusesBadUserIDBeforeIO(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", " ", ".", "..", "a\nb", "a\x00"} {
		c, mt := newMockClient(t)
		_, err := c.ClientToken(context.Background(), id)
		require.ErrorIs(t, err, ErrValidation, "%q", id)
		assert.Zero(t, mt.GetTotalCallCount(), "%q", id)
	}
}

func TestClientTokenErrorsCarryNoSecret(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	mt.RegisterResponder(http.MethodPost, testBase+"/token",
		jsonResp(400, `{"type":"list","data":[{"code":"parameter-not-valid","title":"bad key `+testKey+`"}]}`))
	_, err := c.ClientToken(context.Background(), "u1")
	require.Error(t, err)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, err.Error(), testKey)

	// A token a header cannot carry is refused, and not quoted.
	c, mt = newMockClient(t, WithVersion("3.0"))
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokenResponder("bad token\nvalue", 60))
	_, err = c.ClientToken(context.Background(), "u1")
	require.ErrorIs(t, err, ErrInvalidResponse)
	assert.NotContains(t, err.Error(), "bad token")
}

func TestClientTokenFormattingNeverShowsTheValue(t *testing.T) {
	t.Parallel()
	const secret = `cli-tok-"7Hq2<Lw9>&ZpX`
	tok := ClientToken{Value: secret, UserID: "u1", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	values := map[string]any{
		"ClientToken":            tok,
		"*ClientToken":           &tok,
		"struct{T ClientToken}":  struct{ T ClientToken }{tok},
		"struct{T *ClientToken}": struct{ T *ClientToken }{&tok},
		"[]any":                  []any{tok, &tok},
		"map":                    map[string]any{"t": tok, "p": &tok},
	}
	var forbidden []string
	for _, f := range credentialForms(secret) {
		forbidden = append(forbidden, f)
	}
	forbidden = append(forbidden, url.QueryEscape(secret))
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			// The limits ClientToken shares with ConnectionParams (its
			// comment and SECURITY.md): fmt prints an exported field
			// without calling Format under %p of a value and under %w.
			assertHidden(t, v, forbidden, func(verb string) bool {
				return verb == "%w" || verb == "%p" && !strings.HasPrefix(name, "*")
			}, false)
			_, err := json.Marshal(v)
			require.NoError(t, err)
		})
	}
	assertHidden(t, tok.GoString(), forbidden, nil, false)
	assert.Contains(t, tok.String(), "u1")
	assert.Contains(t, tok.String(), redacted)
	assert.Contains(t, fmt.Sprintf("%#v", tok), "2030-01-02T03:04:05Z")
	assert.Equal(t, secret, tok.Value, "the value itself stays usable")
}

func TestWithConsentBaseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw string
		ok  bool
	}{
		{"https://consent.example/home", true},
		{"http://127.0.0.1:8080/consent/home", true},
		{"http://localhost/consent/home", true},
		{"http://[::1]:9/consent/home", true},
		{"http://consent.example/home", false},
		{"ftp://consent.example/home", false},
		{"/consent/home", false},
		{"", false},
		{"https://user:pw@consent.example/home", false},
		{"https://consent.example/home?x=1", false},
		{"https://consent.example/home?", false},
		{"https://consent.example/home#frag", false},
	} {
		_, err := NewClient(WithAPIKey(testKey), WithConsentBaseURL(tc.raw))
		if tc.ok {
			assert.NoError(t, err, tc.raw)
		} else {
			assert.ErrorIs(t, err, ErrValidation, tc.raw)
		}
	}
}

func TestConsentURLCarriesAFreshClientTokenAndTheParameters(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	tokens := recordTokens(t, mt)
	ctx := context.Background()

	link, err := c.ConsentURL(ctx, "u1", ConsentLinkParams{})
	require.NoError(t, err)
	u, err := url.Parse(link)
	require.NoError(t, err)
	assert.Equal(t, "https", u.Scheme)
	assert.Equal(t, "consent.basiq.io", u.Host)
	assert.Equal(t, "/home", u.Path)
	assert.Equal(t, url.Values{"token": {"tok-CLIENT_ACCESS-3.0-u1"}}, u.Query(), "ConsentCreate sends no action")

	state := "s&t=1 #?/é"
	link, err = c.ConsentURL(ctx, "u2", ConsentLinkParams{Action: ConsentUpdate, State: state, InstitutionID: "AU00000", ConnectionID: "c/1&x=y"})
	require.NoError(t, err)
	u, err = url.Parse(link)
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"token": {"tok-CLIENT_ACCESS-3.0-u2"}, "action": {"update"}, "state": {state},
		"institutionId": {"AU00000"}, "connectionId": {"c/1&x=y"},
	}, u.Query(), "every parameter is escaped and comes back unchanged")
	assert.Equal(t, []tokenRequest{
		{Scope: scopeClient, UserID: "u1", Version: "3.0"},
		{Scope: scopeClient, UserID: "u2", Version: "3.0"},
	}, tokens(), "a fresh client token for each link")

	for _, a := range []ConsentAction{ConsentConnect, ConsentManage, ConsentExtend, ConsentReauthorise} {
		link, err := c.ConsentURL(ctx, "u1", ConsentLinkParams{Action: a})
		require.NoError(t, err)
		u, _ := url.Parse(link)
		assert.Equal(t, string(a), u.Query().Get("action"))
	}
}

func TestConsentURLUsesTheConsentBaseURL(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"), WithConsentBaseURL("http://127.0.0.1:7777/consent/home"))
	recordTokens(t, mt)
	link, err := c.ConsentURL(context.Background(), "u1", ConsentLinkParams{State: "abc"})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:7777/consent/home?state=abc&token=tok-CLIENT_ACCESS-3.0-u1", link)
}

func TestConsentURLRefusesBadArgumentsBeforeIO(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		user string
		p    ConsentLinkParams
	}{
		"blank user":          {" ", ConsentLinkParams{}},
		"dot user":            {"..", ConsentLinkParams{}},
		"unknown action":      {"u1", ConsentLinkParams{Action: "delete"}},
		"institution control": {"u1", ConsentLinkParams{InstitutionID: "AU\n00000"}},
		"connection dots":     {"u1", ConsentLinkParams{ConnectionID: ".."}},
		"state control":       {"u1", ConsentLinkParams{State: "a\r\nb"}},
	} {
		c, mt := newMockClient(t, WithVersion("3.0"))
		_, err := c.ConsentURL(context.Background(), tc.user, tc.p)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, name)
		assert.Zero(t, mt.GetTotalCallCount(), name)
	}
}

func TestConsentURLReportsATokenFailure(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	mt.RegisterResponder(http.MethodPost, testBase+"/token", jsonResp(404, `{"data":[{"code":"unauthorized-access"}]}`))
	link, err := c.ConsentURL(context.Background(), "u1", ConsentLinkParams{})
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Empty(t, link)
}

func TestParseConsentRedirect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw string
		jobs      []string
		state     string
	}{
		{"one job", "https://app.example/cb?jobIds=j1&state=s1", []string{"j1"}, "s1"},
		{"several", "https://app.example/cb?state=x%20y&jobIds=j1,j2,j3", []string{"j1", "j2", "j3"}, "x y"},
		{"escaped comma", "https://app.example/cb?jobIds=j1%2Cj2", []string{"j1", "j2"}, ""},
		{"repeated parameter", "https://app.example/cb?jobIds=j1&jobIds=j2", []string{"j1", "j2"}, ""},
		{"odd but usable ids", "https://app.example/cb?jobIds=a%2Fb,%2E%2E%2E", []string{"a/b", "..."}, ""},
		{"relative", "/cb?jobIds=j9", []string{"j9"}, ""},
	} {
		u, err := url.Parse(tc.raw)
		require.NoError(t, err)
		r, err := ParseConsentRedirect(u)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.jobs, r.JobIDs, tc.name)
		assert.Equal(t, tc.state, r.State, tc.name)
	}
}

func TestParseConsentRedirectRefusesWhatIsNotAJobList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw string
		contains  []string
	}{
		{"no job ids", "https://app.example/cb?state=s1", []string{"jobIds", "no job ids"}},
		{"empty job ids", "https://app.example/cb?jobIds=&state=s1", []string{"no job ids"}},
		{"consent ui error", "https://app.example/cb?error=access_denied&error_description=user+cancelled&state=s", []string{"access_denied", "user cancelled"}},
		{"error with control characters", "https://app.example/cb?error=bad%0D%0Aforged%1B[31m", []string{"bad", "forged"}},
		{"dot segment id", "https://app.example/cb?jobIds=j1,..", []string{"jobIds"}},
		{"control character id", "https://app.example/cb?jobIds=j1%0Aj2", []string{"jobIds"}},
		{"empty id in list", "https://app.example/cb?jobIds=j1,,j2", []string{"jobIds"}},
		{"blank id", "https://app.example/cb?jobIds=%20", []string{"jobIds"}},
		{"bad query", "https://app.example/cb?jobIds=j1%zz", []string{"redirect"}},
		{"too many", "https://app.example/cb?jobIds=" + strings.Repeat("j,", maxRedirectJobs) + "j", []string{"more than"}},
	} {
		u, err := url.Parse(tc.raw)
		require.NoError(t, err, tc.name)
		r, err := ParseConsentRedirect(u)
		require.Error(t, err, tc.name)
		assert.Nil(t, r, tc.name)
		assert.ErrorIs(t, err, ErrValidation, tc.name)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		for _, s := range tc.contains {
			assert.Contains(t, err.Error(), s, tc.name)
		}
		assert.NotContains(t, err.Error(), "\n", tc.name)
		assert.NotContains(t, err.Error(), "\x1b", tc.name)
	}
	_, err := ParseConsentRedirect(nil)
	assert.ErrorIs(t, err, ErrValidation)
}

func TestVersion3RefusesTheCallsItDoesNotHave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	params := ConnectionParams{LoginID: "gavinBelson", Password: "hooli2016", Institution: InstitutionRef{ID: "AU00000"}}
	cases := map[string]struct {
		call    func(c *Client) error
		pointTo string
	}{
		"Connections.Create": {func(c *Client) error { _, err := c.Connections.Create(ctx, "u1", params); return err }, "ConsentURL"},
		"Connections.Update": {func(c *Client) error {
			_, err := c.Connections.Update(ctx, "u1", "c1", ConnectionUpdateParams{Password: "hooli2016"})
			return err
		}, "ConsentURL"},
		"Institutions.Get":  {func(c *Client) error { _, err := c.Institutions.Get(ctx, "AU00000"); return err }, "Connectors"},
		"Institutions.List": {func(c *Client) error { _, err := c.Institutions.List(ctx, nil); return err }, "Connectors"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, v := range []string{"3.0", "3.1"} {
				c, mt := newMockClient(t, WithVersion(v))
				err := tc.call(c)
				require.ErrorIs(t, err, errors.ErrUnsupported, v)
				assert.NotErrorIs(t, err, ErrValidation)
				assert.Contains(t, err.Error(), tc.pointTo)
				assert.NotContains(t, err.Error(), "hooli2016")
				assert.Zero(t, mt.GetTotalCallCount(), "refused before any I/O")
			}
			// On 2.x the call is sent, and Basiq's answer decides.
			for _, v := range []string{"2.0", "2.1"} {
				c, mt := newMockClient(t, WithVersion(v))
				mt.RegisterNoResponder(jsonResp(http.StatusTeapot, `{}`))
				err := tc.call(c)
				assert.NotErrorIs(t, err, errors.ErrUnsupported, v)
				assert.NotZero(t, mt.GetTotalCallCount()-calls(mt, "POST "+testBase+"/token"), "%s: sent on %s", name, v)
			}
		})
	}
}

// FuzzParseConsentRedirect checks that any redirect query either yields job
// ids that each pass checkID (so none can steer a request elsewhere) or is
// refused with *ValidationErrors of one line each, and never panics.
func FuzzParseConsentRedirect(f *testing.F) {
	for _, q := range []string{
		"jobIds=j1,j2&state=s", "jobIds=", "error=access_denied", "jobIds=..,.", "jobIds=a%0Ab",
		"jobIds=j1&jobIds=j2", "jobIds=%zz", "state=%E2%80%A8&error=%1B[2J",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r, err := ParseConsentRedirect(&url.URL{Scheme: "https", Host: "app.example", Path: "/cb", RawQuery: rawQuery})
		if err != nil {
			require.Nil(t, r)
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap() // several refused ids, joined
			}
			for _, e := range errs {
				var ve *ValidationError
				require.ErrorAs(t, e, &ve)
				require.NotContains(t, e.Error(), "\n")
				require.NotContains(t, e.Error(), "\x1b")
			}
			return
		}
		require.NotEmpty(t, r.JobIDs)
		require.LessOrEqual(t, len(r.JobIDs), maxRedirectJobs)
		for _, id := range r.JobIDs {
			require.NoError(t, checkID("jobIds", id))
			require.NotContains(t, id, ",")
		}
	})
}

// TestParseConsentRedirectWorkIsBounded checks that a hostile redirect
// carrying a million job id entries is refused at the cap, with work that
// does not grow with the entries, and that spaces around ids are trimmed.
func TestParseConsentRedirectWorkIsBounded(t *testing.T) {
	// Not parallel: testing.AllocsPerRun counts the whole process's.
	for _, q := range []string{strings.Repeat(",", 1<<20), strings.Repeat("a,", 1<<19)} {
		u := &url.URL{RawQuery: "jobIds=" + q}
		allocs := testing.AllocsPerRun(2, func() {
			_, err := ParseConsentRedirect(u)
			require.ErrorIs(t, err, ErrValidation)
		})
		assert.Less(t, allocs, 2000.0, "allocations for %d bytes of ids", len(q))
	}
	r, err := ParseConsentRedirect(&url.URL{RawQuery: "jobIds=j1,%20j2&state=s"})
	require.NoError(t, err)
	assert.Equal(t, []string{"j1", "j2"}, r.JobIDs)
}
