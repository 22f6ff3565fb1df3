package basiq

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientOptions(t *testing.T) {
	t.Setenv(EnvAPIKey, "")
	cases := []struct {
		name  string
		opts  []Option
		field string // "" means success
	}{
		{"defaults need a key", nil, "apiKey"},
		{"empty key", []Option{WithAPIKey(" ")}, "apiKey"},
		{"key", []Option{WithAPIKey("k")}, ""},
		{"https base", []Option{WithAPIKey("k"), WithBaseURL("https://proxy.example/basiq")}, ""},
		{"http loopback", []Option{WithAPIKey("k"), WithBaseURL("http://127.0.0.1:8080")}, ""},
		{"http localhost", []Option{WithAPIKey("k"), WithBaseURL("http://localhost:8080")}, ""},
		{"http ipv6 loopback", []Option{WithAPIKey("k"), WithBaseURL("http://[::1]:8080")}, ""},
		{"http remote refused", []Option{WithAPIKey("k"), WithBaseURL("http://au-api.basiq.io")}, "baseURL"},
		{"ftp refused", []Option{WithAPIKey("k"), WithBaseURL("ftp://127.0.0.1")}, "baseURL"},
		{"relative refused", []Option{WithAPIKey("k"), WithBaseURL("/api")}, "baseURL"},
		{"userinfo refused", []Option{WithAPIKey("k"), WithBaseURL("https://u:p@api.test")}, "baseURL"},
		{"query refused", []Option{WithAPIKey("k"), WithBaseURL("https://api.test/?a=b")}, "baseURL"},
		{"nil http client", []Option{WithAPIKey("k"), WithHTTPClient(nil)}, "httpClient"},
		{"empty version", []Option{WithAPIKey("k"), WithVersion("")}, "version"},
		{"negative retries", []Option{WithAPIKey("k"), WithMaxRetries(-1)}, "maxRetries"},
		{"zero retries", []Option{WithAPIKey("k"), WithMaxRetries(0)}, ""},
		{"bad retry wait", []Option{WithAPIKey("k"), WithRetryWait(time.Second, time.Millisecond)}, "retryWait"},
		{"empty user agent", []Option{WithAPIKey("k"), WithUserAgent("")}, "userAgent"},
		{"nil logger is fine", []Option{WithAPIKey("k"), WithLogger(nil)}, ""},
		{"nil option skipped", []Option{nil, WithAPIKey("k")}, ""},
		{"wait defaults", []Option{WithAPIKey("k"), WithWaitDefaults(WithPollInterval(time.Millisecond, time.Second), nil)}, ""},
		{"bad wait defaults", []Option{WithAPIKey("k"), WithWaitDefaults(WithPollInterval(time.Second, time.Millisecond))}, "pollInterval"},
		{"nil progress in wait defaults", []Option{WithAPIKey("k"), WithWaitDefaults(WithProgress(nil))}, "progress"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.opts...)
			if tc.field == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorIs(t, err, ErrValidation)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.field, ve.Field)
		})
	}
}

// waitOnce runs one WaitForJob on a job that is running at the first poll
// and done at the second, inside a synctest bubble, and returns how long it
// took on the bubble's clock.
func waitOnce(t *testing.T, clientOpts []Option, waitOpts ...WaitOption) time.Duration {
	t.Helper()
	var took time.Duration
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t, clientOpts...)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{title: StepVerifyCredentials, status: "in-progress"}),
			jobBody(t, "j1", stepSpec{title: StepVerifyCredentials, status: "success"}),
		))
		start := time.Now()
		_, err := c.WaitForJob(context.Background(), &Job{ID: "j1"}, waitOpts...)
		require.NoError(t, err)
		took = time.Since(start)
		assert.Equal(t, 2, calls(mt, getJobKey))
	})
	return took
}

func TestWaitDefaultsApplyToEveryWait(t *testing.T) {
	// Without defaults, the default schedule sleeps about a second
	// between polls while verify-credentials runs.
	assert.GreaterOrEqual(t, waitOnce(t, nil), 900*time.Millisecond)
	// With a client-wide poll interval, no call needs an option.
	assert.LessOrEqual(t, waitOnce(t, []Option{WithWaitDefaults(WithPollInterval(time.Millisecond, time.Millisecond))}), 2*time.Millisecond)
}

func TestWaitOptionsOfTheCallOverrideWaitDefaults(t *testing.T) {
	slow := []Option{WithWaitDefaults(WithPollInterval(time.Hour, time.Hour))}
	assert.GreaterOrEqual(t, waitOnce(t, slow), time.Hour)
	assert.LessOrEqual(t, waitOnce(t, slow, WithPollInterval(time.Millisecond, time.Millisecond)), 2*time.Millisecond)
}

func TestWaitDefaultsProgressIsCalled(t *testing.T) {
	var seen []StepStatus
	progress := WithProgress(func(j *Job) { seen = append(seen, j.Steps[0].Status) })
	waitOnce(t, []Option{WithWaitDefaults(progress, WithPollInterval(time.Millisecond, time.Millisecond))})
	assert.Equal(t, []StepStatus{StepStatusInProgress, StepStatusSuccess}, seen)
}

func TestWaitDefaultsApplyToWaitForJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t, WithWaitDefaults(WithPollInterval(time.Millisecond, time.Millisecond)))
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{title: StepVerifyCredentials, status: "in-progress"}),
			jobBody(t, "j1", stepSpec{title: StepVerifyCredentials, status: "success"}),
		))
		start := time.Now()
		_, err := c.WaitForJobs(context.Background(), []string{"j1"})
		require.NoError(t, err)
		assert.LessOrEqual(t, time.Since(start), 2*time.Millisecond)
	})
}
