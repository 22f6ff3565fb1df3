package basiq

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/hashicorp/go-retryablehttp"
)

// Response is the metadata of the last HTTP answer a call received: its
// status and headers, never its body. A call that sends a request fills it
// when its context comes from [WithResponse], on success and on failure
// alike.
type Response struct {
	// StatusCode is the answer's status; 0 when the call's last request
	// got no answer (a network error, a cancelled context).
	StatusCode int
	// Header holds the answer's headers, except those that may carry a
	// credential (cookies and any header whose name speaks of
	// authorization, tokens, keys, secrets, passwords or sessions, or
	// holds one of the request's secrets); the request's secrets, bearer
	// token and the API key are masked in the values kept. At most
	// [MaxResponseHeaders] headers and [MaxResponseHeaderBytes] bytes of
	// them are kept; the rest are dropped. Nil when no answer came, and
	// for the answer of a token request, whose headers may quote the
	// token just issued.
	Header http.Header
	// CorrelationID is Basiq's id for the answer, to quote to Basiq
	// support. Basiq sends it in the body of an error answer
	// ("correlationId", as in [APIError.CorrelationID]); its published API
	// descriptions name no header carrying one, and a successful answer's
	// body has none, so it is empty on success: look in Header for
	// whatever the server or a gateway in front of it sent. It is cut to
	// one line of at most 100 characters, as in [APIError.Error].
	CorrelationID string
}

// The bounds of what [Response.Header] keeps of an answer's headers: the
// client keeps nothing else from an answer unbounded.
const (
	// MaxResponseHeaders is the most header names kept.
	MaxResponseHeaders = 256
	// MaxResponseHeaderBytes is the most bytes of names and values kept.
	MaxResponseHeaderBytes = 64 << 10
)

// WithResponse returns a context that makes every call made with it record
// the metadata of the last HTTP answer it received into r (stripe-go's
// LastResponse, without changing a method's signature):
//
//	var resp basiq.Response
//	user, err := client.Users.Get(basiq.WithResponse(ctx, &resp), userID)
//	// resp.StatusCode, resp.Header, resp.CorrelationID
//
// What is recorded is the last answer of the call's last request, after
// any retries and token renewal: the final attempt, not the first. A
// method that sends several requests (Connections.Create reads the
// institution first, WaitForJob polls, a list reads page after page)
// leaves the last one's; reads the library makes only to help (the
// waiter's look-up of a job's bank, RespondMFA's read of the challenge)
// are not recorded. When the last request got no answer, r is reset to its
// zero value. A call refused before it sends anything (an error matching
// [ErrValidation]) leaves r as it was: check the error first, or give each
// call its own WithResponse.
//
// Calls running at once with the same context may share r: each writes the
// whole of r under a lock held by the context, and the last to finish
// wins. Read r once the calls have returned; reading it while one runs is
// a data race. Give each WithResponse its own r.
//
// Nested WithResponse contexts: the innermost is filled, the outer ones
// are not. A nil r returns ctx unchanged; a nil ctx is taken as
// [context.Background]. Without WithResponse a call records nothing and
// costs nothing more.
func WithResponse(ctx context.Context, r *Response) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if r == nil {
		return ctx
	}
	return context.WithValue(ctx, responseKey{}, &responseSink{dst: r})
}

// responseKey is the context key of a *responseSink. The request path's own
// knobs are request options; this one is the caller's, and no method takes
// per-call options, so it rides on the context the caller already passes.
type responseKey struct{}

// responseSink is where the calls of one WithResponse context record their
// answer.
type responseSink struct {
	mu  sync.Mutex
	dst *Response
}

// recordResponse records what the calls of req's context may see of resp,
// the last answer req received (nil when none came), and of err, the
// error it was turned into, when req's context comes from WithResponse.
func (c *Client) recordResponse(req *retryablehttp.Request, cfg *callConfig, resp *http.Response, err error) {
	sink, ok := req.Context().Value(responseKey{}).(*responseSink)
	if !ok || sink == nil {
		return
	}
	var r Response
	if resp != nil {
		r.StatusCode = resp.StatusCode
		if !cfg.apiKey { // a token answer's headers may quote the token
			r.Header = safeHeader(resp.Header, secretForms(c.requestSecrets(req, cfg)))
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			r.CorrelationID = clean(apiErr.CorrelationID, 100) // already masked
		}
	}
	sink.mu.Lock()
	*sink.dst = r
	sink.mu.Unlock()
}

// maskRecorded masks secrets in the headers ctx's WithResponse target
// holds, for a secret an answer's body revealed after its headers were
// recorded.
func maskRecorded(ctx context.Context, secrets ...string) {
	sink, _ := ctx.Value(responseKey{}).(*responseSink)
	if sink == nil || len(secrets) == 0 {
		return
	}
	forms := secretForms(secrets)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.dst.Header != nil {
		sink.dst.Header = safeHeader(sink.dst.Header, forms)
	}
}

// withoutResponse returns ctx without its WithResponse sink, for reads the
// library makes only to help, which the caller did not ask for.
func withoutResponse(ctx context.Context) context.Context {
	if s, _ := ctx.Value(responseKey{}).(*responseSink); s == nil {
		return ctx
	}
	return context.WithValue(ctx, responseKey{}, (*responseSink)(nil))
}

// safeHeader copies h without the headers that may carry a credential,
// with every secret form masked in the values kept, and within the bounds
// MaxResponseHeaders and MaxResponseHeaderBytes.
func safeHeader(h http.Header, forms []string) http.Header {
	out := make(http.Header, min(len(h), MaxResponseHeaders))
	lower := make([]string, 0, len(forms))
	for _, f := range forms {
		if f != "" {
			lower = append(lower, strings.ToLower(f))
		}
	}
	size := 0
	for name, values := range h {
		if credentialHeader(name) || nameHoldsSecret(name, lower) {
			continue
		}
		if len(out) == MaxResponseHeaders || size+len(name) > MaxResponseHeaderBytes {
			break
		}
		size += len(name)
		kept := make([]string, 0, min(len(values), 16))
		for _, v := range values {
			v = maskForms(v, forms)
			if size+len(v) > MaxResponseHeaderBytes {
				break
			}
			size += len(v)
			kept = append(kept, v)
		}
		out[name] = kept
	}
	return out
}

// nameHoldsSecret reports whether a header's name contains one of the
// lower-cased secret forms, in any letter case (HTTP/1 names arrive
// case-folded).
func nameHoldsSecret(name string, lower []string) bool {
	name = strings.ToLower(name)
	for _, f := range lower {
		if strings.Contains(name, f) {
			return true
		}
	}
	return false
}

// credentialHeader reports whether a header with this name may carry a
// credential: Authorization, Proxy-Authorization, WWW-Authenticate,
// Cookie, Set-Cookie, X-Api-Key, X-Access-Token and the like.
func credentialHeader(name string) bool {
	name = strings.ToLower(name)
	for _, w := range [...]string{"auth", "cookie", "token", "key", "secret", "password", "session", "credential"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
