package basiqtest

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bubble's clock starts at midnight UTC, 1 January 2000.
const bubbleStart = "2000-01-01T00:00:00Z"

func TestJobTimeline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(time.Second))
		user := c.createUser("a@b.example")
		jobID := c.connectLogin(user, InstHooli, LoginGavinBelson, PasswordGavinBelson)

		j := c.job(jobID)
		assert.Equal(t, "job", j.Type)
		assert.Equal(t, jobID, j.ID)
		assert.Equal(t, bubbleStart, j.Created)
		assert.Equal(t, bubbleStart, j.Updated)
		assert.Equal(t, c.base+"/jobs/"+jobID, j.Links.Self)
		assert.Nil(t, j.Institution)
		assert.Equal(t, []string{"verify-credentials=in-progress", "retrieve-accounts=pending", "retrieve-transactions=pending"}, j.statuses())
		for _, s := range j.Steps {
			assert.JSONEq(t, "null", string(s.Result))
		}
		conn := j.connID()
		connPath := "/users/" + user + "/connections/" + conn
		assert.Equal(t, "pending", str(c.get(connPath).obj(t), "status"))
		assert.Nil(t, c.get(connPath).obj(t)["lastUsed"])

		time.Sleep(time.Second)
		j = c.job(jobID)
		assert.Equal(t, []string{"verify-credentials=success", "retrieve-accounts=in-progress", "retrieve-transactions=pending"}, j.statuses())
		_, res := j.step("verify-credentials")
		assert.JSONEq(t, `{"type":"link","url":"/users/`+user+`/connections/`+conn+`"}`, string(res))
		assert.Equal(t, "2000-01-01T00:00:01Z", j.Updated)
		assert.Equal(t, "2000-01-01T00:00:01Z", str(c.get(connPath).obj(t), "lastUsed"))
		assert.Empty(t, list(t, c.get("/users/"+user+"/accounts")))

		time.Sleep(time.Second)
		j = c.job(jobID)
		assert.Equal(t, []string{"verify-credentials=success", "retrieve-accounts=success", "retrieve-transactions=in-progress"}, j.statuses())
		_, res = j.step("retrieve-accounts")
		filter := url.Values{"filter": {"connection.id.eq('" + conn + "')"}}.Encode()
		assert.JSONEq(t, `{"type":"link","url":"/users/`+user+`/accounts?`+filter+`"}`, string(res))
		accts := list(t, c.get("/users/"+user+"/accounts"))
		assert.NotEmpty(t, accts)
		assert.Equal(t, "2000-01-01T00:00:02Z", str(accts[0], "lastUpdated"))
		assert.Empty(t, list(t, c.get("/users/"+user+"/transactions")))
		assert.Equal(t, "pending", str(c.get(connPath).obj(t), "status"))

		time.Sleep(time.Second)
		j = c.job(jobID)
		assert.Equal(t, []string{"verify-credentials=success", "retrieve-accounts=success", "retrieve-transactions=success"}, j.statuses())
		_, res = j.step("retrieve-transactions")
		assert.JSONEq(t, `{"type":"link","url":"/users/`+user+`/transactions?`+filter+`"}`, string(res))
		assert.Equal(t, "2000-01-01T00:00:03Z", j.Updated)
		assert.Len(t, list(t, c.get("/users/"+user+"/transactions")), len(accts)*DefaultTransactionsPerAccount)
		assert.Equal(t, "active", str(c.get(connPath).obj(t), "status"))

		// Nothing changes afterwards.
		time.Sleep(30 * time.Minute)
		assert.Equal(t, j, c.job(jobID))
	})
}

func TestJobEffectsWithoutReadingTheJob(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(time.Second))
		user := c.createUser("a@b.example")
		c.connectLogin(user, InstHooli, LoginJared, PasswordJared)
		time.Sleep(10 * time.Second)
		// The connection is active and the data are there although nobody
		// read the job.
		conns := list(t, c.get("/users/"+user+"/connections"))
		assert.Equal(t, "active", str(conns[0], "status"))
		assert.Equal(t, "2000-01-01T00:00:01Z", str(conns[0], "lastUsed"))
		assert.NotEmpty(t, list(t, c.get("/users/"+user+"/transactions?limit=1")))
	})
}

