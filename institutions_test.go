package basiq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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

// TestInstitutionCacheEntriesStaySmall checks that a cached institution keeps
// only what the client uses, its texts bounded, whatever the API sent: a
// hostile server answering megabytes per institution cannot fill memory.
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
