package basiq

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"
)

// The client's one request path. Every endpoint, the token fetch and the
// pager go through [Client.call]: it builds the request (path resolution
// under the base URL, JSON or form body, the common headers), attaches the
// access token or the API key, runs the retrying transport, maps a non-2xx
// answer to an *APIError and decodes a 2xx one. What differs between calls
// is said with request options, not context values.

// requestOption adjusts one call on the request path.
type requestOption func(*callConfig)

// callConfig is what the request options of one call set.
type callConfig struct {
	// scope is the token scope the call is sent with.
	scope string
	// apiKey: the call is authenticated with the API key (POST /token)
	// rather than an access token.
	apiKey bool
	// policy is the call's retry and redirect policy; the request's context
	// carries a pointer to it for the transport's hooks, which see nothing
	// else.
	policy retryPolicy
	// secrets are values the body holds, masked in any error about the
	// call.
	secrets []string
	// header holds extra headers, set after the common ones.
	header []string // name, value pairs
	// stream, when set, is the request body, read while the request is
	// sent rather than held in memory, with its content type; see
	// withStream.
	stream     func() (io.Reader, error)
	streamType string
	// bearer, when set, is the access token the call is sent with instead
	// of one of the client's own; see withBearer.
	bearer string
}

// withRetry lets a POST be repeated on a network error or a 429/5xx answer,
// for one that cannot create anything twice.
func withRetry() requestOption {
	return func(c *callConfig) { c.policy.safe = true }
}

// withCredentials marks a body carrying the customer's bank credentials:
// their values are masked in errors, no redirect is followed, and the call
// is repeated only under the rules of [retryPolicy.allowCredentials].
func withCredentials(secrets ...string) requestOption {
	return func(c *callConfig) {
		withSecrets(secrets...)(c)
		c.policy.credentials = len(c.secrets) > 0
		if !c.policy.credentials {
			c.policy.safe = true // nothing secret: repeated like a read
		}
	}
}

// withSecrets masks these values (empty ones are skipped) in any error about
// the call, and stops any redirect from carrying them elsewhere.
func withSecrets(secrets ...string) requestOption {
	return func(c *callConfig) {
		for _, s := range secrets {
			if s != "" {
				c.secrets = append(c.secrets, s)
			}
		}
		if c.policy.noRedirect == redirectFollowed && len(c.secrets) > 0 {
			c.policy.noRedirect = redirectSecrets
		}
	}
}

// withScope sends the call with a token of another scope.
func withScope(scope string) requestOption {
	return func(c *callConfig) { c.scope = scope }
}

// withHeader sets a header on the call, after the common ones.
func withHeader(name, value string) requestOption {
	return func(c *callConfig) { c.header = append(c.header, name, value) }
}

// withNoRepeat sends the call once: no retry, and no repeat after an answer
// refusing the access token (a one-time code, a best-effort read).
func withNoRepeat() requestOption {
	return func(c *callConfig) { c.policy.safe, c.policy.single = false, true }
}

// hintTimeout bounds a read made only to help (the challenge an MFA answer
// answers, the institution a waited job belongs to), so that it never holds
// up the call it helps.
const hintTimeout = 2 * time.Second

// withStream sends a body read while the request is sent (a file upload),
// never held whole in memory. open is called for each attempt the transport
// makes (and once before, to probe for a length); a body that can be read
// only once must fail the attempts after the first. Such a call is never
// repeated: not on a 429/5xx answer, nor after a refused token, nor through
// a redirect.
func withStream(contentType string, open func() (io.Reader, error)) requestOption {
	return func(c *callConfig) {
		c.stream, c.streamType = open, contentType
		c.policy.safe, c.policy.noRedirect = false, redirectUpload
	}
}

// withBearer sends the call with this access token (a CLIENT_ACCESS token
// bound to a user) rather than one the client keeps; an answer refusing it
// is returned as it is, without a renewal.
func withBearer(tok string) requestOption {
	return func(c *callConfig) { c.bearer = tok }
}

// withAPIKey authenticates the call with the API key (POST /token only); no
// redirect of it is followed.
func withAPIKey() requestOption {
	return func(c *callConfig) { c.apiKey, c.policy.noRedirect = true, redirectAPIKey }
}

