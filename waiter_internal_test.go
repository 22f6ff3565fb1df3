package basiq

// WaitForJob's unit tests on a mock transport. They need the package's
// internals (newMockClient), so they live in package basiq; waiter_test.go
// holds the waiter's tests against basiqtest, which imports this package and
// so can only be used from package basiq_test.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWaitForJobReturnsMFAChallenge(t *testing.T) {
	t.Parallel()
	const questions = `{"type":"mfa","method":"security-questions","description":"Answer your security questions",
		"input":["What is your pet's name?",{"question":"City of birth?"},{"label":"Favourite colour?"}],
		"expiryMs":120000,"links":{"response":"https://api.test/jobs/j1/mfa"}}`
	tests := []struct {
		name   string
		result string
		want   MFAChallenge
	}{
		{
			name:   "security questions",
			result: questions,
			want: MFAChallenge{
				JobID: "j1", Step: stMFA, Method: "security-questions", Description: "Answer your security questions",
				Questions:   []string{"What is your pet's name?", "City of birth?", "Favourite colour?"},
				Expiry:      2 * time.Minute,
				ResponseURL: "https://api.test/jobs/j1/mfa",
			},
		},
		{
			name:   "one-time code in an array result",
			result: `[{"type":"mfa","method":"token","description":"Enter the code we sent","input":["One-time code"],"expiryMs":90000.0,"links":{"response":"/jobs/j1/mfa"}}]`,
			want: MFAChallenge{
				JobID: "j1", Step: stMFA, Method: "token", Description: "Enter the code we sent",
				Questions: []string{"One-time code"}, Expiry: 90 * time.Second, ResponseURL: "/jobs/j1/mfa",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			failOnUnexpected(t, mt)
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
				jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stMFA, "pending", ""}, stepSpec{stAccounts, "pending", ""}),
				jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "in-progress", tc.result}, stepSpec{stAccounts, "pending", ""}),
			))

			job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
			require.ErrorIs(t, err, ErrMFARequired)
			assert.NotErrorIs(t, err, ErrJobFailed)
			var ch *MFAChallenge
			require.ErrorAs(t, err, &ch)
			got := *ch
			got.forms = hidden[[]string]{} // the client's secrets, for Error: not the API's fields
			assert.Equal(t, tc.want, got)
			require.NotNil(t, job, "the last job seen comes back beside the challenge")
			assert.Equal(t, StepStatusInProgress, job.Step(stMFA).Status)
			assert.Equal(t, 2, calls(mt, getJobKey))
			assert.Contains(t, ch.Error(), "j1")
			assert.Contains(t, ch.Error(), ch.Description)
		})
	}
}

func TestMFAFlowWaitAnswerWait(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	var tokens, answers reqRecorder
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokens.wrap(scopedTokens(t)))

	challenge := `{"type":"mfa","method":"token","description":"Enter the code","input":["Code"],"expiryMs":60000,"links":{"response":"https://api.test/jobs/j1/mfa"}}`
	waiting := jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "in-progress", challenge},
		stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""})
	afterAnswer := []string{
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""},
			stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""},
			stepSpec{stAccounts, "success", `{"type":"link","url":"/users/u1/accounts"}`}, stepSpec{stTransactions, "success", ""}),
	}
	var (
		answered  atomic.Bool
		pollsSeen atomic.Int32
		getAuth   sync.Map
	)
	mt.RegisterResponder(http.MethodGet, jobURL, func(r *http.Request) (*http.Response, error) {
		getAuth.Store(r.Header.Get("Authorization"), true)
		if !answered.Load() {
			return jsonResp(http.StatusOK, waiting)(r)
		}
		i := min(int(pollsSeen.Add(1))-1, len(afterAnswer)-1)
		return jsonResp(http.StatusOK, afterAnswer[i])(r)
	})
	// The answer's own body is the job as it was: still waiting on the
	// challenge. Waiting again must not stop on that stale step.
	mt.RegisterResponder(http.MethodPost, mfaURL, answers.wrap(func(r *http.Request) (*http.Response, error) {
		answered.Store(true)
		return jsonResp(http.StatusAccepted, waiting)(r)
	}))

	ctx := waitCtx(t)
	start := &Job{ID: "j1", Links: JobLinks{Self: "https://api.test/jobs/j1"}}
	job, err := c.WaitForJob(ctx, start, fastPoll)
	var ch *MFAChallenge
	require.ErrorAs(t, err, &ch)
	assert.Equal(t, "j1", ch.JobID)
	assert.Equal(t, []string{"Code"}, ch.Questions)
	assert.Equal(t, time.Minute, ch.Expiry)
	require.NotNil(t, job)

	job, err = c.Jobs.RespondMFA(ctx, ch.JobID, "1234")
	require.NoError(t, err)
	require.NotNil(t, job)

	job, err = c.WaitForJob(ctx, job, fastPoll)
	require.NoError(t, err)
	require.NotNil(t, job)
	assert.Equal(t, []string{stVerify + "=success", stMFA + "=success", stAccounts + "=success", stTransactions + "=success"}, statuses(job))
	assert.Equal(t, int32(2), pollsSeen.Load(), "two polls after the answer")

	ans := answers.all()
	require.Len(t, ans, 1, "answered once")
	assert.JSONEq(t, `{"mfa-response":["1234"]}`, ans[0].Body)
	assert.Equal(t, "Bearer cli-tok", ans[0].Auth)
	require.Len(t, tokens.all(), 2, "one server and one client token")

	var auths []string
	getAuth.Range(func(k, _ any) bool { auths = append(auths, k.(string)); return true })
	assert.Equal(t, []string{"Bearer srv-tok"}, auths, "every poll uses the server token")
}

