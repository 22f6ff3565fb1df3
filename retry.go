package basiq

import (
	"context"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// retryAfterCeiling is the longest Retry-After the client waits for by
// itself. A server asking for longer gets no retry: the call ends with the
// *APIError, its RetryAfter set, so the caller can schedule the call.
const retryAfterCeiling = 60 * time.Second

// checkRetry is the transport's retry policy. Only a request whose call may
// be repeated (see Client.call and withRetry) is repeated, on a network error
// or on 429, 500, 502, 503 or 504; a request carrying bank credentials
// follows the stricter rules of withCredentials. A cancelled or expired context stops
// at once, and so does an answer whose Retry-After asks for a wait beyond
// retryAfterCeiling or past the context's deadline: the caller gets the
// answer at once instead of a wait that cannot end in a retry.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	if d, ok := retryAfter(resp, time.Now()); ok {
		if d > retryAfterCeiling {
			return false, nil
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= max(d, c.retryMin) {
			return false, nil
		}
	}
	p := policyOf(ctx)
	if p.credentials {
		return p.allowCredentials(resp, err), nil
	}
	safe := p.safe
	if err != nil {
		return safe && !isPermanentNetError(err), nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return safe, nil
	}
	return false, nil
}

// isPermanentNetError reports errors that another attempt cannot mend: a bad
// certificate, an unsupported scheme, a refused redirect.
func isPermanentNetError(err error) bool {
	var certErr *x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		return true
	}
	var redir *RedirectError
	if errors.As(err, &redir) {
		return true
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		msg := uerr.Err.Error()
		if strings.Contains(msg, "unsupported protocol scheme") || strings.Contains(msg, "redirects") {
			return true
		}
	}
	return false
}

// backoff is the transport's wait between attempts: exponential from lo,
// capped at hi, with jitter (a random point in the upper half of the step,
// never below lo) so that many clients do not retry in step. A Retry-After
// header on a 429 or 503, in seconds or as an HTTP date, is obeyed even
// beyond hi, up to retryAfterCeiling (checkRetry allows no retry past it),
// and never below lo: "0" or a date already past waits lo.
func backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if d, ok := retryAfter(resp, time.Now()); ok {
		return max(min(d, retryAfterCeiling), lo)
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	if half := d / 2; half > 0 {
		d = max(lo, half+rand.N(half+1))
	}
	return d
}

// retryAfter reads the Retry-After header of a 429 or 503 answer; it reports
// false for other answers and for a header that is absent or unreadable.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	return parseRetryAfter(resp.Header.Get("Retry-After"), now)
}

// maxRetryAfter caps what a Retry-After value is read as.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date,
// read as at most maxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs < 0 {
			return 0, false
		}
		return min(time.Duration(min(secs, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if t.After(now.Add(maxRetryAfter)) {
		return maxRetryAfter, true
	}
	return max(t.Sub(now), 0), true
}

// retryPolicy is what the retrying transport's hooks need to know of one
// request. newRequest puts a fresh one in every request's context (the only
// thing go-retryablehttp's CheckRetry sees), so no request inherits the
// policy of the call it was made for (a token fetch inside a connection
// POST, say).
type retryPolicy struct {
	// safe: the request may be repeated on a network error or a 429/5xx.
	safe bool
	// credentials: the body carries bank credentials; see
	// withCredentials. repeated is set once its one repeat after an
	// unknown outcome is spent.
	credentials, repeated bool
	// noRedirect, unless redirectFollowed, is why no redirect of the
	// request is followed, even on the base URL: it carries the API key,
	// secrets in its body, or a body that can be sent once.
	noRedirect redirectRule
	// single: the call is sent once, whatever the answer (withNoRepeat).
	single bool
}

type policyKey struct{}

// policyOf returns the retry policy of a request's context; a context
// without one gets a policy that allows no retry.
func policyOf(ctx context.Context) *retryPolicy {
	if p, ok := ctx.Value(policyKey{}).(*retryPolicy); ok && p != nil {
		return p
	}
	return &retryPolicy{}
}

// The rules for a request whose body carries a bank password
// (Connections.Create, Connections.Update; see withCredentials): each copy
// Basiq processes is a login attempt at the bank, and banks lock accounts
// after a few; the API's duplicate-job rule absorbs a repeat only while the
// first job runs, and a wrong password fails within seconds. So the request
// is repeated freely only when the first copy cannot have been processed
// (the connection was refused before anything was written; 429; 503), and
// at most once, after the minimum wait, when the outcome is unknown (500,
// 502, 504, a network error once the request may have been written, or an
// answer saying the access token was refused, which a gateway may send
// after forwarding). The password thus reaches Basiq at most twice per
// call.

// allowCredentials decides whether a credential request may be sent again
// after resp or err. Attempts of one call run one after another, so no lock
// is needed.
func (r *retryPolicy) allowCredentials(resp *http.Response, err error) bool {
	if err != nil {
		switch {
		case isPermanentNetError(err):
			return false
		case notSent(err):
			return true
		}
		return r.once()
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// Refused before any processing: the rate limiter or the
		// service's own "not now".
		return true
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		// The request may have started a job: a gateway lost the answer
		// (502, 504), or the API failed while or after handling it (500).
		return r.once()
	}
	return false
}

// once allows the one repeat after an unknown outcome of a credential
// request; any other request may always be repeated once more.
func (r *retryPolicy) once() bool {
	if r.single {
		return false
	}
	if !r.credentials {
		return true
	}
	if r.repeated {
		return false
	}
	r.repeated = true
	return true
}

// notSent reports a network error raised before the request could be
// written: the connection (or the proxy's) was never established.
func notSent(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect") {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// credentialBackoff is the wait before a repeat of a credential request:
// after an unknown outcome (a network error, or 500, 502, 504) the minimum,
// so that the repeat reaches Basiq while the job the first copy may have
// started still runs, and is answered with that job instead of starting
// another login; otherwise as [backoff]. A refused connection is retried
// after the minimum too: the transport cannot tell it apart when it waits.
func credentialBackoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp == nil {
		return lo
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return lo
	}
	return backoff(lo, hi, attempt, resp)
}

// retrier is the retrying transport for a call: the credential one for a
// call made with withCredentials, the common one otherwise.
func (c *Client) retrier(cfg *callConfig) *retryablehttp.Client {
	t := c.transports.value()
	if cfg.policy.credentials {
		return t.credentials
	}
	return t.common
}

// transports are the client's retrying transports: one for requests
// carrying bank credentials, one for the rest.
type transports struct {
	common, credentials *retryablehttp.Client
}
