package basiq

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorAnswersEchoingSecretsAreMasked(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", jsonResp(200, hooliJSON))
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections", func(r *http.Request) (*http.Response, error) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		b, _ := json.Marshal(body)
		return httpmock.NewStringResponse(400, "<html>Request rejected: "+string(b)+" auth="+r.Header.Get("Authorization")+"</html>"), nil
	})
	mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa",
		jsonResp(400, `{"type":"list","data":[{"code":"parameter-not-valid","title":"Bad answer","detail":"mfa-response '839201' is not valid","source":{"pointer":"839201"}}]}`))

	_, err := c.Connections.Create(context.Background(), "u1", ConnectionParams{LoginID: "gavin", Password: "hunter2-SECRET", Institution: InstitutionRef{ID: "AU00000"}})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, err.Error(), "hunter2-SECRET")
	assert.NotContains(t, err.Error(), "tok-1")
	assert.Contains(t, apiErr.Body, redacted)

	_, err = c.Jobs.RespondMFA(context.Background(), "j1", "839201")
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, err.Error(), "839201")
	assert.NotContains(t, apiErr.Errors[0].Source.Pointer, "839201")
}

func TestFlightPanicReleasesWaiters(t *testing.T) {
	t.Parallel()
	var f flight[string, int]
	func() {
		defer func() { _ = recover() }()
		_, _ = f.do(context.Background(), "k", func(context.Context) (int, error) { panic("boom") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := f.do(ctx, "k", func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err, "the key is free again after a panic")
	assert.Equal(t, 7, v)
}

func TestFlightSharesFailuresThatAreNotTheRunnersContext(t *testing.T) {
	t.Parallel()
	var f flight[string, int]
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		runs.Add(1)
		<-release
		// A transport timeout looks like DeadlineExceeded but is not the
		// runner's context ending: waiters share it instead of refetching.
		return 0, context.DeadlineExceeded
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.do(context.Background(), "k", fn)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, int32(1), runs.Load())
}

func TestFlightWaiterRetriesWhenRunnerGaveUp(t *testing.T) {
	t.Parallel()
	var f flight[string, int]
	ctx1, cancel1 := context.WithCancel(context.Background())
	started := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := f.do(ctx1, "k", func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		first <- err
	}()
	<-started
	second := make(chan int, 1)
	go func() {
		v, _ := f.do(context.Background(), "k", func(context.Context) (int, error) { return 9, nil })
		second <- v
	}()
	time.Sleep(10 * time.Millisecond)
	cancel1()
	require.ErrorIs(t, <-first, context.Canceled)
	assert.Equal(t, 9, <-second)
}

// TestNewClientWithWrappedDefaultTransport swaps http.DefaultTransport, so it
// is not parallel.
func TestNewClientWithWrappedDefaultTransport(t *testing.T) {
	old := http.DefaultTransport
	http.DefaultTransport = httpmock.NewMockTransport()
	defer func() { http.DefaultTransport = old }()
	c, err := NewClient(WithAPIKey("k"))
	require.NoError(t, err)
	require.NotNil(t, c)
}

func TestMFAChallengeInsideArrayResult(t *testing.T) {
	t.Parallel()
	var st Step
	require.NoError(t, json.Unmarshal([]byte(`{"title":"mfa-challenge","status":"in-progress","result":[
		{"type":"link","url":"/users/u1/connections/c1"},
		{"type":"mfa","method":"token","description":"Code","input":["One-time code"],"expiryMs":"60000"}]}`), &st))
	ch := mfaChallenge("j1", st)
	require.NotNil(t, ch, "a challenge that is not the first item is still seen")
	assert.Equal(t, time.Minute, ch.Expiry, "a numeric string expiry is read")

	var r StepResult
	require.NoError(t, json.Unmarshal([]byte(`{"type":"mfa","expiryMs":""}`), &r), "an odd expiry does not fail the job")
	assert.Zero(t, r.ExpiryMs)
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

func TestForbiddenThatIsNotAboutTheTokenKeepsTheToken(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1",
		jsonResp(403, `{"type":"list","data":[{"code":"forbidden-access","title":"Forbidden","detail":"Your trial expired"}]}`))
	_, err := c.Users.Get(context.Background(), "u1")
	require.ErrorIs(t, err, ErrForbidden)
	assert.Equal(t, 1, calls(mt, "POST "+testBase+"/token"))
	assert.Equal(t, 1, calls(mt, "GET "+testBase+"/users/u1"))
}
