package basiq

import (
	"net/http"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallerTimeoutBoundsAttemptOnRequestContext checks how a caller's
// http.Client.Timeout is enforced: as a deadline on the request's context
// (net/http's legacy cancellation, a Request.Cancel channel watched by a
// goroutine and a timer per request, is not used), one deadline for the
// attempt and the redirects it follows, as net/http sets it.
func TestCallerTimeoutBoundsAttemptOnRequestContext(t *testing.T) {
	t.Parallel()
	const timeout = 7 * time.Second
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokenResponder("tok-1", 3600))
	type seen struct {
		deadline    time.Time
		hasDeadline bool
		legacy      bool
	}
	var hops []seen
	record := func(r *http.Request) {
		d, ok := r.Context().Deadline()
		hops = append(hops, seen{deadline: d, hasDeadline: ok, legacy: r.Cancel != nil})
	}
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		record(r)
		resp := httpmock.NewStringResponse(http.StatusFound, "")
		resp.Header.Set("Location", testBase+"/jobs/j2")
		return resp, nil
	})
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j2", func(r *http.Request) (*http.Response, error) {
		record(r)
		return jsonResp(http.StatusOK, `{"id":"j2","steps":[]}`)(r)
	})
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(testBase), WithHTTPClient(&http.Client{Transport: mt, Timeout: timeout}))
	require.NoError(t, err)

	start := time.Now()
	job, err := c.Jobs.Get(t.Context(), "j1")
	require.NoError(t, err)
	assert.Equal(t, "j2", job.ID)
	require.Len(t, hops, 2, "the request and its redirect")
	for i, h := range hops {
		assert.False(t, h.legacy, "hop %d: net/http's legacy cancellation was used", i)
		require.True(t, h.hasDeadline, "hop %d: no deadline on the request's context", i)
		assert.False(t, h.deadline.Before(start.Add(timeout)), "hop %d: deadline before the caller's Timeout", i)
		assert.False(t, h.deadline.After(time.Now().Add(timeout)), "hop %d: deadline beyond the caller's Timeout", i)
	}
	assert.Equal(t, hops[0].deadline, hops[1].deadline, "the redirect keeps the attempt's deadline")
}