func TestStepDurationsPerBank(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(time.Second), WithStepDurations(func(inst, step string) time.Duration {
			if inst == InstSecondaryLogin && step == "verify-credentials" {
				return 10 * time.Second
			}
			return -1
		}))
		user := c.createUser("a@b.example")
		slow := str(c.connect(user, InstSecondaryLogin, map[string]string{"loginId": LoginJared, "password": PasswordJared, "secondaryLoginId": "42"}).obj(t), "id")
		fast := c.connectLogin(user, InstHooli, LoginJared, PasswordJared)
		time.Sleep(5 * time.Second)
		assert.Equal(t, "verify-credentials=in-progress", c.job(slow).statuses()[0])
		assert.Equal(t, "retrieve-transactions=success", c.job(fast).statuses()[2])
		time.Sleep(7 * time.Second)
		assert.Equal(t, "retrieve-transactions=success", c.job(slow).statuses()[2])
	})
}

func TestZeroStepDuration(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	jobID := c.connectLogin(user, InstHooli, LoginJared, PasswordJared)
	assert.Equal(t, []string{"verify-credentials=success", "retrieve-accounts=success", "retrieve-transactions=success"}, c.job(jobID).statuses())
	assert.NotEmpty(t, list(t, c.get("/users/"+user+"/transactions")))
}

func TestFailingLogins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, inst, login, password, token string
		code, detail, connStatus           string
	}{
		{"locked", InstHooli, LoginBighead, PasswordBighead, "", "invalid-credentials", "Account is locked", "invalid"},
		{"user action", InstHooli, LoginErlich, PasswordErlich, "", "account-not-accessible-requires-user-action", "", "pending"},
		{"unavailable", InstMFA, LoginJianYang, PasswordJianYang, "", "service-unavailable", "", "pending"},
		{"unknown login", InstHooli, "nobody", "nothing", "", "invalid-credentials", "Invalid login credentials", "invalid"},
		{"good login, wrong password", InstHooli, LoginGilfoyle, "wrong", "", "invalid-credentials", "Invalid login credentials", "invalid"},
		{"login case matters", InstHooli, "gilfoyle", PasswordGilfoyle, "", "invalid-credentials", "Invalid login credentials", "invalid"},
		{"wrong token", InstToken, "", "", "token:nope", "invalid-credentials", "Invalid user token", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				_, c := inProcessServer(t, WithStepDuration(time.Second))
				user := c.createUser("a@b.example")
				fields := map[string]string{"loginId": tt.login, "password": tt.password}
				if tt.token != "" {
					fields = map[string]string{"userToken": tt.token}
				}
				r := c.connect(user, tt.inst, fields)
				require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
				jobID := str(r.obj(t), "id")
				time.Sleep(time.Second)
				j := c.job(jobID)
				status, res := j.step("verify-credentials")
				assert.Equal(t, "failed", status)
				var e errorResultJSON
				require.NoError(t, jsonUnmarshal(res, &e))
				assert.Equal(t, tt.code, e.Code)
				assert.NotEmpty(t, e.Title)
				if tt.detail != "" {
					assert.Equal(t, tt.detail, e.Detail)
				}
				// Later steps stay pending, for good.
				time.Sleep(30 * time.Minute)
				j = c.job(jobID)
				for _, s := range j.Steps[1:] {
					assert.Equal(t, "pending", s.Status, s.Title)
					assert.JSONEq(t, "null", string(s.Result))
				}
				assert.Equal(t, "2000-01-01T00:00:01Z", j.Updated)
				assert.Equal(t, tt.connStatus, str(c.get("/users/"+user+"/connections/"+j.connID()).obj(t), "status"))
				assert.Empty(t, list(t, c.get("/users/"+user+"/accounts")))
			})
		})
	}
}

func TestGoodLogins(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	logins := map[string]string{LoginGavinBelson: PasswordGavinBelson, LoginJared: PasswordJared, LoginRichard: PasswordRichard,
		LoginGilfoyle: PasswordGilfoyle, LoginWhistler: PasswordWhistler}
	for login, pw := range logins {
		for _, inst := range []string{InstHooli, InstMFAIntermittent} {
			j := c.job(c.connectLogin(user, inst, login, pw))
			status, _ := j.step("retrieve-transactions")
			assert.Equal(t, "success", status, "%s at %s", login, inst)
		}
	}
	j := c.job(str(c.connect(user, InstToken, map[string]string{"userToken": SandboxUserToken}).obj(t), "id"))
	status, _ := j.step("retrieve-transactions")
	assert.Equal(t, "success", status)
}

