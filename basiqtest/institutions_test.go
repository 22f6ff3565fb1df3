package basiqtest

import (
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInstitutionsList(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	r := c.get("/institutions")
	items := list(t, r)
	m := r.obj(t)
	assert.InDelta(t, 7, m["totalCount"], 0)
	assert.InDelta(t, 7, m["count"], 0)
	assert.Equal(t, []string{InstHooli, InstSecurityCode, InstSecondaryLogin, InstMFA, InstMFAIntermittent, InstOther, InstToken}, ids(items))
	for _, in := range items {
		assert.Equal(t, "institution", str(in, "type"))
		assert.Equal(t, c.base+"/institutions/"+str(in, "id"), str(in, "links", "self"))
		assert.NotNil(t, dig(in, "stats", "averageDurationMs", "total"))
	}
	auth := map[string]string{}
	for _, in := range items {
		auth[str(in, "id")] = str(in, "authorization")
	}
	assert.Equal(t, map[string]string{
		InstHooli: "user", InstSecurityCode: "user", InstSecondaryLogin: "user", InstMFA: "user-mfa",
		InstMFAIntermittent: "user-mfa-intermittent", InstOther: "other", InstToken: "token",
	}, auth)
}

func TestInstitutionGet(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(100*time.Millisecond), WithStepDurations(func(inst, step string) time.Duration {
		if inst == InstHooli && step == "retrieve-transactions" {
			return 2 * time.Second
		}
		return 0 // falls back to WithStepDuration
	}))
	r := c.get("/institutions/" + InstHooli)
	require.Equal(t, http.StatusOK, r.status)
	in := r.obj(t)
	assert.Equal(t, "Hooli Bank", str(in, "name"))
	assert.Equal(t, "4", str(in, "tier"))
	assert.Equal(t, "user", str(in, "authorization"))
	assert.Equal(t, "operational", str(in, "status"))
	assert.Equal(t, "live", str(in, "stage"))
	assert.Equal(t, "Australia", str(in, "country"))
	assert.Equal(t, "Login ID", str(in, "loginIdCaption"))
	assert.Nil(t, in["securityCodeCaption"])
	assert.Equal(t, map[string]any{"verifyCredentials": 100.0, "retrieveAccounts": 100.0, "retrieveTransactions": 2000.0,
		"retrieveMeta": 100.0, "total": 2200.0}, dig(in, "stats", "averageDurationMs"))

	tok := c.get("/institutions/" + InstToken).obj(t)
	assert.Equal(t, "token", str(tok, "authorization"))
	assert.Equal(t, "User token", str(tok, "userTokenCaption"))
	assert.Nil(t, tok["loginIdCaption"])
	assert.Equal(t, "Security code", str(c.get("/institutions/"+InstSecurityCode).obj(t), "securityCodeCaption"))
	assert.Equal(t, "Customer number", str(c.get("/institutions/"+InstSecondaryLogin).obj(t), "secondaryLoginIdCaption"))

	e := c.get("/institutions/AU99999").errBody(t, http.StatusNotFound, "resource-not-found")
	assert.Contains(t, e.Data[0].Detail, "AU99999")
}

func TestInstitutionsFilter(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	get := func(filter string) resp { return c.get("/institutions?" + url.Values{"filter": {filter}}.Encode()) }
	tests := []struct {
		filter string
		want   []string
	}{
		{"institution.authorization.in('user','user-mfa')", []string{InstHooli, InstSecurityCode, InstSecondaryLogin, InstMFA}},
		{"institution.id.eq('AU00000')", []string{InstHooli}},
		{"institution.authorization.in('user','token'),institution.id.eq('AU19301')", []string{InstToken}},
		{"institution.authorization.eq('user'), institution.id.in('AU00001', 'AU00003')", []string{InstSecurityCode}},
		{"institution.tier.eq('1')", []string{}},
		{"", []string{InstHooli, InstSecurityCode, InstSecondaryLogin, InstMFA, InstMFAIntermittent, InstOther, InstToken}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ids(list(t, get(tt.filter))), tt.filter)
	}
	for _, bad := range []string{"institution.id.eq(AU00000)", "institution.nope.eq('x')", "institution.id.like('x')",
		"institution.id.eq('a','b')", "institution.id.eq('x'", "id", "institution.id.eq('x');"} {
		e := get(bad).errBody(t, http.StatusBadRequest, "parameter-not-valid")
		assert.Equal(t, "filter", e.Data[0].Source["parameter"], bad)
	}
}

func TestWithInstitutions(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithStepDuration(0), WithInstitutions(
		Institution{ID: "AU99999", Name: "Outage Bank", Authorization: "user", Status: "major-outage", Tier: "1"},
		Institution{ID: InstHooli, Name: "Renamed Hooli"},
		Institution{ID: "AU88888", Authorization: "user-token"},
	))
	items := list(t, c.get("/institutions"))
	assert.Len(t, items, 9)
	out := c.get("/institutions/AU99999").obj(t)
	assert.Equal(t, "major-outage", str(out, "status"))
	assert.Equal(t, "1", str(out, "tier"))
	assert.Equal(t, "Renamed Hooli", str(c.get("/institutions/"+InstHooli).obj(t), "name"))

	// They connect like the sandbox banks of their kind.
	user := c.createUser("a@b.example")
	j := c.wait(c.connectLogin(user, "AU99999", LoginJared, PasswordJared))
	assert.Equal(t, "retrieve-transactions=success", j.statuses()[2])
	r := c.connect(user, "AU88888", map[string]string{"userToken": SandboxUserToken})
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	j = c.wait(str(r.obj(t), "id"))
	assert.Equal(t, "retrieve-transactions=success", j.statuses()[2])
}

func TestInstitutionStatsOptions(t *testing.T) {
	t.Parallel()
	_, c := startServer(t, WithoutStats())
	in := c.get("/institutions/" + InstHooli).obj(t)
	v, present := in["stats"]
	assert.True(t, present)
	assert.Nil(t, v, "stats: null")

	_, c = startServer(t, WithStepDuration(time.Second), WithPublishedAverages(func(_, step string) float64 {
		switch step {
		case "verify-credentials":
			return 1e308
		case "retrieve-accounts":
			return -5
		case "retrieve-transactions":
			return math.Inf(1) // JSON cannot carry it: published as 0
		}
		return 0
	}))
	in = c.get("/institutions/" + InstHooli).obj(t)
	assert.Equal(t, map[string]any{"verifyCredentials": 1e308, "retrieveAccounts": -5.0, "retrieveTransactions": 0.0,
		"retrieveMeta": 0.0, "total": 1e308 - 5}, dig(in, "stats", "averageDurationMs"))
}
