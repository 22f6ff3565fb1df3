package basiqtest

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upload posts a statement as multipart; empty fields are left out.
func (c *client) upload(userID, institutionID, filename, content string) resp {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if institutionID != "" {
		require.NoError(c.t, mw.WriteField("institutionId", institutionID))
	}
	if filename != "" {
		w, err := mw.CreateFormFile("statement", filename)
		require.NoError(c.t, err)
		_, err = io.WriteString(w, content)
		require.NoError(c.t, err)
	}
	require.NoError(c.t, mw.Close())
	req, err := http.NewRequestWithContext(c.t.Context(), http.MethodPost, c.base+"/users/"+userID+"/statements", &buf)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.tok)
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return resp{status: res.StatusCode, header: res.Header, body: raw}
}

const sampleCSV = "date,description,amount\n2026-01-02,SALARY,1000.00\n"

func TestStatementUploadBecomesAJobThenAccountsAndTransactions(t *testing.T) {
	for _, tc := range []struct{ name, file, content string }{
		{"csv", "statement.csv", sampleCSV},
		{"pdf", "statement.PDF", "%PDF-1.7\n...\n%%EOF\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := startServer(t)
			uid := c.createUser("a@hooli.example")
			r := c.upload(uid, InstHooli, tc.file, tc.content)
			require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
			m := r.obj(t)
			assert.Equal(t, "job", str(m, "type"))
			assert.Equal(t, srv.URL+"/jobs/"+str(m, "id"), str(m, "links", "self"))
			j := c.wait(str(m, "id"))
			assert.Equal(t, []string{"verify-credentials=success", "retrieve-accounts=success", "retrieve-transactions=success"}, j.statuses())
			assert.NotEmpty(t, list(t, c.get("/users/"+uid+"/accounts")))
			assert.NotEmpty(t, list(t, c.get("/users/"+uid+"/transactions")))
		})
	}
}

func TestStatementThatCannotBeReadFailsItsJob(t *testing.T) {
	_, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	r := c.upload(uid, InstHooli, "statement.pdf", "not a pdf")
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	j := c.wait(str(r.obj(t), "id"))
	st, res := j.step("verify-credentials")
	assert.Equal(t, "failed", st)
	assert.Contains(t, string(res), "bank-statement-not-supported")
}

func TestStatementUploadRefusesBadRequests(t *testing.T) {
	_, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	tests := []struct {
		name, inst, file, content string
		status                    int
		code                      string
	}{
		{"no institution", "", "s.csv", sampleCSV, 400, "parameter-not-supplied"},
		{"no file", InstHooli, "", "", 400, "parameter-not-supplied"},
		{"empty file", InstHooli, "s.csv", "", 400, "parameter-not-valid"},
		{"unknown institution", "AU99999", "s.csv", sampleCSV, 400, "parameter-not-valid"},
		{"institution without statements", InstMFA, "s.csv", sampleCSV, 400, "parameter-not-valid"},
		{"not a csv or pdf", InstHooli, "s.txt", sampleCSV, 400, "parameter-not-valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.upload(uid, tt.inst, tt.file, tt.content).errBody(t, tt.status, tt.code)
		})
	}
	c.post("/users/"+uid+"/statements", map[string]string{"institutionId": InstHooli}).errBody(t, http.StatusUnsupportedMediaType, "unsupported-content-type")
	c.upload("nope", InstHooli, "s.csv", sampleCSV).errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestStatementUploadTakesFilesOverOneMebibyte(t *testing.T) {
	_, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	big := sampleCSV + strings.Repeat("2026-01-02,COFFEE,-4.50\n", 3<<20/24)
	r := c.upload(uid, InstHooli, "big.csv", big)
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
}
