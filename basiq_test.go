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
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientKeyFromEnvironment(t *testing.T) {
	t.Setenv(EnvAPIKey, "env-key")
	c, err := NewClient()
	require.NoError(t, err)
	assert.Equal(t, "env-key", c.apiKey.value())
	assert.Equal(t, DefaultBaseURL+"/", c.BaseURL())
}

func TestRequestHeadersAndTokenExchange(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("2.1"), WithUserAgent("app/1"))
	var tokenReq, jobReq *http.Request
	var tokenBody string
	mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		tokenReq, tokenBody = r, string(b)
		return tokenResponder("tok-1", 3600)(r)
	})
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		jobReq = r
		return jsonResp(200, `{"type":"job","id":"j1","steps":[]}`)(r)
	})
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.NoError(t, err)

	require.NotNil(t, tokenReq)
	assert.Equal(t, "Basic "+testKey, tokenReq.Header.Get("Authorization"), "the key is sent as issued")
	assert.Equal(t, "2.1", tokenReq.Header.Get("basiq-version"))
	assert.Equal(t, "application/x-www-form-urlencoded", tokenReq.Header.Get("Content-Type"))
	assert.Equal(t, "scope=SERVER_ACCESS", tokenBody)

	require.NotNil(t, jobReq)
	assert.Equal(t, "Bearer tok-1", jobReq.Header.Get("Authorization"))
	assert.Equal(t, "2.1", jobReq.Header.Get("basiq-version"))
	assert.Equal(t, "app/1", jobReq.Header.Get("User-Agent"))
	assert.Equal(t, "application/json", jobReq.Header.Get("Accept"))
}

func TestSuccessBodyProblems(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body string }{
		{"empty", ""},
		{"truncated", `{"id":"j1","steps":[`},
		{"not json", "<html>ok</html>"},
		{"wrong shape", `{"id":"j1","steps":"all good"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, tc.body))
			_, err := c.Jobs.Get(context.Background(), "j1")
			require.ErrorIs(t, err, ErrInvalidResponse)
		})
	}
}

func TestSuccessBodyTooLarge(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	big := `{"id":"j1","pad":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, big))
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.ErrorIs(t, err, ErrInvalidResponse)
	assert.Contains(t, err.Error(), "larger than")
}

// TestContextEndedWhileReadingIsAnError checks that an answer whose body
// arrives as the caller's deadline passes is not returned as a success.
func TestContextEndedWhileReadingIsAnError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(http.StatusOK, "")
		r.Body = &cancelAtEOF{Reader: strings.NewReader(`{"id":"j1","steps":[]}`), cancel: cancel}
		return r, nil
	})
	job, err := c.Jobs.Get(ctx, "j1")
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, job)
}

// cancelAtEOF is a body that ends its request's context when it is read to
// the end.
type cancelAtEOF struct {
	*strings.Reader
	cancel context.CancelFunc
}

func (b *cancelAtEOF) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		b.cancel()
	}
	return n, err
}

func (b *cancelAtEOF) Close() error { return nil }

// TestMemoryFollowsBytesReceived checks that an answer announcing a huge
// Content-Length but sending a few bytes and stalling reserves memory for
// what arrived, not for what was announced.
func TestMemoryFollowsBytesReceived(t *testing.T) {
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(req *http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(http.StatusOK, "")
		r.ContentLength = 32 << 20
		r.Body = &stallingBody{head: []byte(`{"id":"j1",`), ctx: req.Context()}
		return r, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.Jobs.Get(ctx, "j1")
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20),
		"bytes allocated by one stalled call that announced 32 MiB")
}

// stallingBody sends head, then blocks until its request's context ends.
type stallingBody struct {
	head []byte
	ctx  context.Context
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *stallingBody) Close() error { return nil }

// TestSuccessWithoutTheResourceIsInvalid checks, for every method of the
// endpoint table that returns one resource, that a 2xx answer that does not
// carry it (204, null, {}, an empty or unusable id) is an error, never a zero
// value with a nil error.
func TestSuccessWithoutTheResourceIsInvalid(t *testing.T) {
	t.Parallel()
	answers := []struct {
		name   string
		status int
		body   string
	}{
		{"204", http.StatusNoContent, ""},
		{"null", http.StatusOK, "null"},
		{"empty object", http.StatusOK, "{}"},
		{"empty id", http.StatusOK, `{"id":"","type":"x"}`},
		{"blank id", http.StatusOK, `{"id":"  "}`},
		{"NUL id", http.StatusOK, `{"id":"\u0000"}`},
		{"escape-code id", http.StatusOK, `{"id":"\u001b[2J"}`},
		{"dot-segment id", http.StatusOK, `{"id":".."}`},
	}
	for _, e := range endpoints {
		if !e.resource {
			continue
		}
		for _, a := range answers {
			t.Run(e.name+"/"+a.name, func(t *testing.T) {
				t.Parallel()
				ids := e.sampleIDs()
				c, count := endpointSetup(t, e, ids, jsonResp(a.status, a.body))
				v, err := e.call(t.Context(), c, ids...)
				require.ErrorIs(t, err, ErrInvalidResponse)
				assert.Nil(t, v)
				assert.Equal(t, 1, count())
			})
		}
	}
}

func TestCrossOriginRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", redirect(http.StatusFound, "https://evil.test:8443/steal?token=s3cr3t#frag"))
	mt.RegisterResponder(http.MethodGet, "https://evil.test:8443/steal", jsonResp(200, `{"id":"j1","steps":[]}`))
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.ErrorIs(t, err, ErrRedirectRefused)
	var redir *RedirectError
	require.ErrorAs(t, err, &redir)
	assert.Equal(t, http.StatusFound, redir.StatusCode)
	assert.Equal(t, "https://evil.test:8443", redir.Origin)
	assert.Equal(t, "basiq: GET /jobs/j1: redirect to another origin not followed: https://evil.test:8443", err.Error())
	assert.NotErrorIs(t, err, ErrNotFound)
	var apiErr *APIError
	assert.False(t, errors.As(err, &apiErr), "a refused redirect is not an API error")
	assert.Equal(t, 0, calls(mt, "GET https://evil.test:8443/steal"))
}

func TestSameOriginRedirectFollowed(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/old", redirect(http.StatusMovedPermanently, testBase+"/jobs/j1"))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, `{"id":"j1","steps":[]}`))
	job, err := c.Jobs.Get(context.Background(), "old")
	require.NoError(t, err)
	assert.Equal(t, "j1", job.ID)
}

func TestRefusesForeignRequestPath(t *testing.T) {
	t.Parallel()
	c, _ := newMockClient(t)
	_, err := c.call(context.Background(), http.MethodGet, "https://evil.test/jobs/1", nil, nil)
	require.Error(t, err)
	for _, link := range []string{"http://api.test/jobs/1", "https://api.test:8443/jobs/1", "//evil.test/x"} {
		_, ok := c.resolve(link)
		assert.False(t, ok, link)
	}
	for _, link := range []string{"https://API.test/jobs/1", "https://api.test:443/jobs/1", "/jobs/1", "jobs/1"} {
		u, ok := c.resolve(link)
		require.True(t, ok, link)
		assert.Equal(t, "/jobs/1", u.Path, link)
	}
}

func TestBaseURLPathPrefix(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithBaseURL(testBase+"/proxy/basiq"))
	mt.RegisterResponder(http.MethodPost, testBase+"/proxy/basiq/token", tokenResponder("tok", 3600))
	mt.RegisterResponder(http.MethodGet, testBase+"/proxy/basiq/jobs/j1", jsonResp(200, `{"id":"j1","steps":[]}`))
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.NoError(t, err)
	for _, link := range []string{"/jobs/j1", "/proxy/basiq/jobs/j1", testBase + "/proxy/basiq/jobs/j1"} {
		u, ok := c.resolve(link)
		require.True(t, ok)
		assert.Equal(t, "/proxy/basiq/jobs/j1", u.Path, link)
	}
}

// prefixBase is a base URL with a path prefix, as behind a gateway.
const prefixBase = testBase + "/basiq"

// linksOutsidePrefix are links that resolve outside prefixBase, or to no
// origin at all: none may be followed with the token.
var linksOutsidePrefix = []string{
	"../../admin",
	"../admin",
	"/basiq/../admin",
	"jobs/../../admin",
	"//@",
	"//@/basiq/jobs/1",
	"//evil.test/basiq/jobs/1",
	"https:///basiq/jobs/1",
	"https:/basiq/jobs/1",
	`..\..\admin`,
	`\\evil.test\basiq\jobs\1`,
	`/basiq\..\admin`,
	"%2e%2e/admin",
	".%2e/%2e%2e/admin",
	"jobs/%2E%2E/%2e%2e/admin",
	testBase + "/admin",
	testBase + "/basiq/../admin",
	testBase + "/basiqx/jobs/1",
	testBase + "/basiq%2Fjobs/1",
	"https://user@api.test/basiq/jobs/1",
}

