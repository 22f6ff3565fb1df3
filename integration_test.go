package basiq_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Integration tests: the client against basiqtest over real loopback HTTP.

var fast = basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)

func newServer(t *testing.T, opts ...basiqtest.Option) (*basiqtest.Server, *basiq.Client) {
	t.Helper()
	srv := basiqtest.NewServer(append([]basiqtest.Option{basiqtest.WithStepDuration(20 * time.Millisecond)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv, srv.Client(basiq.WithRetryWait(time.Millisecond, 10*time.Millisecond))
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hooli(login, password string) basiq.ConnectionParams {
	return basiq.ConnectionParams{LoginID: login, Password: password, Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli}}
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
		assert.Equal(t, basiq.StepSuccess, st.Status, st.Title)
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
	for tx, err := range client.Transactions.List(ctx, user.ID, &basiq.TransactionFilter{ConnectionID: connID, Direction: "debit"}) {
		require.NoError(t, err)
		assert.Equal(t, "debit", tx.Direction)
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
	cases := []struct{ login, password, code string }{
		{basiqtest.LoginBighead, basiqtest.PasswordBighead, "invalid-credentials"},
		{basiqtest.LoginErlich, basiqtest.PasswordErlich, "account-not-accessible-requires-user-action"},
		{basiqtest.LoginJianYang, basiqtest.PasswordJianYang, "service-unavailable"},
		{"nobody", "guess", "invalid-credentials"},
	}
	srv, client := newServer(t)
	for _, tc := range cases {
		t.Run(tc.login, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			userID := srv.AddUser(tc.login + "@hooli.example")
			job, err := client.Connections.Create(ctx, userID, hooli(tc.login, tc.password))
			require.NoError(t, err)
			job, err = client.WaitForJob(ctx, job, fast)
			var jobErr *basiq.JobError
			require.ErrorAs(t, err, &jobErr)
			assert.ErrorIs(t, err, basiq.ErrJobFailed)
			assert.Equal(t, basiq.StepVerifyCredentials, jobErr.Step)
			assert.Equal(t, tc.code, jobErr.Code)
			assert.NotContains(t, err.Error(), tc.password)
			assert.Equal(t, basiq.StepPending, job.Step(basiq.StepRetrieveAccounts).Status, "returned without waiting for the rest")
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
		userID := srv.AddUser("mfa@hooli.example")
		job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
			LoginID: basiqtest.LoginWhistler, Password: basiqtest.PasswordWhistler, Institution: basiq.InstitutionRef{ID: basiqtest.InstMFA},
		})
		require.NoError(t, err)
		job, err = client.WaitForJob(ctx, job, fast)
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
		assert.Equal(t, basiq.StepSuccess, job.Step(basiq.StepMFAChallenge).Status)
		assert.Equal(t, 1, srv.TokenRequestsByScope(basiqtest.ScopeClientAccess))
	})

	t.Run("wrong code", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		userID := srv.AddUser("mfa-wrong@hooli.example")
		job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
			LoginID: basiqtest.LoginJared, Password: basiqtest.PasswordJared, Institution: basiq.InstitutionRef{ID: basiqtest.InstMFA},
		})
		require.NoError(t, err)
		job, err = client.WaitForJob(ctx, job, fast)
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
		userID := srv.AddUser("mfa-sometimes@hooli.example")
		job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
			LoginID: basiqtest.LoginRichard, Password: basiqtest.PasswordRichard, Institution: basiq.InstitutionRef{ID: basiqtest.InstMFAIntermittent},
		})
		require.NoError(t, err)
		job, err = client.WaitForJob(ctx, job, fast)
		require.NoError(t, err)
		assert.Equal(t, basiq.StepSkipped, job.Step(basiq.StepMFAChallenge).Status)
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
			client := srv.Client(basiq.WithBaseURL(gw.URL), basiq.WithRetryWait(time.Millisecond, 10*time.Millisecond), basiq.WithMaxRetries(5))

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
