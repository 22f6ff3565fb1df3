package basiq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Integration tests: the client against basiqtest over real loopback HTTP,
// and the reliability and security checks that need a whole server: faults
// survived, bad answers given typed errors, secrets never leaked,
// concurrency clean. Cancellation at every stage is in cancellation_test.go.

var fast = basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)

// fastRetry makes a client's retries quick, so that faults resolve fast.
var fastRetry = basiq.WithRetryWait(time.Millisecond, 10*time.Millisecond)

// newServer starts a basiqtest server with short steps (opts may override
// them), closed when t ends, and a client of it with fastRetry and the
// default retry budget.
func newServer(t *testing.T, opts ...basiqtest.Option) (*basiqtest.Server, *basiq.Client) {
	t.Helper()
	srv := basiqtest.NewServer(append([]basiqtest.Option{basiqtest.WithStepDuration(20 * time.Millisecond)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv, srv.Client(fastRetry)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hooli(login, password string) basiq.ConnectionParams {
	return basiq.ConnectionParams{LoginID: login, Password: password, Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli}}
}

// connectAt adds a user with this email to srv and starts a connection of
// it at institution inst with these credentials.
func connectAt(t *testing.T, srv *basiqtest.Server, client *basiq.Client, email, inst, login, password string) *basiq.Job {
	t.Helper()
	job, err := client.Connections.Create(testCtx(t), srv.AddUser(email), basiq.ConnectionParams{
		LoginID: login, Password: password, Institution: basiq.InstitutionRef{ID: inst},
	})
	require.NoError(t, err)
	return job
}

// countRequests counts the requests the server saw with this method whose
// path starts with prefix.
func countRequests(srv *basiqtest.Server, method, prefix string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

func TestIntegrationLifecycle(t *testing.T) {
	t.Parallel()
	// Steps long enough (150 ms) that polls every 5-20 ms see each one change,
	// even on a loaded machine under -race.
	srv, client := newServer(t, basiqtest.WithTransactionsPerAccount(120), basiqtest.WithStepDuration(150*time.Millisecond))
	ctx := testCtx(t)

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "gavin@hooli.example", FirstName: "Gavin"})
	require.NoError(t, err)
	require.NotEmpty(t, user.ID)

	insts, err := client.Institutions.List(ctx, &basiq.InstitutionFilter{Authorization: []basiq.AuthorizationType{basiq.AuthUser}})
	require.NoError(t, err)
	require.NotEmpty(t, insts)
	for _, in := range insts {
		assert.Equal(t, basiq.AuthUser, in.Authorization)
	}

	job, err := client.Connections.Create(ctx, user.ID, hooli(basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson))
	require.NoError(t, err)
	assert.False(t, job.Reused)
	var changes int
	job, err = client.WaitForJob(ctx, job, fast, basiq.WithProgress(func(*basiq.Job) { changes++ }))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, changes, 3, "each step's progress was reported")
	for _, st := range job.Steps {
		assert.Equal(t, basiq.StepStatusSuccess, st.Status, st.Title)
	}
	connID := job.ConnectionID()
	require.NotEmpty(t, connID)

	conn, err := client.Connections.Get(ctx, user.ID, connID)
	require.NoError(t, err)
	assert.Equal(t, basiq.ConnectionActive, conn.Status)
	conns, err := client.Connections.List(ctx, user.ID)
	require.NoError(t, err)
	assert.Len(t, conns, 1)

	accounts, err := client.Accounts.List(ctx, user.ID, &basiq.AccountFilter{ConnectionID: connID})
	require.NoError(t, err)
	require.NotEmpty(t, accounts)
	for _, a := range accounts {
		_, err := a.Balance.MinorUnits(2)
		assert.NoError(t, err, "balance %q reads exactly", a.Balance)
		got, err := client.Accounts.Get(ctx, user.ID, a.ID)
		require.NoError(t, err)
		assert.Equal(t, a.Balance, got.Balance)
	}

	// Every transaction, over several pages.
	pagesBefore := countRequests(srv, http.MethodGet, "/users/"+user.ID+"/transactions")
	seen := map[string]bool{}
	var first basiq.Transaction
	for tx, err := range client.Transactions.List(ctx, user.ID, &basiq.TransactionFilter{ConnectionID: connID, PageSize: 50}) {
		require.NoError(t, err)
		require.False(t, seen[tx.ID], "transaction %s seen twice", tx.ID)
		seen[tx.ID] = true
		if first.ID == "" {
			first = tx
		}
		assert.Equal(t, connID, tx.Connection)
	}
	want := 120 * len(accounts)
	assert.Len(t, seen, want)
	pages := countRequests(srv, http.MethodGet, "/users/"+user.ID+"/transactions") - pagesBefore
	assert.Equal(t, (want+49)/50, pages, "one request per page of 50")
	tx, err := client.Transactions.Get(ctx, user.ID, first.ID)
	require.NoError(t, err)
	assert.Equal(t, first.Amount, tx.Amount)

	// Debits only, through the typed filter.
	for tx, err := range client.Transactions.List(ctx, user.ID, &basiq.TransactionFilter{ConnectionID: connID, Direction: basiq.TransactionDirectionDebit}) {
		require.NoError(t, err)
		assert.Equal(t, basiq.TransactionDirectionDebit, tx.Direction)
		assert.True(t, strings.HasPrefix(string(tx.Amount), "-"), "debit %s is negative", tx.Amount)
	}

	// Refresh, then a new password.
	job, err = client.Connections.Refresh(ctx, user.ID, connID)
	require.NoError(t, err)
	_, err = client.WaitForJob(ctx, job, fast)
	require.NoError(t, err)
	job, err = client.Connections.Update(ctx, user.ID, connID, basiq.ConnectionUpdateParams{Password: basiqtest.PasswordGavinBelson})
	require.NoError(t, err)
	_, err = client.WaitForJob(ctx, job, fast)
	require.NoError(t, err)
	all, err := client.Connections.RefreshAll(ctx, user.ID)
	require.NoError(t, err)
	require.Len(t, all, 1)
	_, err = client.WaitForJob(ctx, &all[0], fast)
	require.NoError(t, err)

	listed, err := client.Jobs.List(ctx, user.ID, &basiq.JobFilter{ConnectionID: connID})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(listed), 4, "create, refresh, update and refresh-all jobs")

	require.NoError(t, client.Connections.Delete(ctx, user.ID, connID))
	_, err = client.Connections.Get(ctx, user.ID, connID)
	require.ErrorIs(t, err, basiq.ErrNotFound)
	require.NoError(t, client.Users.Delete(ctx, user.ID))
	_, err = client.Users.Get(ctx, user.ID)
	require.ErrorIs(t, err, basiq.ErrNotFound)
}

