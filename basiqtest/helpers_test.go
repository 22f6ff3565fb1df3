package basiqtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// client is a plain-HTTP test client for a Server, holding a SERVER_ACCESS
// token.
type client struct {
	t    *testing.T
	srv  *Server
	hc   *http.Client
	base string
	tok  string
}

// startServer starts a server closed at the end of the test, and a client
// for it.
func startServer(t *testing.T, opts ...Option) (*Server, *client) {
	t.Helper()
	srv := NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, newClient(t, srv)
}

// inProcessServer is startServer without a listener: requests go through
// srv.Transport(). Use it inside testing/synctest bubbles.
func inProcessServer(t *testing.T, opts ...Option) (*Server, *client) {
	t.Helper()
	srv := NewUnstartedServer(opts...)
	t.Cleanup(srv.Close)
	return srv, newClient(t, srv)
}

func newClient(t *testing.T, srv *Server) *client {
	t.Helper()
	c := &client{t: t, srv: srv, base: srv.URL, hc: &http.Client{Timeout: 10 * time.Second}}
	if srv.URL == "" {
		c.base = UnstartedURL
		c.hc = &http.Client{Transport: srv.Transport()}
	}
	c.tok = c.token(ScopeServerAccess)
	return c
}

// resp is an answer, read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// obj decodes the body as a JSON object.
func (r resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// into decodes the body into v.
func (r resp) into(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// apiErr is a decoded error body.
type apiErr struct {
	Type          string `json:"type"`
	CorrelationID string `json:"correlationId"`
	Data          []struct {
		Type   string            `json:"type"`
		Code   string            `json:"code"`
		Title  string            `json:"title"`
		Detail string            `json:"detail"`
		Source map[string]string `json:"source"`
	} `json:"data"`
}

// errBody decodes an error answer and checks its status and first code.
func (r resp) errBody(t *testing.T, status int, code string) apiErr {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	var e apiErr
	r.into(t, &e)
	require.Equal(t, "list", e.Type)
	require.NotEmpty(t, e.CorrelationID)
	require.NotEmpty(t, e.Data)
	require.Equal(t, "error", e.Data[0].Type)
	require.Equal(t, code, e.Data[0].Code, "body: %s", r.body)
	return e
}

// send sends a request. body is nil, a string (raw JSON), url.Values (a
// form) or a value to encode as JSON. The client's token is sent unless hdr
// sets Authorization ("" sends none).
func (c *client) send(method, path string, body any, hdr map[string]string) resp {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.base + path
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, u, rd)
	require.NoError(c.t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+c.tok)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return resp{status: res.StatusCode, header: res.Header, body: raw}
}

func (c *client) get(path string) resp { c.t.Helper(); return c.send(http.MethodGet, path, nil, nil) }
func (c *client) post(path string, body any) resp {
	c.t.Helper()
	return c.send(http.MethodPost, path, body, nil)
}
func (c *client) del(path string) resp {
	c.t.Helper()
	return c.send(http.MethodDelete, path, nil, nil)
}

// tokenReq asks POST /token for a token of scope with the server's key,
// under basiq-version 2.0.
func (c *client) tokenReq(scope string) resp {
	c.t.Helper()
	return c.tokenReqVersion(scope, "2.0")
}

// tokenReqVersion asks POST /token for a token of scope issued under
// version.
func (c *client) tokenReqVersion(scope, version string) resp {
	c.t.Helper()
	return c.send(http.MethodPost, "/token", url.Values{"scope": {scope}},
		map[string]string{"Authorization": "Basic " + c.srv.APIKey, "basiq-version": version})
}

// token returns a fresh token of scope: a server token under version 2.0, a
// client token under 2.1, where the MFA endpoint starts.
func (c *client) token(scope string) string {
	c.t.Helper()
	version := "2.0"
	if scope == ScopeClientAccess {
		version = "2.1"
	}
	r := c.tokenReqVersion(scope, version)
	require.Equal(c.t, http.StatusOK, r.status, "body: %s", r.body)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	r.into(c.t, &tr)
	require.NotEmpty(c.t, tr.AccessToken)
	return tr.AccessToken
}

// createUser creates a user and returns its id.
func (c *client) createUser(email string) string {
	c.t.Helper()
	r := c.post("/users", map[string]any{"email": email})
	require.Equal(c.t, http.StatusCreated, r.status, "body: %s", r.body)
	return str(r.obj(c.t), "id")
}

// connect posts a connection and returns the answer.
func (c *client) connect(userID, inst string, fields map[string]string) resp {
	c.t.Helper()
	body := map[string]any{"institution": map[string]string{"id": inst}}
	for k, v := range fields {
		body[k] = v
	}
	return c.post("/users/"+userID+"/connections", body)
}

// connectLogin posts a login connection, expects 202 and returns the job id.
func (c *client) connectLogin(userID, inst, login, password string) string {
	c.t.Helper()
	r := c.connect(userID, inst, map[string]string{"loginId": login, "password": password})
	require.Equal(c.t, http.StatusAccepted, r.status, "body: %s", r.body)
	return str(r.obj(c.t), "id")
}

// jobT is a decoded job.
type jobT struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Created string `json:"created"`
	Updated string `json:"updated"`
	Steps   []struct {
		Title  string          `json:"title"`
		Status string          `json:"status"`
		Result json.RawMessage `json:"result"`
	} `json:"steps"`
	Institution *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"institution"`
	Links struct {
		Self   string `json:"self"`
		Source string `json:"source"`
	} `json:"links"`
}

// statuses lists "title=status" for each step.
func (j jobT) statuses() []string {
	out := make([]string, len(j.Steps))
	for i, s := range j.Steps {
		out[i] = s.Title + "=" + s.Status
	}
	return out
}

// step returns the step with this title.
func (j jobT) step(title string) (status string, result json.RawMessage) {
	for _, s := range j.Steps {
		if s.Title == title {
			return s.Status, s.Result
		}
	}
	return "", nil
}

// connID is the last segment of links.source.
func (j jobT) connID() string {
	return j.Links.Source[strings.LastIndex(j.Links.Source, "/")+1:]
}

// job reads a job.
func (c *client) job(id string) jobT {
	c.t.Helper()
	r := c.get("/jobs/" + id)
	require.Equal(c.t, http.StatusOK, r.status, "body: %s", r.body)
	var j jobT
	r.into(c.t, &j)
	return j
}

// wait polls a job until no step is pending or in progress, one failed, or
// one waits for MFA; it gives up after 5 s.
func (c *client) wait(id string) jobT {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		j := c.job(id)
		if jobSettled(j) {
			return j
		}
		require.True(c.t, time.Now().Before(deadline), "job %s did not finish: %v", id, j.statuses())
		time.Sleep(5 * time.Millisecond)
	}
}

func jobSettled(j jobT) bool {
	done := true
	for _, s := range j.Steps {
		switch {
		case s.Status == "failed":
			return true
		case s.Status == "in-progress" && strings.Contains(string(s.Result), `"mfa"`):
			return true
		case s.Status != "success" && s.Status != "skipped":
			done = false
		}
	}
	return done
}

// str walks m by keys and returns the string there ("" if none).
func str(m map[string]any, keys ...string) string {
	v := dig(m, keys...)
	s, _ := v.(string)
	return s
}

// dig walks m by keys.
func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, isMap := v.(map[string]any)
		if !isMap {
			return nil
		}
		v = mm[k]
	}
	return v
}

// list decodes a list answer's data.
func list(t *testing.T, r resp) []map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var l struct {
		Type string           `json:"type"`
		Data []map[string]any `json:"data"`
	}
	r.into(t, &l)
	require.Equal(t, "list", l.Type)
	return l.Data
}

// ids returns the "id" of each item.
func ids(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = str(it, "id")
	}
	return out
}

// jsonUnmarshal is json.Unmarshal.
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// jsonDecode decodes one JSON value from r.
func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