// recordAll answers every request not otherwise registered with an error and
// records it, with its Authorization header, in the returned function's list.
func recordAll(mt *httpmock.MockTransport) func() []string {
	var (
		mu   sync.Mutex
		seen []string
	)
	mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization"))
		return nil, errors.New("unexpected request")
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestLinksUnderBasePathAreFollowed(t *testing.T) {
	t.Parallel()
	c, _ := newMockClient(t, WithBaseURL(prefixBase))
	for link, want := range map[string]string{
		"jobs/1":                            prefixBase + "/jobs/1",
		"/jobs/1":                           prefixBase + "/jobs/1",
		"/basiq/jobs/1":                     prefixBase + "/jobs/1",
		prefixBase + "/jobs/1":              prefixBase + "/jobs/1",
		"https://API.test:443/basiq/jobs/1": prefixBase + "/jobs/1",
		"/basiq/users/u1/accounts?next=2":   prefixBase + "/users/u1/accounts?next=2",
		"users/u%2F1/jobs":                  prefixBase + "/users/u%2F1/jobs",
		"jobs/x/../1":                       prefixBase + "/jobs/1",
	} {
		u, ok := c.resolve(link)
		require.True(t, ok, link)
		assert.Equal(t, want, u.String(), link)
	}
}

// FuzzResolveLink checks link resolution against a base URL with and without
// a path prefix: a job link or next link either resolves to a URL on the
// base URL's scheme, host and port whose path, as sent and as decoded, stays
// under the prefix without dot segments, or it is refused.
func FuzzResolveLink(f *testing.F) {
	for _, link := range append([]string{
		"", "jobs/1", "/jobs/1", "/basiq/jobs/1", testBase + "/jobs/1", testBase + "/basiq/jobs/1",
		"/users/u1/accounts?next=2", "?page=2", "#frag", "jobs/x/../1", "users/a%2Fb/jobs",
		"//evil.test/jobs/1", "http://api.test/jobs/1", "https://api.test:8443/jobs/1",
		"https://api.test:/basiq/jobs/1", "///evil.test/x", "https:basiq/x", "%zz", "jobs/%2e",
		"/%2e%2e/admin", "jobs%2F..%2F..%2Fadmin", "..%2f..%2fadmin", " /jobs/1", "jobs/1\x00",
	}, linksOutsidePrefix...) {
		f.Add(link, false)
		f.Add(link, true)
	}
	clients := map[bool]*Client{}
	for _, prefixed := range []bool{false, true} {
		base := testBase + "/"
		if prefixed {
			base = prefixBase + "/"
		}
		c, err := NewClient(WithAPIKey(testKey), WithBaseURL(base))
		require.NoError(f, err)
		clients[prefixed] = c
	}
	f.Fuzz(func(t *testing.T, link string, prefixed bool) {
		c := clients[prefixed]
		base := c.BaseURL()
		u, ok := c.resolve(link)
		if !ok {
			return
		}
		// What goes on the wire, read back the way a server would.
		wire, err := url.Parse(u.String())
		require.NoError(t, err, "resolved %q to %q", link, u)
		assert.Equal(t, "https", wire.Scheme, "link %q", link)
		assert.Equal(t, "api.test", wire.Host, "link %q", link)
		assert.Nil(t, wire.User, "link %q", link)
		want := strings.TrimPrefix(base, testBase)
		require.True(t, strings.HasPrefix(wire.EscapedPath(), want), "link %q resolved to %q, outside %s", link, u, want)
		require.True(t, strings.HasPrefix(wire.Path, want), "link %q decodes to %q, outside %s", link, wire.Path, want)
		for _, seg := range strings.Split(wire.EscapedPath(), "/") {
			dec, err := url.PathUnescape(seg)
			require.NoError(t, err, "link %q", link)
			assert.NotContains(t, []string{".", ".."}, dec, "link %q resolved to %q", link, u)
		}
		assert.NotContains(t, link, `\`, "a link with a backslash is refused")
		again, ok := c.resolve(u.String())
		require.True(t, ok, "the resolved URL %q resolves again", u)
		assert.Equal(t, u.String(), again.String())
	})
}

func TestRedirectOfTokenRequestNotFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithMaxRetries(0))
			mt.RegisterResponder(http.MethodPost, testBase+"/token", redirect(status, testBase+"/token2"))
			unexpected := recordAll(mt)
			_, err := c.Jobs.Get(t.Context(), "j1")
			require.ErrorIs(t, err, ErrRedirectRefused)
			var redir *RedirectError
			require.ErrorAs(t, err, &redir)
			assert.Equal(t, status, redir.StatusCode)
			assert.Equal(t, "basiq: getting access token: POST /token: redirect of the API key request not followed: the key is sent to POST /token only", err.Error())
			assert.Empty(t, unexpected(), "the API key follows no redirect, even on the same origin")
			assert.NotContains(t, err.Error(), testKey)
		})
	}
}

func TestRedirectOfCredentialPostNotFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithMaxRetries(0))
			mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections/c1", redirect(status, testBase+"/users/u1/elsewhere"))
			unexpected := recordAll(mt)
			_, err := c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{Password: "pw-redirected-secret"})
			require.ErrorIs(t, err, ErrRedirectRefused)
			var redir *RedirectError
			require.ErrorAs(t, err, &redir)
			assert.Equal(t, status, redir.StatusCode)
			assert.Equal(t, "basiq: POST /users/u1/connections/c1: redirect of a request carrying a password, user token, security code or MFA answer not followed: they are sent to their own endpoint only", err.Error())
			assert.Empty(t, unexpected(), "the password goes to its own endpoint only, even on the same origin")
		})
	}
}

func TestRedirectOfUploadNotFollowed(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/statements", redirect(http.StatusTemporaryRedirect, testBase+"/users/u1/statements2"))
	unexpected := recordAll(mt)
	_, err := c.Statements.Upload(t.Context(), "u1", "AU00000", "statement.pdf", strings.NewReader("%PDF-1.4"))
	require.ErrorIs(t, err, ErrRedirectRefused)
	assert.Equal(t, "basiq: POST /users/u1/statements: redirect of a file upload not followed: the file is sent once", err.Error())
	assert.Empty(t, unexpected(), "an upload is sent once, even on the same origin")
}

func TestRedirectLoopEndsWithRedirectError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", redirect(http.StatusFound, testBase+"/jobs/j1?again=1"))
	_, err := c.Jobs.Get(t.Context(), "j1")
	require.ErrorIs(t, err, ErrRedirectRefused)
	assert.Equal(t, "basiq: GET /jobs/j1: redirect not followed: stopped after 10 redirects: https://api.test", err.Error())
	assert.Equal(t, 10, calls(mt, "GET "+testBase+"/jobs/j1"), "one request and 9 redirects followed, then none")
}

func TestRefusedRedirectNeverShowsASecretInItsTarget(t *testing.T) {
	t.Parallel()
	const password = "hunter2secretpw"
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections/c1", redirect(http.StatusTemporaryRedirect, "https://"+password+".evil.test/x?pw="+password))
	_, err := c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{Password: password})
	var redir *RedirectError
	require.ErrorAs(t, err, &redir)
	assert.NotContains(t, err.Error(), password)
	assert.NotContains(t, redir.Origin, password)
	assert.Equal(t, "https://"+redacted+".evil.test", redir.Origin)
}

func TestRedirectOutsideBasePathNotFollowed(t *testing.T) {
	t.Parallel()
	for _, location := range []string{testBase + "/admin", testBase + "/basiq/../admin", "/admin", "../../admin", testBase + "/basiqx/jobs/j1"} {
		t.Run(location, func(t *testing.T) {
			t.Parallel()
			c, mt, unexpected := newPrefixClient(t, WithMaxRetries(0))
			mt.RegisterResponder(http.MethodGet, prefixBase+"/jobs/j1", redirect(http.StatusFound, location))
			_, err := c.Jobs.Get(t.Context(), "j1")
			require.ErrorIs(t, err, ErrRedirectRefused)
			var redir *RedirectError
			require.ErrorAs(t, err, &redir)
			assert.Equal(t, http.StatusFound, redir.StatusCode)
			assert.Equal(t, "basiq: GET /basiq/jobs/j1: redirect outside the base URL's path /basiq/ not followed: https://api.test", err.Error())
			assert.Empty(t, unexpected(), "the bearer token follows no redirect outside the base path")
		})
	}
}

// TestRedirectToAMalformedLocationIsRefusedWithoutItsTarget checks that a
// redirect whose Location is not a URL (net/http's own error would quote it
// whole, with whatever secret the server put there, and at any length) ends
// the call with a *RedirectError that shows none of the target, at once,
// without a retry.
func TestRedirectToAMalformedLocationIsRefusedWithoutItsTarget(t *testing.T) {
	t.Parallel()
	const password = "hunter2-malformed-pw"
	long := strings.Repeat("A", 5000)
	for _, loc := range []string{
		"https://evil.test/%zz/stealpath?pw=" + password + "&key=" + testKey + "&pad=" + long, // bad escape
		"https://evil.test:8x/stealpath",     // bad port
		"https://evil.test/stealpath/\x01j1", // control character
		"https://[::1/stealpath",             // unclosed IPv6 literal
	} {
		t.Run("GET "+clean(loc, 40), func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t) // retries on: a malformed target is not retried
			mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", redirect(http.StatusFound, loc))
			_, err := c.Jobs.Get(t.Context(), "j1")
			require.ErrorIs(t, err, ErrRedirectRefused)
			var redir *RedirectError
			require.ErrorAs(t, err, &redir)
			assert.Equal(t, http.StatusFound, redir.StatusCode)
			assert.Empty(t, redir.Origin)
			assert.Equal(t, "basiq: GET /jobs/j1: redirect not followed: its target (the Location header) is not a valid URL", err.Error())
			assert.Equal(t, 1, calls(mt, "GET "+testBase+"/jobs/j1"), "refused once, not retried")
		})
	}
	t.Run("POST carrying a password", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections/c1",
			redirect(http.StatusTemporaryRedirect, "https://evil.test/%zz/stealpath?pw="+password+"&key="+testKey+"&pad="+long))
		_, err := c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{Password: password})
		require.ErrorIs(t, err, ErrRedirectRefused)
		assertOnePrefix(t, err, "malformed Location")
		for _, s := range []string{password, testKey, "stealpath", "pw="} {
			assert.NotContains(t, err.Error(), s)
		}
		assert.Less(t, len(err.Error()), 300)
	})
}

// TestRedirectLoopEndsUnderACallersCheckRedirect checks that the limit of
// 10 redirects in a row holds when the caller's http.Client has its own
// CheckRedirect, which the client calls only within that limit.
func TestRedirectLoopEndsUnderACallersCheckRedirect(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokenResponder("tok-1", 3600))
	var sent atomic.Int32
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		if sent.Add(1) > 50 { // ends the loop should the limit not hold
			return jsonResp(http.StatusOK, `{"type":"job","id":"j1","steps":[]}`)(r)
		}
		return redirect(http.StatusFound, testBase+"/jobs/j1?again=1")(r)
	})
	var seen atomic.Int32
	policy := func(*http.Request, []*http.Request) error { seen.Add(1); return nil }
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(testBase), WithMaxRetries(0),
		WithHTTPClient(&http.Client{Transport: mt, CheckRedirect: policy}))
	require.NoError(t, err)
	_, err = c.Jobs.Get(t.Context(), "j1")
	require.ErrorIs(t, err, ErrRedirectRefused)
	assert.Equal(t, "basiq: GET /jobs/j1: redirect not followed: stopped after 10 redirects: https://api.test", err.Error())
	assert.Equal(t, 10, calls(mt, "GET "+testBase+"/jobs/j1"), "one request and 9 redirects followed, then none")
	assert.Equal(t, int32(9), seen.Load(), "the caller's policy is asked about each redirect followed")
}

// TestRedirectCarryingUserInformationSaysSo checks that a redirect to the
// base URL's own origin with a name and password in it is refused for that
// reason, without showing them.
func TestRedirectCarryingUserInformationSaysSo(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", redirect(http.StatusFound, "https://user:hunter2@api.test/jobs/j2"))
	unexpected := recordAll(mt)
	_, err := c.Jobs.Get(t.Context(), "j1")
	require.ErrorIs(t, err, ErrRedirectRefused)
	assert.Equal(t, "basiq: GET /jobs/j1: redirect to a URL carrying user information not followed: https://api.test", err.Error())
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Empty(t, unexpected())
}

func TestClientFormattingHidesCredentials(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, `{"id":"j1","steps":[]}`))
	_, err := c.Jobs.Get(context.Background(), "j1") // so the client holds a token
	require.NoError(t, err)

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("client", "c", c, "any", slog.AnyValue(c))
	outs := []string{
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c),
		fmt.Sprintf("%v", *c), fmt.Sprintf("%+v", struct{ C *Client }{c}), logs.String(),
	}
	for _, out := range outs {
		assert.NotContains(t, out, testKey)
		assert.NotContains(t, out, "tok-1")
	}
	assert.Contains(t, outs[0], "api.test")
}

func TestLoggerRecordsNoSecrets(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, mt := newMockClient(t, WithLogger(logger))
	var i atomic.Int32
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		if i.Add(1) == 1 {
			return jsonResp(503, `{}`)(r)
		}
		return jsonResp(200, `{"id":"j1","steps":[]}`)(r)
	})
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.NoError(t, err)
	out := logs.String()
	assert.Contains(t, out, "basiq: request")
	assert.Contains(t, out, "basiq: retrying request")
	assert.NotContains(t, out, testKey)
	assert.NotContains(t, out, "tok-1")
	assert.NotContains(t, out, "Authorization")
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		require.True(t, json.Valid([]byte(line)))
	}
}

func TestNoLoggerLogsNothing(t *testing.T) {
	// The default slog logger must not receive anything from the library.
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(503, `{}`))
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.Error(t, err)
	assert.Empty(t, logs.String())
}

func TestTwoClientsDoNotShareState(t *testing.T) {
	t.Parallel()
	c1, mt1 := newMockClient(t)
	c2, mt2 := newMockClient(t, WithAPIKey("b3RoZXIta2V5"))
	mt1.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, `{"id":"j1","steps":[]}`))
	mt2.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") != "Basic b3RoZXIta2V5" {
			return jsonResp(404, `{}`)(r)
		}
		return tokenResponder("tok-other", 3600)(r)
	})
	mt2.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") != "Bearer tok-other" {
			return jsonResp(401, `{}`)(r)
		}
		return jsonResp(200, `{"id":"j1","steps":[]}`)(r)
	})
	_, err := c1.Jobs.Get(context.Background(), "j1")
	require.NoError(t, err)
	_, err = c2.Jobs.Get(context.Background(), "j1")
	require.NoError(t, err)
}

// credentialForms lists the ways a leaked credential would show in formatted
// output: as is, quoted or JSON-escaped, and hex-encoded (what %x, %X and
// % x make of a string).
func credentialForms(secret string) []string {
	quoted := strconv.Quote(secret)
	jsonQuoted, _ := json.Marshal(secret)
	return []string{
		secret, quoted[1 : len(quoted)-1], string(jsonQuoted[1 : len(jsonQuoted)-1]),
		fmt.Sprintf("%x", secret), fmt.Sprintf("%X", secret), fmt.Sprintf("% x", secret), fmt.Sprintf("% X", secret),
	}
}

func TestFormattingNeverShowsCredentials(t *testing.T) {
	t.Parallel()
	const serverTok, clientTok = "srv-tok-7Hq2Lw9ZpX", "cli-tok-4Rt8Mn1YbV"
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
		require.NoError(t, r.ParseForm())
		tok := serverTok
		if r.PostForm.Get("scope") == scopeClient {
			tok = clientTok
		}
		return tokenResponder(tok, 3600)(r)
	})
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, `{"id":"j1","steps":[]}`))
	mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa", jsonResp(200, `{"id":"j1","steps":[]}`))
	// Both scopes' tokens are cached before anything is formatted.
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.NoError(t, err)
	_, err = c.Jobs.RespondMFA(context.Background(), "j1", "123456")
	require.NoError(t, err)

	const password = `Tr0ub&dor<1>"\`
	conn := ConnectionParams{LoginID: "gavinBelson", Password: password, UserToken: secretUserToken,
		SecurityCode: secretSecurityCode, Institution: InstitutionRef{ID: "AU00000"}}
	update := ConnectionUpdateParams{Password: password, SecurityCode: secretSecurityCode}

	var wh Webhook
	require.NoError(t, json.Unmarshal([]byte(webhookW1JSON), &wh))
	values := map[string]any{
		"*Client": c, "Client": *c,
		"Webhook": wh, "*Webhook": &wh, "struct{w Webhook}": struct{ w Webhook }{wh},
		"[]Webhook":          []Webhook{wh},
		"struct{C *Client}":  struct{ C *Client }{c},
		"struct{c *Client}":  struct{ c *Client }{c},
		"struct{c Client}":   struct{ c Client }{*c},
		"*struct{c Client}":  &struct{ c Client }{*c},
		"[]any":              []any{c, *c, c.Users, *c.Users},
		"map":                map[string]any{"c": c, "u": c.Users},
		"ConnectionParams":   conn,
		"*ConnectionParams":  &conn,
		"struct{P ...}":      struct{ P ConnectionParams }{conn},
		"Update":             update,
		"*Update":            &update,
		"struct{U *Update}":  struct{ U *ConnectionUpdateParams }{&update},
		"struct{s *Service}": struct{ s *UsersService }{c.Users},
		"struct{s Service}":  struct{ s UsersService }{*c.Users},
	}
	// Every service, as the pointer the Client holds and as a value; new
	// services are covered without editing this test.
	cv := reflect.ValueOf(c).Elem()
	for i := range cv.NumField() {
		f := cv.Field(i)
		if !cv.Type().Field(i).IsExported() || f.Kind() != reflect.Pointer {
			continue
		}
		values[f.Type().String()] = f.Interface()
		values[f.Elem().Type().String()] = f.Elem().Interface()
	}
	require.GreaterOrEqual(t, len(values), 15+12)

	var forbidden []string
	for _, s := range []string{testKey, serverTok, clientTok, password, secretUserToken, secretSecurityCode, webhookSecret, strings.TrimPrefix(webhookSecret, "whsec_")} {
		forbidden = append(forbidden, credentialForms(s)...)
	}
	// The params hold their secrets in exported string fields, which fmt
	// prints without calling Format under %p (of a value) and %w, and which
	// encoding/gob encodes: SECURITY.md states these limits.
	params := map[string]bool{"ConnectionParams": true, "*ConnectionParams": true, "struct{P ...}": true,
		"Update": true, "*Update": true, "struct{U *Update}": true}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			assertHidden(t, v, forbidden, func(verb string) bool {
				return params[name] && (verb == "%p" || verb == "%w")
			}, !params[name])
		})
	}
	assert.Contains(t, fmt.Sprint(c), "api.test")
}

func TestHiddenValueShowsOnlyRedacted(t *testing.T) {
	t.Parallel()
	h := hide(testKey)
	require.Equal(t, testKey, h.value())
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%d", "%10.3s"} {
		assert.Equal(t, redacted, fmt.Sprintf(verb, h), verb)
		assert.Equal(t, redacted, fmt.Sprintf(verb, &h), verb)
	}
	b, err := json.Marshal(struct{ H hidden[string] }{h})
	require.NoError(t, err)
	assert.JSONEq(t, `{"H":"[REDACTED]"}`, string(b))
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "h", h)
	assert.Contains(t, logs.String(), "h="+redacted)
	assert.Empty(t, hidden[string]{}.value(), "a zero hidden holds the zero value")
}