func TestMFARightCode(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(time.Second))
		user := c.createUser("a@b.example")
		jobID := c.connectLogin(user, InstMFA, LoginRichard, PasswordRichard)
		clientTok := map[string]string{"Authorization": "Bearer " + c.token(ScopeClientAccess)}
		answer := func(body string) resp { return c.send(http.MethodPost, "/jobs/"+jobID+"/mfa", body, clientTok) }

		// Before the challenge: nothing to answer.
		assert.Equal(t, []string{"verify-credentials=in-progress", "mfa-challenge=pending", "retrieve-accounts=pending", "retrieve-transactions=pending"}, c.job(jobID).statuses())
		e := answer(`{"mfa-response":["1234"]}`).errBody(t, http.StatusBadRequest, "parameter-not-valid")
		assert.Contains(t, e.Data[0].Detail, "not waiting")

		time.Sleep(time.Second)
		j := c.job(jobID)
		assert.Equal(t, []string{"verify-credentials=success", "mfa-challenge=in-progress", "retrieve-accounts=pending", "retrieve-transactions=pending"}, j.statuses())
		_, res := j.step("mfa-challenge")
		assert.JSONEq(t, `{"type":"mfa","method":"token","description":"Enter the code sent to your phone",
			"input":[{"type":"text","question":"One-time code"}],"expiryMs":120000,
			"links":{"response":"`+c.base+`/jobs/`+jobID+`/mfa"}}`, string(res))

		// It waits for the answer.
		time.Sleep(time.Minute)
		assert.Equal(t, j, c.job(jobID))

		answer(`{}`).errBody(t, http.StatusBadRequest, "parameter-not-supplied")
		answer(`{"mfa-response":[]}`).errBody(t, http.StatusBadRequest, "parameter-not-supplied")
		answer(`{"mfa-response":"1234"}`).errBody(t, http.StatusBadRequest, "invalid-content")
		c.send(http.MethodPost, "/jobs/nope/mfa", `{"mfa-response":["1234"]}`, clientTok).errBody(t, http.StatusNotFound, "resource-not-found")

		r := answer(`{"mfa-response":["1234"]}`)
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
		var after jobT
		r.into(t, &after)
		assert.Equal(t, []string{"verify-credentials=success", "mfa-challenge=success", "retrieve-accounts=in-progress", "retrieve-transactions=pending"}, after.statuses())
		assert.Equal(t, "2000-01-01T00:01:01Z", after.Updated)
		_, res = after.step("mfa-challenge")
		assert.JSONEq(t, "null", string(res))
		// The rest runs from the answer.
		time.Sleep(2 * time.Second)
		j = c.job(jobID)
		assert.Equal(t, []string{"verify-credentials=success", "mfa-challenge=success", "retrieve-accounts=success", "retrieve-transactions=success"}, j.statuses())
		assert.Equal(t, "2000-01-01T00:01:03Z", j.Updated)
		assert.Equal(t, "active", str(c.get("/users/"+user+"/connections/"+j.connID()).obj(t), "status"))
		// Answered already.
		answer(`{"mfa-response":["1234"]}`).errBody(t, http.StatusBadRequest, "parameter-not-valid")
	})
}

func TestMFAWrongCode(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(time.Second))
		user := c.createUser("a@b.example")
		jobID := c.connectLogin(user, InstMFA, LoginRichard, PasswordRichard)
		time.Sleep(time.Second)
		clientTok := map[string]string{"Authorization": "Bearer " + c.token(ScopeClientAccess)}
		r := c.send(http.MethodPost, "/jobs/"+jobID+"/mfa", `{"mfa-response":["4321"]}`, clientTok)
		require.Equal(t, http.StatusAccepted, r.status)
		var j jobT
		r.into(t, &j)
		assert.Equal(t, []string{"verify-credentials=success", "mfa-challenge=failed", "retrieve-accounts=pending", "retrieve-transactions=pending"}, j.statuses())
		_, res := j.step("mfa-challenge")
		assert.JSONEq(t, `{"code":"invalid-credentials","title":"Invalid MFA response","detail":"Incorrect one-time code"}`, string(res))
		time.Sleep(30 * time.Minute)
		assert.Equal(t, j.statuses(), c.job(jobID).statuses())
		assert.Equal(t, "pending", str(c.get("/users/"+user+"/connections/"+j.connID()).obj(t), "status"))
		c.send(http.MethodPost, "/jobs/"+jobID+"/mfa", `{"mfa-response":["1234"]}`, clientTok).errBody(t, http.StatusBadRequest, "parameter-not-valid")

		// A refresh asks again, and two answers are not one code.
		r = c.post("/users/"+user+"/connections/"+j.connID()+"/refresh", nil)
		require.Equal(t, http.StatusAccepted, r.status)
		next := str(r.obj(t), "id")
		time.Sleep(time.Second)
		r = c.send(http.MethodPost, "/jobs/"+next+"/mfa", `{"mfa-response":["1234","1234"]}`, clientTok)
		require.Equal(t, http.StatusAccepted, r.status)
		r.into(t, &j)
		status, _ := j.step("mfa-challenge")
		assert.Equal(t, "failed", status)
	})
}

