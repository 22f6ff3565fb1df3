package basiq

import (
	"testing"
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
