package basiq

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		c, _, rec := setup(t, http.MethodPost, usersURL, jsonResp(http.StatusCreated, userU1JSON))

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
		c, _, rec := setup(t, http.MethodPost, usersURL, jsonResp(http.StatusCreated, userU1JSON))
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
	c, _, rec := setup(t, http.MethodGet, userU1URL, jsonResp(http.StatusOK, userU1JSON))

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
}

func TestUsersUpdate(t *testing.T) {
	t.Parallel()

	t.Run("posts the set fields", func(t *testing.T) {
		t.Parallel()
		c, _, rec := setup(t, http.MethodPost, userU1URL, jsonResp(http.StatusOK, userU1JSON))

		u, err := c.Users.Update(t.Context(), "u1", UserParams{LastName: "Belson", BusinessName: "Hooli"})
		require.NoError(t, err)
		assert.Equal(t, "u1", u.ID)
		reqs := rec.all()
		require.Len(t, reqs, 1)
		assert.Equal(t, "/users/u1", reqs[0].Path)
		assert.Equal(t, map[string]any{"lastName": "Belson", "businessName": "Hooli"}, jsonFields(t, reqs[0].Body))
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
		c, _, rec := setup(t, http.MethodDelete, userU1URL, httpmock.NewStringResponder(http.StatusNoContent, ""))
		require.NoError(t, c.Users.Delete(t.Context(), "u1"))
		reqs := rec.all()
		require.Len(t, reqs, 1)
		assert.Equal(t, "Bearer tok-1", reqs[0].Auth)
		assert.Empty(t, reqs[0].Body)
	})
}