func TestMFAExpires(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(time.Second))
		user := c.createUser("a@b.example")
		jobID := c.connectLogin(user, InstMFA, LoginRichard, PasswordRichard)
		time.Sleep(time.Second + 119*time.Second)
		status, _ := c.job(jobID).step("mfa-challenge")
		assert.Equal(t, "in-progress", status)
		time.Sleep(time.Second)
		j := c.job(jobID)
		status, res := j.step("mfa-challenge")
		assert.Equal(t, "failed", status)
		assert.JSONEq(t, `{"code":"job-timed-out","title":"MFA challenge expired","detail":"No answer to the MFA challenge within 120 s"}`, string(res))
		assert.Equal(t, "2000-01-01T00:02:01Z", j.Updated)
		c.send(http.MethodPost, "/jobs/"+jobID+"/mfa", `{"mfa-response":["1234"]}`,
			map[string]string{"Authorization": "Bearer " + c.token(ScopeClientAccess)}).errBody(t, http.StatusBadRequest, "parameter-not-valid")
	})
}

func TestIntermittentMFA(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(time.Second))
		clientTok := map[string]string{"Authorization": "Bearer " + c.token(ScopeClientAccess)}
		user := c.createUser("a@b.example")
		first := c.connectLogin(user, InstMFAIntermittent, LoginJared, PasswordJared)
		time.Sleep(500 * time.Millisecond)
		status, _ := c.job(first).step("mfa-challenge")
		assert.Equal(t, "pending", status)
		time.Sleep(10 * time.Second)
		j := c.job(first)
		assert.Equal(t, []string{"verify-credentials=success", "mfa-challenge=skipped", "retrieve-accounts=success", "retrieve-transactions=success"}, j.statuses())
		path := "/users/" + user + "/connections/" + j.connID() + "/refresh"

		// The connection's second job asks.
		second := str(c.post(path, nil).obj(t), "id")
		time.Sleep(10 * time.Second)
		status, _ = c.job(second).step("mfa-challenge")
		assert.Equal(t, "in-progress", status)
		require.Equal(t, http.StatusAccepted, c.send(http.MethodPost, "/jobs/"+second+"/mfa", `{"mfa-response":["1234"]}`, clientTok).status)
		time.Sleep(10 * time.Second)
		status, _ = c.job(second).step("retrieve-transactions")
		assert.Equal(t, "success", status)

		// The third skips again.
		third := str(c.post(path, nil).obj(t), "id")
		time.Sleep(10 * time.Second)
		status, _ = c.job(third).step("mfa-challenge")
		assert.Equal(t, "skipped", status)
	})
}

func TestJobsList(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	a := c.job(c.connectLogin(user, InstHooli, LoginJared, PasswordJared))
	b := c.job(c.connectLogin(user, InstMFAIntermittent, LoginJared, PasswordJared))
	a2 := c.job(str(c.post("/users/"+user+"/connections/"+a.connID()+"/refresh", nil).obj(t), "id"))
	other := c.createUser("b@b.example")
	c.connectLogin(other, InstHooli, LoginJared, PasswordJared)

	r := c.get("/users/" + user + "/jobs")
	var l struct {
		Type  string `json:"type"`
		Count int    `json:"count"`
		Data  []jobT `json:"data"`
	}
	r.into(t, &l)
	assert.Equal(t, 3, l.Count)
	require.Len(t, l.Data, 3)
	assert.Equal(t, []string{a2.ID, b.ID, a.ID}, []string{l.Data[0].ID, l.Data[1].ID, l.Data[2].ID}, "newest first")
	assert.Equal(t, "institution", l.Data[1].Institution.Type)
	assert.Equal(t, InstMFAIntermittent, l.Data[1].Institution.ID)
	assert.Equal(t, b.Steps, l.Data[1].Steps)

	get := func(filter string) []string {
		return ids(list(t, c.get("/users/"+user+"/jobs?"+url.Values{"filter": {filter}}.Encode())))
	}
	assert.Equal(t, []string{a2.ID, a.ID}, get("connection.id.eq('"+a.connID()+"')"))
	assert.Equal(t, []string{b.ID}, get("institution.id.eq('AU00004')"))
	c.get("/users/"+user+"/jobs?filter=connection.eq('x')").errBody(t, http.StatusBadRequest, "parameter-not-valid")
	c.get("/users/nope/jobs").errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/jobs/nope").errBody(t, http.StatusNotFound, "resource-not-found")
}

