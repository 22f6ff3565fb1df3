package basiq_test

// The three ways to test code that uses this library, as README.md and
// doc.go ("Testing code that uses this library") describe them.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connectHooli stands for application code under test: it connects a user's
// bank and waits for the data.
func connectHooli(ctx context.Context, client *basiq.Client, userID string, opts ...basiq.WaitOption) (*basiq.Job, error) {
	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
		LoginID:     basiqtest.LoginGavinBelson,
		Password:    basiqtest.PasswordGavinBelson,
		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
	})
	if err != nil {
		return nil, err
	}
	return client.WaitForJob(ctx, job, opts...)
}

// The first way: basiqtest.NewServer plays the Basiq API on a loopback
// address, and Server.Client returns a client for it. Short steps and a
// short poll interval keep the test fast.
func Example_testingWithBasiqtestServer() {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(10 * time.Millisecond))
	defer srv.Close()
	client := srv.Client()

	userID := srv.AddUser("gavin@hooli.example")
	job, err := connectHooli(context.Background(), client, userID, basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.Steps[len(job.Steps)-1].Title, job.Steps[len(job.Steps)-1].Status)
	// Output: retrieve-transactions success
}

// The second way: an unstarted basiqtest server, reached through its
// in-process transport (Server.Client does that for a server that is not
// listening), inside a testing/synctest bubble. The jobs take the seconds
// the live API's take and the client waits with its default schedule, but
// the bubble's clock jumps over every sleep: the whole flow takes no real
// time.
func TestConnectAndWaitInSynctestBubbleTakesNoRealTime(t *testing.T) {
	realStart := time.Now()
	var fakeElapsed time.Duration
	synctest.Test(t, func(t *testing.T) {
		srv := basiqtest.NewUnstartedServer(basiqtest.WithStepDuration(4 * time.Second))
		defer srv.Close()
		client := srv.Client()
		userID := srv.AddUser("gavin@hooli.example")

		start := time.Now()
		job, err := connectHooli(t.Context(), client, userID)
		require.NoError(t, err)
		fakeElapsed = time.Since(start)
		for _, st := range job.Steps {
			assert.Equal(t, basiq.StepStatusSuccess, st.Status, st.Title)
		}
	})
	// Three steps of 4 s each passed on the bubble's clock...
	assert.GreaterOrEqual(t, fakeElapsed, 12*time.Second)
	// ...in a fraction of that on the wall clock.
	assert.Less(t, time.Since(realStart), fakeElapsed/2)
}

// The third way: jarcoal/httpmock on a per-test transport, given the
// bodies basiqtest.Fixtures renders (the shapes basiqtest itself serves),
// so no test guesses Basiq's JSON. WithWaitDefaults makes every wait of
// the client short, without passing options through the code under test.
func Example_testingWithHTTPMock() {
	const base = "https://api.test"
	mt := httpmock.NewMockTransport() // not httpmock.Activate: tests stay parallel
	f := basiqtest.Fixtures{BaseURL: base, UserID: "u1", ConnectionID: "c1", JobID: "j1"}
	mt.RegisterResponder(http.MethodPost, base+"/token", httpmock.NewStringResponder(http.StatusOK, f.Token()))
	mt.RegisterResponder(http.MethodGet, base+"/institutions/"+basiqtest.InstHooli, httpmock.NewStringResponder(http.StatusOK, f.Institution()))
	mt.RegisterResponder(http.MethodPost, base+"/users/u1/connections", httpmock.NewStringResponder(http.StatusAccepted, f.JobCreated()))
	// The job runs on the first poll, then has failed to log in.
	mt.RegisterResponder(http.MethodGet, base+"/jobs/j1",
		httpmock.NewStringResponder(http.StatusOK, f.JobInProgress()).
			Then(httpmock.NewStringResponder(http.StatusOK, f.JobFailed("", ""))))

	client, err := basiq.NewClient(basiq.WithBaseURL(base), basiq.WithAPIKey("test-key"),
		basiq.WithHTTPClient(&http.Client{Transport: mt}),
		basiq.WithWaitDefaults(basiq.WithPollInterval(time.Millisecond, time.Millisecond)))
	if err != nil {
		log.Fatal(err)
	}
	_, err = connectHooli(context.Background(), client, "u1")
	var jobErr *basiq.JobError
	if errors.As(err, &jobErr) {
		fmt.Println(jobErr.Step, jobErr.Code, jobErr.Detail)
	}
	fmt.Println(mt.GetCallCountInfo()["GET "+base+"/jobs/j1"], "polls")
	// Output:
	// verify-credentials invalid-credentials Account is locked
	// 2 polls
}

// Fixtures also has the MFA step: WaitForJob reports it as an
// *MFAChallenge with the bank's questions.
func Example_testingMFAWithHTTPMock() {
	const base = "https://api.test"
	mt := httpmock.NewMockTransport()
	f := basiqtest.Fixtures{BaseURL: base, JobID: "j1"}
	mt.RegisterResponder(http.MethodPost, base+"/token", httpmock.NewStringResponder(http.StatusOK, f.Token()))
	mt.RegisterResponder(http.MethodGet, base+"/jobs/j1", httpmock.NewStringResponder(http.StatusOK, f.JobMFA()))
	client, err := basiq.NewClient(basiq.WithBaseURL(base), basiq.WithAPIKey("test-key"),
		basiq.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.WaitForJob(context.Background(), &basiq.Job{ID: "j1"}, basiq.WithPollInterval(time.Millisecond, time.Millisecond))
	var challenge *basiq.MFAChallenge
	if errors.As(err, &challenge) {
		fmt.Println(challenge.Description, challenge.Questions)
	}
	// Output: Enter the code sent to your phone [One-time code]
}
