package basiq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInstitutionCacheIsBounded checks that a long-running client meeting
// many institution ids keeps a bounded cache, and that the most recent ones
// stay in it.
func TestInstitutionCacheIsBounded(t *testing.T) {
	t.Parallel()
	ic := newInstitutionCache()
	for i := range 5 * maxCachedInstitutions {
		id := fmt.Sprintf("AU%05d", i)
		ic.put(id, Institution{ID: id})
	}
	assert.LessOrEqual(t, ic.len(), maxCachedInstitutions)
	_, ok := ic.lookup(fmt.Sprintf("AU%05d", 5*maxCachedInstitutions-1))
	assert.True(t, ok, "the newest entry is kept")
	_, ok = ic.lookup("AU00000")
	assert.False(t, ok, "the oldest entry was dropped")
}

// TestInstitutionCacheEntriesAge checks that a cached institution is read
// again once it is older than institutionTTL (its authorization type may have
// changed), and that aged entries do not hold memory.
func TestInstitutionCacheEntriesAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", jsonResp(http.StatusOK, hooliJSON))
		ctx := context.Background()
		_, err := c.Institutions.cached(ctx, "AU00000")
		require.NoError(t, err)
		_, err = c.Institutions.cached(ctx, "AU00000")
		require.NoError(t, err)
		assert.Equal(t, 1, calls(mt, "GET "+testBase+"/institutions/AU00000"))

		time.Sleep(institutionTTL)
		_, err = c.Institutions.cached(ctx, "AU00000")
		require.NoError(t, err)
		assert.Equal(t, 2, calls(mt, "GET "+testBase+"/institutions/AU00000"), "read again after the TTL")

		// Entries past their age are dropped when the cache is written.
		time.Sleep(institutionTTL)
		c.insts.put("AU11111", Institution{ID: "AU11111"})
		assert.Equal(t, 1, c.insts.len())
	})
}

func TestInstitutionsList(t *testing.T) {
	t.Parallel()
	const listJSON = `{"type":"list","totalCount":2,"data":[` + hooliJSON + `,
		{"type":"institution","id":"AU00001","name":"Hooli Bank MFA","tier":4,"authorization":"user-mfa","status":"operational",
		 "stats":{"averageDurationMs":{"verifyCredentials":1500,"total":9000.5}}}]}`

	t.Run("authorization filter", func(t *testing.T) {
		t.Parallel()
		c, _, rec := setup(t, http.MethodGet, institutionsURL, jsonResp(http.StatusOK, listJSON))

		insts, err := c.Institutions.List(t.Context(), &InstitutionFilter{Authorization: []AuthorizationType{AuthUser, AuthUserMFA}})
		require.NoError(t, err)
		require.Len(t, insts, 2)
		assert.Equal(t, "AU00000", insts[0].ID)
		assert.Equal(t, AuthUser, insts[0].Authorization)
		assert.Equal(t, "AU00001", insts[1].ID)
		assert.Equal(t, AuthUserMFA, insts[1].Authorization)
		assert.Equal(t, "4", insts[1].Tier, "a numeric tier is read as its digits")
		require.NotNil(t, insts[1].Stats)
		require.NotNil(t, insts[1].Stats.AverageDurationMs)
		assert.Equal(t, 9000.5, insts[1].Stats.AverageDurationMs.Total)

		reqs := rec.all()
		require.Len(t, reqs, 1)
		assert.Equal(t, "/institutions", reqs[0].Path)
		assert.Equal(t, url.Values{"filter": {"institution.authorization.in('user','user-mfa')"}}, reqs[0].Query)
	})

	t.Run("other filters", func(t *testing.T) {
		t.Parallel()
		c, _, rec := setup(t, http.MethodGet, institutionsURL, jsonResp(http.StatusOK, `{"type":"list","data":[]}`))
		for _, f := range []*InstitutionFilter{
			nil,
			{},
			{ID: "AU00000", Raw: "institution.stage.eq('live')"},
			{Authorization: []AuthorizationType{AuthToken}},
		} {
			_, err := c.Institutions.List(t.Context(), f)
			require.NoError(t, err)
		}
		reqs := rec.all()
		require.Len(t, reqs, 4)
		assert.Empty(t, reqs[0].Query)
		assert.Empty(t, reqs[1].Query)
		assert.Equal(t, url.Values{"filter": {"institution.id.eq('AU00000'),institution.stage.eq('live')"}}, reqs[2].Query)
		assert.Equal(t, url.Values{"filter": {"institution.authorization.in('token')"}}, reqs[3].Query)

		_, err := c.Institutions.List(t.Context(), &InstitutionFilter{Authorization: []AuthorizationType{"user'),institution.id.eq('x"}})
		assert.Equal(t, []string{"authorization"}, validationFields(t, err))
		assert.Len(t, rec.all(), 4, "a refused filter makes no request")
	})

	t.Run("fills the cache Create reads", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		withToken := strings.Replace(listJSON, `]}`, `,{"type":"institution","id":"AU19301","name":"Token Bank","authorization":"token"}]}`, 1)
		mt.RegisterResponder(http.MethodGet, institutionsURL, jsonResp(http.StatusOK, withToken))
		for _, id := range []string{"AU00000", "AU00001", "AU19301"} {
			mt.RegisterResponder(http.MethodGet, testBase+"/institutions/"+id, jsonResp(http.StatusOK, hooliJSON))
		}
		mt.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusAccepted, connJobJSON))

		insts, err := c.Institutions.List(t.Context(), nil)
		require.NoError(t, err)
		require.Len(t, insts, 3)

		for _, id := range []string{"AU00000", "AU00001"} {
			job, err := c.Connections.Create(t.Context(), "u1", ConnectionParams{
				LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: id},
			})
			require.NoError(t, err, id)
			assert.Equal(t, "61723", job.ID)
		}
		// The listed token institution's rules apply without a fetch.
		_, err = c.Connections.Create(t.Context(), "u1", ConnectionParams{
			LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU19301"},
		})
		assert.ElementsMatch(t, []string{"userToken", "loginId", "password"}, validationFields(t, err))

		for _, id := range []string{"AU00000", "AU00001", "AU19301"} {
			assert.Equal(t, 0, calls(mt, "GET "+testBase+"/institutions/"+id), "%s was listed: not fetched again", id)
		}
		assert.Equal(t, 2, calls(mt, postConnKey))
	})

	t.Run("error", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, institutionsURL, jsonResp(http.StatusUnauthorized,
			`{"type":"list","data":[{"code":"unauthorized-access","title":"Unauthorized"}]}`))
		insts, err := c.Institutions.List(t.Context(), nil)
		assert.Nil(t, insts)
		require.ErrorIs(t, err, ErrUnauthorized)
	})
}

