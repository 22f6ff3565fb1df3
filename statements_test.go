package basiq

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const statementJobJSON = `{"type":"job","id":"61723","links":{"self":"https://au-api.basiq.io/jobs/61723"}}`

// uploadSeen is what the mock server read of an upload.
type uploadSeen struct {
	method, path, contentType, auth string
	contentLength                   int64
	fields                          map[string]string
	filename, fileType              string
	file                            []byte
}

// readUpload parses a multipart upload as a server would.
func readUpload(t *testing.T, r *http.Request) uploadSeen {
	t.Helper()
	seen := uploadSeen{method: r.Method, path: r.URL.EscapedPath(), contentType: r.Header.Get("Content-Type"),
		auth: r.Header.Get("Authorization"), contentLength: r.ContentLength, fields: map[string]string{}}
	mt, params, err := mime.ParseMediaType(seen.contentType)
	require.NoError(t, err)
	require.Equal(t, "multipart/form-data", mt)
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		if p.FileName() != "" {
			seen.filename, seen.fileType, seen.file = p.FileName(), p.Header.Get("Content-Type"), b
			assert.Equal(t, "statement", p.FormName())
			continue
		}
		seen.fields[p.FormName()] = string(b)
	}
	return seen
}

func TestStatementsUploadSendsAMultipartBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, filename, fileType string
		file                     io.Reader
	}{
		{"pdf, length known", "bank statement.pdf", "application/pdf", strings.NewReader("%PDF-1.4 statement")},
		{"csv, length unknown", `C:\exports\"march".CSV`, "text/csv", io.MultiReader(strings.NewReader("date,amount\n"), strings.NewReader("2024-03-01,-12.50\n"))},
		{"other", "statement", "application/octet-stream", bytes.NewBufferString("data")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithVersion("3.0"))
			var seen uploadSeen
			mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
				seen = readUpload(t, r)
				return jsonResp(http.StatusAccepted, statementJobJSON)(r)
			})
			var want bytes.Buffer
			file := io.TeeReader(tc.file, &want)
			job, err := c.Statements.Upload(context.Background(), "u 1", "AU01001", tc.filename, file)
			require.NoError(t, err)
			assert.Equal(t, "61723", job.ID)
			assert.Equal(t, "https://au-api.basiq.io/jobs/61723", job.Links.Self)
			assert.Equal(t, http.MethodPost, seen.method)
			assert.Equal(t, "/users/u%201/statements", seen.path)
			assert.Equal(t, "Bearer tok-1", seen.auth)
			assert.Equal(t, map[string]string{"institutionId": "AU01001"}, seen.fields)
			assert.Equal(t, tc.filename, seen.filename, "the name is quoted so that it comes back whole")
			assert.Equal(t, tc.fileType, seen.fileType)
			assert.Equal(t, want.Bytes(), seen.file)
			assert.LessOrEqual(t, seen.contentLength, int64(0), "streamed: the length is not known in advance")
		})
	}
}

// gatedReader gives its first chunk, then waits for open before giving
// the rest: an upload that reads the whole file before sending never
// delivers the first chunk.
type gatedReader struct {
	first, rest []byte
	open        chan struct{}
	gave        int
}

func (g *gatedReader) Read(p []byte) (int, error) {
	switch g.gave {
	case 0:
		g.gave = 1
		return copy(p, g.first), nil
	case 1:
		select {
		case <-g.open:
		case <-time.After(10 * time.Second):
			return 0, errors.New("the first chunk never reached the server: the file was not streamed")
		}
		g.gave = 2
		return copy(p, g.rest), nil
	}
	return 0, io.EOF
}

func TestStatementsUploadStreamsTheFile(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	marker := []byte("FIRST-CHUNK-MARKER")
	g := &gatedReader{first: marker, rest: []byte("-and the rest"), open: make(chan struct{})}
	mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		// Read until the first chunk has arrived, then let the file go on.
		var got []byte
		buf := make([]byte, 1)
		for !bytes.Contains(got, marker) {
			n, err := r.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return nil, err
			}
		}
		close(g.open)
		rest, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		assert.Contains(t, string(rest), "-and the rest")
		return jsonResp(http.StatusAccepted, statementJobJSON)(r)
	})
	job, err := c.Statements.Upload(context.Background(), "u1", "AU01001", "s.csv", g)
	require.NoError(t, err)
	assert.Equal(t, "61723", job.ID)
}

