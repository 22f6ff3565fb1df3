package basiq

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJobsDecodeBasiqsVersion3Examples decodes each job example of Basiq's
// 3.0 file and checks the job against the example's own values: its
// jobType (Basiq's statement examples say "connection" too), and the
// outcome its steps show.
func TestJobsDecodeBasiqsVersion3Examples(t *testing.T) {
	t.Parallel()
	for _, example := range []string{"data-in-progress", "data-failed", "data-success", "statement-in-progress", "statement-failed", "statement-success"} {
		t.Run(example, func(t *testing.T) {
			t.Parallel()
			body := specExample(t, "v3/core.yml", "/jobs/{jobId}", "get", "200", example)
			var want struct {
				ID      string `json:"id"`
				JobType string `json:"jobType"`
				Steps   []struct {
					Title, Status string
					Result        map[string]any
				} `json:"steps"`
			}
			require.NoError(t, json.Unmarshal(body, &want))
			require.NotEmpty(t, want.JobType, "every 3.0 job example has a jobType")

			c, mt := newMockClient(t, WithVersion("3.0"))
			mt.RegisterNoResponder(jsonResp(http.StatusOK, string(body)))
			job, err := c.Jobs.Get(context.Background(), "j1")
			require.NoError(t, err)
			assert.Equal(t, want.ID, job.ID)
			assert.Equal(t, want.JobType, job.JobType)
			require.Len(t, job.Steps, len(want.Steps))

			failedCode, allDone := "", true
			for i, st := range want.Steps {
				assert.Equal(t, st.Title, job.Steps[i].Title)
				assert.Equal(t, StepStatus(st.Status), job.Steps[i].Status)
				if st.Status == "failed" && failedCode == "" {
					failedCode, _ = st.Result["code"].(string)
				}
				allDone = allDone && st.Status == "success"
			}
			done, err := judgeJob(job, "", true)
			if failedCode != "" {
				var jobErr *JobError
				require.ErrorAs(t, err, &jobErr)
				assert.Equal(t, failedCode, jobErr.Code)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, allDone, done)
		})
	}
}
