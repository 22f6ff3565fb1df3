package basiqtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultStatusAndRetryAfter(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t)
	srv.InjectFault(Fault{Method: "GET", Path: "/institutions", Times: 2, Status: http.StatusServiceUnavailable, RetryAfter: "2"})
	for range 2 {
		r := c.get("/institutions")
		e := r.errBody(t, http.StatusServiceUnavailable, "service-unavailable")
		assert.Equal(t, "Injected fault", e.Data[0].Detail)
		assert.Equal(t, "2", r.header.Get("Retry-After"))
	}
	r := c.get("/institutions")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.header.Get("Retry-After"))

	// Faults skip the token check, and the statuses get fitting codes.
	for status, code := range map[int]string{429: "too-many-requests", 500: "internal-server-error", 502: "internal-server-error",
		400: "parameter-not-valid", 401: "unauthorized-access", 403: "forbidden-access", 404: "resource-not-found",
		410: "resource-no-longer-available", 415: "unsupported-content-type", 418: "parameter-not-valid"} {
		srv.InjectFault(Fault{Path: "/institutions", Status: status})
		c.send(http.MethodGet, "/institutions", nil, map[string]string{"Authorization": ""}).errBody(t, status, code)
	}
	// A status below 400 without a body answers an empty body.
	srv.InjectFault(Fault{Path: "/institutions", Status: http.StatusNoContent})
	r = c.get("/institutions")
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, r.body)
}

func TestFaultBodies(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t)
	srv.InjectFault(Fault{Path: "/institutions", Status: http.StatusBadGateway, HTML: true})
	r := c.get("/institutions")
	assert.Equal(t, http.StatusBadGateway, r.status)
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	assert.Contains(t, string(r.body), "<html>")
	assert.Contains(t, string(r.body), "502 Bad Gateway")

	srv.InjectFault(Fault{Path: "/institutions", Status: http.StatusInternalServerError, Body: "upstream exploded"})
	r = c.get("/institutions")
	assert.Equal(t, http.StatusInternalServerError, r.status)
	assert.Equal(t, "upstream exploded", string(r.body))
	assert.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))

	srv.InjectFault(Fault{Path: "/institutions", Status: http.StatusOK, Body: `{"type":"list","data":"oops"}`})
	r = c.get("/institutions")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, `{"type":"list","data":"oops"}`, string(r.body))
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))

	srv.InjectFault(Fault{Path: "/institutions", Status: http.StatusServiceUnavailable, HTML: true, Body: "<p>down</p>"})
	r = c.get("/institutions")
	assert.Equal(t, "<p>down</p>", string(r.body))
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))

	// A body without a status answers 200.
	srv.InjectFault(Fault{Path: "/institutions", Body: "not json"})
	r = c.get("/institutions")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "not json", string(r.body))
}