func TestStatementsUploadIsNeverRepeated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"503", 503, `{"data":[{"code":"service-unavailable"}]}`},
		{"429", 429, `{"data":[{"code":"too-many-requests"}]}`},
		{"500", 500, `{"data":[{"code":"internal-server-error"}]}`},
		{"token refused", 401, `{"data":[{"code":"invalid-authorization-token"}]}`},
		{"token expired", 403, `{"data":[{"code":"access-denied","title":"Token has expired"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/statements", func(r *http.Request) (*http.Response, error) {
				_, _ = io.Copy(io.Discard, r.Body)
				return jsonResp(tc.status, tc.body)(r)
			})
			_, err := c.Statements.Upload(context.Background(), "u1", "AU01001", "s.pdf", strings.NewReader("%PDF"))
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, 1, calls(mt, "POST "+testBase+"/users/u1/statements"), "a repeat would upload the statement twice")
		})
	}
}

// sizedReader claims a length without holding the bytes.
type sizedReader struct{ n int }

func (s sizedReader) Len() int                   { return s.n }
func (s sizedReader) Read(p []byte) (int, error) { return 0, io.EOF }

func TestStatementsUploadRefusesBadArgumentsBeforeIO(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		user, inst, filename string
		file                 io.Reader
		fields               []string
	}{
		"hostile ids":         {"..", "\x00", "s.pdf", strings.NewReader("x"), []string{"userId", "institutionId"}},
		"blank ids":           {" ", "", "s.pdf", strings.NewReader("x"), []string{"userId", "institutionId"}},
		"no filename":         {"u1", "AU01001", " ", strings.NewReader("x"), []string{"filename"}},
		"filename with CR LF": {"u1", "AU01001", "s.pdf\r\nX-Evil: 1", strings.NewReader("x"), []string{"filename"}},
		"nil reader":          {"u1", "AU01001", "s.pdf", nil, []string{"statement"}},
		"empty, length known": {"u1", "AU01001", "s.pdf", strings.NewReader(""), []string{"statement"}},
		"empty, streamed":     {"u1", "AU01001", "s.pdf", io.MultiReader(), []string{"statement"}},
		"over the limit":      {"u1", "AU01001", "s.pdf", sizedReader{MaxStatementBytes + 1}, []string{"statement"}},
	} {
		c, mt := newMockClient(t)
		_, err := c.Statements.Upload(context.Background(), tc.user, tc.inst, tc.filename, tc.file)
		assert.Equal(t, tc.fields, validationFields(t, err), name)
		assert.Zero(t, mt.GetTotalCallCount(), "%s: refused before any I/O", name)
	}
}

func TestStatementsUploadChecksAFilesRemainingLength(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.csv")
	require.NoError(t, os.WriteFile(path, []byte("date,amount\n"), 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	c, mt := newMockClient(t)
	_, err = c.Statements.Upload(context.Background(), "u1", "AU01001", "s.csv", f)
	assert.Equal(t, []string{"statement"}, validationFields(t, err), "a file read to its end has nothing left to send")
	assert.Zero(t, mt.GetTotalCallCount())
}

// endless yields zeros without end, and without holding them.
type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestStatementsUploadStopsAStreamOverTheLimit(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var received int64
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/statements", func(r *http.Request) (*http.Response, error) {
		n, err := io.Copy(io.Discard, r.Body)
		received = n
		if err != nil {
			return nil, err // the body broke off: the request was not complete
		}
		return jsonResp(http.StatusAccepted, statementJobJSON)(r)
	})
	job, err := c.Statements.Upload(context.Background(), "u1", "AU01001", "s.pdf", endless{})
	assert.Nil(t, job)
	assert.Equal(t, []string{"statement"}, validationFields(t, err))
	assert.Contains(t, err.Error(), "larger than")
	assert.LessOrEqual(t, received, int64(MaxStatementBytes+64<<10), "the upload ended at the limit")
}

func TestStatementsUploadRefusesAnAnswerWithoutAJob(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/statements", func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		return jsonResp(http.StatusAccepted, `{"type":"job"}`)(r)
	})
	_, err := c.Statements.Upload(context.Background(), "u1", "AU01001", "s.pdf", strings.NewReader("%PDF"))
	assert.ErrorIs(t, err, ErrInvalidResponse)
}

// stallingFile sends head, then blocks until release is closed.
type stallingFile struct {
	head    []byte
	release chan struct{}
}

func (f *stallingFile) Read(p []byte) (int, error) {
	if len(f.head) > 0 {
		n := copy(p, f.head)
		f.head = f.head[n:]
		return n, nil
	}
	<-f.release
	return 0, io.EOF
}

// TestUploadOfAStallingFileEndsWithItsContext checks that a file whose
// reader stalls (a pipe, stdin, a network stream) does not hold Upload past
// its context or the client's time limit per attempt, before the request or
// while it is being sent.
func TestUploadOfAStallingFileEndsWithItsContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			_, _ = io.WriteString(w, `{"access_token":"tok","expires_in":3600}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"type":"job","id":"j1"}`)
	}))
	defer srv.Close()
	release := make(chan struct{})
	defer close(release) // the blocked reads return, and their goroutines end
	for _, tc := range []struct {
		name    string
		head    string
		timeout time.Duration // the caller's http.Client.Timeout; 0 for a context deadline
	}{
		{"stalls before its first byte", "", 0},
		{"stalls mid-file", "%PDF-1.4", 0},
		{"stalls mid-file, the client's timeout", "%PDF-1.4", 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithAPIKey(testKey), WithBaseURL(srv.URL)}
			ctx := context.Background()
			if tc.timeout > 0 {
				opts = append(opts, WithHTTPClient(&http.Client{Timeout: tc.timeout}))
			} else {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			}
			c, err := NewClient(opts...)
			require.NoError(t, err)
			start := time.Now()
			_, err = c.Statements.Upload(ctx, "u1", "AU01001", "s.pdf", &stallingFile{head: []byte(tc.head), release: release})
			require.Error(t, err)
			assert.Less(t, time.Since(start), 3*time.Second, "Upload returned with its context, not with the reader")
		})
	}
}
