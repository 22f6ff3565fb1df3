package basiq

import (
	"context"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// retryAfterCeiling is the longest Retry-After the client waits for by
// itself. A server asking for longer gets no retry: the call ends with the
// *APIError, its RetryAfter set, so the caller can schedule the call.
const retryAfterCeiling = 60 * time.Second

// checkRetry is the transport's retry policy. Only a request marked safe to
// repeat (see newRequest and withRetry) is repeated, on a network error or on
// 429, 500, 502, 503 or 504. A cancelled or expired context stops at once,
// and so does an answer whose Retry-After asks for a wait beyond
// retryAfterCeiling or past the context's deadline: the caller gets the
// answer at once instead of a wait that cannot end in a retry.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	safe, _ := ctx.Value(retryKey{}).(bool)
	if err != nil {
		return safe && !isPermanentNetError(err), nil
	}
	if d, ok := retryAfter(resp, time.Now()); ok {
		if d > retryAfterCeiling {
			return false, nil
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= max(d, c.retryMin) {
			return false, nil
		}
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

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}
