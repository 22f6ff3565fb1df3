package basiq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of Client.WaitForJobs (waiter.go).

const (
	jobRunning = `{"id":%q,"jobType":"connection","steps":[{"title":"verify-credentials","status":"success"},{"title":"retrieve-accounts","status":"in-progress"}]}`
	jobDone    = `{"id":%q,"jobType":"connection","steps":[{"title":"verify-credentials","status":"success"},{"title":"retrieve-accounts","status":"success"}]}`
	jobFailed  = `{"id":%q,"jobType":"connection","steps":[{"title":"verify-credentials","status":"failed","result":{"code":"invalid-credentials","title":"Account is locked"}}]}`
)

// scriptJob answers GET /jobs/{id} with each body in turn, the last one
// from then on.
func scriptJob(mt *httpmock.MockTransport, id string, bodies ...string) {
	var mu sync.Mutex
	n := 0
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/"+id, func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		b := bodies[min(n, len(bodies)-1)]
		n++
		mu.Unlock()
		return jsonResp(200, fmt.Sprintf(b, id))(r)
	})
}

func fastPolls() WaitOption { return WithPollInterval(time.Millisecond, 2*time.Millisecond) }

func TestWaitForJobsReturnsEveryFinalJobInOrder(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	scriptJob(mt, "j1", jobRunning, jobRunning, jobDone)
	scriptJob(mt, "j2", jobDone)
	scriptJob(mt, "j3", jobRunning, jobDone)
	jobs, err := c.WaitForJobs(context.Background(), []string{"j3", "j1", "j2"}, fastPolls())
	require.NoError(t, err)
	require.Len(t, jobs, 3)
	for i, id := range []string{"j3", "j1", "j2"} {
		require.NotNil(t, jobs[i])
		assert.Equal(t, id, jobs[i].ID)
		assert.Equal(t, StepStatusSuccess, jobs[i].Step(StepRetrieveAccounts).Status)
		assert.Equal(t, "connection", jobs[i].JobType)
	}
	assert.Equal(t, 3, calls(mt, "GET "+testBase+"/jobs/j1"))
}

func TestWaitForJobsReportsTheFailureAndStillReturnsTheOthers(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	scriptJob(mt, "ok1", jobRunning, jobRunning, jobRunning, jobDone)
	scriptJob(mt, "bad", jobFailed)
	scriptJob(mt, "ok2", jobRunning, jobDone)
	jobs, err := c.WaitForJobs(context.Background(), []string{"ok1", "bad", "ok2"}, fastPolls())
	var jobErr *JobError
	require.ErrorAs(t, err, &jobErr)
	assert.Equal(t, "bad", jobErr.JobID)
	assert.Equal(t, "invalid-credentials", jobErr.Code)
	require.Len(t, jobs, 3)
	require.NotNil(t, jobs[0])
	require.NotNil(t, jobs[1])
	require.NotNil(t, jobs[2])
	assert.Equal(t, StepStatusSuccess, jobs[0].Step(StepRetrieveAccounts).Status, "the others' waits go on to their end")
	assert.Equal(t, StepStatusFailed, jobs[1].Step(StepVerifyCredentials).Status)
	assert.Equal(t, StepStatusSuccess, jobs[2].Step(StepRetrieveAccounts).Status)
}

func TestWaitForJobsWaitsForARepeatedIDOnce(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	scriptJob(mt, "j1", jobDone)
	jobs, err := c.WaitForJobs(context.Background(), []string{"j1", "j1"}, fastPolls())
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	assert.Same(t, jobs[0], jobs[1])
	assert.Equal(t, 1, calls(mt, "GET "+testBase+"/jobs/j1"))
}

func TestWaitForJobsRefusesBadArgumentsBeforeIO(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		ids  []string
		opts []WaitOption
	}{
		"nil list":   {nil, nil},
		"empty list": {[]string{}, nil},
		"blank id":   {[]string{"j1", " "}, nil},
		"dot id":     {[]string{".."}, nil},
		"control id": {[]string{"j\n1"}, nil},
		"bad option": {[]string{"j1"}, []WaitOption{WithPollInterval(0, 0)}},
	} {
		c, mt := newMockClient(t)
		jobs, err := c.WaitForJobs(context.Background(), tc.ids, tc.opts...)
		require.ErrorIs(t, err, ErrValidation, name)
		assert.Nil(t, jobs, name)
		assert.Zero(t, mt.GetTotalCallCount(), name)
	}
}

func TestWaitForJobsBoundsItsConcurrency(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t)
		var inFlight, most atomic.Int32
		mt.RegisterRegexpResponder(http.MethodGet, regexp.MustCompile(`^`+testBase+`/jobs/(.+)$`), func(r *http.Request) (*http.Response, error) {
			n := inFlight.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Second) // a slow answer: every wait that can start does
			inFlight.Add(-1)
			id, _ := httpmock.GetSubmatch(r, 1)
			return jsonResp(200, fmt.Sprintf(jobDone, id))(r)
		})
		ids := make([]string, 3*maxConcurrentWaits)
		for i := range ids {
			ids[i] = fmt.Sprintf("j%d", i)
		}
		jobs, err := c.WaitForJobs(context.Background(), ids, fastPolls())
		require.NoError(t, err)
		for i, j := range jobs {
			require.NotNil(t, j)
			assert.Equal(t, ids[i], j.ID)
		}
		assert.Equal(t, int32(maxConcurrentWaits), most.Load(), "as many at once as allowed, no more")
	})
}

func TestWaitForJobsCallsProgressOneAtATime(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ids := []string{"a", "b", "c", "d", "e", "f"}
	for _, id := range ids {
		scriptJob(mt, id, jobRunning, jobRunning, jobDone)
	}
	var inside, overlaps, reports atomic.Int32
	progress := func(*Job) {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		reports.Add(1)
		time.Sleep(time.Millisecond)
		inside.Add(-1)
	}
	_, err := c.WaitForJobs(context.Background(), ids, fastPolls(), WithProgress(progress))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, reports.Load(), int32(len(ids)))
	assert.Zero(t, overlaps.Load())
}

func TestWaitForJobsEndsWithTheContext(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	scriptJob(mt, "slow", jobRunning)
	scriptJob(mt, "quick", jobDone)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	jobs, err := c.WaitForJobs(ctx, []string{"quick", "slow"}, fastPolls())
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	require.Len(t, jobs, 2)
	require.NotNil(t, jobs[0])
	assert.Equal(t, StepStatusSuccess, jobs[0].Step(StepRetrieveAccounts).Status)
	require.NotNil(t, jobs[1], "the last state seen of the job that did not end")
	assert.Equal(t, StepStatusInProgress, jobs[1].Step(StepRetrieveAccounts).Status)
}
