package basiqtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withoutTimes decodes a JSON object and replaces its created and updated
// timestamps (which depend on when the job ran) with a marker, after
// checking they are there.
func withoutTimes(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), "body: %s", body)
	for _, k := range []string{"created", "updated"} {
		if v, ok := m[k]; ok {
			s, _ := v.(string)
			_, err := time.Parse(time.RFC3339, s)
			require.NoError(t, err, "%s: %v", k, v)
			m[k] = "<time>"
		}
	}
	return m
}

func TestFixturesAreWhatTheServerServes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(fixtureStep))
		uid := c.createUser("fixtures@hooli.example")

		tok := c.tokenReq(ScopeServerAccess)
		require.Equal(t, http.StatusOK, tok.status)
		var served, fixture map[string]any
		tok.into(t, &served)
		require.NoError(t, json.Unmarshal([]byte(Fixtures{}.Token()), &fixture))
		assert.Equal(t, served["token_type"], fixture["token_type"])
		assert.Equal(t, served["expires_in"], fixture["expires_in"])
		assert.IsType(t, "", fixture["access_token"])
		assert.NotEmpty(t, fixture["access_token"])
		assert.Len(t, fixture, len(served), "the same fields")

		inst := c.get("/institutions/" + InstHooli)
		require.Equal(t, http.StatusOK, inst.status)
		assert.JSONEq(t, string(inst.body), Fixtures{BaseURL: UnstartedURL}.Institution())
		mfaInst := c.get("/institutions/" + InstMFA)
		assert.JSONEq(t, string(mfaInst.body), Fixtures{BaseURL: UnstartedURL, InstitutionID: InstMFA}.Institution())

		created := c.connect(uid, InstHooli, map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson})
		require.Equal(t, http.StatusAccepted, created.status)
		jobID := str(created.obj(t), "id")
		running := c.job(jobID)
		f := Fixtures{BaseURL: UnstartedURL, UserID: uid, ConnectionID: running.connID(), JobID: jobID}
		assert.JSONEq(t, string(created.body), f.JobCreated())

		served = withoutTimes(t, string(c.get("/jobs/"+jobID).body))
		assert.Equal(t, served, withoutTimes(t, f.JobInProgress()), "in progress")
		time.Sleep(10 * fixtureStep)
		served = withoutTimes(t, string(c.get("/jobs/"+jobID).body))
		assert.Equal(t, served, withoutTimes(t, f.JobDone()), "done")

		failed := c.connect(uid, InstHooli, map[string]string{"loginId": LoginBighead, "password": PasswordBighead})
		require.Equal(t, http.StatusAccepted, failed.status)
		f.JobID = str(failed.obj(t), "id")
		f.ConnectionID = c.job(f.JobID).connID()
		time.Sleep(10 * fixtureStep)
		served = withoutTimes(t, string(c.get("/jobs/"+f.JobID).body))
		assert.Equal(t, served, withoutTimes(t, f.JobFailed("", "")), "failed")

		mfa := c.connect(uid, InstMFA, map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson})
		require.Equal(t, http.StatusAccepted, mfa.status)
		f.JobID = str(mfa.obj(t), "id")
		f.ConnectionID = c.job(f.JobID).connID()
		time.Sleep(fixtureStep + fixtureStep/2)
		served = withoutTimes(t, string(c.get("/jobs/"+f.JobID).body))
		assert.Equal(t, served, withoutTimes(t, f.JobMFA()), "waiting for MFA")
	})
}

func TestFixturesDefaultsAndOverrides(t *testing.T) {
	var j jobT
	require.NoError(t, json.Unmarshal([]byte(Fixtures{}.JobFailed("service-unavailable", "Try later")), &j))
	assert.Equal(t, "job-1", j.ID)
	assert.Equal(t, "https://basiq.test/jobs/job-1", j.Links.Self)
	assert.Equal(t, "https://basiq.test/users/user-1/connections/connection-1", j.Links.Source)
	status, result := j.step(stepVerify)
	assert.Equal(t, statusFailed, status)
	assert.JSONEq(t, `{"code":"service-unavailable","title":"Cannot login to target institution using supplied credentials. Please check credentials and try again.","detail":"Try later"}`, string(result))

	require.NoError(t, json.Unmarshal([]byte(Fixtures{BaseURL: "https://api.test/p"}.JobMFA()), &j))
	assert.Equal(t, []string{"verify-credentials=success", "mfa-challenge=in-progress", "retrieve-accounts=pending", "retrieve-transactions=pending"}, j.statuses())
	_, result = j.step(stepMFA)
	assert.Contains(t, string(result), `"response":"https://api.test/p/jobs/job-1/mfa"`)

	assert.Panics(t, func() { _ = Fixtures{InstitutionID: "AU99999"}.Institution() })
}

// A base URL given with a trailing slash makes the same links as without.
func TestFixturesBaseURLWithTrailingSlash(t *testing.T) {
	for _, base := range []string{"https://api.test/", "https://api.test/v2/", "https://api.test/v2//"} {
		f := Fixtures{BaseURL: base}
		body := f.JobInProgress()
		assert.NotContains(t, strings.ReplaceAll(body, "https://", ""), "//", base)
		assert.Contains(t, body, strings.TrimRight(base, "/")+"/jobs/", base)
	}
}
