package basiq

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retryAfterResp answers status with a Retry-After header (none when ra is
// empty).
func retryAfterResp(status int, ra string) httpmock.Responder {
	return func(*http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(status, `{"type":"list","correlationId":"c-ra","data":[{"code":"too-many-requests"}]}`)
		resp.Header.Set("Content-Type", "application/json")
		if ra != "" {
			resp.Header.Set("Retry-After", ra)
		}
		return resp, nil
	}
}

// attemptTimes registers GET /jobs/j1 answering first, then a job, and
// returns the times of the attempts.
func attemptTimes(mt *httpmock.MockTransport, first httpmock.Responder) func() []time.Time {
	var (
		mu    sync.Mutex
		times []time.Time
	)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		if n == 1 {
			return first(r)
		}
		return jsonResp(http.StatusOK, `{"id":"j1","steps":[]}`)(r)
	})
	return func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), times...)
	}
}

func TestRetryAfterLongerThanMaxWaitIsObeyed(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header func(now time.Time) string
		want   time.Duration
	}{
		{"429 seconds", http.StatusTooManyRequests, func(time.Time) string { return "30" }, 30 * time.Second},
		{"503 seconds", http.StatusServiceUnavailable, func(time.Time) string { return "60" }, 60 * time.Second},
		{"429 HTTP date", http.StatusTooManyRequests, func(now time.Time) string {
			return now.Add(45 * time.Second).UTC().Format(http.TimeFormat)
		}, 44 * time.Second}, // an HTTP date has whole seconds
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, mt := newMockClient(t, WithRetryWait(time.Millisecond, 5*time.Millisecond))
				times := attemptTimes(mt, func(r *http.Request) (*http.Response, error) {
					return retryAfterResp(tc.status, tc.header(time.Now()))(r)
				})
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
				defer cancel()
				_, err := c.Jobs.Get(ctx, "j1")
				require.NoError(t, err)
				got := times()
				require.Len(t, got, 2)
				assert.GreaterOrEqual(t, got[1].Sub(got[0]), tc.want, "the retry waited for Retry-After, beyond the 5 ms maximum")
			})
		})
	}
}

func TestRetryAfterBeyondCeilingOrDeadlineReturnsAtOnce(t *testing.T) {
	cases := []struct {
		name     string
		header   string
		deadline time.Duration
		want     time.Duration
	}{
		{"beyond the 60 s ceiling", "61", time.Hour, 61 * time.Second},
		{"an hour", "3600", 2 * time.Hour, time.Hour},
		{"beyond the deadline", "20", 10 * time.Second, 20 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, mt := newMockClient(t)
				mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", retryAfterResp(http.StatusTooManyRequests, tc.header))
				ctx, cancel := context.WithTimeout(t.Context(), tc.deadline)
				defer cancel()
				start := time.Now()
				_, err := c.Jobs.Get(ctx, "j1")
				var apiErr *APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
				assert.Equal(t, tc.want, apiErr.RetryAfter)
				assert.ErrorIs(t, err, ErrRateLimited)
				assert.Equal(t, 1, calls(mt, "GET "+testBase+"/jobs/j1"), "no retry")
				assert.Zero(t, time.Since(start), "returned at once")
			})
		})
	}
}

func TestRetryAfterReportedWhenRetriesRunOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t, WithMaxRetries(1))
		mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", retryAfterResp(http.StatusServiceUnavailable, "2"))
		_, err := c.Jobs.Get(t.Context(), "j1")
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 2*time.Second, apiErr.RetryAfter)
		assert.Equal(t, 2, calls(mt, "GET "+testBase+"/jobs/j1"))
	})
}

