package basiq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Reliability and security: faults survived, bad input answered with typed
// errors, secrets never leaked, concurrency and cancellation clean. They run
// against basiqtest over loopback.

// reliableClient is a client with the default retry budget (3 retries) and
// short waits, so faults resolve fast.
func reliableClient(srv *basiqtest.Server, opts ...basiq.Option) *basiq.Client {
	return srv.Client(append([]basiq.Option{basiq.WithRetryWait(time.Millisecond, 20*time.Millisecond)}, opts...)...)
}

func TestFaultBurstsOnReadsAndConnectionCreation(t *testing.T) {
	t.Parallel()
	type fault struct {
		name string
		f    basiqtest.Fault
	}
	faults := []fault{
		{"500", basiqtest.Fault{Status: 500}},
		{"502 html", basiqtest.Fault{Status: 502, HTML: true}},
		{"503", basiqtest.Fault{Status: 503}},
		{"504", basiqtest.Fault{Status: 504}},
		{"dropped", basiqtest.Fault{Drop: true}},
	}
	for _, fl := range faults {
		for _, within := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s within budget %t", fl.name, within), func(t *testing.T) {
				t.Parallel()
				srv := basiqtest.NewServer(basiqtest.WithStepDuration(5 * time.Millisecond))
				defer srv.Close()
				client := reliableClient(srv)
				ctx := testCtx(t)
				userID := srv.AddUser("burst@hooli.example")
				times := 3 // the first try and two retries fail; the last retry succeeds
				if !within {
					times = 20
				}
				if fl.f.Drop && within {
					times = 2 // net/http itself repeats a GET once on a dropped reused connection
				}

				// A read.
				f := fl.f
				f.Method, f.Path, f.Times = http.MethodGet, "/users/"+userID, times
				srv.InjectFault(f)
				_, err := client.Users.Get(ctx, userID)
				checkFaultOutcome(t, err, within, fl.f)
				srv.ClearFaults()

				// Connection creation carries a bank password: repeated
				// freely after a 503 (not processed), but only once after an
				// outcome that leaves it unknown.
				f.Method, f.Path = http.MethodPost, "/users/"+userID+"/connections"
				if within && fl.f.Status != http.StatusServiceUnavailable {
					f.Times = 1
				}
				srv.InjectFault(f)
				job, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson))
				checkFaultOutcome(t, err, within, fl.f)
				srv.ClearFaults()
				if within {
					_, err = client.WaitForJob(ctx, job, fast)
					require.NoError(t, err)
				}
				conns, err := client.Connections.List(ctx, userID)
				require.NoError(t, err)
				assert.LessOrEqual(t, len(conns), 1, "never a second connection")
				if within {
					assert.Len(t, conns, 1)
				}
			})
		}
	}
}

func checkFaultOutcome(t *testing.T, err error, within bool, f basiqtest.Fault) {
	t.Helper()
	if within {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	if f.Drop {
		var uerr *url.Error
		assert.ErrorAs(t, err, &uerr, "a dropped connection surfaces as the transport's *url.Error")
		return
	}
	var apiErr *basiq.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, f.Status, apiErr.StatusCode)
}

func TestFaultRateLimited(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, retryAfter string
		maxWait          time.Duration
	}{
		{"no Retry-After", "", 20 * time.Millisecond},
		{"seconds", "1", 2 * time.Second},
		{"http date", "", 2 * time.Second}, // set below, relative to now
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// In a synctest bubble with the server in process, the waits are
			// measured on the fake clock: exact, however loaded the machine.
			synctest.Test(t, func(t *testing.T) {
				srv := basiqtest.NewUnstartedServer()
				client := srv.Client(basiq.WithRetryWait(time.Millisecond, tc.maxWait))
				userID := srv.AddUser("limited@hooli.example")
				ra := tc.retryAfter
				if tc.name == "http date" {
					ra = time.Now().Add(time.Second).UTC().Format(http.TimeFormat)
				}
				srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/users/" + userID, Status: 429, RetryAfter: ra, Times: 1})
				start := time.Now()
				_, err := client.Users.Get(context.Background(), userID)
				require.NoError(t, err)
				elapsed := time.Since(start)
				assert.LessOrEqual(t, elapsed, max(tc.maxWait, time.Second), "the wait never exceeds the cap or Retry-After")
				if ra != "" {
					assert.GreaterOrEqual(t, elapsed, time.Second, "Retry-After was honoured")
				}
			})
		})
	}

	t.Run("still limited after the budget", func(t *testing.T) {
		t.Parallel()
		srv := basiqtest.NewServer()
		defer srv.Close()
		client := reliableClient(srv)
		userID := srv.AddUser("limited@hooli.example")
		srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/users/" + userID, Status: 429, Times: 10})
		_, err := client.Users.Get(testCtx(t), userID)
		require.ErrorIs(t, err, basiq.ErrRateLimited)
	})

	t.Run("huge value returns at once with RetryAfter", func(t *testing.T) {
		t.Parallel()
		srv := basiqtest.NewServer()
		defer srv.Close()
		client := reliableClient(srv)
		userID := srv.AddUser("limited@hooli.example")
		srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/users/" + userID, Status: 429, RetryAfter: "86400", Times: 1})
		_, err := client.Users.Get(testCtx(t), userID)
		var apiErr *basiq.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 24*time.Hour, apiErr.RetryAfter)
		assert.Equal(t, 1, countRequests(srv, http.MethodGet, "/users/"+userID), "no retry")
	})
}

func TestFaultTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := reliableClient(srv)
	ctx := testCtx(t)
	userID := srv.AddUser("token@hooli.example")

	srv.InjectFault(basiqtest.Fault{Method: http.MethodPost, Path: "/token", Status: 503, Times: 2})
	_, err := client.Users.Get(ctx, userID)
	require.NoError(t, err, "a token endpoint that fails transiently is retried")
	assert.Equal(t, 1, srv.TokenRequests())

	other := reliableClient(srv)
	srv.InjectFault(basiqtest.Fault{Method: http.MethodPost, Path: "/token", Status: 503, Times: 10})
	_, err = other.Users.Get(ctx, userID)
	var apiErr *basiq.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, 0, countRequests(srv, http.MethodGet, "/users/"+userID)-1, "no request went out without a token")
}

// TestFaultSlowAnswersBeyondTimeout checks that a caller's
// http.Client.Timeout bounds each attempt. It runs in a synctest bubble with
// the server in process, so the limits are measured on the fake clock and
// hold however loaded the machine is.
func TestFaultSlowAnswersBeyondTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := basiqtest.NewUnstartedServer()
		// A 250 ms limit per attempt against answers held for 5 s.
		hc := &http.Client{Timeout: 250 * time.Millisecond, Transport: srv.Transport()}
		client := reliableClient(srv, basiq.WithHTTPClient(hc))
		ctx := context.Background()
		userID := srv.AddUser("slow@hooli.example")

		srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/users/" + userID, Delay: 5 * time.Second, Times: 2})
		_, err := client.Users.Get(ctx, userID)
		require.NoError(t, err, "two slow answers time out, a later attempt within the budget succeeds")

		srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/users/" + userID, Delay: 5 * time.Second, Times: 10})
		start := time.Now()
		_, err = client.Users.Get(ctx, userID)
		elapsed := time.Since(start)
		require.Error(t, err)
		var uerr *url.Error
		require.ErrorAs(t, err, &uerr)
		assert.True(t, uerr.Timeout())
		// Four attempts of 250 ms and three retry waits of at most 20 ms.
		assert.GreaterOrEqual(t, elapsed, time.Second)
		assert.LessOrEqual(t, elapsed, time.Second+60*time.Millisecond, "each attempt ends at its limit, not when the answer comes")

		// Creating a user is never repeated: a timeout may hide a user that
		// was created, so one attempt only.
		srv.InjectFault(basiqtest.Fault{Method: http.MethodPost, Path: "/users", Delay: 5 * time.Second, Times: 1})
		_, err = client.Users.Create(ctx, basiq.UserParams{Email: "once@hooli.example"})
		require.Error(t, err)
		assert.Equal(t, 1, countRequests(srv, http.MethodPost, "/users"))
	})
}