// call sends one request to path (relative to the base URL, its ids already
// escaped, or a link from an answer under the base URL) and decodes a 2xx
// answer into out, when out is not nil. A non-nil body is sent as JSON, or
// as a form when it is url.Values. GET, HEAD and DELETE may be repeated on
// a network error or a 429/5xx answer; a POST only with [withRetry] or
// [withCredentials].
func (c *Client) call(ctx context.Context, method, path string, body, out any, opts ...requestOption) (*http.Response, error) {
	cfg := &callConfig{scope: scopeServer}
	cfg.policy.safe = method == http.MethodGet || method == http.MethodHead || method == http.MethodDelete
	for _, o := range opts {
		o(cfg)
	}
	req, err := c.newRequest(ctx, method, path, body, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.apiKey {
		req.Header.Set("Authorization", "Basic "+basicKey(c.apiKey.value()))
		return c.send(req, cfg, out)
	}
	return c.do(req, cfg, out)
}

// newRequest builds the request of a call.
func (c *Client) newRequest(ctx context.Context, method, path string, body any, cfg *callConfig) (*retryablehttp.Request, error) {
	u, ok := c.resolve(path)
	if !ok {
		return nil, errorf("refusing to send a request to %q: not under the base URL", clean(path, 200))
	}
	var (
		raw         []byte
		contentType string
	)
	switch b := body.(type) {
	case nil:
	case url.Values:
		raw, contentType = []byte(b.Encode()), "application/x-www-form-urlencoded"
	default:
		var err error
		raw, err = json.Marshal(b)
		if err != nil {
			return nil, errorf("encoding request body: %w", err)
		}
		contentType = "application/json"
	}
	// The transport's hooks see only the request's context: it carries the
	// call's own policy, so a request made while serving another (a token
	// fetch inside a connection POST) never inherits that one's rules.
	ctx = context.WithValue(ctx, policyKey{}, &cfg.policy)
	// The URL resolve built is used as it is: no second parse of it.
	hreq, err := http.NewRequestWithContext(ctx, method, "", nil)
	if err != nil {
		return nil, errorf("building request: %w", err)
	}
	u.Host = strings.TrimSuffix(u.Host, ":") // as http.NewRequest does
	hreq.URL, hreq.Host = u, u.Host
	req := &retryablehttp.Request{Request: hreq}
	var rawBody any
	if raw != nil {
		rawBody = raw
	}
	if cfg.stream != nil {
		rawBody, contentType = retryablehttp.ReaderFunc(cfg.stream), cfg.streamType
	}
	if rawBody != nil {
		if err := req.SetBody(rawBody); err != nil {
			return nil, errorf("building request: %w", err)
		}
	}
	// The common headers' values are built once per client, and shared:
	// nothing changes a header value in place.
	h := hreq.Header
	h["Accept"] = c.headers.accept
	h["Basiq-Version"] = c.headers.version
	h["User-Agent"] = c.headers.userAgent
	if contentType != "" {
		h["Content-Type"] = []string{contentType}
	}
	for i := 0; i+1 < len(cfg.header); i += 2 {
		h.Set(cfg.header[i], cfg.header[i+1])
	}
	return req, nil
}

// commonHeaders are the values of the headers every request carries.
type commonHeaders struct {
	accept, version, userAgent []string
}

// requestSecrets lists what must never appear in an error about req: the
// secrets of its body, the credential of its Authorization header, the API
// key (as issued and base64-decoded), which a server that saw it at /token
// could quote anywhere, and the webhook secrets the client has read.
func (c *Client) requestSecrets(req *retryablehttp.Request, cfg *callConfig) []string {
	secrets := append(c.keySecrets(), cfg.secrets...)
	secrets = append(secrets, c.webhookSecretForms()...)
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && cred != "" {
		secrets = append(secrets, cred)
	}
	return secrets
}

// keySecrets returns the API key and, when it decodes as base64 to text,
// the key decoded: it is a Basic credential, and a server may quote it
// decoded.
func (c *Client) keySecrets() []string {
	key := c.apiKey.value()
	secrets := []string{key}
	if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key)); err == nil && len(dec) >= 8 && utf8.Valid(dec) {
		secrets = append(secrets, string(dec))
	}
	return secrets
}

// heldSecrets returns the secrets the client holds now, for text from an
// answer that no single request produced (a job's failure, a next page
// link): the API key (see [Client.keySecrets]), the access tokens cached
// and the webhook secrets read.
func (c *Client) heldSecrets() []string {
	return append(append(c.keySecrets(), c.auth.value().cached()...), c.webhookSecretForms()...)
}

