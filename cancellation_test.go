package basiq_test

// Cancellation at every stage of a call: a cancelled context must make the
// call return at once, with an error matching context.Canceled, whatever the
// call is waiting on, and leave no goroutine behind.
//
// Each stage is driven to the point where the call waits (the server
// reports the request, or holds its answer), then the context is cancelled
// and the time from cancel() to the call's return is measured; it must be
// under cancelBound. Waits for a stage to be reached are generous; only
// cancel-to-return is strict.
//
// Leaks: each stage snapshots the goroutines running before it
// (goleak.IgnoreCurrent) and, once its servers are closed, checks with
// goleak.VerifyNone that no other goroutine is left; VerifyNone retries for
// a while, so goroutines that are ending (a closed connection's read loop)
// get the time they need. This is exact where a runtime.NumGoroutine count
// is not: it names the leaked goroutines by their stacks, and goroutines
// that other tests leave ending in the background cannot hide a leak. The
// stages are not parallel. TestMain (main_test.go) checks the package as a
// whole as well.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const (
	// cancelBound is how long a call may take to return after cancel().
	cancelBound = 100 * time.Millisecond
	// cancelStageWait bounds the wait for a call to reach its stage.
	cancelStageWait = 5 * time.Second
	// cancelSettle is how long a call is given, once the server has seen
	// (or answered) its request, to get to the wait the stage is about:
	// reading the answer, starting a retry or poll sleep. The sleeps are 10 s
	// long, so cancelling later than needed still cancels inside them.
	cancelSettle = 50 * time.Millisecond
	// cancelAPIKey is the key of the hand-written servers below.
	cancelAPIKey = "Y2FuY2VsLXRlc3Qta2V5OnNlY3JldA=="
)

// cancelStageResult is one row of the summary.
type cancelStageResult struct {
	stage                             string
	elapsed                           time.Duration
	goroutinesBefore, goroutinesAfter int
}

func TestCancelAtEveryStage(t *testing.T) {
	// Not parallel: the goroutine counts are the process's.
	stages := []struct {
		name string
		run  func(t *testing.T) time.Duration
	}{
		{"token fetch", cancelDuringTokenFetch},
		{"retry sleep", cancelDuringRetrySleep},
		{"poll sleep", cancelDuringPollSleep},
		{"body read", cancelDuringBodyRead},
		{"token wait", cancelWhileWaitingForTokenFetch},
	}
	var results []cancelStageResult
	for _, st := range stages {
		t.Run(strings.ReplaceAll(st.name, " ", "_"), func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			before := runtime.NumGoroutine()
			elapsed := st.run(t)
			goleak.VerifyNone(t, ignore)
			after := runtime.NumGoroutine()
			t.Logf("cancel -> return %v; goroutines %d before, %d after", elapsed, before, after)
			assert.Less(t, elapsed, cancelBound, "call returned %v after cancel()", elapsed)
			results = append(results, cancelStageResult{st.name, elapsed, before, after})
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-12s  %-16s  %s\n", "stage", "cancel->return", "goroutines before/after (goleak: none left)")
	for _, r := range results {
		fmt.Fprintf(&b, "%-12s  %-16v  %d/%d\n", r.stage, r.elapsed, r.goroutinesBefore, r.goroutinesAfter)
	}
	t.Log(b.String())
}

// cancelDuringTokenFetch: the first call fetches a token and the server
// holds the answer to POST /token.
func cancelDuringTokenFetch(t *testing.T) time.Duration {
	srv := basiqtest.NewServer()
	defer srv.Close()
	srv.InjectFault(basiqtest.Fault{Method: http.MethodPost, Path: "/token", Delay: 10 * time.Second})
	client := srv.Client()

	elapsed, err := cancelAndMeasure(t, func(ctx context.Context) error {
		_, err := client.Jobs.Get(ctx, "j1")
		return err
	}, func() bool { return countRequests(srv, http.MethodPost, "/token") == 1 }, 0)

	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, countRequests(srv, http.MethodGet, "/jobs/"), "the call went on past the token fetch")
	return elapsed
}

// cancelDuringRetrySleep: the server answers 503 and the client waits 10 s
// before trying again.
func cancelDuringRetrySleep(t *testing.T) time.Duration {
	srv := basiqtest.NewServer()
	defer srv.Close()
	srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/jobs/j1", Status: http.StatusServiceUnavailable, Times: 5})
	client := srv.Client(basiq.WithRetryWait(10*time.Second, 10*time.Second))

	elapsed, err := cancelAndMeasure(t, func(ctx context.Context) error {
		_, err := client.Jobs.Get(ctx, "j1")
		return err
	}, func() bool {
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet && r.Path == "/jobs/j1" && r.Status == http.StatusServiceUnavailable {
				return true
			}
		}
		return false
	}, cancelSettle)

	require.ErrorIs(t, err, context.Canceled)
	var apiErr *basiq.APIError
	assert.False(t, errors.As(err, &apiErr), "a cancelled retry wait reports the 503: %v", err)
	assert.Equal(t, 1, countRequests(srv, http.MethodGet, "/jobs/j1"), "the request was tried again")
	return elapsed
}