func TestWaitAfterAnswerSkipsTheAnsweredChallengeOnly(t *testing.T) {
	t.Parallel()
	first := `{"type":"mfa","method":"token","description":"Enter the code","input":["Code"]}`
	second := `{"type":"mfa","method":"security-questions","description":"Answer the question","input":["Pet's name"]}`
	waitingOn := func(result string) string {
		return jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "in-progress", result}, stepSpec{stAccounts, "pending", ""})
	}
	noChallenge := waitingOn("")
	cases := []struct {
		name  string
		polls []string // after the answer
		want  string   // method of the challenge reported next
		gets  int      // polls after the answer
	}{
		{"the answered one is polled past", []string{waitingOn(first), waitingOn(first), waitingOn(second)}, "security-questions", 3},
		{"the same prompt again after it went away is new", []string{waitingOn(first), noChallenge, waitingOn(first)}, "token", 3},
		{"a new one at once", []string{waitingOn(second)}, "security-questions", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/token", scopedTokens(t))
			var version string
			mt.RegisterResponder(http.MethodPost, mfaURL, func(r *http.Request) (*http.Response, error) {
				version = r.Header.Get("basiq-version")
				return jsonResp(http.StatusAccepted, `{"type":"job","id":"j1"}`)(r)
			})
			// The first wait's poll, then RespondMFA's read, then the polls.
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(append([]string{waitingOn(first), waitingOn(first)}, tc.polls...)...))

			job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
			require.ErrorIs(t, err, ErrMFARequired)
			job, err = c.Jobs.RespondMFA(t.Context(), job.ID, "1234")
			require.NoError(t, err)
			assert.Equal(t, mfaVersion, version, "the MFA endpoint needs 2.1 even when the client is set to 2.0")

			_, err = c.WaitForJob(waitCtx(t), job, fastPoll)
			var ch *MFAChallenge
			require.ErrorAs(t, err, &ch)
			assert.Equal(t, tc.want, ch.Method)
			assert.Equal(t, 2+tc.gets, calls(mt, getJobKey))
		})
	}

	t.Run("remembered across waits", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, testBase+"/token", scopedTokens(t))
		mt.RegisterResponder(http.MethodPost, mfaURL, jsonResp(http.StatusAccepted, `{"type":"job","id":"j1"}`))
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(waitingOn(first), waitingOn(first), waitingOn(first), waitingOn(first), waitingOn(second)))
		_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
		require.ErrorIs(t, err, ErrMFARequired)
		job, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.NoError(t, err)
		// A wait cut short after a poll (its context ends), then a second
		// wait on the job it returned: the answered challenge travels on
		// the job and is still not reported.
		ctx, cancel := context.WithCancel(t.Context())
		job, err = c.WaitForJob(ctx, job, fastPoll, WithProgress(func(*Job) { cancel() }))
		require.ErrorIs(t, err, context.Canceled)
		_, err = c.WaitForJob(waitCtx(t), job, fastPoll)
		var ch *MFAChallenge
		require.ErrorAs(t, err, &ch)
		assert.Equal(t, "security-questions", ch.Method)
	})
}

