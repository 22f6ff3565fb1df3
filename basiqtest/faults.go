package basiqtest

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"
)

// Fault is an injected failure: the next Times requests matching Method and
// Path get the fault instead of normal handling. Register it with
// [Server.InjectFault].
//
// A fault with Status answers with that status at once (after Delay); one
// with Drop closes the connection without answering; one with only Delay
// waits, then lets the request be handled normally. Body or HTML without a
// Status answer with 200. A faulted request is recorded by
// [Server.Requests] like any other, and skips every check (token, route).
type Fault struct {
	// Method is the request method to match; "" matches any.
	Method string
	// Path is the URL path to match exactly, or, ending in "*", the prefix
	// before the "*" ("*" alone matches every path).
	Path string
	// Times is how many requests get the fault; <= 0 means 1.
	Times int
	// Status is the status to answer with. The body is Basiq's JSON error
	// list (a code fitting the status, detail "Injected fault"), unless HTML
	// or Body says otherwise; a status below 400 has an empty body unless
	// Body is set.
	Status int
	// RetryAfter, if not empty, is sent as the Retry-After header (also
	// before normal handling, for a Delay-only fault).
	RetryAfter string
	// HTML answers with a small HTML error page (text/html), as a proxy
	// might.
	HTML bool
	// Body, if not empty, is the raw body, sent as it is (text/html with
	// HTML, application/json when it is valid JSON, text/plain otherwise).
	Body string
	// Delay is how long to wait before answering, or before handling the
	// request normally when there is neither Status, Body, HTML nor Drop.
	// The wait ends early, without an answer, when the client gives up or
	// the server is closed (the connection is then dropped).
	Delay time.Duration
	// Drop closes the connection without answering (after Delay). Through
	// [Server.Transport] the round trip fails instead; through
	// [Server.Handler] with a ResponseWriter that cannot be hijacked, the
	// handler panics with [http.ErrAbortHandler]. Note that net/http's
	// Transport silently sends an idempotent request (GET, DELETE, ...)
	// again, once, when a reused connection closes without an answer: give
	// such a fault Times: 2 to make the failure reach the caller.
	Drop bool
}

// faultState is a registered fault and how many uses it has left.
type faultState struct {
	f    Fault
	left int
}

// InjectFault registers f. Faults are matched in the order they were
// registered; each request takes at most one.
func (s *Server) InjectFault(f Fault) {
	n := f.Times
	if n <= 0 {
		n = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{f: f, left: n})
}

// ClearFaults removes every registered fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault finds the first fault matching r and uses it up once.
func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, fs := range s.faults {
		if !fs.f.matches(r) {
			continue
		}
		fs.left--
		if fs.left <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return fs.f, true
	}
	return Fault{}, false
}

func (f Fault) matches(r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	if prefix, ok := strings.CutSuffix(f.Path, "*"); ok {
		return strings.HasPrefix(r.URL.Path, prefix)
	}
	return f.Path == r.URL.Path
}

// applyFault carries out f. It reports whether the request is finished;
// false means it goes on to normal handling. w is the writer sw wraps, for
// hijacking.
func (s *Server) applyFault(sw *statusWriter, w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true // the client has gone: nobody to answer
		case <-s.closed:
			drop(w)
			return true
		}
	}
	if f.RetryAfter != "" {
		sw.Header().Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.Drop:
		drop(w)
		return true
	case f.Status == 0 && f.Body == "" && !f.HTML:
		return false
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case f.Body != "":
		ct := "text/plain; charset=utf-8"
		switch {
		case f.HTML:
			ct = "text/html; charset=utf-8"
		case json.Valid([]byte(f.Body)):
			ct = "application/json"
		}
		sw.Header().Set("Content-Type", ct)
		sw.WriteHeader(status)
		_, _ = sw.Write([]byte(f.Body))
	case f.HTML:
		text := html.EscapeString(fmt.Sprintf("%d %s", status, http.StatusText(status)))
		sw.Header().Set("Content-Type", "text/html; charset=utf-8")
		sw.WriteHeader(status)
		_, _ = fmt.Fprintf(sw, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n</body>\r\n</html>\r\n", text, text)
	case status < 400:
		sw.WriteHeader(status)
	default:
		s.writeErrors(sw, []apiError{{status: status, code: faultCode(status), title: http.StatusText(status), detail: "Injected fault"}})
	}
	return true
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not a hijackable connection (in-process use): abort the handler,
		// which net/http's server and [Server.Transport] treat as a dropped
		// connection.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// faultCode is the Basiq error code that fits an injected status.
func faultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "parameter-not-valid"
	case http.StatusUnauthorized:
		return "unauthorized-access"
	case http.StatusForbidden:
		return "forbidden-access"
	case http.StatusNotFound:
		return "resource-not-found"
	case http.StatusGone:
		return "resource-no-longer-available"
	case http.StatusUnsupportedMediaType:
		return "unsupported-content-type"
	case http.StatusTooManyRequests:
		return "too-many-requests"
	case http.StatusServiceUnavailable:
		return "service-unavailable"
	}
	if status >= 500 {
		return "internal-server-error"
	}
	return "parameter-not-valid"
}