func TestBadAnswersGiveTypedErrors(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := reliableClient(srv, basiq.WithMaxRetries(0))
	ctx := testCtx(t)
	userID := srv.AddUser("bad@hooli.example")
	path := "/users/" + userID

	cases := []struct {
		name   string
		fault  basiqtest.Fault
		target error // a sentinel, or nil for an *APIError
		status int
	}{
		{"malformed json", basiqtest.Fault{Status: 200, Body: `{"id":`}, basiq.ErrInvalidResponse, 0},
		{"truncated json", basiqtest.Fault{Status: 200, Body: `{"type":"user","id":"u1","email":"a@b`}, basiq.ErrInvalidResponse, 0},
		{"empty 200", basiqtest.Fault{Status: 200}, basiq.ErrInvalidResponse, 0},
		{"wrong shape", basiqtest.Fault{Status: 200, Body: `["not","a","user"]`}, basiq.ErrInvalidResponse, 0},
		{"html error page", basiqtest.Fault{Status: 502, HTML: true}, nil, 502},
		{"huge error page", basiqtest.Fault{Status: 500, Body: strings.Repeat("<p>oops</p>", 500_000)}, nil, 500},
	}
	for _, tc := range cases {
		f := tc.fault
		f.Method, f.Path = http.MethodGet, path
		srv.InjectFault(f)
		_, err := client.Users.Get(ctx, userID)
		require.Error(t, err, tc.name)
		if tc.target != nil {
			assert.ErrorIs(t, err, tc.target, tc.name)
		} else {
			var apiErr *basiq.APIError
			require.ErrorAs(t, err, &apiErr, tc.name)
			assert.Equal(t, tc.status, apiErr.StatusCode, tc.name)
			assert.Less(t, len(err.Error()), 500, "%s: error strings stay short", tc.name)
		}
	}
}

func TestBadJobsEndTheWait(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := reliableClient(srv)
	cases := map[string]string{
		"no steps":       `{"type":"job","id":"j1","steps":[]}`,
		"steps missing":  `{"type":"job","id":"j1"}`,
		"unknown status": `{"type":"job","id":"j1","steps":[{"title":"verify-credentials","status":"exploded","result":null}]}`,
		"steps not list": `{"type":"job","id":"j1","steps":{"title":"verify-credentials"}}`,
	}
	for name, body := range cases {
		srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/jobs/j1", Status: 200, Body: body})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := client.WaitForJob(ctx, &basiq.Job{ID: "j1"}, fast)
		cancel()
		require.ErrorIs(t, err, basiq.ErrInvalidResponse, name)
	}
	// An unknown step title is fine: steps are found by title and all succeed.
	srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/jobs/j2", Status: 200,
		Body: `{"type":"job","id":"j2","steps":[{"title":"retrieve-horoscope","status":"success","result":null}]}`})
	_, err := client.WaitForJob(testCtx(t), &basiq.Job{ID: "j2"}, fast)
	require.NoError(t, err)
}

func TestRepeatedNextLinkEndsTheLoop(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := reliableClient(srv)
	userID := srv.AddUser("loop@hooli.example")
	self := srv.URL + "/users/" + userID + "/transactions?cursor=same"
	body := `{"type":"list","data":[{"type":"transaction","id":"t1","amount":"-1.00"}],"links":{"next":"` + self + `"}}`
	srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/users/" + userID + "/transactions", Status: 200, Body: body, Times: 100})
	var n int
	var last error
	for _, err := range client.Transactions.List(testCtx(t), userID, nil) {
		if err != nil {
			last = err
			continue
		}
		n++
		require.Less(t, n, 10, "the loop must end")
	}
	require.ErrorIs(t, last, basiq.ErrInvalidResponse)
	assert.Equal(t, 2, n, "the first page and the page at the link, then the repeat is refused")
}

func TestHostileIDsAreEscapedOrRefused(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := reliableClient(srv)
	ctx := testCtx(t)
	for _, id := range []string{"..", ".", "", " ", "a\x00b"} {
		_, err := client.Users.Get(ctx, id)
		require.ErrorIs(t, err, basiq.ErrValidation, "%q", id)
	}
	for _, id := range []string{"a/b", "../token", "x?y=1", "a b", "%2e%2e", "#frag"} {
		_, err := client.Users.Get(ctx, id)
		require.ErrorIs(t, err, basiq.ErrNotFound, "%q reaches /users/{id} as one segment", id)
	}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet {
			assert.True(t, strings.HasPrefix(r.Path, "/users/"), r.Path)
			assert.Empty(t, r.RawQuery, "no id became a query")
		}
	}
	assert.Equal(t, 1, srv.TokenRequests(), "no id reached /token")
}