// cancelDuringPollSleep: WaitForJob sleeps 10 s before its first poll.
func cancelDuringPollSleep(t *testing.T) time.Duration {
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()
	userID := srv.AddUser("gavin@hooli.example")
	setup, cancelSetup := context.WithTimeout(context.Background(), cancelStageWait)
	defer cancelSetup()
	job, err := client.Connections.Create(setup, userID, basiq.ConnectionParams{
		LoginID:     basiqtest.LoginGavinBelson,
		Password:    basiqtest.PasswordGavinBelson,
		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
	})
	require.NoError(t, err)

	var last *basiq.Job
	elapsed, err := cancelAndMeasure(t, func(ctx context.Context) error {
		j, err := client.WaitForJob(ctx, job, basiq.WithPollInterval(10*time.Second, 10*time.Second))
		last = j
		return err
	}, func() bool { return true }, cancelSettle)

	require.ErrorIs(t, err, context.Canceled)
	assert.Same(t, job, last, "WaitForJob returns the last job seen beside the error")
	assert.Equal(t, 0, countRequests(srv, http.MethodGet, "/jobs/"), "the job was polled before the sleep ended")
	return elapsed
}

// cancelDuringBodyRead: the server sends the status, the headers and half
// the body of GET /jobs/j1, then holds the rest until the client goes away.
func cancelDuringBodyRead(t *testing.T) time.Duration {
	halfSent := make(chan struct{})
	var once sync.Once
	stop := make(chan struct{}) // ends a held handler if the test fails first
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", cancelTokenHandler(nil, nil))
	mux.HandleFunc("GET /jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		_, _ = w.Write([]byte(`{"type":"job","id":"j1","steps":[{"title":"verify-credentials","status":`))
		_ = rc.Flush()
		once.Do(func() { close(halfSent) })
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(stop)
	client, err := basiq.NewClient(basiq.WithBaseURL(srv.URL), basiq.WithAPIKey(cancelAPIKey))
	require.NoError(t, err)

	elapsed, err := cancelAndMeasure(t, func(ctx context.Context) error {
		_, err := client.Jobs.Get(ctx, "j1")
		return err
	}, cancelClosed(halfSent), cancelSettle)

	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, basiq.ErrInvalidResponse, "a cancelled read is not a bad answer")
	return elapsed
}

