package basiq

import (
	"net/http"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
)

// testBase is the base URL unit tests mock.
const testBase = "https://api.test"

// testKey is the API key unit tests use.
const testKey = "dGVzdC1hcHAta2V5LXNlY3JldA=="

// newMockClient returns a client whose requests go to a fresh per-test mock
// transport, with a token endpoint already registered and fast retries.
func newMockClient(t *testing.T, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokenResponder("tok-1", 3600))
	base := []Option{
		WithAPIKey(testKey),
		WithBaseURL(testBase),
		WithHTTPClient(&http.Client{Transport: mt}),
		WithRetryWait(time.Millisecond, 5*time.Millisecond),
	}
	c, err := NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return c, mt
}

// tokenResponder answers POST /token with tok.
func tokenResponder(tok string, expiresIn int) httpmock.Responder {
	return httpmock.NewJsonResponderOrPanic(http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": expiresIn,
	})
}

// calls returns how many times the mock saw "METHOD URL".
func calls(mt *httpmock.MockTransport, key string) int {
	return mt.GetCallCountInfo()[key]
}

// jsonResp returns a responder with a raw JSON body and status.
func jsonResp(status int, body string) httpmock.Responder {
	return func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(status, body)
		r.Header.Set("Content-Type", "application/json")
		return r, nil
	}
}

// hooli is the sandbox institution with user authorization.
const hooliJSON = `{"type":"institution","id":"AU00000","name":"Hooli Bank","tier":"4","authorization":"user","status":"operational"}`