func TestWaitForJobSuccessAfterSeveralPolls(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
		jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "in-progress", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", `{"type":"link","url":"/users/u1/connections/c1"}`},
			stepSpec{stAccounts, "success", `{"type":"link","url":"/users/u1/accounts"}`}, stepSpec{stTransactions, "success", ""}),
	))

	var progress [][]string
	job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1", Reused: true}, fastPoll,
		WithProgress(func(j *Job) { progress = append(progress, statuses(j)) }))
	require.NoError(t, err)
	require.NotNil(t, job)
	assert.Equal(t, "j1", job.ID)
	assert.Equal(t, []string{stVerify + "=success", stAccounts + "=success", stTransactions + "=success"}, statuses(job))
	assert.Equal(t, "link", job.Step(stAccounts).Result.Type)
	assert.True(t, job.Reused, "Reused carries over from the job passed in")
	assert.Equal(t, 6, calls(mt, getJobKey), "one GET per scripted answer, none after success")
	assert.Equal(t, [][]string{
		{stVerify + "=in-progress", stAccounts + "=pending", stTransactions + "=pending"},
		{stVerify + "=success", stAccounts + "=in-progress", stTransactions + "=pending"},
		{stVerify + "=success", stAccounts + "=success", stTransactions + "=in-progress"},
		{stVerify + "=success", stAccounts + "=success", stTransactions + "=success"},
	}, progress, "progress once per change, not per poll")
}