func TestIntegrationUnhappyLogins(t *testing.T) {
	t.Parallel()
	cases := []struct{ login, password, code, detail string }{
		{basiqtest.LoginBighead, basiqtest.PasswordBighead, "invalid-credentials", "Account is locked"},
		{basiqtest.LoginErlich, basiqtest.PasswordErlich, "account-not-accessible-requires-user-action", ""},
		{basiqtest.LoginJianYang, basiqtest.PasswordJianYang, "service-unavailable", ""},
		{"nobody", "guess", "invalid-credentials", ""},
	}
	srv, client := newServer(t)
	for _, tc := range cases {
		t.Run(tc.login, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			userID := srv.AddUser(tc.login + "@hooli.example")
			job, err := client.Connections.Create(ctx, userID, hooli(tc.login, tc.password))
			require.NoError(t, err)
			jobID := job.ID
			job, err = client.WaitForJob(ctx, job, fast)
			var jobErr *basiq.JobError
			require.ErrorAs(t, err, &jobErr)
			assert.ErrorIs(t, err, basiq.ErrJobFailed)
			assert.Equal(t, basiq.StepVerifyCredentials, jobErr.Step)
			assert.Equal(t, tc.code, jobErr.Code)
			assert.Equal(t, jobID, jobErr.JobID)
			if tc.detail != "" {
				assert.Equal(t, tc.detail, jobErr.Detail)
			}
			assert.NotContains(t, err.Error(), tc.password)
			assert.Equal(t, basiq.StepStatusPending, job.Step(basiq.StepRetrieveAccounts).Status, "returned without waiting for the rest")
		})
	}
}

