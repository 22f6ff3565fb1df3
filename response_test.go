package basiq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

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