// TestErrorStringsCarryNoControlCharactersFromLinks checks that a path taken
// from an answer (a job link, a next link) reaches an error string escaped
// and bounded: no forged log lines, no terminal escapes.
func TestErrorStringsCarryNoControlCharactersFromLinks(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	hostile := "/jobs/x%0D%0A2026%20level=ERROR%20forged%1B[31m" + strings.Repeat("a", 1<<16)
	mt.RegisterNoResponder(jsonResp(http.StatusOK, "<html>not json</html>"))
	_, err := c.WaitForJob(context.Background(), &Job{ID: "j1", Links: JobLinks{Self: hostile}}, fastPoll)
	require.Error(t, err)
	msg := err.Error()
	assert.False(t, strings.ContainsAny(msg, "\r\n\x1b"), "%q", msg)
	assert.Less(t, len(msg), 1000)

	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/accounts", jsonResp(http.StatusOK,
		`{"type":"list","data":[{"id":"a1"}],"links":{"next":"/users/u1/x%0D%0Aforged"}}`))
	mt.RegisterResponder(http.MethodGet, `=~^`+testBase+`/users/u1/x`, jsonResp(http.StatusOK,
		`{"type":"list","data":[{"id":"a1"}],"links":{"next":"/users/u1/x%0D%0Aforged"}}`))
	_, err = c.Accounts.List(context.Background(), "u1", &AccountFilter{})
	require.ErrorIs(t, err, ErrInvalidResponse)
	assert.Contains(t, err.Error(), "repeated")
	assert.False(t, strings.ContainsAny(err.Error(), "\r\n\x1b"), "%q", err.Error())
}

