package basiq

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConsentsListDecodesBasiqsExample(t *testing.T) {
	t.Parallel()
	body := specExample(t, "v3/core.yml", "/users/{userId}/consents", "get", "200", "")
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK, string(body))))

	list, err := c.Consents.List(context.Background(), "79ce620b")
	require.NoError(t, err)
	require.NotEmpty(t, list)
	first := list[0]
	assert.Equal(t, "69d00245-1048-471a-902b-6cdc5d3d07a7", first.ID)
	assert.Equal(t, ConsentActive, first.Status)
	assert.Equal(t, "user", first.Origin)
	assert.Equal(t, time.Date(2024, 9, 26, 12, 12, 1, 0, time.UTC), first.Created.UTC())
	assert.Equal(t, time.Date(2025, 9, 26, 12, 12, 1, 0, time.UTC), first.ExpiryDate.UTC())
	require.NotNil(t, first.Purpose.Primary)
	assert.Equal(t, "Share your financial data", first.Purpose.Primary.Title)
	assert.True(t, first.Data.RetainData)
	assert.Equal(t, 730, first.Data.InitialRetrievalDays)
	require.NotEmpty(t, first.Data.Permissions)
	p := first.Data.Permissions[0]
	assert.Equal(t, "account.basic", p.Scope)
	assert.True(t, p.Required)
	assert.True(t, p.Consented)
	assert.Equal(t, "account", p.Entity)
	require.NotNil(t, p.Information)
	assert.Contains(t, p.Information.AttributeList, "Account balance")

	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodGet, reqs[0].Method)
	assert.Equal(t, "/users/79ce620b/consents", reqs[0].Path)
	assert.Equal(t, "Bearer tok-1", reqs[0].Auth)
}

func TestConsentsList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK,
		`{"type":"list","size":2,"data":[{"type":"consent","id":"k1","status":"revoked","created":"","expiryDate":null},{"type":"consent","id":"k2","status":"expired"}]}`)))
	list, err := c.Consents.List(context.Background(), "u/1")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, ConsentRevoked, list[0].Status)
	assert.True(t, list[0].Created.IsZero(), "an empty timestamp reads as zero")
	assert.Equal(t, ConsentExpired, list[1].Status)
	assert.Equal(t, "/users/u%2F1/consents", rec.all()[0].Path)

	for _, id := range []string{"", " ", ".", "..", "u\n1"} {
		_, err := c.Consents.List(context.Background(), id)
		assert.Equal(t, []string{"userId"}, validationFields(t, err), "%q", id)
	}
	assert.Len(t, rec.all(), 1, "refused ids make no request")

	mt.RegisterResponder(http.MethodGet, testBase+"/users/u2/consents", jsonResp(500, `{"data":[{"code":"internal-server-error"}]}`))
	_, err = c.Consents.List(context.Background(), "u2")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 500, apiErr.StatusCode)
	assert.Equal(t, 1+defaultMaxRetries, calls(mt, "GET "+testBase+"/users/u2/consents"), "a read is retried")
}

func TestConsentsDelete(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(httpmockNoContent))
	require.NoError(t, c.Consents.Delete(context.Background(), "u1", "k 1/2"))
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodDelete, reqs[0].Method)
	assert.Equal(t, "/users/u1/consents/k%201%2F2", reqs[0].Path)
	assert.Empty(t, reqs[0].Body)

	err := c.Consents.Delete(context.Background(), "..", "")
	assert.Equal(t, []string{"userId", "consentId"}, validationFields(t, err))
	assert.Len(t, rec.all(), 1)

	mt.RegisterResponder(http.MethodDelete, testBase+"/users/u1/consents/gone", jsonResp(404, `{"data":[{"code":"resource-not-found"}]}`))
	assert.ErrorIs(t, c.Consents.Delete(context.Background(), "u1", "gone"), ErrNotFound)
}

// httpmockNoContent answers 204 with no body.
func httpmockNoContent(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusNoContent, Status: "204 No Content", Body: http.NoBody, Header: http.Header{}}, nil
}
