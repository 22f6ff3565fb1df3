package basiq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withHeaders answers like next, with these extra response headers (name,
// value pairs).
func withHeaders(next httpmock.Responder, kv ...string) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		resp, err := next(r)
		if err != nil {
			return nil, err
		}
		for i := 0; i+1 < len(kv); i += 2 {
			resp.Header.Add(kv[i], kv[i+1])
		}
		return resp, nil
	}
}

// endpointByName returns the row of the endpoint table with this name.
func endpointByName(t *testing.T, name string) endpoint {
	t.Helper()
	for _, e := range endpoints {
		if e.name == name {
			return e
		}
	}
	t.Fatalf("no endpoint %s in the table", name)
	return endpoint{}
}

func TestWithResponseRecordsTheAnswerOfEachEndpoint(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Users.Get", "Users.Create", "Users.Delete", "Connections.Refresh", "Jobs.Get", "Accounts.List", "Transactions.List"} {
		e := endpointByName(t, name)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ids := e.sampleIDs()
			c, _ := endpointSetup(t, e, ids, withHeaders(jsonResp(e.status, e.body), "X-Trace", "trace-"+name))
			var resp Response
			_, err := e.call(WithResponse(t.Context(), &resp), c, ids...)
			require.NoError(t, err)
			assert.Equal(t, e.status, resp.StatusCode)
			assert.Equal(t, "trace-"+name, resp.Header.Get("X-Trace"))
			assert.Empty(t, resp.CorrelationID, "Basiq names no correlation id on a success")
		})
	}
}

func TestWithResponseRecordsTheFinalAttemptAfterRetries(t *testing.T) {
	t.Parallel()
	e := endpointByName(t, "Jobs.Get")
	ids := e.sampleIDs()
	c, n := endpointSetup(t, e, ids,
		withHeaders(jsonResp(http.StatusServiceUnavailable, `{}`), "X-Attempt", "1"),
		withHeaders(jsonResp(http.StatusBadGateway, `{}`), "X-Attempt", "2"),
		withHeaders(jsonResp(http.StatusOK, e.body), "X-Attempt", "3"))
	var resp Response
	_, err := e.call(WithResponse(t.Context(), &resp), c, ids...)
	require.NoError(t, err)
	require.Equal(t, 3, n())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"3"}, resp.Header.Values("X-Attempt"))
}

func TestWithResponseRecordsAnAPIErrorWithItsCorrelationID(t *testing.T) {
	t.Parallel()
	e := endpointByName(t, "Users.Get")
	ids := e.sampleIDs()
	body := `{"type":"list","correlationId":"corr-42","data":[{"type":"error","code":"resource-not-found","title":"Not found","detail":"no such user"}]}`
	c, _ := endpointSetup(t, e, ids, withHeaders(jsonResp(http.StatusNotFound, body), "X-Trace", "t-404"))
	var resp Response
	_, err := e.call(WithResponse(t.Context(), &resp), c, ids...)
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "corr-42", resp.CorrelationID)
	assert.Equal(t, apiErr.CorrelationID, resp.CorrelationID)
	assert.Equal(t, "t-404", resp.Header.Get("X-Trace"))
}

func TestWithResponseHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	const password, code = "hooli2016-Secret!", "sec-code-991"
	e := endpointByName(t, "Connections.Create")
	ids := e.sampleIDs()
	echo := func(next httpmock.Responder) httpmock.Responder {
		return func(r *http.Request) (*http.Response, error) {
			resp, err := next(r)
			if err != nil {
				return nil, err
			}
			// A hostile server sends cookies and credential headers, and
			// quotes the request's secrets and bearer token back.
			resp.Header.Add("Set-Cookie", "session=s3cr3t-cookie")
			resp.Header.Add("Set-Cookie2", "old=s3cr3t-cookie2")
			resp.Header.Add("Authorization", r.Header.Get("Authorization"))
			resp.Header.Add("Proxy-Authorization", "Basic cHJveHk=")
			resp.Header.Add("X-Api-Key", testKey)
			resp.Header.Add("X-Access-Token", "tok-1")
			resp.Header.Add("X-Echo", "password="+password+"; code="+code+"; "+r.Header.Get("Authorization"))
			resp.Header.Add("X-Plain", "kept")
			return resp, nil
		}
	}
	for _, status := range []int{http.StatusAccepted, http.StatusBadRequest} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			answer := e.body
			if status != http.StatusAccepted {
				answer = `{"type":"list","correlationId":"c-1","data":[{"type":"error","code":"parameter-not-valid","title":"bad"}]}`
			}
			c, _ := endpointSetup(t, e, ids, echo(jsonResp(status, answer)))
			var resp Response
			_, _ = c.Connections.Create(WithResponse(t.Context(), &resp), ids[0], ConnectionParams{
				LoginID: "gavin", Password: password, SecurityCode: code, Institution: InstitutionRef{ID: "AU00000"},
			})
			require.Equal(t, status, resp.StatusCode)
			for _, h := range []string{"Set-Cookie", "Set-Cookie2", "Authorization", "Proxy-Authorization", "X-Api-Key", "X-Access-Token"} {
				assert.Empty(t, resp.Header.Values(h), h)
			}
			assert.Equal(t, "kept", resp.Header.Get("X-Plain"))
			require.NotEmpty(t, resp.Header.Get("X-Echo"), "a header quoting a secret is kept, masked")
			dump := fmt.Sprintf("%#v %+v", resp, resp.Header)
			for _, s := range []string{password, code, "tok-1", testKey, "s3cr3t"} {
				assert.NotContains(t, dump, s)
			}
		})
	}
}