// TestReflectionCannotReachCredentials walks every value reachable from a
// Client by reflection, unexported fields included, as a dumper with its
// String methods turned off would (go-spew's DisableMethods), after real
// requests over loopback: neither the API key nor the access token, nor the
// /token answer still held in a connection's read buffer, may be found.
func TestReflectionCannotReachCredentials(t *testing.T) {
	t.Parallel()
	const token = "BEARER-TOKEN-VERY-SECRET-123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/token" {
			_, _ = io.WriteString(w, `{"access_token":"`+token+`","token_type":"Bearer","expires_in":3600}`)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/notifications/") {
			_, _ = io.WriteString(w, webhookW1JSON)
			return
		}
		_, _ = io.WriteString(w, `{"type":"job","id":"j1","steps":[]}`)
	}))
	defer srv.Close()
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL))
	require.NoError(t, err)
	for range 2 {
		_, err = c.Jobs.Get(context.Background(), "j1")
		require.NoError(t, err)
	}
	// The client remembers the webhook secrets it reads, for masking.
	_, err = c.Webhooks.Get(context.Background(), "w1")
	require.NoError(t, err)
	for _, secret := range []string{token, testKey, webhookSecret, strings.TrimPrefix(webhookSecret, "whsec_")} {
		w := reflectWalker{secret: []byte(secret), seen: map[uintptr]bool{}}
		w.walk(reflect.ValueOf(c), "client")
		assert.Empty(t, w.found, "reflection reaches %q", secret)
		assert.Greater(t, w.visited, 10, "the walk went somewhere")
	}
}

