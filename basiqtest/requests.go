package basiqtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Request is a request the server received, as [Server.Requests] reports
// it, with secrets masked.
type Request struct {
	// Method and Path are the request's method and URL path.
	Method, Path string
	// RawQuery is the URL's query, without "?"; a token parameter (the
	// Consent UI's) reads "[REDACTED]".
	RawQuery string
	// Header is a copy of the request's header; Authorization values read
	// "Basic [REDACTED]" or "Bearer [REDACTED]".
	Header http.Header
	// Body is the request body. The JSON fields (or form fields) password,
	// userToken, securityCode, mfa-response, token and secret, in any letter case and at
	// any depth, read "[REDACTED]"; a body that is not valid JSON but names
	// one of them is replaced as a whole.
	Body string
	// Status is the status answered; 0 while the request is being handled,
	// and for a request that got no answer (a Drop fault, or a Delay fault
	// ended by the client or by Close).
	Status int
}

// Requests returns every request received so far, in order of arrival,
// with secrets masked.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// record appends the request, masked, and returns its index.
func (s *Server) record(r *http.Request, body []byte) int {
	rec := Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: maskQuery(r.URL.RawQuery),
		Header:   maskHeader(r.Header),
		Body:     maskBody(r.Header.Get("Content-Type"), body),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
	return len(s.requests) - 1
}

func (s *Server) setStatus(idx, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[idx].Status = status
}

// maskHeader copies h with the Authorization credentials masked.
func maskHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for i, v := range out.Values("Authorization") {
		scheme, _, found := strings.Cut(strings.TrimSpace(v), " ")
		if found && scheme != "" {
			out["Authorization"][i] = scheme + " " + redacted
		} else {
			out["Authorization"][i] = redacted
		}
	}
	return out
}

const redacted = "[REDACTED]"

// secretField reports whether a body field holds a secret.
func secretField(name string) bool {
	switch strings.ToLower(name) {
	case "password", "usertoken", "securitycode", "mfa-response", "token", "secret":
		return true
	}
	return false
}

// maskQuery returns the query as recorded: a token parameter (the Consent
// UI's link carries one) masked.
func maskQuery(raw string) string {
	return maskPairs(raw, func(k string) bool { return strings.EqualFold(k, "token") })
}

// maskPairs masks the value of every key=value pair of a query or form
// whose key is secret. It reads the pairs as the server's handlers do (a
// malformed pair elsewhere does not stop them reading a token), and keeps
// every other pair as it came.
func maskPairs(raw string, secret func(key string) bool) string {
	pairs := strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' })
	changed := false
	for i, pair := range pairs {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if secret(key) {
			pairs[i], changed = url.QueryEscape(key)+"="+url.QueryEscape(redacted), true
		}
	}
	if !changed {
		return raw
	}
	return strings.Join(pairs, "&")
}

// maskBody returns the body as recorded: secrets in JSON or form fields
// masked.
func maskBody(contentType string, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/x-www-form-urlencoded") {
		return maskPairs(string(body), secretField)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		lower := strings.ToLower(string(body))
		for _, name := range []string{"password", "usertoken", "securitycode", "mfa-response", `"token"`, `"secret"`} {
			if strings.Contains(lower, name) {
				return redacted + " (a body that is not valid JSON, naming a secret field)"
			}
		}
		return string(body)
	}
	if !maskValue(v) {
		return string(body)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return redacted
	}
	return string(b)
}

// maskValue masks secret fields in a decoded JSON value, at any depth, and
// reports whether it masked any.
func maskValue(v any) bool {
	masked := false
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if secretField(k) {
				x[k] = redacted
				masked = true
				continue
			}
			if maskValue(val) {
				masked = true
			}
		}
	case []any:
		for _, val := range x {
			if maskValue(val) {
				masked = true
			}
		}
	}
	return masked
}