func TestRetryAfterZeroOrPastWaitsTheMinimum(t *testing.T) {
	cases := []struct {
		name   string
		header func(now time.Time) string
	}{
		{"zero", func(time.Time) string { return "0" }},
		{"past date", func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, mt := newMockClient(t, WithRetryWait(2*time.Second, 10*time.Second))
				times := attemptTimes(mt, func(r *http.Request) (*http.Response, error) {
					return retryAfterResp(http.StatusTooManyRequests, tc.header(time.Now()))(r)
				})
				_, err := c.Jobs.Get(t.Context(), "j1")
				require.NoError(t, err)
				got := times()
				require.Len(t, got, 2)
				assert.GreaterOrEqual(t, got[1].Sub(got[0]), 2*time.Second, "the configured minimum, not zero")
			})
		})
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name   string
		header string
		want   time.Duration
		ok     bool
	}{
		{"seconds", "3", 3 * time.Second, true},
		{"zero", "0", 0, true},
		{"http date", now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{"past date", now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"a day and more is a day", "86401", maxRetryAfter, true},
		{"beyond int64", "99999999999999999999", maxRetryAfter, true},
		{"far date", "Fri, 31 Dec 9999 23:59:59 GMT", maxRetryAfter, true},
		{"date two days ahead", now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter, true},
		{"negative", "-1", 0, false},
		{"hugely negative", "-99999999999999999999", 0, false},
		{"garbage", "soon", 0, false},
		{"empty", "", 0, false},
	}
	for _, tc := range cases {
		d, ok := parseRetryAfter(tc.header, now)
		assert.Equal(t, tc.ok, ok, tc.name)
		assert.Equal(t, tc.want, d, tc.name)
	}

	resp := func(status int, ra string) *http.Response {
		h := http.Header{}
		if ra != "" {
			h.Set("Retry-After", ra)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	assert.Equal(t, 2*time.Second, backoff(time.Millisecond, 10*time.Second, 0, resp(429, "2")))
	assert.Equal(t, 30*time.Second, backoff(time.Millisecond, 10*time.Second, 0, resp(503, "30")), "beyond max, within the ceiling")
	assert.Equal(t, 60*time.Second, backoff(time.Millisecond, 10*time.Second, 0, resp(503, "86400")), "never beyond the ceiling")
	assert.Equal(t, time.Second, backoff(time.Second, 10*time.Second, 3, resp(429, "0")), "zero waits the minimum")
	for attempt := range 10 {
		d := backoff(100*time.Millisecond, time.Second, attempt, resp(500, ""))
		assert.GreaterOrEqual(t, d, 50*time.Millisecond)
		assert.LessOrEqual(t, d, time.Second)
	}
	assert.LessOrEqual(t, backoff(100*time.Millisecond, time.Second, 0, nil), 100*time.Millisecond)
}

func TestBackoffAndPollStayInBounds(t *testing.T) {
	t.Parallel()
	for attempt := range 6 {
		for range 200 {
			d := backoff(500*time.Millisecond, 10*time.Second, attempt, nil)
			require.GreaterOrEqual(t, d, 500*time.Millisecond)
			require.LessOrEqual(t, d, 10*time.Second)
		}
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		method    string
		safe      bool
		responses []int
		wantCalls int
		wantErr   int // status of the final *APIError, 0 for success
	}{
		{"GET 503 then ok", http.MethodGet, true, []int{503, 200}, 2, 0},
		{"GET 500 502 504 then ok", http.MethodGet, true, []int{500, 502, 504, 200}, 4, 0},
		{"GET 429 then ok", http.MethodGet, true, []int{429, 200}, 2, 0},
		{"GET budget exhausted", http.MethodGet, true, []int{503, 503, 503, 503, 503}, 4, 503},
		{"GET 400 not retried", http.MethodGet, true, []int{400, 200}, 1, 400},
		{"GET 404 not retried", http.MethodGet, true, []int{404, 200}, 1, 404},
		{"unmarked POST not retried", http.MethodPost, false, []int{503, 200}, 1, 503},
		{"marked POST retried", http.MethodPost, true, []int{503, 200}, 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			var i atomic.Int32
			mt.RegisterResponder(tc.method, testBase+"/things", func(r *http.Request) (*http.Response, error) {
				status := tc.responses[min(int(i.Add(1))-1, len(tc.responses)-1)]
				if status == 200 {
					return jsonResp(200, `{"ok":true}`)(r)
				}
				return jsonResp(status, `{"type":"list","correlationId":"c1","data":[{"code":"x"}]}`)(r)
			})
			var body any
			if tc.method == http.MethodPost {
				body = map[string]string{"a": "b"}
			}
			var opts []requestOption
			if tc.safe && tc.method == http.MethodPost {
				opts = append(opts, withRetry())
			}
			var out struct{ OK bool }
			_, err := c.call(context.Background(), tc.method, "things", body, &out, opts...)
			assert.Equal(t, tc.wantCalls, calls(mt, tc.method+" "+testBase+"/things"))
			if tc.wantErr == 0 {
				require.NoError(t, err)
				assert.True(t, out.OK)
				return
			}
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.wantErr, apiErr.StatusCode)
			assert.Equal(t, "c1", apiErr.CorrelationID)
		})
	}
}

func TestRetryOnNetworkError(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var i atomic.Int32
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		if i.Add(1) < 3 {
			return nil, errors.New("connection reset by peer")
		}
		return jsonResp(200, `{"id":"j1","steps":[]}`)(r)
	})
	job, err := c.Jobs.Get(context.Background(), "j1")
	require.NoError(t, err)
	assert.Equal(t, "j1", job.ID)
	assert.Equal(t, 3, calls(mt, "GET "+testBase+"/jobs/j1"))
}

func TestRetryAfterDelaysTheRetry(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithRetryWait(time.Millisecond, 2*time.Second))
	var first time.Time
	var gap time.Duration
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
		if first.IsZero() {
			first = time.Now()
			resp := httpmock.NewStringResponse(429, `{"type":"list","data":[{"code":"too-many-requests"}]}`)
			resp.Header.Set("Retry-After", "1")
			return resp, nil
		}
		gap = time.Since(first)
		return jsonResp(200, `{"id":"j1","steps":[]}`)(r)
	})
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, gap, 900*time.Millisecond, "the retry waited for Retry-After")
}

func TestRetryStopsOnCancel(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithRetryWait(10*time.Second, 10*time.Second))
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(503, `{}`))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Jobs.Get(ctx, "j1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}