// reflectWalker looks for secret in every string and byte slice reachable
// from a value.
type reflectWalker struct {
	secret  []byte
	seen    map[uintptr]bool
	found   []string
	visited int
}

func (w *reflectWalker) walk(v reflect.Value, path string) {
	if !v.IsValid() || w.visited > 2_000_000 || len(path) > 2000 {
		return
	}
	w.visited++
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Kind() != reflect.Slice || v.Cap() > 0 {
			p := v.Pointer()
			if w.seen[p] && v.Kind() != reflect.Slice {
				return
			}
			w.seen[p] = true
		}
	}
	switch v.Kind() {
	case reflect.String:
		if bytes.Contains([]byte(v.String()), w.secret) {
			w.found = append(w.found, path)
		}
	case reflect.Pointer, reflect.Interface:
		w.walk(v.Elem(), path+".*")
	case reflect.Struct:
		for i := range v.NumField() {
			w.walk(v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			if v.Kind() == reflect.Slice {
				b = make([]byte, v.Cap())
				v = v.Slice3(0, v.Cap(), v.Cap())
			}
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			if bytes.Contains(b, w.secret) {
				w.found = append(w.found, path)
			}
			return
		}
		for i := range v.Len() {
			w.walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			w.walk(it.Key(), path+"{key}")
			w.walk(it.Value(), path+"{value}")
		}
	}
}

