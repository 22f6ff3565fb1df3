package basiq

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnectionsDecodeVersion3Statuses(t *testing.T) {
	t.Parallel()
	for status, want := range map[string]ConnectionStatus{"init": ConnectionInit, "pre-init": ConnectionPreInit, "active": ConnectionActive} {
		var conn Connection
		require.NoError(t, conn.UnmarshalJSON([]byte(`{"type":"connection","id":"c1","status":"`+status+`","institution":{"id":"AU00000"}}`)))
		assert.Equal(t, want, conn.Status)
	}
}

func TestConnectionsPurge(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(httpmockNoContent))
	require.NoError(t, c.Connections.Purge(context.Background(), "u1", "c 1/2"))
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/users/u1/connections/c%201%2F2/purge", reqs[0].Path)
	assert.Empty(t, reqs[0].Body)

	err := c.Connections.Purge(context.Background(), "", "..")
	assert.Equal(t, []string{"userId", "connectionId"}, validationFields(t, err))
	assert.Len(t, rec.all(), 1, "refused ids make no request")
}

func TestConnectionsPurgeIsRepeatedLikeARead(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections/c1/purge",
		httpmockResponders(jsonResp(503, `{"data":[{"code":"service-unavailable"}]}`), httpmockNoContent))
	require.NoError(t, c.Connections.Purge(context.Background(), "u1", "c1"))
	assert.Equal(t, 2, calls(mt, "POST "+testBase+"/users/u1/connections/c1/purge"))

	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections/c2/purge",
		jsonResp(400, `{"data":[{"code":"parameter-not-valid","title":"Only active connections can be purged"}]}`))
	err := c.Connections.Purge(context.Background(), "u1", "c2")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)
	assert.Equal(t, 1, calls(mt, "POST "+testBase+"/users/u1/connections/c2/purge"))
}

// httpmockResponders answers with each responder in turn, the last from
// then on.
func httpmockResponders(rs ...func(*http.Request) (*http.Response, error)) func(*http.Request) (*http.Response, error) {
	n := 0
	return func(r *http.Request) (*http.Response, error) {
		resp := rs[min(n, len(rs)-1)]
		n++
		return resp(r)
	}
}
