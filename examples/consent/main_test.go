package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunConsentFlowAgainstInMemoryServer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		wantErr string
		want    []string
	}{
		{name: "hooli", want: []string{"created user", "Consent UI", "submitted", "redirected back", "verify-credentials",
			"retrieve-transactions", "accounts:", "transactions", "consent", "active"}},
		{name: "locked account", args: []string{"-login", "bighead", "-password", "password"}, wantErr: "invalid-credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, tc.args, &out, "")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err, out.String())
			for _, w := range tc.want {
				assert.Contains(t, out.String(), w)
			}
			assert.NotContains(t, out.String(), "token=", "the link with its token is not printed in the sandbox")
		})
	}
}

func TestRunRefusesANonLoopbackListenAddress(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-listen", "0.0.0.0:8765"}, &out, "some-key")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loopback")
}