// TestNewClientWithWrappedDefaultTransport swaps http.DefaultTransport, so it
// is not parallel.
func TestNewClientWithWrappedDefaultTransport(t *testing.T) {
	old := http.DefaultTransport
	http.DefaultTransport = httpmock.NewMockTransport()
	defer func() { http.DefaultTransport = old }()
	c, err := NewClient(WithAPIKey("k"))
	require.NoError(t, err)
	require.NotNil(t, c)
}

// badIDs are ids every method refuses before any I/O: they are empty or
// would change which path the request goes to.
var badIDs = []string{"", " ", "\t", ".", "..", "a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb"}

// TestEndpointsRefuseBadIDsBeforeIO checks, for every method and each of its
// ids, that an empty, blank, dot-segment or control-character id is refused
// with a ValidationError naming that argument, before any request (the token
// included).
func TestEndpointsRefuseBadIDsBeforeIO(t *testing.T) {
	t.Parallel()
	eachID(t, func(t *testing.T, e endpoint, i int, field string) {
		c, mt := newMockClient(t)
		for _, bad := range badIDs {
			ids := e.sampleIDs()
			ids[i] = bad
			_, err := e.call(t.Context(), c, ids...)
			assert.Contains(t, validationFields(t, err), field, "%q", bad)
		}
		if i == len(e.fields)-1 {
			// Every bad id is named, in the order of the arguments.
			all := slices.Repeat([]string{".."}, len(e.fields))
			_, err := e.call(t.Context(), c, all...)
			assert.Equal(t, e.fields, validationFields(t, err))
		}
		assert.Zero(t, mt.GetTotalCallCount(), "refused ids make no request")
	})
}

// TestEndpointsEscapeIDsAsOneSegment checks, for every method and each of its
// ids, that an id holding "/", "?", "#", "%" or a space reaches the API as
// one escaped path segment and the call succeeds.
func TestEndpointsEscapeIDsAsOneSegment(t *testing.T) {
	t.Parallel()
	eachID(t, func(t *testing.T, e endpoint, i int, field string) {
		for _, odd := range []string{"a/b", "../token", "a?b=c#d", "a#b", "a%2Fb", "%2e%2e", "a b", "é/ü"} {
			ids := e.sampleIDs()
			ids[i] = odd
			c, count := endpointSetup(t, e, ids)
			_, err := e.call(t.Context(), c, ids...)
			require.NoError(t, err, "%q", odd)
			assert.Equal(t, 1, count(), "%q reaches %s", odd, e.wantPath(ids...))
		}
	})
}

