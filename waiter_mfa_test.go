package basiq

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWaitReportsANewChallengeBesideTheAnsweredOne checks that a new
// challenge on a later step is reported while the API still shows the
// answered one on an earlier step, and that a failure after the answered
// challenge is reported too.
func TestWaitReportsANewChallengeBesideTheAnsweredOne(t *testing.T) {
	t.Parallel()
	first := `{"type":"mfa","method":"token","description":"Code sent to 04xx?","input":["Code"]}`
	second := `{"type":"mfa","method":"token","description":"Second code?","input":["Code"]}`
	failed := `{"code":"invalid-credentials","title":"Wrong code"}`
	before := jobBody(t, "j1", stepSpec{stVerify, "in-progress", first}, stepSpec{stMFA, "pending", ""}, stepSpec{stAccounts, "pending", ""})
	for _, tc := range []struct {
		name  string
		after string
		check func(t *testing.T, err error)
	}{
		{"a new challenge on the next step", jobBody(t, "j1", stepSpec{stVerify, "in-progress", first}, stepSpec{stMFA, "in-progress", second}, stepSpec{stAccounts, "pending", ""}),
			func(t *testing.T, err error) {
				var ch *MFAChallenge
				require.ErrorAs(t, err, &ch)
				assert.Equal(t, "Second code?", ch.Description)
			}},
		{"a failure on the next step", jobBody(t, "j1", stepSpec{stVerify, "in-progress", first}, stepSpec{stMFA, "failed", failed}, stepSpec{stAccounts, "pending", ""}),
			func(t *testing.T, err error) {
				var je *JobError
				require.ErrorAs(t, err, &je)
				assert.Equal(t, "invalid-credentials", je.Code)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/token", scopedTokens(t))
			mt.RegisterResponder(http.MethodPost, mfaURL, jsonResp(http.StatusAccepted, `{"type":"job","id":"j1"}`))
			// The first wait's poll and RespondMFA's read show the first
			// challenge; then the job moves on while still showing it.
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(before, before, tc.after))
			_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
			require.ErrorIs(t, err, ErrMFARequired)
			job, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
			require.NoError(t, err)
			_, err = c.WaitForJob(waitCtx(t), job, fastPoll)
			tc.check(t, err)
		})
	}
}
