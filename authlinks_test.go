package basiq

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The answers in the shapes of Basiq's AuthLinksPostResponseResource (no id)
// and AuthLinksResponseResource (core.yml), with their property examples.
const (
	authLinkCreatedJSON = `{"type":"auth_link","userId":"ec4ea48d","mobile":"+61410000000","expiresAt":"2019-11-21T04:08:50Z",
 "links":{"public":"https://connect.basiq.io/63448be4","self":"/users/ec4ea48d/auth_link"}}`
	authLinkJSON = `{"type":"auth_link","id":"63448be4","userId":"ec4ea48d","mobile":61410000000,"expiresAt":"2019-11-21T04:08:50Z",
 "links":{"public":"https://connect.basiq.io/63448be4","self":"/users/ec4ea48d/auth_link"}}`
)

func TestAuthLinksCreate(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("2.1"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusCreated, authLinkCreatedJSON)))

	link, err := c.AuthLinks.Create(context.Background(), "ec4ea48d", "+61410000000")
	require.NoError(t, err)
	assert.Empty(t, link.ID, "the answer to a create names no id")
	assert.Equal(t, "ec4ea48d", link.UserID)
	assert.Equal(t, "+61410000000", link.Mobile)
	assert.Equal(t, time.Date(2019, 11, 21, 4, 8, 50, 0, time.UTC), link.ExpiresAt.UTC())
	assert.Equal(t, "https://connect.basiq.io/63448be4", link.Links.Public)

	_, err = c.AuthLinks.Create(context.Background(), "u/2", "")
	require.NoError(t, err)
	reqs := rec.all()
	require.Len(t, reqs, 2)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/users/ec4ea48d/auth_link", reqs[0].Path)
	assert.Equal(t, "application/json", reqs[0].ContentType)
	assert.Equal(t, map[string]any{"mobile": "+61410000000"}, jsonFields(t, reqs[0].Body))
	assert.Equal(t, "/users/u%2F2/auth_link", reqs[1].Path)
	assert.Equal(t, map[string]any{}, jsonFields(t, reqs[1].Body), "no mobile: the user's own")

	_, err = c.AuthLinks.Create(context.Background(), "..", "+61410000000")
	assert.Equal(t, []string{"userId"}, validationFields(t, err))
	assert.Len(t, rec.all(), 2)
}

func TestAuthLinksCreateIsNotRetried(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/auth_link", jsonResp(503, `{"data":[{"code":"service-unavailable"}]}`))
	_, err := c.AuthLinks.Create(context.Background(), "u1", "")
	require.Error(t, err)
	assert.Equal(t, 1, calls(mt, "POST "+testBase+"/users/u1/auth_link"), "a repeat would replace the link just made")
}

func TestAuthLinksCreateRefusesAnAnswerWithoutALink(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/auth_link", jsonResp(201, `{"type":"auth_link","userId":"u1"}`))
	_, err := c.AuthLinks.Create(context.Background(), "u1", "")
	require.ErrorIs(t, err, ErrInvalidResponse)
}

func TestAuthLinksGet(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK, authLinkJSON)))
	link, err := c.AuthLinks.Get(context.Background(), "ec4ea48d")
	require.NoError(t, err)
	assert.Equal(t, "63448be4", link.ID)
	assert.Equal(t, "61410000000", link.Mobile, "a numeric mobile is read as its digits")
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodGet, reqs[0].Method)
	assert.Equal(t, "/users/ec4ea48d/auth_link", reqs[0].Path)

	_, err = c.AuthLinks.Get(context.Background(), "a\x00")
	assert.Equal(t, []string{"userId"}, validationFields(t, err))
	assert.Len(t, rec.all(), 1)

	mt.RegisterResponder(http.MethodGet, testBase+"/users/old/auth_link", jsonResp(410, `{"data":[{"code":"resource-no-longer-available"}]}`))
	_, err = c.AuthLinks.Get(context.Background(), "old")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusGone, apiErr.StatusCode)
}

func TestAuthLinksDelete(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(httpmockNoContent))
	require.NoError(t, c.AuthLinks.Delete(context.Background(), "u 1"))
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodDelete, reqs[0].Method)
	assert.Equal(t, "/users/u%201/auth_link", reqs[0].Path)
	assert.Equal(t, []string{"userId"}, validationFields(t, c.AuthLinks.Delete(context.Background(), ".")))
	assert.Len(t, rec.all(), 1)
}