// TestEndpointsNotFound checks that every method turns a 404 into
// ErrNotFound, carrying the API's error code, after one request.
func TestEndpointsNotFound(t *testing.T) {
	t.Parallel()
	for _, e := range endpoints {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ids := e.sampleIDs()
			c, count := endpointSetup(t, e, ids, jsonResp(http.StatusNotFound, user404JSON))
			_, err := e.call(t.Context(), c, ids...)
			require.ErrorIs(t, err, ErrNotFound)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
			assert.Equal(t, "resource-not-found", apiErr.Code())
			assert.Equal(t, "corr-u404", apiErr.CorrelationID)
			assert.NotErrorIs(t, err, ErrUnauthorized)
			assert.Equal(t, 1, count(), "a 404 is not repeated")
		})
	}
}

// TestEndpointsRetry5xxOnlyWhereSafe checks each method's answer to server
// errors: a safe request is repeated until it succeeds; Users.Create and
// RespondMFA are sent once; a request carrying a bank credential is repeated
// after 503 (refused before processing) but repeated only once after 502
// (outcome unknown: the password may have reached the bank). A repeat sends
// the same body (endpointSetup checks).
func TestEndpointsRetry5xxOnlyWhereSafe(t *testing.T) {
	t.Parallel()
	e503 := jsonResp(http.StatusServiceUnavailable, user503JSON)
	e502 := jsonResp(http.StatusBadGateway, `<html>Bad Gateway</html>`)
	for _, e := range endpoints {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ids := e.sampleIDs()
			ok := jsonResp(e.status, e.body)

			c, count := endpointSetup(t, e, ids, e503, e503, ok)
			_, err := e.call(t.Context(), c, ids...)
			switch e.retry {
			case retryNever:
				var apiErr *APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
				assert.Equal(t, "corr-u503", apiErr.CorrelationID)
				assert.Equal(t, 1, count(), "never repeated: a repeat could create a second user or spend a one-time code")
			default:
				require.NoError(t, err, "repeated after 503 until it succeeds")
				assert.Equal(t, 3, count())
			}

			c, count = endpointSetup(t, e, ids, e502)
			_, err = e.call(t.Context(), c, ids...)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
			switch e.retry {
			case retryNever:
				assert.Equal(t, 1, count(), "never repeated")
			case retryCredential:
				assert.Equal(t, 2, count(), "a credential is repeated at most once after an unknown outcome")
			case retrySafe:
				assert.Equal(t, 1+defaultMaxRetries, count(), "repeated until the retries run out")
			}
		})
	}
}

// TestEndpointsHonourTheContext checks that every method returns the
// context's error: at once when it is already cancelled, with no request to
// the endpoint, and without a repeat when it ends while a request is out.
func TestEndpointsHonourTheContext(t *testing.T) {
	t.Parallel()
	for _, e := range endpoints {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ids := e.sampleIDs()

			c, count := endpointSetup(t, e, ids)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := e.call(ctx, c, ids...)
			require.ErrorIs(t, err, context.Canceled)
			assert.Zero(t, count(), "no request once the context has ended")

			ctx, cancel = context.WithCancel(t.Context())
			defer cancel()
			c, count = endpointSetup(t, e, ids, func(r *http.Request) (*http.Response, error) {
				cancel()
				return jsonResp(http.StatusServiceUnavailable, `{}`)(r)
			})
			_, err = e.call(ctx, c, ids...)
			if e.retry != retryNever {
				require.ErrorIs(t, err, context.Canceled)
			}
			require.Error(t, err)
			assert.Equal(t, 1, count(), "no repeat after the context ended")
		})
	}
}

// TestEndpointsTellNewJobsFromRunningOnes checks every method that starts a
// job: 202 is a new job (Reused false), 200 the job already running (Reused
// true), whether the answer is one job or a list.
func TestEndpointsTellNewJobsFromRunningOnes(t *testing.T) {
	t.Parallel()
	for _, e := range endpoints {
		if !e.startsJob {
			continue
		}
		for _, tc := range []struct {
			status int
			reused bool
		}{{http.StatusAccepted, false}, {http.StatusOK, true}} {
			t.Run(e.name+"/"+http.StatusText(tc.status), func(t *testing.T) {
				t.Parallel()
				ids := e.sampleIDs()
				c, count := endpointSetup(t, e, ids, jsonResp(tc.status, e.body))
				res, err := e.call(t.Context(), c, ids...)
				require.NoError(t, err)
				var jobs []Job
				switch v := res.(type) {
				case *Job:
					require.NotNil(t, v)
					jobs = []Job{*v}
				case []Job:
					jobs = v
				default:
					t.Fatalf("%s returned %T, not a job", e.name, res)
				}
				require.NotEmpty(t, jobs)
				for _, j := range jobs {
					assert.Equal(t, "j1", j.ID)
					assert.Equal(t, "https://api.test/jobs/j1", j.Links.Self)
					assert.Equal(t, tc.reused, j.Reused)
				}
				assert.Equal(t, 1, count())
			})
		}
	}
}