func TestWaitForJobStepFailure(t *testing.T) {
	t.Parallel()
	const lockedResult = `{"code":"invalid-credentials","title":"Cannot login to target institution using supplied credentials.","detail":"Account is locked"}`

	tests := []struct {
		name   string
		result string
	}{
		{"object with detail", lockedResult},
		{"object with details", `{"code":"invalid-credentials","title":"Cannot login to target institution using supplied credentials.","details":"Account is locked"}`},
		{"array", `[{"type":"link","url":"/x"},` + lockedResult + `]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			failOnUnexpected(t, mt)
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
				jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
				jobBody(t, "j1", stepSpec{stVerify, "failed", tc.result}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
			))

			job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrJobFailed)
			assert.NotErrorIs(t, err, ErrInvalidResponse)
			var jobErr *JobError
			require.ErrorAs(t, err, &jobErr)
			assert.Equal(t, "j1", jobErr.JobID)
			assert.Equal(t, StepVerifyCredentials, jobErr.Step)
			assert.Equal(t, "invalid-credentials", jobErr.Code)
			assert.Equal(t, "Account is locked", jobErr.Detail)
			assert.Contains(t, err.Error(), "invalid-credentials")
			assert.Equal(t, 2, calls(mt, getJobKey), "returns at the poll that shows the failure")
			require.NotNil(t, job, "the last job seen is returned beside the error")
			assert.Equal(t, StepStatusFailed, job.Step(stVerify).Status)
		})
	}

	t.Run("later step", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "skipped", ""}, stepSpec{stAccounts, "failed", `{"code":"service-unavailable","title":"Down"}`}, stepSpec{stTransactions, "pending", ""}),
		))
		_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
		var jobErr *JobError
		require.ErrorAs(t, err, &jobErr)
		assert.Equal(t, StepRetrieveAccounts, jobErr.Step)
		assert.Equal(t, "service-unavailable", jobErr.Code)
		assert.Equal(t, 1, calls(mt, getJobKey))
	})

	t.Run("failed without result", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "failed", ""}, stepSpec{stAccounts, "pending", ""})))
		_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
		var jobErr *JobError
		require.ErrorAs(t, err, &jobErr)
		assert.Equal(t, StepVerifyCredentials, jobErr.Step)
		assert.Empty(t, jobErr.Code)
	})
}

func TestWaitForJobMFAChallengeAndSkipped(t *testing.T) {
	t.Parallel()

	t.Run("mfa-challenge before retrieve-accounts", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "in-progress", `{"type":"mfa","method":"token","description":"Enter the code"}`}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "in-progress", ""}),
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""}),
		))

		// The challenge stops the wait, with the job and what the bank asks.
		job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll, WithUntilStep(StepRetrieveAccounts))
		require.ErrorIs(t, err, ErrMFARequired)
		var ch *MFAChallenge
		require.ErrorAs(t, err, &ch)
		assert.Equal(t, MFAChallenge{JobID: "j1", Step: stMFA, Method: "token", Description: "Enter the code"},
			MFAChallenge{JobID: ch.JobID, Step: ch.Step, Method: ch.Method, Description: ch.Description, Questions: ch.Questions, Expiry: ch.Expiry, ResponseURL: ch.ResponseURL})
		assert.Equal(t, StepStatusInProgress, job.Step(stMFA).Status)
		assert.Equal(t, 1, calls(mt, getJobKey))

		// Waiting again (after the answer) goes on from the job it returned.
		// Until retrieve-accounts: the third step by position, found by title.
		job, err = c.WaitForJob(waitCtx(t), job, fastPoll, WithUntilStep(StepRetrieveAccounts))
		require.NoError(t, err)
		assert.Equal(t, StepStatusSuccess, job.Step(stAccounts).Status)
		assert.Equal(t, StepStatusInProgress, job.Step(stTransactions).Status)
		assert.Equal(t, 3, calls(mt, getJobKey))

		// All steps, mfa included.
		job, err = c.WaitForJob(waitCtx(t), job, fastPoll)
		require.NoError(t, err)
		assert.Equal(t, []string{stVerify + "=success", stMFA + "=success", stAccounts + "=success", stTransactions + "=success"}, statuses(job))
		assert.Equal(t, 4, calls(mt, getJobKey))
	})

	t.Run("skipped counts as done", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stMFA, "pending", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "skipped", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""}),
			// Never reached: a "skipped" step must not keep the waiter polling.
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "failed", `{"code":"should-not-be-seen"}`}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""}),
		))
		job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
		require.NoError(t, err)
		assert.Equal(t, StepStatusSkipped, job.Step(stMFA).Status)
		assert.Equal(t, 2, calls(mt, getJobKey))
	})

	t.Run("until step skipped", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
			jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "skipped", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		))
		job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll, WithUntilStep(StepMFAChallenge))
		require.NoError(t, err)
		assert.Equal(t, StepStatusSkipped, job.Step(stMFA).Status)
		assert.Equal(t, 1, calls(mt, getJobKey))
	})
}

func TestWaitForJobUntilStep(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
		jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "in-progress", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""}),
	))

	job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll, WithUntilStep(StepRetrieveAccounts))
	require.NoError(t, err)
	assert.Equal(t, []string{stVerify + "=success", stAccounts + "=success", stTransactions + "=in-progress"}, statuses(job))
	assert.Equal(t, 3, calls(mt, getJobKey), "returns at the poll where retrieve-accounts succeeded")
}

func TestWaitForJobCancellation(t *testing.T) {
	t.Parallel()
	slowPoll := WithPollInterval(10*time.Second, 10*time.Second)

	t.Run("cancel while sleeping", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
		ctx, cancel := context.WithCancel(waitCtx(t))
		time.AfterFunc(20*time.Millisecond, cancel)

		start := time.Now()
		job, err := c.WaitForJob(ctx, &Job{ID: "j1"}, slowPoll)
		elapsed := time.Since(start)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, elapsed, time.Second, "must not sleep out the poll interval")
		assert.GreaterOrEqual(t, elapsed, 15*time.Millisecond, "returned before the cancel")
		require.NotNil(t, job)
		assert.Equal(t, "j1", job.ID)
		assert.Equal(t, 0, calls(mt, getJobKey))
	})

	t.Run("cancel while sleeping after a poll", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
		ctx, cancel := context.WithCancel(waitCtx(t))
		var once sync.Once
		start := time.Now()
		// The cancel comes 20 ms after the first poll, while the waiter sleeps
		// between polls that see no change.
		job, err := c.WaitForJob(ctx, &Job{ID: "j1"}, WithPollInterval(5*time.Millisecond, 10*time.Second),
			WithProgress(func(*Job) { once.Do(func() { time.AfterFunc(20*time.Millisecond, cancel) }) }))
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), time.Second)
		assert.GreaterOrEqual(t, calls(mt, getJobKey), 1)
		require.NotNil(t, job)
		assert.Equal(t, []string{stVerify + "=in-progress"}, statuses(job), "the last job seen comes back")
	})

	t.Run("cancel during a request", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		ctx, cancel := context.WithCancel(waitCtx(t))
		mt.RegisterResponder(http.MethodGet, jobURL, func(req *http.Request) (*http.Response, error) {
			time.AfterFunc(20*time.Millisecond, cancel)
			<-release // a server that never answers
			return nil, errors.New("released")
		})
		start := time.Now()
		_, err := c.WaitForJob(ctx, &Job{ID: "j1"}, fastPoll)
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), time.Second)
		assert.Equal(t, 1, calls(mt, getJobKey), "a cancelled request is not retried")
	})

	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.WaitForJob(ctx, &Job{ID: "j1"}, slowPoll)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), time.Second)
	})

	t.Run("deadline while polling a job that never finishes", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		job, err := c.WaitForJob(ctx, &Job{ID: "j1"}, fastPoll)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Greater(t, calls(mt, getJobKey), 1, "polled more than once before the deadline")
		require.NotNil(t, job)
		assert.Equal(t, StepStatusInProgress, job.Step(stVerify).Status)
	})
}

func TestWaitForJobFollowsLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		base    string // "" for testBase
		self    string
		wantURL string
		foreign string // a URL that must never be requested
		noJobID bool
	}{
		{name: "absolute on base", self: "https://api.test/jobs/1", wantURL: "https://api.test/jobs/1"},
		{name: "relative", self: "/jobs/1", wantURL: "https://api.test/jobs/1"},
		{name: "relative without id", self: "/jobs/1", wantURL: "https://api.test/jobs/1", noJobID: true},
		{name: "other host", self: "https://evil.test/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "https://evil.test/jobs/1"},
		{name: "same host, other port", self: "https://api.test:8443/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "https://api.test:8443/jobs/1"},
		{name: "same host, http", self: "http://api.test/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "http://api.test/jobs/1"},
		{name: "scheme-relative other host", self: "//evil.test/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "https://evil.test/jobs/1"},
		{name: "userinfo trick", self: "https://api.test@evil.test/jobs/1", wantURL: "https://api.test/jobs/1", foreign: "https://api.test@evil.test/jobs/1"},
		{name: "prefix, relative", base: "https://api.test/prefix", self: "/jobs/1", wantURL: "https://api.test/prefix/jobs/1"},
		{name: "prefix, relative with prefix", base: "https://api.test/prefix", self: "/prefix/jobs/1", wantURL: "https://api.test/prefix/jobs/1"},
		{name: "prefix, other host", base: "https://api.test/prefix", self: "https://evil.test/prefix/jobs/1",
			wantURL: "https://api.test/prefix/jobs/1", foreign: "https://evil.test/prefix/jobs/1"},
		{name: "prefix, no link", base: "https://api.test/prefix/", self: "", wantURL: "https://api.test/prefix/jobs/1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if tc.base != "" {
				opts = append(opts, WithBaseURL(tc.base))
			}
			c, mt := newMockClient(t, opts...)
			mt.RegisterResponder(http.MethodPost, "https://api.test/prefix/token", tokenResponder("tok-1", 3600))

			var (
				mu        sync.Mutex
				leaked    []string // requests carrying a bearer token off the base origin
				requested []string
			)
			record := func(req *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				requested = append(requested, req.Method+" "+req.URL.String())
				if req.URL.Hostname() != "api.test" || req.URL.Scheme != "https" || req.URL.Port() != "" {
					leaked = append(leaked, req.URL.String()+" Authorization="+req.Header.Get("Authorization"))
				}
			}
			done := jobBody(t, "1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""})
			mt.RegisterResponder(http.MethodGet, tc.wantURL, func(req *http.Request) (*http.Response, error) {
				record(req)
				return jsonResp(http.StatusOK, done)(req)
			})
			if tc.foreign != "" {
				mt.RegisterResponder(http.MethodGet, tc.foreign, func(req *http.Request) (*http.Response, error) {
					record(req)
					return jsonResp(http.StatusOK, done)(req)
				})
			}
			mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
				record(req)
				return nil, errors.New("unexpected request")
			})

			in := &Job{ID: "1", Links: JobLinks{Self: tc.self}}
			if tc.noJobID {
				in.ID = ""
			}
			job, err := c.WaitForJob(waitCtx(t), in, fastPoll)
			require.NoError(t, err)
			assert.Equal(t, "1", job.ID)
			assert.Equal(t, 1, calls(mt, "GET "+tc.wantURL), "calls: %v", mt.GetCallCountInfo())
			if tc.foreign != "" {
				assert.Equal(t, 0, calls(mt, "GET "+tc.foreign))
			}
			mu.Lock()
			defer mu.Unlock()
			assert.Empty(t, leaked, "no request left the base origin")
			assert.Equal(t, []string{"GET " + tc.wantURL}, requested)
		})
	}
}

func TestWaitForJobInvalidResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{"unknown step status", `{"id":"j1","steps":[{"title":"verify-credentials","status":"success"},{"title":"retrieve-accounts","status":"paused"}]}`},
		{"unknown status on first step", `{"id":"j1","steps":[{"title":"verify-credentials","status":"queued"},{"title":"retrieve-accounts","status":"pending"}]}`},
		{"empty step status", `{"id":"j1","steps":[{"title":"verify-credentials","status":""}]}`},
		{"no steps", `{"id":"j1","steps":[]}`},
		{"null steps", `{"id":"j1","steps":null}`},
		{"steps missing", `{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1"}}`},
		{"not JSON", `<html>oops</html>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, tc.body))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()

			_, err := c.WaitForJob(ctx, &Job{ID: "j1"}, fastPoll)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidResponse)
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "an error, not an endless wait")
			assert.NotErrorIs(t, err, ErrJobFailed)
			assert.Equal(t, 1, calls(mt, getJobKey))
		})
	}

	t.Run("unknown status on the job passed in", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1", Steps: []Step{{Title: stVerify, Status: "paused"}}}, fastPoll)
		require.ErrorIs(t, err, ErrInvalidResponse)
		assert.Equal(t, 0, mt.GetTotalCallCount())
	})
}

func TestWaitForJobInvalidInputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		job       *Job
		opts      []WaitOption
		wantField string
	}{
		{"nil job", nil, []WaitOption{fastPoll}, "job"},
		{"no id, no link", &Job{}, []WaitOption{fastPoll}, "job.id"},
		{"blank id, no link", &Job{ID: "  "}, []WaitOption{fastPoll}, "job.id"},
		{"dot-dot id, no link", &Job{ID: ".."}, []WaitOption{fastPoll}, "job.id"},
		{"no id, foreign link", &Job{Links: JobLinks{Self: "https://evil.test/jobs/1"}}, []WaitOption{fastPoll}, "job.id"},
		{"zero min interval", &Job{ID: "j1"}, []WaitOption{WithPollInterval(0, 5*time.Millisecond)}, "pollInterval"},
		{"negative min interval", &Job{ID: "j1"}, []WaitOption{WithPollInterval(-time.Millisecond, 5*time.Millisecond)}, "pollInterval"},
		{"max below min", &Job{ID: "j1"}, []WaitOption{WithPollInterval(10*time.Millisecond, 5*time.Millisecond)}, "pollInterval"},
		{"bad interval then good", &Job{ID: "j1"}, []WaitOption{WithPollInterval(0, 0), fastPoll}, "pollInterval"},
		{"bad interval and nil job", nil, []WaitOption{WithPollInterval(0, 5*time.Millisecond)}, "pollInterval"},
		{"nil progress", &Job{ID: "j1"}, []WaitOption{WithProgress(nil)}, "progress"},
		{"blank until-step", &Job{ID: "j1"}, []WaitOption{WithUntilStep(" ")}, "untilStep"},
		{"negative expected duration", &Job{ID: "j1"}, []WaitOption{WithExpectedDurations(StepDurations{VerifyCredentials: -1})}, "expectedDurations"},
		{"NaN expected duration", &Job{ID: "j1"}, []WaitOption{WithExpectedDurations(StepDurations{RetrieveAccounts: math.NaN()})}, "expectedDurations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(jobBody(t, "j1", stepSpec{stVerify, "success", ""})))

			_, err := c.WaitForJob(waitCtx(t), tc.job, tc.opts...)
			require.ErrorIs(t, err, ErrValidation)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.wantField, ve.Field)
			assert.Equal(t, 0, mt.GetTotalCallCount(), "no I/O: %v", mt.GetCallCountInfo())
		})
	}
}

func TestWaitForJobAlreadyFinished(t *testing.T) {
	t.Parallel()

	t.Run("complete", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		in := &Job{ID: "j1", Steps: []Step{{Title: stVerify, Status: StepStatusSuccess}, {Title: stMFA, Status: StepStatusSkipped}, {Title: stAccounts, Status: StepStatusSuccess}}}
		called := false
		start := time.Now()
		job, err := c.WaitForJob(waitCtx(t), in, WithPollInterval(10*time.Second, 10*time.Second),
			WithProgress(func(*Job) { called = true }))
		require.NoError(t, err)
		assert.Same(t, in, job)
		assert.Less(t, time.Since(start), time.Second, "no sleep before judging the job passed in")
		assert.Equal(t, 0, mt.GetTotalCallCount())
		assert.False(t, called)
	})

	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		in := &Job{ID: "j1", Steps: []Step{{Title: stVerify, Status: StepStatusFailed, Result: &StepResult{Code: "invalid-credentials", Detail: "Account is locked"}}}}
		job, err := c.WaitForJob(waitCtx(t), in, WithPollInterval(10*time.Second, 10*time.Second))
		var jobErr *JobError
		require.ErrorAs(t, err, &jobErr)
		assert.Equal(t, "invalid-credentials", jobErr.Code)
		assert.Same(t, in, job)
		assert.Equal(t, 0, mt.GetTotalCallCount())
	})

	t.Run("until step already done", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		in := &Job{ID: "j1", Steps: []Step{{Title: stVerify, Status: StepStatusSuccess}, {Title: stAccounts, Status: StepStatusSuccess}, {Title: stTransactions, Status: StepStatusInProgress}}}
		job, err := c.WaitForJob(waitCtx(t), in, fastPoll, WithUntilStep(StepRetrieveAccounts))
		require.NoError(t, err)
		assert.Same(t, in, job)
		assert.Equal(t, 0, mt.GetTotalCallCount())
	})
}

// TestWaitErrorsCarryNoControlCharactersFromIDs checks that a job id or step
// from the server reaches WaitForJob's error strings cleaned and bounded.
func TestWaitErrorsCarryNoControlCharactersFromIDs(t *testing.T) {
	t.Parallel()
	hostileID := "j1\r\nforged \x1b[31mred" + strings.Repeat("x", 1<<20)
	for _, body := range []string{
		`{"id":` + strconv.Quote(hostileID) + `,"steps":[]}`,
		`{"id":` + strconv.Quote(hostileID) + `,"steps":[{"title":"a\r\nb","status":"\u001b[2Jodd"}]}`,
	} {
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, body))
		_, err := c.WaitForJob(context.Background(), &Job{ID: "j1", Links: JobLinks{Self: jobURL}}, fastPoll)
		require.ErrorIs(t, err, ErrInvalidResponse)
		assert.False(t, strings.ContainsAny(err.Error(), "\r\n\x1b"), "%.200q", err.Error())
		assert.Less(t, len(err.Error()), 1000)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, jobURL, func(r *http.Request) (*http.Response, error) {
		cancel()
		return jsonResp(http.StatusOK, `{"id":"j1","steps":[{"title":"verify-credentials","status":"in-progress"}]}`)(r)
	})
	_, err := c.WaitForJob(ctx, &Job{ID: hostileID, Links: JobLinks{Self: jobURL}}, fastPoll)
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, strings.ContainsAny(err.Error(), "\r\n\x1b"))
	assert.Less(t, len(err.Error()), 1000)
}

func TestJobLinkOutsideBasePathFallsBackToJobsID(t *testing.T) {
	t.Parallel()
	for _, link := range linksOutsidePrefix {
		t.Run(link, func(t *testing.T) {
			t.Parallel()
			c, mt, unexpected := newPrefixClient(t)
			mt.RegisterResponder(http.MethodGet, prefixBase+"/jobs/1", jsonResp(http.StatusOK,
				`{"type":"job","id":"1","steps":[{"title":"verify-credentials","status":"success"}]}`))

			job, err := c.WaitForJob(t.Context(), &Job{ID: "1", Links: JobLinks{Self: link}},
				WithPollInterval(time.Millisecond, time.Millisecond))
			require.NoError(t, err)
			assert.Equal(t, "1", job.ID)
			assert.Equal(t, 1, calls(mt, "GET "+prefixBase+"/jobs/1"), "the job is read from /jobs/{id} under the base URL")
			assert.Empty(t, unexpected(), "no request outside the base URL")
		})
	}
}

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

// TestWaitNotHeldUpByTheInstitutionLookup checks that the read WaitForJob
// makes to find a job's institution (its connection, then the institution)
// never holds up the polls: whether that read hangs, fails or asks to come
// back in a minute, the job's end is still seen within about a second.
func TestWaitNotHeldUpByTheInstitutionLookup(t *testing.T) {
	hang := func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	later := func(r *http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(http.StatusServiceUnavailable, `{}`)
		resp.Header.Set("Retry-After", "60")
		return resp, nil
	}
	for _, tc := range []struct {
		name             string
		connection, inst httpmock.Responder
	}{
		{"connection read hangs", hang, nil},
		{"connection read asks for a minute", later, nil},
		{"connection read fails", jsonResp(http.StatusInternalServerError, `{}`), nil},
		{"institution read hangs", jsonResp(http.StatusOK, `{"id":"c1","institution":{"id":"AU00000"}}`), hang},
		{"institution read asks for a minute", jsonResp(http.StatusOK, `{"id":"c1","institution":{"id":"AU00000"}}`), later},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, mt := newMockClient(t)
				start := time.Now()
				end := start.Add(5 * time.Second)
				mt.RegisterResponder(http.MethodGet, jobURL, func(r *http.Request) (*http.Response, error) {
					status := "in-progress"
					if !time.Now().Before(end) {
						status = "success"
					}
					verify := "success"
					if time.Since(start) < time.Second {
						verify = "in-progress"
					}
					body := fmt.Sprintf(`{"id":"j1","steps":[{"title":"verify-credentials","status":%q},{"title":"retrieve-accounts","status":%q}],
						"links":{"self":%q,"source":"https://api.test/users/u1/connections/c1"}}`, verify, status, jobURL)
					return jsonResp(http.StatusOK, body)(r)
				})
				mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/connections/c1", tc.connection)
				if tc.inst != nil {
					mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", tc.inst)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				job, err := c.WaitForJob(ctx, &Job{ID: "j1"})
				require.NoError(t, err)
				assert.Equal(t, StepStatusSuccess, job.Step(StepRetrieveAccounts).Status)
				assert.Less(t, time.Since(end), 1500*time.Millisecond, "the end was seen promptly")
			})
		})
	}
}

// TestStalledJobIsPolledLessOverTime checks that a job that never ends is
// not polled more than once a second forever: past 90 s the default
// schedule backs off, while the first minute keeps its usual pace.
func TestStalledJobIsPolledLessOverTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t)
		start := time.Now()
		var perMinute [60]int
		mt.RegisterResponder(http.MethodGet, jobURL, func(r *http.Request) (*http.Response, error) {
			if m := int(time.Since(start) / time.Minute); m < len(perMinute) {
				perMinute[m]++
			}
			return jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "in-progress", ""}))(r)
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		_, err := c.WaitForJob(ctx, &Job{ID: "j1", Links: JobLinks{Self: jobURL}})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Greater(t, perMinute[0], 30, "the first minute is polled as usual")
		assert.LessOrEqual(t, perMinute[10], 10, "ten minutes in, a few polls a minute")
		assert.LessOrEqual(t, perMinute[59], 7, "an hour in, every 10 s at most")
	})
}

// TestUntilStepTheJobDoesNotHaveIsRefused checks that WithUntilStep naming a
// step the job does not have ends the wait as soon as the job is read, with
// an error matching ErrValidation, instead of waiting for every step.
func TestUntilStepTheJobDoesNotHaveIsRefused(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
		jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stAccounts, "pending", ""})))
	job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1", Links: JobLinks{Self: jobURL}}, fastPoll, WithUntilStep("retrieve-acounts"))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "untilStep", ve.Field)
	require.NotNil(t, job)
	assert.Equal(t, 1, calls(mt, getJobKey), "refused at the first read")
}

// TestUntilStepTheJobDoesNotHaveIsRefusedOnAFinishedJob checks that the
// check holds whenever the job's steps are known, before its outcome: on a
// job already done at its first read, and on a job passed in with its
// steps (refused without a request).
func TestUntilStepTheJobDoesNotHaveIsRefusedOnAFinishedJob(t *testing.T) {
	t.Parallel()
	done := jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stAccounts, "success", ""}, stepSpec{stTransactions, "success", ""})
	t.Run("done at the first read", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, done))
		job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll, WithUntilStep("retrieve-acounts"))
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "untilStep", ve.Field)
		require.NotNil(t, job)
		assert.Equal(t, 1, calls(mt, getJobKey), "refused at the first read")
	})
	t.Run("passed in with its steps", func(t *testing.T) {
		t.Parallel()
		var job Job
		require.NoError(t, json.Unmarshal([]byte(done), &job))
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			return nil, errors.New("unexpected request")
		})
		_, err := c.WaitForJob(waitCtx(t), &job, fastPoll, WithUntilStep("retrieve-acounts"))
		require.ErrorIs(t, err, ErrValidation)
	})
}
