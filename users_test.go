package basiq

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seenReq is what a recording responder saw of one request.
type seenReq struct {
	Method      string
	Path        string // escaped, as sent
	Query       url.Values
	Auth        string
	ContentType string
	Body        string
}

// reqRecorder keeps, in order, the requests its wrapped responders see. It is
// safe for concurrent use.
type reqRecorder struct {
	mu   sync.Mutex
	reqs []seenReq
}

// wrap records each request, then answers it with next.
func (rec *reqRecorder) wrap(next httpmock.Responder) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body)) // next may read it too
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seenReq{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(),
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(body),
		})
		rec.mu.Unlock()
		return next(r)
	}
}

// all returns a copy of the requests seen so far.
func (rec *reqRecorder) all() []seenReq {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

// jsonFields decodes a JSON object body into a map, for exact comparisons.
func jsonFields(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), "body %q", body)
	return m
}

const (
	usersURL    = testBase + "/users"
	userU1URL   = testBase + "/users/u1"
	postUsers   = "POST " + usersURL
	postUserU1  = "POST " + userU1URL
	getUserU1   = "GET " + userU1URL
	delUserU1   = "DELETE " + userU1URL
	user503JSON = `{"type":"list","correlationId":"corr-u503","data":[{"type":"error","code":"service-unavailable","title":"Service Unavailable"}]}`
	user404JSON = `{"type":"list","correlationId":"corr-u404","data":[{"type":"error","code":"resource-not-found","title":"Requested resource is not found."}]}`
	userU1JSON  = `{"type":"user","id":"u1","email":"gavin@hooli.com","mobile":"+61410888999","firstName":"Gavin","lastName":"Belson",
		"connections":{"type":"list","count":1,"data":[{"type":"connection","id":"c1","links":{"self":"https://api.test/users/u1/connections/c1"}}]},
		"accounts":{"type":"list","count":2,"data":[{"type":"account","id":"a1"},{"type":"account","id":"a2"}]},
		"links":{"self":"https://api.test/users/u1"}}`
)

func TestUsersCreate(t *testing.T) {
	t.Parallel()

	t.Run("posts the set fields and decodes 201", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		var rec reqRecorder
		mt.RegisterResponder(http.MethodPost, usersURL, rec.wrap(jsonResp(http.StatusCreated, userU1JSON)))

		u, err := c.Users.Create(t.Context(), UserParams{Email: "gavin@hooli.com", FirstName: "Gavin"})
		require.NoError(t, err)
		require.NotNil(t, u)
		assert.Equal(t, "u1", u.ID)
		assert.Equal(t, "gavin@hooli.com", u.Email)
		assert.Equal(t, "+61410888999", u.Mobile)
		assert.Equal(t, "Gavin", u.FirstName)
		assert.Equal(t, "Belson", u.LastName)
		assert.Equal(t, 1, u.Connections.Count)
		require.Len(t, u.Connections.Data, 1)
		assert.Equal(t, Ref{Type: "connection", ID: "c1", Links: Links{Self: "https://api.test/users/u1/connections/c1"}}, u.Connections.Data[0])
		assert.Equal(t, []Ref{{Type: "account", ID: "a1"}, {Type: "account", ID: "a2"}}, u.Accounts.Data)
		assert.Equal(t, "https://api.test/users/u1", u.Links.Self)

		reqs := rec.all()
		require.Len(t, reqs, 1)
		assert.Equal(t, "/users", reqs[0].Path)
		assert.Equal(t, "application/json", reqs[0].ContentType)
		assert.Equal(t, "Bearer tok-1", reqs[0].Auth)
		assert.Equal(t, map[string]any{"email": "gavin@hooli.com", "firstName": "Gavin"}, jsonFields(t, reqs[0].Body),
			"empty fields are not sent")
	})

	t.Run("mobile alone is enough", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		var rec reqRecorder
		mt.RegisterResponder(http.MethodPost, usersURL, rec.wrap(jsonResp(http.StatusCreated, userU1JSON)))
		_, err := c.Users.Create(t.Context(), UserParams{Mobile: "+61410888999"})
		require.NoError(t, err)
		reqs := rec.all()
		require.Len(t, reqs, 1)
		assert.Equal(t, map[string]any{"mobile": "+61410888999"}, jsonFields(t, reqs[0].Body))
	})

	t.Run("email or mobile required, without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		for _, p := range []UserParams{
			{},
			{FirstName: "Gavin", LastName: "Belson", BusinessName: "Hooli"},
			{Email: "  ", Mobile: "\t"},
		} {
			u, err := c.Users.Create(t.Context(), p)
			assert.Nil(t, u)
			require.ErrorIs(t, err, ErrValidation, "%+v", p)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "email", ve.Field)
		}
		assert.Equal(t, 0, mt.GetTotalCallCount(), "no token request, no POST: %v", mt.GetCallCountInfo())
	})

	t.Run("not retried on 503", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, usersURL,
			jsonResp(http.StatusServiceUnavailable, user503JSON).Then(jsonResp(http.StatusCreated, userU1JSON)))

		u, err := c.Users.Create(t.Context(), UserParams{Email: "gavin@hooli.com"})
		assert.Nil(t, u)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
		assert.Equal(t, "corr-u503", apiErr.CorrelationID)
		assert.Equal(t, 1, calls(mt, postUsers), "a repeat could create a second user")
	})

	t.Run("not retried on a network error", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, usersURL, httpmock.NewErrorResponder(errors.New("connection reset")))
		_, err := c.Users.Create(t.Context(), UserParams{Email: "gavin@hooli.com"})
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrValidation)
		assert.Equal(t, 1, calls(mt, postUsers))
	})
}