func TestWithResponseIsSafeForConcurrentCalls(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var mu sync.Mutex
	n := 0
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		return withHeaders(jsonResp(http.StatusOK, endpointJob), "X-N", strconv.Itoa(i))(r)
	})
	var resp Response
	ctx := WithResponse(t.Context(), &resp)
	const calls = 16
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			_, err := c.Jobs.Get(ctx, "j1")
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	// The last call to finish wins: one whole answer, never a mix.
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, resp.Header.Values("X-N"), 1)
	got, err := strconv.Atoi(resp.Header.Get("X-N"))
	require.NoError(t, err)
	assert.True(t, got >= 1 && got <= calls, "X-N %d", got)
}

func TestWithResponseClearsWhatAnEarlierCallLeftWhenNoAnswerCame(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(http.StatusOK, endpointJob))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j2", httpmock.NewErrorResponder(errors.New("connection reset")))
	var resp Response
	ctx := WithResponse(t.Context(), &resp)
	_, err := c.Jobs.Get(ctx, "j1")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = c.Jobs.Get(ctx, "j2")
	require.Error(t, err)
	assert.Zero(t, resp.StatusCode, "no answer: nothing from the earlier call is left")
	assert.Nil(t, resp.Header)
}

func TestWithResponseWithoutATargetChangesNothing(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(http.StatusOK, endpointJob))
	ctx := t.Context()
	assert.Equal(t, ctx, WithResponse(ctx, nil))
	_, err := c.Jobs.Get(WithResponse(ctx, nil), "j1")
	require.NoError(t, err)
	var nilCtx context.Context
	var resp Response
	got := WithResponse(nilCtx, &resp)
	require.NotNil(t, got, "a nil context gives a usable one, not a panic")
	_, err = c.Jobs.Get(got, "j1")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// A hostile server may put the request's bearer token (or the API key) in a
// header's name, which masking values would not reach: such a header is
// dropped, whether the name arrives case-folded (HTTP/1) or exactly as sent
// (a custom RoundTripper).
func TestWithResponseDropsHeadersWhoseNameHoldsASecret(t *testing.T) {
	t.Parallel()
	const bearer = "eyJhbGciOiJIUzI1NiJ9.c2VydmVy.c2lnbmF0dXJl" // JWT-like, all tchars
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokenResponder(bearer, 3600))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		resp, _ := jsonResp(http.StatusOK, endpointJob)(r)
		_, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		resp.Header["X-"+cred] = []string{"1"}                               // as a custom transport gives it
		resp.Header[http.CanonicalHeaderKey("X-Echo-"+cred)] = []string{"1"} // as net/http gives it
		return resp, nil
	})
	var resp Response
	_, err := c.Jobs.Get(WithResponse(t.Context(), &resp), "j1")
	require.NoError(t, err)
	dump := strings.ToLower(fmt.Sprintf("%#v", resp))
	assert.NotContains(t, dump, strings.ToLower(bearer), "the bearer token reaches Response through a header name")
}

// ClientToken (and ConsentURL, which calls it) records the POST /token
// answer itself, whose headers may quote the token just issued: its status
// is kept, its headers are not.
func TestWithResponseOfATokenRequestKeepsNoHeaders(t *testing.T) {
	t.Parallel()
	const issued = "client-token-issued-0123456789"
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
		resp, _ := tokenResponder(issued, 3600)(r)
		resp.Header.Set("X-Debug", "issued "+issued) // a name speaking of no credential
		return resp, nil
	})
	var resp Response
	tok, err := c.ClientToken(WithResponse(t.Context(), &resp), "u1")
	require.NoError(t, err)
	require.Equal(t, issued, tok.Value)
	assert.NotContains(t, fmt.Sprintf("%#v", resp), issued, "the token POST /token issued is kept in Response.Header")
}

func TestWithResponseIsLeftAsItWasByACallRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", withHeaders(jsonResp(http.StatusOK, endpointJob), "X-Trace", "first-call"))
	var resp Response
	ctx := WithResponse(t.Context(), &resp)
	_, err := c.Jobs.Get(ctx, "j1")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// As documented: nothing was sent, so nothing is recorded.
	_, err = c.Users.Get(ctx, "")
	require.ErrorIs(t, err, ErrValidation)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "first-call", resp.Header.Get("X-Trace"))
}