// institutionsURL lists the institutions.
const institutionsURL = testBase + "/institutions"

// TestInstitutionCacheEntriesStaySmall checks that a cached institution keeps
// only what the client uses, its texts bounded, whatever the API sent: a
// hostile server answering megabytes per institution cannot fill memory.
// TestInstitutionFilterRefusesAnUnknownAuthorization checks that an
// authorization type the library does not define is refused before any
// request, instead of matching nothing; Raw remains for other values.
func TestInstitutionFilterRefusesAnUnknownAuthorization(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	_, err := c.Institutions.List(t.Context(), &InstitutionFilter{Authorization: []AuthorizationType{AuthUser, "users", "Token"}})
	require.ErrorIs(t, err, ErrValidation)
	assert.Equal(t, []string{"authorization"}, validationFields(t, err))
	assert.Contains(t, err.Error(), "use Raw for a value this library does not know")
	assert.Empty(t, mt.GetCallCountInfo()["POST "+testBase+"/token"], "refused before any request")
}

func TestInstitutionCacheEntriesStaySmall(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 1<<20)
	ic := newInstitutionCache()
	in := Institution{ID: "AU00000", Name: huge, Authorization: AuthUser, SecurityCodeCaption: huge,
		Features: json.RawMessage(`"` + huge + `"`), Logo: json.RawMessage(`"` + huge + `"`),
		Stats: &InstitutionStats{AverageDurationMs: &StepDurations{VerifyCredentials: 1000}}}
	ic.put(in.ID, in)
	got, ok := ic.lookup(in.ID)
	require.True(t, ok)
	assert.Equal(t, AuthUser, got.Authorization)
	assert.NotEmpty(t, got.SecurityCodeCaption, "a caption makes its field required")
	assert.Less(t, len(got.Name)+len(got.SecurityCodeCaption)+len(got.Features)+len(got.Logo), 1000)
	assert.InDelta(t, 1000, got.Stats.AverageDurationMs.VerifyCredentials, 0)
	in.Stats.AverageDurationMs.VerifyCredentials = 5
	got, _ = ic.lookup(in.ID)
	assert.InDelta(t, 1000, got.Stats.AverageDurationMs.VerifyCredentials, 0, "the cache holds its own copy")
}
