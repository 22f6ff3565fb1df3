package basiqtest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenFor asks POST /token for a token of scope under version, with form
// fields extra, and returns it; it fails the test on anything but 200.
func (c *client) tokenFor(scope, version string, extra url.Values) string {
	c.t.Helper()
	r := c.tokenForReq(scope, version, extra)
	require.Equal(c.t, http.StatusOK, r.status, "body: %s", r.body)
	return str(r.obj(c.t), "access_token")
}

func (c *client) tokenForReq(scope, version string, extra url.Values) resp {
	c.t.Helper()
	form := url.Values{"scope": {scope}}
	for k, v := range extra {
		form[k] = v
	}
	return c.send(http.MethodPost, "/token", form,
		map[string]string{"Authorization": "Basic " + c.srv.APIKey, "basiq-version": version})
}

// as returns a copy of c sending tok.
func (c *client) as(tok string) *client {
	cc := *c
	cc.tok = tok
	return &cc
}

func TestClientTokenOn3MustBeBoundToAUser(t *testing.T) {
	_, c := startServer(t)
	uid := c.createUser("a@hooli.example")

	c.tokenForReq(ScopeClientAccess, "3.0", nil).errBody(t, http.StatusBadRequest, "parameter-not-supplied")
	c.tokenForReq(ScopeClientAccess, "3.0", url.Values{"userId": {"nobody"}}).errBody(t, http.StatusNotFound, "resource-not-found")
	assert.NotEmpty(t, c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {uid}}))
	// 2.x does not require it.
	assert.NotEmpty(t, c.tokenFor(ScopeClientAccess, "2.1", nil))
}

func TestVersion3RefusesTheCredentialFlowAndInstitutions(t *testing.T) {
	_, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	jobID := c.connectLogin(uid, InstHooli, LoginGavinBelson, PasswordGavinBelson)
	connID := c.wait(jobID).connID()

	v3 := c.as(c.tokenFor(ScopeServerAccess, "3.0", nil))
	r := v3.connect(uid, InstHooli, map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson})
	r.errBody(t, http.StatusMethodNotAllowed, "method-not-allowed")
	assert.Equal(t, "GET", r.header.Get("Allow"))
	r = v3.post("/users/"+uid+"/connections/"+connID, map[string]string{"password": PasswordGavinBelson})
	r.errBody(t, http.StatusMethodNotAllowed, "method-not-allowed")
	assert.Equal(t, "DELETE, GET", r.header.Get("Allow"))
	v3.get("/institutions").errBody(t, http.StatusNotFound, "resource-not-found")
	v3.get("/institutions/"+InstHooli).errBody(t, http.StatusNotFound, "resource-not-found")

	// What 3.0 keeps still answers.
	assert.Equal(t, http.StatusOK, v3.get("/users/"+uid+"/connections/"+connID).status)
	assert.Equal(t, http.StatusAccepted, v3.post("/users/"+uid+"/connections/"+connID+"/refresh", nil).status)
	// 2.0 tokens keep the 2.x API.
	assert.Equal(t, http.StatusOK, c.get("/institutions").status)
}

func TestClientTokenOn3ReadsOnlyItsUsersJobs(t *testing.T) {
	_, c := startServer(t)
	a, b := c.createUser("a@hooli.example"), c.createUser("b@hooli.example")
	jobA := c.connectLogin(a, InstHooli, LoginGavinBelson, PasswordGavinBelson)
	jobB := c.connectLogin(b, InstHooli, LoginJared, PasswordJared)

	ct := c.as(c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {a}}))
	assert.Equal(t, http.StatusOK, ct.get("/jobs/"+jobA).status)
	ct.get("/jobs/"+jobB).errBody(t, http.StatusForbidden, "forbidden-access")
	ct.get("/users/"+a).errBody(t, http.StatusForbidden, "forbidden-access")
	ct.get("/users/"+a+"/accounts").errBody(t, http.StatusForbidden, "forbidden-access")
}

func TestJobsCarryJobTypeOn3Only(t *testing.T) {
	_, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	jobID := c.connectLogin(uid, InstHooli, LoginGavinBelson, PasswordGavinBelson)

	assert.NotContains(t, c.get("/jobs/"+jobID).obj(t), "jobType")
	v3 := c.as(c.tokenFor(ScopeServerAccess, "3.0", nil))
	assert.Equal(t, "connection", str(v3.get("/jobs/"+jobID).obj(t), "jobType"))
	items := list(t, v3.get("/users/"+uid+"/jobs"))
	require.Len(t, items, 1)
	assert.Equal(t, "connection", str(items[0], "jobType"))
}

func TestClientTokenOn3AnswersOnlyItsUsersMFA(t *testing.T) {
	_, c := startServer(t)
	a, b := c.createUser("a@hooli.example"), c.createUser("b@hooli.example")
	jobB := c.connectLogin(b, InstMFA, LoginGavinBelson, PasswordGavinBelson)
	c.wait(jobB)

	tokA := c.as(c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {a}}))
	tokA.post("/jobs/"+jobB+"/mfa", map[string]any{"mfa-response": []string{MFACode}}).errBody(t, http.StatusForbidden, "forbidden-access")
	tokB := c.as(c.tokenFor(ScopeClientAccess, "3.0", url.Values{"userId": {b}}))
	assert.Equal(t, http.StatusAccepted, tokB.post("/jobs/"+jobB+"/mfa", map[string]any{"mfa-response": []string{MFACode}}).status)
}