// do sends req with an access token of the call's scope. An answer saying
// the token expired or is invalid gets one fresh token and one more try.
func (c *Client) do(req *retryablehttp.Request, cfg *callConfig, v any) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		var (
			tok    = cfg.bearer
			header = []string{"Bearer " + cfg.bearer}
			err    error
		)
		if tok == "" {
			if tok, header, err = c.auth.value().authorization(req.Context(), cfg.scope); err != nil {
				return nil, err
			}
		}
		req.Header["Authorization"] = header
		resp, err := c.send(req, cfg, v)
		if attempt == 0 && err != nil && cfg.bearer == "" && isTokenRejected(err) {
			c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: access token rejected, renewing")
			c.auth.value().invalidate(cfg.scope, tok)
			// The refused token stays masked in what the repeat's answer
			// may quote.
			cfg.secrets = append(cfg.secrets[:len(cfg.secrets):len(cfg.secrets)], tok)
			// A request carrying bank credentials counts this repeat
			// against its one repeat after an unknown outcome; a streamed
			// body cannot be sent again.
			if cfg.stream == nil && cfg.policy.once() {
				continue
			}
		}
		return resp, err
	}
}

// send is the single place a request leaves the client: it runs the retrying
// transport, maps a non-2xx answer to an *APIError and decodes a 2xx body into
// v. The response body is always read (bounded) and closed.
func (c *Client) send(req *retryablehttp.Request, cfg *callConfig, v any) (*http.Response, error) {
	start := time.Now()
	resp, err := c.retrier(cfg).Do(req)
	if err != nil {
		c.recordResponse(req, cfg, resp, err)
		if resp != nil {
			resp.Body.Close()
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = ctxErr
		}
		// The raw error may quote a redirect's target or the server's
		// words: only its masked, bounded form is logged or returned.
		err = transportError(req, err, c.requestSecrets(req, cfg))
		c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: request failed",
			slog.String("method", req.Method), slog.String("path", safePath(req.URL)),
			slog.Duration("elapsed", time.Since(start)), slog.String("error", err.Error()))
		return nil, err
	}
	defer resp.Body.Close()

	if c.logger.Enabled(req.Context(), slog.LevelDebug) {
		c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: request",
			slog.String("method", req.Method), slog.String("path", safePath(req.URL)),
			slog.Int("status", resp.StatusCode), slog.Duration("elapsed", time.Since(start)))
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		if readErr != nil && req.Context().Err() != nil {
			c.recordResponse(req, cfg, resp, nil)
			return resp, errorf("%s: %w", callSite(req), req.Context().Err())
		}
		apiErr := newAPIError(resp, body, c.requestSecrets(req, cfg))
		apiErr.RetryAfter, _ = retryAfter(resp, time.Now())
		c.recordResponse(req, cfg, resp, apiErr)
		return resp, apiErr
	}
	c.recordResponse(req, cfg, resp, nil)
	if v == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
		if _, ok := v.(identified); ok {
			return resp, errorf("%w: %s: answer %d has no content", ErrInvalidResponse, callSite(req), resp.StatusCode)
		}
		return resp, nil
	}
	buf := c.bodies.get(resp.ContentLength)
	defer c.bodies.put(buf)
	body, err := readBody(resp.Body, buf.b[:0], maxBodyBytes+1)
	buf.b = body
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = ctxErr
		}
		return resp, errorf("%s: reading response: %w", callSite(req), err)
	}
	if len(body) > maxBodyBytes {
		return resp, errorf("%w: %s: response body larger than %d bytes", ErrInvalidResponse, callSite(req), maxBodyBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return resp, errorf("%w: %s: empty response body (status %d)", ErrInvalidResponse, callSite(req), resp.StatusCode)
	}
	if d, ok := v.(answerDecoder); ok {
		err = d.decodeAnswer(body)
	} else {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		return resp, errorf("%w: %s: decoding response: %w", ErrInvalidResponse, callSite(req), err)
	}
	// An answer that completed as the caller gave up is not a success.
	if err := req.Context().Err(); err != nil {
		return resp, errorf("%s: %w", callSite(req), err)
	}
	if r, ok := v.(identified); ok && checkID("id", r.resourceID()) != nil {
		return resp, errorf("%w: %s: answer has no usable id", ErrInvalidResponse, callSite(req))
	}
	return resp, nil
}