func TestIntegrationDuplicateJobRule(t *testing.T) {
	t.Parallel()
	srv, client := newServer(t, basiqtest.WithStepDuration(200*time.Millisecond))
	ctx := testCtx(t)
	userID := srv.AddUser("dup@hooli.example")
	first, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginJared, basiqtest.PasswordJared))
	require.NoError(t, err)
	second, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginJared, basiqtest.PasswordJared))
	require.NoError(t, err)
	assert.False(t, first.Reused)
	assert.True(t, second.Reused)
	assert.Equal(t, first.ID, second.ID)
	conns, err := client.Connections.List(ctx, userID)
	require.NoError(t, err)
	assert.Len(t, conns, 1)
}

func TestIntegrationRetriesThroughInjectedFaults(t *testing.T) {
	t.Parallel()
	srv, client := newServer(t)
	ctx := testCtx(t)
	userID := srv.AddUser("retry@hooli.example")

	// The connection POST meets two 503s (one with Retry-After) and an HTML
	// 502, then succeeds: one connection, one job.
	srv.InjectFault(basiqtest.Fault{Method: http.MethodPost, Path: "/users/" + userID + "/connections", Status: 503, RetryAfter: "0", Times: 2})
	srv.InjectFault(basiqtest.Fault{Method: http.MethodPost, Path: "/users/" + userID + "/connections", Status: 502, HTML: true})
	job, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginRichard, basiqtest.PasswordRichard))
	require.NoError(t, err)
	assert.Equal(t, 4, countRequests(srv, http.MethodPost, "/users/"+userID+"/connections"))

	srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/jobs/*", Status: 503, Times: 3})
	_, err = client.WaitForJob(ctx, job, fast)
	require.NoError(t, err)
	conns, err := client.Connections.List(ctx, userID)
	require.NoError(t, err)
	assert.Len(t, conns, 1, "retries never create a second connection")

	// A fault that outlasts the retry budget comes back as an *APIError.
	srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/users/" + userID, Status: 503, Times: 10})
	_, err = client.Users.Get(ctx, userID)
	var apiErr *basiq.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
}

func TestIntegrationTokenExpiresMidFlow(t *testing.T) {
	t.Parallel()
	srv, client := newServer(t)
	ctx := testCtx(t)
	userID := srv.AddUser("expiry@hooli.example")
	job, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginGilfoyle, basiqtest.PasswordGilfoyle))
	require.NoError(t, err)
	require.Equal(t, 1, srv.TokenRequests())

	srv.ExpireTokens()
	_, err = client.WaitForJob(ctx, job, fast)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.TokenRequests(), "one fresh token after the API said it expired")
}

func TestIntegrationShortTokenLifeRenewsEarly(t *testing.T) {
	t.Parallel()
	// In a synctest bubble with the server in process, so the token's life
	// is measured on the fake clock.
	synctest.Test(t, func(t *testing.T) {
		srv := basiqtest.NewUnstartedServer(basiqtest.WithTokenLifetime(time.Second))
		client := srv.Client()
		ctx := context.Background()
		userID := srv.AddUser("renew@hooli.example")
		_, err := client.Users.Get(ctx, userID)
		require.NoError(t, err)
		time.Sleep(900 * time.Millisecond) // past the renewal point (3/4 of the life), before expiry
		_, err = client.Users.Get(ctx, userID)
		require.NoError(t, err, "the call goes on with the current token")
		synctest.Wait() // the renewal in the background ends
		assert.Equal(t, 2, srv.TokenRequests())
		time.Sleep(200 * time.Millisecond) // past the first token's expiry
		_, err = client.Users.Get(ctx, userID)
		require.NoError(t, err)
		assert.Equal(t, 2, srv.TokenRequests(), "the renewed token is used")
		for _, r := range srv.Requests() {
			assert.NotEqual(t, http.StatusForbidden, r.Status, "no request was sent with an expired token")
		}
	})
}

func TestIntegrationMFA(t *testing.T) {
	t.Parallel()
	srv, client := newServer(t)

	t.Run("right code", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		job := connectAt(t, srv, client, "mfa@hooli.example", basiqtest.InstMFA, basiqtest.LoginWhistler, basiqtest.PasswordWhistler)
		job, err := client.WaitForJob(ctx, job, fast)
		var ch *basiq.MFAChallenge
		require.ErrorAs(t, err, &ch)
		assert.ErrorIs(t, err, basiq.ErrMFARequired)
		assert.Equal(t, "token", ch.Method)
		assert.NotEmpty(t, ch.Questions)
		assert.Positive(t, ch.Expiry)

		job, err = client.Jobs.RespondMFA(ctx, job.ID, basiqtest.MFACode)
		require.NoError(t, err)
		job, err = client.WaitForJob(ctx, job, fast)
		require.NoError(t, err)
		assert.Equal(t, basiq.StepStatusSuccess, job.Step(basiq.StepMFAChallenge).Status)
		assert.Equal(t, 1, srv.TokenRequestsByScope(basiqtest.ScopeClientAccess))
	})

	t.Run("wrong code", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		job := connectAt(t, srv, client, "mfa-wrong@hooli.example", basiqtest.InstMFA, basiqtest.LoginJared, basiqtest.PasswordJared)
		job, err := client.WaitForJob(ctx, job, fast)
		require.ErrorIs(t, err, basiq.ErrMFARequired)
		job, err = client.Jobs.RespondMFA(ctx, job.ID, "0000")
		require.NoError(t, err)
		_, err = client.WaitForJob(ctx, job, fast)
		var jobErr *basiq.JobError
		require.ErrorAs(t, err, &jobErr)
		assert.Equal(t, basiq.StepMFAChallenge, jobErr.Step)
		assert.NotContains(t, err.Error(), "0000")
	})

	t.Run("intermittent bank skips the challenge", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		job := connectAt(t, srv, client, "mfa-sometimes@hooli.example", basiqtest.InstMFAIntermittent, basiqtest.LoginRichard, basiqtest.PasswordRichard)
		job, err := client.WaitForJob(ctx, job, fast)
		require.NoError(t, err)
		assert.Equal(t, basiq.StepStatusSkipped, job.Step(basiq.StepMFAChallenge).Status)
	})
}

func TestIntegrationValidationPostsNothing(t *testing.T) {
	t.Parallel()
	srv, client := newServer(t)
	ctx := testCtx(t)
	userID := srv.AddUser("valid@hooli.example")
	cases := []basiq.ConnectionParams{
		{LoginID: "gavinBelson", Password: "hooli2016", Institution: basiq.InstitutionRef{ID: basiqtest.InstToken}},
		{UserToken: basiqtest.SandboxUserToken, Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli}},
		{LoginID: "gavinBelson", Password: "hooli2016", Institution: basiq.InstitutionRef{ID: basiqtest.InstSecurityCode}},
		{LoginID: "gavinBelson", Password: "hooli2016", Institution: basiq.InstitutionRef{ID: basiqtest.InstSecondaryLogin}},
		{LoginID: "gavinBelson", Password: "hooli2016", Institution: basiq.InstitutionRef{ID: basiqtest.InstOther}},
	}
	for _, p := range cases {
		_, err := client.Connections.Create(ctx, userID, p)
		require.ErrorIs(t, err, basiq.ErrValidation, "%v", p)
	}
	assert.Equal(t, 0, countRequests(srv, http.MethodPost, "/users/"+userID+"/connections"))

	// The token bank with its token connects.
	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{UserToken: basiqtest.SandboxUserToken, Institution: basiq.InstitutionRef{ID: basiqtest.InstToken}})
	require.NoError(t, err)
	_, err = client.WaitForJob(ctx, job, fast)
	require.NoError(t, err)
}

func TestIntegrationConcurrentClientsShareOneToken(t *testing.T) {
	t.Parallel()
	srv, client := newServer(t)
	ctx := testCtx(t)
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			userID := srv.AddUser("user" + string(rune('a'+i)) + "@hooli.example")
			job, err := client.Connections.Create(ctx, userID, hooli(basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson))
			if err == nil {
				_, err = client.WaitForJob(ctx, job, fast)
			}
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, 1, srv.TokenRequests())
	assert.Equal(t, 1, countRequests(srv, http.MethodGet, "/institutions/"+basiqtest.InstHooli), "the institution is read once per client")
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("took too long")
	}
}

// TestIntegrationPasswordReachesBasiqAtMostTwice puts a gateway in front of
// basiqtest that forwards every request and answers 502 to the connection
// create after forwarding it: every copy the client sends reaches Basiq as a
// login attempt at the bank.
func TestIntegrationPasswordReachesBasiqAtMostTwice(t *testing.T) {
	t.Parallel()
	bad := func(w http.ResponseWriter) { http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway) }
	refused := func(w http.ResponseWriter) {
		http.Error(w, "<html>401 Authorization Required</html>", http.StatusUnauthorized)
	}
	expired := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"type":"list","data":[{"type":"error","code":"access-denied","title":"Access denied","detail":"Token has expired"}]}`)
	}
	// Each answer is sent by the gateway after it forwarded the create to
	// basiqtest; the last one repeats.
	for _, tc := range []struct {
		name    string
		answers []func(http.ResponseWriter)
		status  int
	}{
		{"502 every time", []func(http.ResponseWriter){bad}, http.StatusBadGateway},
		{"502 then a refused token", []func(http.ResponseWriter){bad, refused, bad}, http.StatusUnauthorized},
		{"an expired token then 502", []func(http.ResponseWriter){expired, bad}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := newServer(t)
			target, err := url.Parse(srv.URL)
			require.NoError(t, err)
			upstream := &http.Transport{}
			t.Cleanup(upstream.CloseIdleConnections)
			proxy := httputil.NewSingleHostReverseProxy(target)
			proxy.Transport = upstream
			userID := srv.AddUser("gateway@hooli.example")
			createPath := "/users/" + userID + "/connections"
			var n atomic.Int32
			gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == createPath {
					proxy.ServeHTTP(httptest.NewRecorder(), r)
					tc.answers[min(int(n.Add(1))-1, len(tc.answers)-1)](w)
					return
				}
				proxy.ServeHTTP(w, r)
			}))
			t.Cleanup(gw.Close)
			client := srv.Client(basiq.WithBaseURL(gw.URL), fastRetry, basiq.WithMaxRetries(5))

			_, err = client.Connections.Create(testCtx(t), userID, hooli(basiqtest.LoginBighead, basiqtest.PasswordBighead))
			var apiErr *basiq.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)

			copies := 0
			for _, r := range srv.Requests() {
				if r.Method == http.MethodPost && r.Path == createPath && strings.Contains(r.Body, `"password":"[REDACTED]"`) {
					copies++
				}
			}
			assert.Equal(t, 2, copies, "the password reached Basiq once, and once more after the unknown outcome")
		})
	}
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
				srv, client := newServer(t, basiqtest.WithStepDuration(5*time.Millisecond))
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
		srv, client := newServer(t)
		userID := srv.AddUser("limited@hooli.example")
		srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/users/" + userID, Status: 429, Times: 10})
		_, err := client.Users.Get(testCtx(t), userID)
		require.ErrorIs(t, err, basiq.ErrRateLimited)
	})

	t.Run("huge value returns at once with RetryAfter", func(t *testing.T) {
		t.Parallel()
		srv, client := newServer(t)
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
	srv, client := newServer(t)
	ctx := testCtx(t)
	userID := srv.AddUser("token@hooli.example")

	srv.InjectFault(basiqtest.Fault{Method: http.MethodPost, Path: "/token", Status: 503, Times: 2})
	_, err := client.Users.Get(ctx, userID)
	require.NoError(t, err, "a token endpoint that fails transiently is retried")
	assert.Equal(t, 1, srv.TokenRequests())

	other := srv.Client(fastRetry)
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
		client := srv.Client(fastRetry, basiq.WithHTTPClient(hc))
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
	client := srv.Client(fastRetry, basiq.WithMaxRetries(0))
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
	srv, client := newServer(t)
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
	srv, client := newServer(t)
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
	srv, client := newServer(t)
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
	var webhookSecrets []string // the subscriptions' signing secrets

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

		wh, err := client.Webhooks.Create(ctx, basiq.WebhookParams{URL: "http://127.0.0.1:1/hooks"})
		keep(wh, err)
		whID := "nope"
		if wh != nil {
			whID = wh.ID
			webhookSecrets = append(webhookSecrets, wh.SigningSecret())
		}
		got, err := client.Webhooks.Get(ctx, whID)
		keep(got, err)
		got, err = client.Webhooks.Update(ctx, whID, basiq.WebhookParams{Name: "renamed", URL: "http://127.0.0.1:1/hooks"})
		keep(got, err)
		list, err := client.Webhooks.List(ctx)
		keep(list, err)
		for m, err := range client.Webhooks.Messages(ctx, whID) {
			keep(m, err)
		}
		msg, err := client.Webhooks.Message(ctx, whID, "nope")
		keep(msg, err)
		keep(client.Webhooks.SendTest(ctx, "user.created"))
		keep(client.Webhooks.Delete(ctx, whID))
	}
	runAll()
	srv.InjectFault(basiqtest.Fault{Path: "*", Status: 500, Times: 1000})
	runAll()
	srv.ClearFaults()
	srv.ExpireTokens()
	srv.InjectFault(basiqtest.Fault{Path: "/token", Status: 401, Times: 1000})
	runAll()

	rec.mu.Lock()
	require.NotEmpty(t, webhookSecrets, "a subscription was created")
	secrets := append([]string{leakPassword, leakToken, leakCode, leakMFA, leakAPIKey}, webhookSecrets...)
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
	srv, client := newServer(t, basiqtest.WithStepDuration(5*time.Millisecond), basiqtest.WithTransactionsPerAccount(20))
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

// secrets used by the leak test: distinctive, so finding one is no accident.
const (
	leakPassword = "pw-7f3a9c-secret"
	leakToken    = "ut-5b2e81-secret"
	leakCode     = "sc-44d0aa-secret"
	leakMFA      = "mfa-90c3e7-secret"
	leakAPIKey   = "a2V5LWZvci1sZWFrLXRlc3Q="
)

// TestIntegrationErrorStringsCarryOnePrefix checks the errors a client of
// basiqtest meets (its faults, its refusals, a failed login, an MFA step)
// name the package once.
func TestIntegrationErrorStringsCarryOnePrefix(t *testing.T) {
	t.Parallel()
	srv, client := newServer(t, basiqtest.WithFailingLoginAfter(10*time.Millisecond))
	ctx := testCtx(t)
	userID := srv.AddUser("gavin@hooli.example")
	path := "/users/" + userID
	one := func(name string, err error) {
		t.Helper()
		require.Error(t, err, name)
		assert.Equal(t, 1, strings.Count(err.Error(), "basiq:"), "%s: %q", name, err.Error())
	}
	for _, f := range []basiqtest.Fault{
		{Status: http.StatusBadGateway, HTML: true, Times: 10},
		{Drop: true, Times: 10},
		{Status: http.StatusOK, Body: `{"id":`},
		{Status: http.StatusTooManyRequests, RetryAfter: "3600"},
	} {
		f.Method, f.Path = http.MethodGet, path
		srv.InjectFault(f)
		_, err := client.Users.Get(ctx, userID)
		one(fmt.Sprintf("fault %+v", f), err)
	}
	_, err := client.Users.Get(ctx, "no-such-user")
	one("unknown user", err)
	_, err = srv.Client(basiq.WithAPIKey("not-the-key")).Users.Get(ctx, userID)
	one("refused key", err)
	_, err = client.Connections.Create(ctx, userID, basiq.ConnectionParams{LoginID: "x", Password: "y", Institution: basiq.InstitutionRef{ID: "AU99999"}})
	one("unknown institution", err)
	for _, p := range []basiq.ConnectionParams{hooli(basiqtest.LoginBighead, basiqtest.PasswordBighead),
		{LoginID: basiqtest.LoginGavinBelson, Password: basiqtest.PasswordGavinBelson, Institution: basiq.InstitutionRef{ID: basiqtest.InstMFA}}} {
		job, err := client.Connections.Create(ctx, userID, p)
		require.NoError(t, err)
		_, err = client.WaitForJob(ctx, job, fast)
		one("wait for "+p.Institution.ID, err)
	}
	v3 := srv.Client(basiq.WithVersion("3.0"))
	_, err = v3.Connections.Create(ctx, userID, hooli(basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson))
	one("unsupported on 3.0", err)
}
