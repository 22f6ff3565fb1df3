package basiqtest

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnectionValidation(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	user := c.createUser("a@b.example")
	good := map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range good {
			out[k] = v
		}
		for k, v := range extra {
			if v == "-" {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	type want struct{ code, pointer string }
	tests := []struct {
		name   string
		inst   string
		fields map[string]string
		want   []want
	}{
		{"unknown institution", "AU12345", good, []want{{"parameter-not-valid", "/institution/id"}}},
		{"no institution", "", good, []want{{"parameter-not-supplied", "/institution/id"}}},
		{"other", InstOther, good, []want{{"parameter-not-valid", "/institution/id"}}},
		{"no login", InstHooli, with(map[string]string{"loginId": "-"}), []want{{"parameter-not-supplied", "/loginId"}}},
		{"no password", InstHooli, with(map[string]string{"password": "  "}), []want{{"parameter-not-supplied", "/password"}}},
		{"nothing", InstMFA, map[string]string{}, []want{{"parameter-not-supplied", "/loginId"}, {"parameter-not-supplied", "/password"}}},
		{"token at a user bank", InstHooli, with(map[string]string{"userToken": SandboxUserToken}), []want{{"parameter-not-valid", "/userToken"}}},
		{"no token", InstToken, map[string]string{}, []want{{"parameter-not-supplied", "/userToken"}}},
		{"login at a token bank", InstToken, with(map[string]string{"userToken": SandboxUserToken}),
			[]want{{"parameter-not-valid", "/loginId"}, {"parameter-not-valid", "/password"}}},
		{"no security code", InstSecurityCode, good, []want{{"parameter-not-supplied", "/securityCode"}}},
		{"no secondary login", InstSecondaryLogin, good, []want{{"parameter-not-supplied", "/secondaryLoginId"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := c.connect(user, tt.inst, tt.fields).errBody(t, http.StatusBadRequest, tt.want[0].code)
			var got []want
			for _, d := range e.Data {
				got = append(got, want{d.Code, d.Source["pointer"]})
				assert.NotEmpty(t, d.Detail)
			}
			assert.Equal(t, tt.want, got)
		})
	}
	c.connect("nope", InstHooli, good).errBody(t, http.StatusNotFound, "resource-not-found")
	c.post("/users/"+user+"/connections", `{"loginId":`).errBody(t, http.StatusBadRequest, "invalid-content")
	c.post("/users/"+user+"/connections", `{"loginId":5,"institution":{"id":"AU00000"}}`).errBody(t, http.StatusBadRequest, "invalid-content")

	// With the extra credentials, those banks accept.
	for inst, extra := range map[string]string{InstSecurityCode: "securityCode", InstSecondaryLogin: "secondaryLoginId"} {
		r := c.connect(user, inst, with(map[string]string{extra: "123"}))
		assert.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	}
}

func TestConnectionLifecycle(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(time.Millisecond))
	user := c.createUser("a@b.example")
	r := c.connect(user, InstHooli, map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson})
	require.Equal(t, http.StatusAccepted, r.status)
	short := r.obj(t)
	jobID := str(short, "id")
	assert.Equal(t, map[string]any{"type": "job", "id": jobID, "links": map[string]any{"self": c.base + "/jobs/" + jobID}}, short)

	job := c.job(jobID)
	connID := job.connID()
	assert.Equal(t, c.base+"/users/"+user+"/connections/"+connID, job.Links.Source)

	// Created at POST time (pending until the job succeeds: see
	// TestJobTimeline).
	assert.Equal(t, http.StatusOK, c.get("/users/"+user+"/connections/"+connID).status)
	c.wait(jobID)
	cn := c.get("/users/" + user + "/connections/" + connID).obj(t)
	assert.Equal(t, "connection", str(cn, "type"))
	assert.Equal(t, connID, str(cn, "id"))
	assert.Equal(t, "active", str(cn, "status"))
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, str(cn, "createdDate"))
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, str(cn, "lastUsed"))
	assert.Equal(t, false, cn["mfaEnabled"])
	assert.Equal(t, map[string]any{"type": "institution", "id": InstHooli,
		"links": map[string]any{"self": c.base + "/institutions/" + InstHooli}}, cn["institution"])
	accts := dig(cn, "accounts", "data").([]any)
	assert.Contains(t, []int{2, 3}, len(accts))
	assert.Equal(t, "account", str(accts[0].(map[string]any), "type"))
	filter := url.Values{"filter": {"connection.id.eq('" + connID + "')"}}.Encode()
	assert.Equal(t, map[string]any{
		"self":         c.base + "/users/" + user + "/connections/" + connID,
		"accounts":     c.base + "/users/" + user + "/accounts?" + filter,
		"transactions": c.base + "/users/" + user + "/transactions?" + filter,
		"user":         c.base + "/users/" + user,
		"institution":  c.base + "/institutions/" + InstHooli,
	}, cn["links"])
	// The links work.
	assert.Len(t, list(t, c.get(str(cn, "links", "accounts"))), len(accts))

	// The MFA banks say so.
	mfa := c.wait(str(c.connect(user, InstMFA, map[string]string{"loginId": LoginJared, "password": PasswordJared}).obj(t), "id"))
	assert.Equal(t, true, c.get("/users/" + user + "/connections/" + mfa.connID()).obj(t)["mfaEnabled"])

	// Not found: unknown id, another user's connection, unknown user.
	other := c.createUser("b@b.example")
	c.get("/users/"+user+"/connections/nope").errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/"+other+"/connections/"+connID).errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/nope/connections/"+connID).errBody(t, http.StatusNotFound, "resource-not-found")

	// Delete: 204, then it and its data are gone.
	assert.Equal(t, http.StatusNoContent, c.del("/users/"+user+"/connections/"+connID).status)
	c.get("/users/"+user+"/connections/"+connID).errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/jobs/"+jobID).errBody(t, http.StatusNotFound, "resource-not-found")
	c.del("/users/"+user+"/connections/"+connID).errBody(t, http.StatusNotFound, "resource-not-found")
	assert.Empty(t, list(t, c.get("/users/"+user+"/accounts?"+filter)))
	assert.Empty(t, list(t, c.get("/users/"+user+"/transactions?"+filter)))
	assert.Equal(t, []string{mfa.connID()}, ids(list(t, c.get("/users/"+user+"/connections"))))
}