func TestUsersGet(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	var rec reqRecorder
	mt.RegisterResponder(http.MethodGet, userU1URL, rec.wrap(jsonResp(http.StatusOK, userU1JSON)))

	u, err := c.Users.Get(t.Context(), "u1")
	require.NoError(t, err)
	require.NotNil(t, u)
	assert.Equal(t, "u1", u.ID)
	assert.Equal(t, "Gavin", u.FirstName)
	assert.Equal(t, 2, u.Accounts.Count)
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Body)
	assert.Equal(t, "Bearer tok-1", reqs[0].Auth)

	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, userU1URL, jsonResp(http.StatusNotFound, user404JSON))
		u, err := c.Users.Get(t.Context(), "u1")
		assert.Nil(t, u)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Equal(t, 1, calls(mt, getUserU1))
	})
}

func TestUsersUpdate(t *testing.T) {
	t.Parallel()

	t.Run("posts the set fields", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		var rec reqRecorder
		mt.RegisterResponder(http.MethodPost, userU1URL, rec.wrap(jsonResp(http.StatusOK, userU1JSON)))

		u, err := c.Users.Update(t.Context(), "u1", UserParams{LastName: "Belson", BusinessName: "Hooli"})
		require.NoError(t, err)
		assert.Equal(t, "u1", u.ID)
		reqs := rec.all()
		require.Len(t, reqs, 1)
		assert.Equal(t, "/users/u1", reqs[0].Path)
		assert.Equal(t, map[string]any{"lastName": "Belson", "businessName": "Hooli"}, jsonFields(t, reqs[0].Body))
	})

	t.Run("retried on 503", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		var rec reqRecorder
		mt.RegisterResponder(http.MethodPost, userU1URL, rec.wrap(
			jsonResp(http.StatusServiceUnavailable, user503JSON).Then(jsonResp(http.StatusOK, userU1JSON))))

		u, err := c.Users.Update(t.Context(), "u1", UserParams{Mobile: "+61410888999"})
		require.NoError(t, err)
		assert.Equal(t, "u1", u.ID)
		assert.Equal(t, 2, calls(mt, postUserU1))
		reqs := rec.all()
		require.Len(t, reqs, 2)
		assert.Equal(t, reqs[0].Body, reqs[1].Body, "the retry sends the same body")
	})

	t.Run("gives up after the retries", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, userU1URL, jsonResp(http.StatusServiceUnavailable, user503JSON))
		_, err := c.Users.Update(t.Context(), "u1", UserParams{Mobile: "+61410888999"})
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
		assert.Equal(t, 1+defaultMaxRetries, calls(mt, postUserU1))
	})

	t.Run("empty params refused without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		for _, p := range []UserParams{{}, {Email: " ", FirstName: "\t"}} {
			u, err := c.Users.Update(t.Context(), "u1", p)
			assert.Nil(t, u)
			require.ErrorIs(t, err, ErrValidation)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "user", ve.Field)
		}
		assert.Equal(t, 0, mt.GetTotalCallCount(), "%v", mt.GetCallCountInfo())
	})
}

func TestUsersDelete(t *testing.T) {
	t.Parallel()

	t.Run("204", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		var rec reqRecorder
		mt.RegisterResponder(http.MethodDelete, userU1URL, rec.wrap(httpmock.NewStringResponder(http.StatusNoContent, "")))
		require.NoError(t, c.Users.Delete(t.Context(), "u1"))
		reqs := rec.all()
		require.Len(t, reqs, 1)
		assert.Equal(t, "Bearer tok-1", reqs[0].Auth)
		assert.Empty(t, reqs[0].Body)
	})

	t.Run("404", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodDelete, userU1URL, jsonResp(http.StatusNotFound, user404JSON))
		err := c.Users.Delete(t.Context(), "u1")
		require.ErrorIs(t, err, ErrNotFound)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "corr-u404", apiErr.CorrelationID)
		assert.Equal(t, 1, calls(mt, delUserU1), "a 404 is not retried")
	})
}

func TestUsersIDsEscapedOrRefused(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodDelete {
			return httpmock.NewStringResponse(http.StatusNoContent, ""), nil
		}
		return jsonResp(http.StatusOK, userU1JSON)(r)
	}))

	const id = "a/b c?d#e"
	_, err := c.Users.Get(t.Context(), id)
	require.NoError(t, err)
	_, err = c.Users.Update(t.Context(), id, UserParams{FirstName: "Gavin"})
	require.NoError(t, err)
	require.NoError(t, c.Users.Delete(t.Context(), id))
	_, err = c.Users.Get(t.Context(), "../token")
	require.NoError(t, err)

	var got []string
	for _, r := range rec.all() {
		got = append(got, r.Method+" "+r.Path+"|"+r.Query.Encode())
	}
	assert.Equal(t, []string{
		"GET /users/a%2Fb%20c%3Fd%23e|",
		"POST /users/a%2Fb%20c%3Fd%23e|",
		"DELETE /users/a%2Fb%20c%3Fd%23e|",
		"GET /users/..%2Ftoken|",
	}, got)

	before := mt.GetTotalCallCount()
	for _, bad := range []string{"", "   ", ".", "..", "u1\n", "u\x7f1"} {
		_, err := c.Users.Get(t.Context(), bad)
		requireField(t, err, "userId")
		_, err = c.Users.Update(t.Context(), bad, UserParams{FirstName: "Gavin"})
		requireField(t, err, "userId")
		requireField(t, c.Users.Delete(t.Context(), bad), "userId")
	}
	assert.Equal(t, before, mt.GetTotalCallCount(), "refused ids make no request")
}

// requireField requires err to be exactly one *ValidationError about field.
func requireField(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, ErrValidation)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, field, ve.Field)
}