// TestMFARefusesTokenIssuedBefore21 checks that an MFA answer is refused on
// a CLIENT_ACCESS token issued under a version without the MFA endpoint:
// the version is fixed when a token is issued, whatever a later request's
// header says.
func TestMFARefusesTokenIssuedBefore21(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(time.Second))
		user := c.createUser("a@b.example")
		jobID := c.connectLogin(user, InstMFA, LoginRichard, PasswordRichard)
		time.Sleep(1500 * time.Millisecond) // mfa-challenge waits
		for _, v := range []string{"1.0", "2.0"} {
			r := c.tokenReqVersion(ScopeClientAccess, v)
			require.Equal(t, http.StatusOK, r.status)
			var tr struct {
				AccessToken string `json:"access_token"`
			}
			r.into(t, &tr)
			hdr := map[string]string{"Authorization": "Bearer " + tr.AccessToken, "basiq-version": "2.1"}
			c.send(http.MethodPost, "/jobs/"+jobID+"/mfa", `{"mfa-response":["1234"]}`, hdr).errBody(t, http.StatusForbidden, "forbidden-access")
		}
		r := c.send(http.MethodPost, "/jobs/"+jobID+"/mfa", `{"mfa-response":["1234"]}`,
			map[string]string{"Authorization": "Bearer " + c.token(ScopeClientAccess)})
		assert.Equal(t, http.StatusAccepted, r.status, "a token issued under 2.1 is taken")
	})
}

func TestJobTimingDrawsAroundThePublishedAverages(t *testing.T) {
	t.Parallel()
	plans := func(timing JobTiming, n int) []JobPlan {
		srv, c := inProcessServer(t, WithStepDuration(2*time.Second), WithJobTiming(timing))
		var out []JobPlan
		for i := range n {
			u := c.createUser(fmt.Sprintf("timing-%d@hooli.example", i))
			r := c.connect(u, InstHooli, map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson})
			require.Equal(t, http.StatusAccepted, r.status)
			p, ok := srv.JobPlan(str(r.obj(t), "id"))
			require.True(t, ok)
			out = append(out, p)
		}
		return out
	}
	total := func(p JobPlan) time.Duration { return p.Verify + p.Accounts + p.Transactions }

	// Scale alone: every step takes Scale times the average.
	for _, p := range plans(JobTiming{Scale: 2}, 3) {
		assert.Equal(t, [3]time.Duration{4 * time.Second, 4 * time.Second, 4 * time.Second}, [3]time.Duration{p.Verify, p.Accounts, p.Transactions})
	}
	// Spread: steps vary, the same way for the same seed, about the average.
	a, b := plans(JobTiming{Seed: 3, Spread: 0.35}, 40), plans(JobTiming{Seed: 3, Spread: 0.35}, 40)
	var sum time.Duration
	distinct := map[time.Duration]bool{}
	for i := range a {
		assert.Equal(t, total(a[i]), total(b[i]), "same seed, same draws")
		sum += total(a[i])
		distinct[a[i].Verify] = true
	}
	assert.Greater(t, len(distinct), 30)
	assert.InDelta(t, 6*time.Second, sum/time.Duration(len(a)), float64(time.Second), "mean near the published 6 s")
	// Totals unrelated to the averages.
	for _, p := range plans(JobTiming{Seed: 4, TotalMin: 3 * time.Second, TotalMax: 30 * time.Second}, 20) {
		assert.InDelta(t, 16.5*float64(time.Second), float64(total(p)), 13.5*float64(time.Second)+float64(3*time.Millisecond))
	}
}

func TestFailingLoginAfter(t *testing.T) {
	t.Parallel()
	srv, c := inProcessServer(t, WithStepDuration(10*time.Second), WithFailingLoginAfter(1500*time.Millisecond))
	u := c.createUser("late-fail@hooli.example")
	r := c.connect(u, InstHooli, map[string]string{"loginId": LoginBighead, "password": PasswordBighead})
	require.Equal(t, http.StatusAccepted, r.status)
	p, ok := srv.JobPlan(str(r.obj(t), "id"))
	require.True(t, ok)
	assert.True(t, p.Fails)
	assert.Equal(t, 1500*time.Millisecond, p.Verify)
	// A good login keeps the usual duration.
	r = c.connect(u, InstHooli, map[string]string{"loginId": LoginJared, "password": PasswordJared})
	p, _ = srv.JobPlan(str(r.obj(t), "id"))
	assert.False(t, p.Fails)
	assert.Equal(t, 10*time.Second, p.Verify)
}