func TestFaultMatching(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t)
	user := c.createUser("a@b.example")

	// Method: only POSTs.
	srv.InjectFault(Fault{Method: "post", Path: "/users/" + user, Status: 500})
	assert.Equal(t, http.StatusOK, c.get("/users/"+user).status)
	assert.Equal(t, 500, c.post("/users/"+user, map[string]string{"firstName": "x"}).status)
	assert.Equal(t, http.StatusOK, c.post("/users/"+user, map[string]string{"firstName": "x"}).status)

	// Path prefix.
	srv.InjectFault(Fault{Path: "/users/*", Status: 503, Times: 3})
	assert.Equal(t, http.StatusOK, c.get("/institutions").status)
	assert.Equal(t, 503, c.get("/users/"+user).status)
	assert.Equal(t, 503, c.get("/users/"+user+"/accounts").status)
	assert.Equal(t, 503, c.get("/users/nope").status)
	assert.Equal(t, http.StatusOK, c.get("/users/"+user).status)

	// "*" matches everything; an exact path does not match a longer one.
	srv.InjectFault(Fault{Path: "/users", Status: 500})
	assert.Equal(t, http.StatusOK, c.get("/users/"+user).status)
	srv.ClearFaults()
	srv.InjectFault(Fault{Path: "*", Status: 429, Times: 0})
	assert.Equal(t, 429, c.get("/jobs/x").status)
	assert.Equal(t, http.StatusOK, c.get("/institutions").status, "Times <= 0 is once")

	// Registration order decides; each request takes one fault.
	srv.InjectFault(Fault{Path: "/institutions", Status: 500})
	srv.InjectFault(Fault{Path: "*", Status: 503})
	assert.Equal(t, 500, c.get("/institutions").status)
	assert.Equal(t, 503, c.get("/institutions").status)
	assert.Equal(t, http.StatusOK, c.get("/institutions").status)

	// ClearFaults drops the rest.
	srv.InjectFault(Fault{Path: "*", Status: 500, Times: 100})
	srv.ClearFaults()
	assert.Equal(t, http.StatusOK, c.get("/institutions").status)

	// Faulted requests are recorded with their status.
	srv.InjectFault(Fault{Path: "/jobs/recorded", Status: 502})
	c.get("/jobs/recorded")
	reqs := srv.Requests()
	assert.Equal(t, 502, reqs[len(reqs)-1].Status)
}

func TestFaultDrop(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t)
	srv.InjectFault(Fault{Path: "/institutions", Drop: true})
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/institutions", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	// A fresh transport: net/http would repeat a GET dropped on a reused
	// connection once, silently.
	_, err = (&http.Client{Transport: &http.Transport{}}).Do(req)
	require.Error(t, err)
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "EOF"), err.Error())
	reqs := srv.Requests()
	assert.Equal(t, 0, reqs[len(reqs)-1].Status, "no answer")
	assert.Equal(t, http.StatusOK, c.get("/institutions").status)

	// In-process: the round trip fails.
	srv.InjectFault(Fault{Path: "/institutions", Drop: true})
	req, _ = http.NewRequest(http.MethodGet, "http://anywhere/institutions", nil)
	_, err = srv.Transport().RoundTrip(req)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	// Handler with a recorder: the handler aborts, as net/http expects.
	srv.InjectFault(Fault{Path: "/institutions", Drop: true})
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/institutions", nil))
	})
}

func TestFaultDelay(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t)

	// Delay only: then normal handling.
	srv.InjectFault(Fault{Path: "/institutions", Delay: 80 * time.Millisecond, RetryAfter: "1"})
	start := time.Now()
	r := c.get("/institutions")
	assert.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "1", r.header.Get("Retry-After"))

	// Delay then a status.
	srv.InjectFault(Fault{Path: "/institutions", Delay: 30 * time.Millisecond, Status: 504})
	start = time.Now()
	assert.Equal(t, 504, c.get("/institutions").status)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	// The client giving up ends the wait.
	srv.InjectFault(Fault{Path: "/institutions", Delay: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/institutions", nil)
	start = time.Now()
	_, err := http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	require.Eventually(t, func() bool {
		reqs := srv.Requests()
		last := reqs[len(reqs)-1]
		return last.Path == "/institutions" && last.Status == 0
	}, 5*time.Second, 5*time.Millisecond)

	// In-process, the request's context ends the wait too.
	srv.InjectFault(Fault{Path: "/institutions", Delay: time.Minute})
	ctx, cancel = context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://x/institutions", nil)
	_, err = srv.Transport().RoundTrip(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestCloseEndsDelays(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	srv.InjectFault(Fault{Path: "*", Delay: time.Hour, Times: 3})
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := http.Get(srv.URL + "/institutions")
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return len(srv.Requests()) == 3 }, 5*time.Second, time.Millisecond)
	start := time.Now()
	srv.Close()
	assert.Less(t, time.Since(start), 5*time.Second)
	for range 3 {
		assert.Error(t, <-errs, "the connection is dropped, not answered")
	}
}