// secrets used by the leak test: distinctive, so finding one is no accident.
const (
	leakPassword = "pw-7f3a9c-secret"
	leakToken    = "ut-5b2e81-secret"
	leakCode     = "sc-44d0aa-secret"
	leakMFA      = "mfa-90c3e7-secret"
	leakAPIKey   = "a2V5LWZvci1sZWFrLXRlc3Q="
)

// authRecorder records every Authorization header the client sends.
type authRecorder struct {
	mu   sync.Mutex
	seen map[string]bool
	next http.RoundTripper
}

func (a *authRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	if v := r.Header.Get("Authorization"); v != "" {
		_, cred, _ := strings.Cut(v, " ")
		a.seen[cred] = true
	}
	a.mu.Unlock()
	return a.next.RoundTrip(r)
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer(basiqtest.WithAPIKey(leakAPIKey), basiqtest.WithStepDuration(5*time.Millisecond))
	defer srv.Close()
	var logs safeBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := &authRecorder{seen: map[string]bool{}, next: http.DefaultTransport}
	client := srv.Client(basiq.WithLogger(logger), basiq.WithHTTPClient(&http.Client{Transport: rec}),
		basiq.WithRetryWait(time.Millisecond, 5*time.Millisecond))
	ctx := testCtx(t)
	userID := srv.AddUser("leak@hooli.example")

	var outputs []string
	keep := func(v ...any) {
		for _, x := range v {
			if x == nil {
				continue
			}
			outputs = append(outputs, fmt.Sprintf("%v|%+v|%#v|%s", x, x, x, x))
			if err, ok := x.(error); ok {
				outputs = append(outputs, err.Error())
			}
			logger.Info("value", "v", x)
		}
	}
	params := basiq.ConnectionParams{LoginID: "gavinBelson", Password: leakPassword, SecurityCode: leakCode, Institution: basiq.InstitutionRef{ID: basiqtest.InstSecurityCode}}
	tokenParams := basiq.ConnectionParams{UserToken: leakToken, Institution: basiq.InstitutionRef{ID: basiqtest.InstToken}}
	update := basiq.ConnectionUpdateParams{Password: leakPassword, SecurityCode: leakCode}
	keep(params, &params, tokenParams, update, client)

	// Every method, once against a healthy server and once against a failing one.
	runAll := func() {
		job, err := client.Connections.Create(ctx, userID, params)
		keep(job, err)
		job2, err := client.Connections.Create(ctx, userID, tokenParams)
		keep(job2, err)
		if job != nil {
			_, err = client.WaitForJob(ctx, job, fast)
			keep(err)
		}
		bad := params
		bad.Password = ""
		_, err = client.Connections.Create(ctx, userID, bad) // refused before posting
		keep(err)
		_, err = client.Connections.Create(ctx, userID, basiq.ConnectionParams{LoginID: "x", Password: leakPassword, UserToken: leakToken, Institution: basiq.InstitutionRef{ID: basiqtest.InstToken}})
		keep(err)
		connID := ""
		if job != nil {
			connID = job.ConnectionID()
		}
		_, err = client.Connections.Update(ctx, userID, connID+"x", update)
		keep(err)
		_, err = client.Jobs.RespondMFA(ctx, "nojob", leakMFA)
		keep(err)
		_, err = client.Users.Create(ctx, basiq.UserParams{Email: "x@hooli.example"})
		keep(err)
		_, err = client.Users.Get(ctx, userID)
		keep(err)
		_, err = client.Users.Update(ctx, userID, basiq.UserParams{FirstName: "G"})
		keep(err)
		_, err = client.Institutions.List(ctx, nil)
		keep(err)
		_, err = client.Connections.List(ctx, userID)
		keep(err)
		_, err = client.Connections.Refresh(ctx, userID, "nope")
		keep(err)
		_, err = client.Connections.RefreshAll(ctx, userID)
		keep(err)
		_, err = client.Jobs.List(ctx, userID, nil)
		keep(err)
		_, err = client.Accounts.List(ctx, userID, nil)
		keep(err)
		_, err = client.Accounts.Get(ctx, userID, "nope")
		keep(err)
		for _, err := range client.Transactions.List(ctx, userID, nil) {
			keep(err)
		}
		_, err = client.Transactions.Get(ctx, userID, "nope")
		keep(err)
		keep(client.Connections.Delete(ctx, userID, "nope"))
	}
	runAll()
	srv.InjectFault(basiqtest.Fault{Path: "*", Status: 500, Times: 1000})
	runAll()
	srv.ClearFaults()
	srv.ExpireTokens()
	srv.InjectFault(basiqtest.Fault{Path: "/token", Status: 401, Times: 1000})
	runAll()

	rec.mu.Lock()
	secrets := []string{leakPassword, leakToken, leakCode, leakMFA, leakAPIKey}
	for cred := range rec.seen {
		secrets = append(secrets, cred) // the API key and every bearer token sent
	}
	rec.mu.Unlock()
	require.Greater(t, len(secrets), 6, "tokens were issued and recorded")
	var dump strings.Builder
	for _, r := range srv.Requests() {
		fmt.Fprintf(&dump, "%+v\n", r)
	}
	everything := strings.Join(outputs, "\n") + logs.String() + dump.String()
	require.Contains(t, everything, "basiq: request", "the debug log was written")
	for _, s := range secrets {
		assert.NotContains(t, everything, s)
	}
}