// cancelWhileWaitingForTokenFetch: two calls need a token; the first one
// fetches it and the server holds the answer; the second waits for that
// fetch and is cancelled. The first one must not notice.
func cancelWhileWaitingForTokenFetch(t *testing.T) time.Duration {
	arrived, release, stop := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var tokenRequests atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if tokenRequests.Add(1) == 1 {
			close(arrived)
		}
		cancelTokenHandler(release, stop)(w, r)
	})
	mux.HandleFunc("GET /jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"type":"job","id":"j1","steps":[{"title":"verify-credentials","status":"success","result":null}]}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(stop)
	client, err := basiq.NewClient(basiq.WithBaseURL(srv.URL), basiq.WithAPIKey(cancelAPIKey))
	require.NoError(t, err)

	holderCtx, cancelHolder := context.WithTimeout(context.Background(), cancelStageWait)
	defer cancelHolder()
	holderDone := make(chan error, 1)
	go func() {
		_, err := client.Jobs.Get(holderCtx, "j1")
		holderDone <- err
	}()
	select {
	case <-arrived:
	case err := <-holderDone:
		t.Fatalf("the first call returned before its token fetch reached the server: %v", err)
	case <-time.After(cancelStageWait):
		t.Fatal("the first call's token fetch did not reach the server")
	}

	elapsed, err := cancelAndMeasure(t, func(ctx context.Context) error {
		_, err := client.Jobs.Get(ctx, "j1")
		return err
	}, func() bool { return true }, cancelSettle)
	require.ErrorIs(t, err, context.Canceled)

	select {
	case err := <-holderDone:
		t.Fatalf("the fetching call returned when a waiting call was cancelled: %v", err)
	default:
	}
	close(release)
	select {
	case err := <-holderDone:
		require.NoError(t, err, "the fetching call")
	case <-time.After(cancelStageWait):
		t.Fatal("the fetching call did not finish after the token was released")
	}
	assert.Equal(t, int32(1), tokenRequests.Load(), "token requests")
	return elapsed
}

// cancelTokenHandler answers POST /token with a token; with a non-nil
// release it first waits for release to be closed, giving up when the
// client goes away or stop is closed.
func cancelTokenHandler(release, stop <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if release != nil {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok-cancel","token_type":"Bearer","expires_in":3600}`))
	}
}

// cancelAndMeasure runs call in a goroutine, waits (up to cancelStageWait)
// until atStage reports it is where the test wants it, gives it settle more,
// then cancels its context. It returns the time from cancel() to the call's
// return, and the call's error.
func cancelAndMeasure(t *testing.T, call func(context.Context) error, atStage func() bool, settle time.Duration) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		err := call(ctx)
		done <- result{err, time.Now()}
	}()

	deadline := time.Now().Add(cancelStageWait)
	for !atStage() {
		if time.Now().After(deadline) {
			t.Fatalf("the call did not reach its stage within %v", cancelStageWait)
		}
		select {
		case r := <-done:
			t.Fatalf("the call returned before reaching its stage: %v", r.err)
		case <-time.After(time.Millisecond):
		}
	}
	if settle > 0 {
		time.Sleep(settle)
	}
	select {
	case r := <-done:
		t.Fatalf("the call returned before it was cancelled: %v", r.err)
	default:
	}

	start := time.Now()
	cancel()
	select {
	case r := <-done:
		return r.at.Sub(start), r.err
	case <-time.After(cancelStageWait):
		t.Fatalf("the call did not return within %v of cancel()", cancelStageWait)
		return 0, nil
	}
}

// cancelClosed reports whether ch is closed, as a stage check.
func cancelClosed(ch <-chan struct{}) func() bool {
	return func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
}

// TestNoGoroutineLeftAfterCancelledWait is not parallel, so no other test's
// goroutines are running when it checks.
func TestNoGoroutineLeftAfterCancelledWait(t *testing.T) {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(time.Hour))
	client := srv.Client()
	userID := srv.AddUser("leak@hooli.example")
	job, err := client.Connections.Create(testCtx(t), userID, hooli(basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson))
	require.NoError(t, err)
	ignore := goleak.IgnoreCurrent()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := client.WaitForJob(ctx, job, basiq.WithPollInterval(5*time.Millisecond, 10*time.Millisecond))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	srv.Close() // closes the loopback connections the client kept alive
	goleak.VerifyNone(t, ignore)
}
