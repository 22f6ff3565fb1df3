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

// The SDK's flows against basiqtest are the root package's integration tests
// (integration_test.go); these keep what they do not check of basiqtest's
// answers: its links, step results, institutions and error pages, and the
// server in a synctest bubble.

func TestSDKReadsTheServersJobsAndInstitutions(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(0))
	t.Cleanup(srv.Close)
	client := srv.Client()
	ctx := waitCtx(t)
	userID := srv.AddUser("gavin@hooli.example")

	job, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson))
	require.NoError(t, err)
	assert.NotEmpty(t, job.ID)
	assert.Equal(t, srv.URL+"/jobs/"+job.ID, job.Links.Self)

	done, err := client.WaitForJob(ctx, job, fastPoll)
	require.NoError(t, err)
	require.Len(t, done.Steps, 3)
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
}

func TestSDKReadsTheServersErrors(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer()
	t.Cleanup(srv.Close)
	client := srv.Client(basiq.WithRetryWait(time.Millisecond, 5*time.Millisecond))
	ctx := waitCtx(t)

	// An unknown user is the API's 404, with its code and correlation id.
	_, err := client.Connections.Create(ctx, "nobody", hooli(basiqtest.LoginJared, basiqtest.PasswordJared))
	var apiErr *basiq.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.ErrorIs(t, err, basiq.ErrNotFound)
	assert.Equal(t, "resource-not-found", apiErr.Code())
	assert.NotEmpty(t, apiErr.CorrelationID)

	// An HTML error page still becomes an *APIError with the status.
	job, err := client.Connections.Create(ctx, srv.AddUser("a@b.example"), hooli(basiqtest.LoginJared, basiqtest.PasswordJared))
	require.NoError(t, err)
	srv.InjectFault(basiqtest.Fault{Path: "/jobs/" + job.ID, Status: 502, HTML: true, Times: 10})
	_, err = client.Jobs.Get(ctx, job.ID)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 502, apiErr.StatusCode)
	assert.Contains(t, apiErr.Body, "Bad Gateway")
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
		assert.Equal(t, basiq.StepStatusSuccess, job.Step(basiq.StepRetrieveTransactions).Status)
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