func TestDuplicateJobRule(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(time.Hour))
	user := c.createUser("a@b.example")
	login := map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson}

	r1 := c.connect(user, InstHooli, login)
	require.Equal(t, http.StatusAccepted, r1.status)
	first := str(r1.obj(t), "id")
	// Same user, bank and login while running: 200 with the same job, even
	// with another password.
	r2 := c.connect(user, InstHooli, map[string]string{"loginId": LoginGavinBelson, "password": "other"})
	require.Equal(t, http.StatusOK, r2.status)
	assert.Equal(t, r1.obj(t), r2.obj(t))
	conn := c.job(first).connID()
	// Update and refresh of that connection too.
	r := c.post("/users/"+user+"/connections/"+conn, map[string]string{"password": "x"})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, first, str(r.obj(t), "id"))
	r = c.post("/users/"+user+"/connections/"+conn+"/refresh", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, first, str(r.obj(t), "id"))

	// Another login, bank or user is another connection and job.
	for _, alt := range []struct{ user, inst, login string }{
		{user, InstHooli, LoginJared}, {user, InstMFA, LoginGavinBelson}, {c.createUser("b@b.example"), InstHooli, LoginGavinBelson},
	} {
		r := c.connect(alt.user, alt.inst, map[string]string{"loginId": alt.login, "password": "pw"})
		require.Equal(t, http.StatusAccepted, r.status)
		j := c.job(str(r.obj(t), "id"))
		assert.NotEqual(t, conn, j.connID())
	}
	// Token banks key on the user token.
	tok := map[string]string{"userToken": SandboxUserToken}
	require.Equal(t, http.StatusAccepted, c.connect(user, InstToken, tok).status)
	require.Equal(t, http.StatusOK, c.connect(user, InstToken, tok).status)
	require.Equal(t, http.StatusAccepted, c.connect(user, InstToken, map[string]string{"userToken": "token:other"}).status)
	assert.Len(t, list(t, c.get("/users/"+user+"/connections")), 5)
}

