package basiqtest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

var fastPoll = basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hooli(login, password string) basiq.ConnectionParams {
	return basiq.ConnectionParams{LoginID: login, Password: password, Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli}}
}

func TestSDKConnectsAndWaits(t *testing.T) {
	t.Parallel()
	// verify-credentials is slow enough for the second Create to find the
	// job running, even on a loaded machine.
	srv := basiqtest.NewServer(basiqtest.WithStepDurations(func(_, step string) time.Duration {
		if step == basiq.StepVerifyCredentials {
			return 500 * time.Millisecond
		}
		return 0
	}))
	t.Cleanup(srv.Close)
	client := srv.Client()
	ctx := waitCtx(t)
	userID := srv.AddUser("gavin@hooli.example")

	job, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson))
	require.NoError(t, err)
	assert.NotEmpty(t, job.ID)
	assert.False(t, job.Reused)
	assert.Equal(t, srv.URL+"/jobs/"+job.ID, job.Links.Self)

	// Creating it again while the job runs gives the same job, reused.
	again, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson))
	require.NoError(t, err)
	assert.Equal(t, job.ID, again.ID)
	assert.True(t, again.Reused)

	var changes int
	done, err := client.WaitForJob(ctx, job, fastPoll, basiq.WithProgress(func(*basiq.Job) { changes++ }))
	require.NoError(t, err)
	assert.Positive(t, changes)
	require.Len(t, done.Steps, 3)
	for _, st := range done.Steps {
		assert.Equal(t, basiq.StepSuccess, st.Status, st.Title)
	}
	assert.NotEmpty(t, done.ConnectionID())
	assert.False(t, done.Created.IsZero())
	assert.Equal(t, "link", done.Step(basiq.StepVerifyCredentials).Result.Type)

	got, err := client.Jobs.Get(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, done.Steps, got.Steps)

	inst, err := client.Institutions.Get(ctx, basiqtest.InstHooli)
	require.NoError(t, err)
	assert.Equal(t, basiq.AuthUser, inst.Authorization)
	assert.Equal(t, "Hooli Bank", inst.Name)

	// One token served every call.
	assert.Equal(t, 1, srv.TokenRequests())
}

func TestSDKJobFailure(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer()
	t.Cleanup(srv.Close)
	client := srv.Client()
	ctx := waitCtx(t)
	userID := srv.AddUser("bighead@hooli.example")

	job, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginBighead, basiqtest.PasswordBighead))
	require.NoError(t, err)
	_, err = client.WaitForJob(ctx, job, fastPoll)
	var jobErr *basiq.JobError
	require.ErrorAs(t, err, &jobErr)
	assert.ErrorIs(t, err, basiq.ErrJobFailed)
	assert.Equal(t, "invalid-credentials", jobErr.Code)
	assert.Equal(t, basiq.StepVerifyCredentials, jobErr.Step)
	assert.Equal(t, "Account is locked", jobErr.Detail)
	assert.Equal(t, job.ID, jobErr.JobID)
}

func TestSDKServerSideValidation(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer()
	t.Cleanup(srv.Close)
	client := srv.Client()
	ctx := waitCtx(t)

	// Refused by the SDK before anything is posted.
	_, err := client.Connections.Create(ctx, srv.AddUser("a@b.example"), basiq.ConnectionParams{
		UserToken: basiqtest.SandboxUserToken, Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
	})
	require.ErrorIs(t, err, basiq.ErrValidation)
	// An unknown user is the API's 404.
	_, err = client.Connections.Create(ctx, "nobody", hooli(basiqtest.LoginJared, basiqtest.PasswordJared))
	var apiErr *basiq.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.ErrorIs(t, err, basiq.ErrNotFound)
	assert.Equal(t, "resource-not-found", apiErr.Code())
	assert.NotEmpty(t, apiErr.CorrelationID)
}

func TestSDKRenewsExpiredTokenAndRetriesFaults(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(0))
	t.Cleanup(srv.Close)
	client := srv.Client(basiq.WithRetryWait(time.Millisecond, 5*time.Millisecond))
	ctx := waitCtx(t)
	userID := srv.AddUser("a@b.example")
	job, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginJared, basiqtest.PasswordJared))
	require.NoError(t, err)
	require.Equal(t, 1, srv.TokenRequests())

	// An expired token: the SDK fetches a new one and tries once more.
	srv.ExpireTokens()
	_, err = client.Jobs.Get(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.TokenRequests())

	// A 503 with Retry-After, then success: the SDK retries a read.
	srv.InjectFault(basiqtest.Fault{Method: "GET", Path: "/jobs/*", Status: 503, RetryAfter: "0"})
	_, err = client.Jobs.Get(ctx, job.ID)
	require.NoError(t, err)
	// An HTML error page still becomes an *APIError with the status.
	srv.InjectFault(basiqtest.Fault{Path: "/jobs/" + job.ID, Status: 502, HTML: true, Times: 10})
	_, err = client.Jobs.Get(ctx, job.ID)
	var apiErr *basiq.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 502, apiErr.StatusCode)
	assert.Contains(t, apiErr.Body, "Bad Gateway")
	srv.ClearFaults()

	// Nothing secret in what the server saw.
	for _, r := range srv.Requests() {
		assert.NotContains(t, r.Body, basiqtest.PasswordJared)
		assert.NotContains(t, r.Header.Get("Authorization"), srv.APIKey)
	}
}

func TestSDKInSyncTestBubble(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Realistic step durations and the default poll interval (1 s to
		// 5 s): the bubble's clock makes it instant.
		srv := basiqtest.NewUnstartedServer(basiqtest.WithStepDuration(4 * time.Second))
		defer srv.Close()
		client := srv.Client()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		job, err := client.Connections.Create(ctx, srv.AddUser("a@b.example"), hooli(basiqtest.LoginRichard, basiqtest.PasswordRichard))
		require.NoError(t, err)
		// Links are on the client's origin, so the SDK follows them.
		assert.Equal(t, "https://basiq.test/jobs/"+job.ID, job.Links.Self)
		job, err = client.WaitForJob(ctx, job)
		require.NoError(t, err)
		assert.Equal(t, basiq.StepSuccess, job.Step(basiq.StepRetrieveTransactions).Status)
		assert.Equal(t, "https://basiq.test/users/", job.Links.Source[:len("https://basiq.test/users/")])
		elapsed := time.Since(start)
		assert.GreaterOrEqual(t, elapsed, 12*time.Second)
		assert.Less(t, elapsed, 30*time.Second)

		// A job that fails, in fake time too.
		job, err = client.Connections.Create(ctx, srv.AddUser("b@b.example"), hooli(basiqtest.LoginErlich, basiqtest.PasswordErlich))
		require.NoError(t, err)
		_, err = client.WaitForJob(ctx, job)
		var jobErr *basiq.JobError
		require.True(t, errors.As(err, &jobErr), "err: %v", err)
		assert.Equal(t, "account-not-accessible-requires-user-action", jobErr.Code)
	})
}
