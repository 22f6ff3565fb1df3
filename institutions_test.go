package basiq

import (
	"context"
	"fmt"
	"net/http"
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