func TestRecreateReusesConnection(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	first := c.wait(c.connectLogin(user, InstHooli, LoginBighead, PasswordBighead))
	conn := first.connID()
	assert.Equal(t, "invalid", str(c.get("/users/"+user+"/connections/"+conn).obj(t), "status"))

	// After the job ended, the same login gives a new job on the same
	// connection, with the new password.
	second := c.wait(c.connectLogin(user, InstHooli, LoginBighead, "another"))
	assert.NotEqual(t, first.ID, second.ID)
	assert.Equal(t, conn, second.connID())
	assert.Len(t, list(t, c.get("/users/"+user+"/connections")), 1)
	assert.Equal(t, []string{second.ID, first.ID}, ids(list(t, c.get("/users/"+user+"/jobs"))))
}

func TestConnectionUpdate(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	bad := c.wait(c.connectLogin(user, InstHooli, LoginRichard, "wrong"))
	status, result := bad.step("verify-credentials")
	assert.Equal(t, "failed", status)
	assert.JSONEq(t, `{"code":"invalid-credentials","title":"Cannot login to target institution using supplied credentials. Please check credentials and try again.","detail":"Invalid login credentials"}`, string(result))
	path := "/users/" + user + "/connections/" + bad.connID()
	assert.Equal(t, "invalid", str(c.get(path).obj(t), "status"))

	// An invalid connection cannot refresh, but can take a new password.
	e := c.post(path+"/refresh", nil).errBody(t, http.StatusBadRequest, "invalid-connection")
	assert.Contains(t, e.Data[0].Detail, "update")
	c.post(path, map[string]string{}).errBody(t, http.StatusBadRequest, "parameter-not-supplied")
	c.post(path, `{"password":`).errBody(t, http.StatusBadRequest, "invalid-content")
	r := c.post(path, map[string]string{"password": PasswordRichard})
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	j := c.wait(str(r.obj(t), "id"))
	assert.Equal(t, bad.connID(), j.connID())
	status, _ = j.step("retrieve-transactions")
	assert.Equal(t, "success", status)
	assert.Equal(t, "active", str(c.get(path).obj(t), "status"))

	// The security code and secondary login are replaced when sent.
	sc := c.connect(user, InstSecurityCode, map[string]string{"loginId": LoginJared, "password": PasswordJared, "securityCode": "1"})
	scJob := c.wait(str(sc.obj(t), "id"))
	r = c.post("/users/"+user+"/connections/"+scJob.connID(), map[string]string{"password": PasswordJared, "securityCode": "2", "secondaryLoginId": "3"})
	assert.Equal(t, http.StatusAccepted, r.status)

	// A token bank takes a new user token.
	tr := c.connect(user, InstToken, map[string]string{"userToken": "token:wrong"})
	tj := c.wait(str(tr.obj(t), "id"))
	status, _ = tj.step("verify-credentials")
	assert.Equal(t, "failed", status)
	tpath := "/users/" + user + "/connections/" + tj.connID()
	c.post(tpath, map[string]string{"password": "x"}).errBody(t, http.StatusBadRequest, "parameter-not-supplied")
	r = c.post(tpath, map[string]string{"userToken": SandboxUserToken})
	require.Equal(t, http.StatusAccepted, r.status)
	status, _ = c.wait(str(r.obj(t), "id")).step("retrieve-transactions")
	assert.Equal(t, "success", status)

	c.post("/users/"+user+"/connections/nope", map[string]string{"password": "x"}).errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestConnectionRefresh(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	good := c.wait(c.connectLogin(user, InstHooli, LoginGavinBelson, PasswordGavinBelson))
	locked := c.wait(c.connectLogin(user, InstHooli, LoginBighead, PasswordBighead))
	erlich := c.wait(c.connectLogin(user, InstHooli, LoginErlich, PasswordErlich))
	accts := ids(list(t, c.get("/users/"+user+"/accounts")))
	txCount := len(list(t, c.get("/users/"+user+"/transactions")))

	r := c.post("/users/"+user+"/connections/"+good.connID()+"/refresh", nil)
	require.Equal(t, http.StatusAccepted, r.status)
	j := c.wait(str(r.obj(t), "id"))
	assert.NotEqual(t, good.ID, j.ID)
	assert.Equal(t, good.connID(), j.connID())
	// A refresh keeps the accounts and transactions.
	assert.Equal(t, accts, ids(list(t, c.get("/users/"+user+"/accounts"))))
	assert.Len(t, list(t, c.get("/users/"+user+"/transactions")), txCount)

	c.post("/users/"+user+"/connections/nope/refresh", nil).errBody(t, http.StatusNotFound, "resource-not-found")

	// Refresh all: a job per connection that is not invalid.
	r = c.post("/users/"+user+"/connections/refresh", nil)
	require.Equal(t, http.StatusAccepted, r.status)
	var all struct {
		Type string `json:"type"`
		Data []struct {
			Type  string `json:"type"`
			ID    string `json:"id"`
			Links struct {
				Self string `json:"self"`
			} `json:"links"`
		} `json:"data"`
	}
	r.into(t, &all)
	assert.Equal(t, "list", all.Type)
	require.Len(t, all.Data, 2)
	var conns []string
	for _, d := range all.Data {
		assert.Equal(t, "job", d.Type)
		assert.Equal(t, c.base+"/jobs/"+d.ID, d.Links.Self)
		conns = append(conns, c.job(d.ID).connID())
	}
	assert.Equal(t, []string{good.connID(), erlich.connID()}, conns)
	assert.NotContains(t, conns, locked.connID())
	c.post("/users/nope/connections/refresh", nil).errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestRefreshAllReturnsRunningJobs(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(time.Hour))
	user := c.createUser("a@b.example")
	running := c.connectLogin(user, InstHooli, LoginJared, PasswordJared)
	r := c.post("/users/"+user+"/connections/refresh", nil)
	require.Equal(t, http.StatusAccepted, r.status)
	assert.Equal(t, running, str(r.obj(t)["data"].([]any)[0].(map[string]any), "id"))
}

func TestConnectionsListFilter(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0))
	user := c.createUser("a@b.example")
	a := c.wait(c.connectLogin(user, InstHooli, LoginJared, PasswordJared)).connID()
	b := c.wait(c.connectLogin(user, InstHooli, LoginBighead, PasswordBighead)).connID()
	m := c.wait(c.connectLogin(user, InstMFAIntermittent, LoginJared, PasswordJared)).connID()

	get := func(filter string) []string {
		return ids(list(t, c.get("/users/"+user+"/connections?"+url.Values{"filter": {filter}}.Encode())))
	}
	assert.Equal(t, []string{a, b, m}, get(""))
	assert.Equal(t, []string{a, m}, get("connection.status.eq('active')"))
	assert.Equal(t, []string{b}, get("connection.status.eq('invalid')"))
	assert.Equal(t, []string{m}, get("institution.id.eq('AU00004')"))
	assert.Equal(t, []string{a}, get("connection.id.eq('"+a+"'),connection.status.eq('active')"))
	assert.Equal(t, []string{}, get("connection.id.eq('"+b+"'),connection.status.eq('active')"))
	assert.Equal(t, []string{a, b}, get("connection.id.in('"+a+"','"+b+"')"))
	r := c.get("/users/" + user + "/connections?filter=" + url.QueryEscape("status.eq('active')"))
	r.errBody(t, http.StatusBadRequest, "parameter-not-valid")
	c.get("/users/nope/connections").errBody(t, http.StatusNotFound, "resource-not-found")

	l := c.get("/users/" + user + "/connections").obj(t)
	assert.InDelta(t, 3, l["count"], 0)
	assert.Regexp(t, regexp.MustCompile(`/users/`+user+`/connections$`), str(l, "links", "self"))
}

func TestPurgeRemovesAnActiveConnectionsData(t *testing.T) {
	_, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	connID := c.wait(c.connectLogin(uid, InstHooli, LoginGavinBelson, PasswordGavinBelson)).connID()
	require.NotEmpty(t, list(t, c.get("/users/"+uid+"/accounts")))

	require.Equal(t, http.StatusNoContent, c.post("/users/"+uid+"/connections/"+connID+"/purge", nil).status)
	assert.Empty(t, list(t, c.get("/users/"+uid+"/accounts")))
	assert.Empty(t, list(t, c.get("/users/"+uid+"/transactions")))
	assert.Equal(t, http.StatusOK, c.get("/users/"+uid+"/connections/"+connID).status, "the connection stays")

	bad := c.wait(c.connectLogin(uid, InstHooli, LoginBighead, PasswordBighead)).connID()
	c.post("/users/"+uid+"/connections/"+bad+"/purge", nil).errBody(t, http.StatusBadRequest, "parameter-not-valid")
	c.post("/users/"+uid+"/connections/nope/purge", nil).errBody(t, http.StatusNotFound, "resource-not-found")
}