// readBody appends what r holds to buf, up to limit bytes, growing buf as
// bytes arrive (never ahead of them): the capacity buf brings is used first,
// and reading the end of the body costs no allocation.
func readBody(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(len(buf), 512), limit-len(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// bodyBuffers lends the buffers answers are read into: a client reuses
// them from call to call. A buffer comes back cleared (an answer may hold a
// token), and only if it is no larger than maxPooledBody.
type bodyBuffers struct{ pool sync.Pool }

// bodyBuffer is a buffer lent by bodyBuffers.
type bodyBuffer struct{ b []byte }

// maxPooledBody is the largest buffer kept for reuse: a full page of
// transactions fits.
const maxPooledBody = 1 << 20

// get lends a buffer with room for an answer of announced length n (-1
// when unknown); the room reserved from n is capped at maxBodyPrealloc, so
// memory follows the bytes that actually arrive.
func (p *bodyBuffers) get(n int64) *bodyBuffer {
	buf, _ := p.pool.Get().(*bodyBuffer)
	if buf == nil {
		buf = new(bodyBuffer)
	}
	if want := int(min(max(n, 0), maxBodyPrealloc)) + 1; cap(buf.b) < want {
		buf.b = make([]byte, 0, want)
	}
	return buf
}

// put takes buf back.
func (p *bodyBuffers) put(buf *bodyBuffer) {
	if cap(buf.b) > maxPooledBody {
		return
	}
	clear(buf.b)
	buf.b = buf.b[:0]
	p.pool.Put(buf)
}

// callSite names a request in an error: its method and its path as sent.
func callSite(req *retryablehttp.Request) string {
	return req.Method + " " + safePath(req.URL)
}

// transportError is the error of a request the transport could not
// complete: a network error, a refused redirect, the caller's context. It
// names the request by its method and path as sent, and shows the cause
// without net/http's *url.Error text, which repeats the whole URL (for a
// redirect, the target's, whose path and query may carry secrets). A
// refused redirect unwraps to its *RedirectError alone, its Origin masked
// of the request's secrets (a server that saw them could put them in the
// target's host); anything else to the error the transport returned. The
// cause's text is masked of the request's secrets and cleaned to one line
// of at most 300 bytes: a server breaking HTTP (a malformed status line,
// say) gets what it sent quoted there, the request's Authorization header
// included.
func transportError(req *retryablehttp.Request, err error, secrets []string) error {
	var redir *RedirectError
	if errors.As(err, &redir) {
		redir.Origin = maskForms(redir.Origin, secretForms(secrets))
		return errorf("%s: %w", callSite(req), redir)
	}
	shown := err
	var uerr *url.Error
	if errors.As(err, &uerr) && uerr.Err != nil {
		shown = uerr.Err
	}
	text := clean(maskForms(unprefixed{shown}.Error(), secretForms(secrets)), 300)
	return &wrapped{msg: prefix + callSite(req) + ": " + text, err: err}
}

// identified is a resource decoded from an answer that must name it: a 2xx
// answer without its id (null, {}, 204), or with an id no request could
// name again (blank, control characters, a dot segment), is not that
// resource.
type identified interface {
	resourceID() string
}

// safePath is a URL's path for an error string or a log record: escaped as
// sent, so a path from an answer cannot carry control characters, and
// bounded.
func safePath(u *url.URL) string {
	return clean(u.EscapedPath(), 200)
}

// logRetry is the transport's request hook: it reports repeated attempts only.
func (c *Client) logRetry(_ retryablehttp.Logger, req *http.Request, attempt int) {
	if attempt == 0 {
		return
	}
	c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: retrying request",
		slog.String("method", req.Method), slog.String("path", safePath(req.URL)), slog.Int("attempt", attempt+1))
}

// pathf formats a path, escaping each id as one path segment: each %s in
// format takes the next id.
func pathf(format string, ids ...string) string {
	var b strings.Builder
	b.Grow(len(format) + 16*len(ids))
	for _, id := range ids {
		before, after, ok := strings.Cut(format, "%s")
		if !ok {
			break
		}
		b.WriteString(before)
		b.WriteString(url.PathEscape(id))
		format = after
	}
	b.WriteString(format)
	return b.String()
}