// WaitForJob reads the job's connection in the background, a read the
// caller did not ask for: whether it is cancelled when the job ends or
// finishes after the last poll, r holds the last poll's answer.
func TestWithResponseAfterWaitForJobHoldsTheLastPoll(t *testing.T) {
	t.Parallel()
	synctest.Test(t, waitForJobResponse)
}

// waitForJobResponse runs in a synctest bubble: the timings are the
// bubble's, the same on every run.
func waitForJobResponse(t *testing.T) {
	c, mt := newMockClient(t)
	running := `{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1","source":"https://api.test/users/u1/connections/c1"},"steps":[` +
		`{"title":"verify-credentials","status":"success"},{"title":"retrieve-accounts","status":"in-progress"},{"title":"retrieve-transactions","status":"pending"}]}`
	done := `{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1","source":"https://api.test/users/u1/connections/c1"},"steps":[` +
		`{"title":"verify-credentials","status":"success"},{"title":"retrieve-accounts","status":"success"},{"title":"retrieve-transactions","status":"success"}]}`
	start := time.Now()
	logged := func(next httpmock.Responder) httpmock.Responder {
		return func(r *http.Request) (*http.Response, error) {
			t.Logf("poll at %v", time.Since(start))
			return next(r)
		}
	}
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1",
		logged(jsonResp(http.StatusOK, running)).Then(logged(jsonResp(http.StatusOK, done))))
	// The connection read is slow (within hintTimeout).
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/connections/c1", func(r *http.Request) (*http.Response, error) {
		select {
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-time.After(hintTimeout - 100*time.Millisecond):
		}
		t.Logf("connection read answered at %v", time.Since(start))
		return jsonResp(http.StatusOK, `{"type":"connection","id":"c1","institution":{"id":"AU00000"}}`)(r)
	})
	var resp Response
	job, err := c.WaitForJob(WithResponse(t.Context(), &resp), &Job{ID: "j1"})
	require.NoError(t, err)
	require.Equal(t, "j1", job.ID)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the successful wait's last poll answered 200; r holds %+v", resp)
}

// After a refused token is renewed, the answer recorded is the repeat's; a
// header of it quoting the bearer the server just refused (which it may
// still honour: a gateway's 401, a token refused by one node of a cluster)
// is masked like the repeat's own.
func TestWithResponseMasksTheRefusedBearerAfterRenewal(t *testing.T) {
	t.Parallel()
	const first = "first-bearer-0123456789abcdef"
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokenResponder(first, 3600).Then(tokenResponder("second-bearer-0123456789", 3600)))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1",
		jsonResp(http.StatusUnauthorized, `{"type":"list","data":[{"code":"invalid-authorization-token","title":"Invalid token"}]}`).Then(
			withHeaders(jsonResp(http.StatusOK, endpointJob), "X-Echo", "previous Bearer "+first)))
	var resp Response
	_, err := c.Jobs.Get(WithResponse(t.Context(), &resp), "j1")
	require.NoError(t, err)
	require.Equal(t, 2, calls(mt, "POST "+testBase+"/token"), "the token was renewed")
	assert.NotContains(t, fmt.Sprintf("%#v", resp), first, "the refused bearer is kept in Response.Header")
}

// Response.CorrelationID exists to be quoted in logs: line breaks and 60 KiB
// from a hostile answer are cut to one bounded line, as in APIError.Error.
func TestWithResponseCorrelationIDIsOneBoundedLine(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	id := "corr-1\nlevel=ERROR msg=\"forged log line\"\r\n" + strings.Repeat("x", 60<<10)
	body := fmt.Sprintf(`{"type":"list","correlationId":%q,"data":[{"type":"error","code":"resource-not-found","title":"Not found"}]}`, id)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(http.StatusNotFound, body))
	var resp Response
	_, err := c.Jobs.Get(WithResponse(t.Context(), &resp), "j1")
	require.ErrorIs(t, err, ErrNotFound)
	assert.NotContains(t, resp.CorrelationID, "\n", "a line break from the server reaches Response.CorrelationID")
	assert.LessOrEqual(t, len(resp.CorrelationID), 200, "Response.CorrelationID is unbounded")
}

// A hostile server may answer with as many headers as net/http takes (10
// MiB by default); Response.Header keeps at most MaxResponseHeaders of them
// and MaxResponseHeaderBytes, like everything else the client keeps from an
// answer.
func TestWithResponseKeepsABoundedHeaderSet(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`))
			return
		}
		h := w.Header()
		for i := range 200_000 { // about 2.4 MB on the wire
			h["X-"+strconv.Itoa(i)] = []string{"v"}
		}
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(endpointJob))
	}))
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL), WithHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	var resp Response
	_, err = c.Jobs.Get(WithResponse(t.Context(), &resp), "j1")
	require.NoError(t, err)
	kept := 0
	for name, values := range resp.Header {
		kept += len(name)
		for _, v := range values {
			kept += len(v)
		}
	}
	assert.LessOrEqual(t, len(resp.Header), 1024, "headers kept in Response")
	assert.LessOrEqual(t, kept, 64<<10, "header bytes kept in Response")
}
