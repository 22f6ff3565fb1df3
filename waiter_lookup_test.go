package basiq

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWaitNotHeldUpByTheInstitutionLookup checks that the read WaitForJob
// makes to find a job's institution (its connection, then the institution)
// never holds up the polls: whether that read hangs, fails or asks to come
// back in a minute, the job's end is still seen within about a second.
func TestWaitNotHeldUpByTheInstitutionLookup(t *testing.T) {
	hang := func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	later := func(r *http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(http.StatusServiceUnavailable, `{}`)
		resp.Header.Set("Retry-After", "60")
		return resp, nil
	}
	for _, tc := range []struct {
		name             string
		connection, inst httpmock.Responder
	}{
		{"connection read hangs", hang, nil},
		{"connection read asks for a minute", later, nil},
		{"connection read fails", jsonResp(http.StatusInternalServerError, `{}`), nil},
		{"institution read hangs", jsonResp(http.StatusOK, `{"id":"c1","institution":{"id":"AU00000"}}`), hang},
		{"institution read asks for a minute", jsonResp(http.StatusOK, `{"id":"c1","institution":{"id":"AU00000"}}`), later},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, mt := newMockClient(t)
				start := time.Now()
				end := start.Add(5 * time.Second)
				mt.RegisterResponder(http.MethodGet, jobURL, func(r *http.Request) (*http.Response, error) {
					status := "in-progress"
					if !time.Now().Before(end) {
						status = "success"
					}
					verify := "success"
					if time.Since(start) < time.Second {
						verify = "in-progress"
					}
					body := fmt.Sprintf(`{"id":"j1","steps":[{"title":"verify-credentials","status":%q},{"title":"retrieve-accounts","status":%q}],
						"links":{"self":%q,"source":"https://api.test/users/u1/connections/c1"}}`, verify, status, jobURL)
					return jsonResp(http.StatusOK, body)(r)
				})
				mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/connections/c1", tc.connection)
				if tc.inst != nil {
					mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", tc.inst)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				job, err := c.WaitForJob(ctx, &Job{ID: "j1"})
				require.NoError(t, err)
				assert.Equal(t, StepStatusSuccess, job.Step(StepRetrieveAccounts).Status)
				assert.Less(t, time.Since(end), 1500*time.Millisecond, "the end was seen promptly")
			})
		})
	}
}