// safeBuffer is a bytes.Buffer safe for concurrent writes.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestThousandGoroutinesMixingMethods(t *testing.T) {
	t.Parallel()
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(5*time.Millisecond), basiqtest.WithTransactionsPerAccount(20))
	defer srv.Close()
	client := reliableClient(srv)
	ctx := testCtx(t)
	users := make([]string, 20)
	for i := range users {
		users[i] = srv.AddUser(fmt.Sprintf("u%d@hooli.example", i))
	}
	logins := [][2]string{
		{basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson}, {basiqtest.LoginJared, basiqtest.PasswordJared},
		{basiqtest.LoginRichard, basiqtest.PasswordRichard}, {basiqtest.LoginBighead, basiqtest.PasswordBighead},
	}
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			userID := users[rng.IntN(len(users))]
			var err error
			switch i % 13 {
			case 0, 1:
				l := logins[rng.IntN(len(logins))]
				var job *basiq.Job
				if job, err = client.Connections.Create(ctx, userID, hooli(l[0], l[1])); err == nil {
					_, err = client.WaitForJob(ctx, job, fast)
					if errors.Is(err, basiq.ErrJobFailed) {
						err = nil // bighead's locked account is an expected outcome
					}
				}
			case 2:
				_, err = client.Users.Get(ctx, userID)
			case 3:
				_, err = client.Users.Update(ctx, userID, basiq.UserParams{LastName: fmt.Sprint(i)})
			case 4:
				_, err = client.Connections.List(ctx, userID)
			case 5:
				_, err = client.Accounts.List(ctx, userID, nil)
			case 6:
				for _, e := range client.Transactions.List(ctx, userID, &basiq.TransactionFilter{PageSize: 10}) {
					if e != nil {
						err = e
						break
					}
				}
			case 7:
				_, err = client.Institutions.Get(ctx, basiqtest.InstHooli)
			case 8:
				_, err = client.Jobs.List(ctx, userID, nil)
			case 9:
				_, err = client.Institutions.List(ctx, nil)
			case 10:
				_, err = client.Users.Create(ctx, basiq.UserParams{Email: fmt.Sprintf("n%d@hooli.example", i)})
			case 11:
				_, err = client.Connections.RefreshAll(ctx, userID)
			case 12:
				// Probes of things that do not exist: a typed 404 is the
				// expected answer.
				_, err = client.Accounts.Get(ctx, userID, "missing")
				if err == nil || errors.Is(err, basiq.ErrNotFound) {
					_, err = client.Transactions.Get(ctx, userID, "missing")
				}
				if err == nil || errors.Is(err, basiq.ErrNotFound) {
					_, err = client.Jobs.Get(ctx, "missing")
				}
				if err == nil || errors.Is(err, basiq.ErrNotFound) {
					_, err = client.Jobs.RespondMFA(ctx, "missing", "1234")
				}
				if err == nil || errors.Is(err, basiq.ErrNotFound) {
					err = client.Connections.Delete(ctx, userID, "missing")
				}
				if errors.Is(err, basiq.ErrNotFound) {
					err = nil
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, srv.TokenRequestsByScope(basiqtest.ScopeServerAccess), "one server token shared by every goroutine")
	assert.Equal(t, 1, srv.TokenRequestsByScope(basiqtest.ScopeClientAccess), "one client token for the MFA answers")
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
