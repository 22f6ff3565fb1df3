package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Version is the version of this library, sent in the default User-Agent.
const Version = "0.1.0"

const (
	// DefaultBaseURL is the Basiq API host used when no [WithBaseURL] option is given.
	DefaultBaseURL = "https://au-api.basiq.io"
	// DefaultVersion is the basiq-version header value sent when no [WithVersion] option is given.
	DefaultVersion = "2.0"
	// EnvAPIKey is the environment variable read for the API key when no [WithAPIKey] option is given.
	EnvAPIKey = "BASIQ_API_KEY"

	defaultUserAgent  = "basiq-go/" + Version
	defaultMaxRetries = 3
	defaultRetryMin   = 500 * time.Millisecond
	defaultRetryMax   = 10 * time.Second
	defaultTimeout    = 60 * time.Second
	defaultMaxConns   = 100

	// maxBodyBytes bounds how much of a successful answer is read.
	maxBodyBytes = 32 << 20
	// maxErrorBodyBytes bounds how much of an error answer is read.
	maxErrorBodyBytes = 64 << 10
	// maxBodyPrealloc bounds the buffer reserved from an answer's
	// Content-Length before its bytes arrive.
	maxBodyPrealloc = 64 << 10
)

// service is the shared state behind every resource service: each service is a
// typed view of the one Client.
type service struct {
	client *Client
}

// Client talks to the Basiq API. Create one with [NewClient] and share it: it is
// safe for concurrent use by many goroutines, and it holds one access token
// per scope that all of them use.
//
// A Client never prints. Formatting it with any fmt verb, log/slog or
// encoding/json shows its base URL and version, never its API key or access
// tokens; the services (Client.Users and the others), formatted in any way,
// cannot show them either: the credentials are held where fmt and
// reflection-based printers cannot read them.
type Client struct {
	// Institutions reads the banks and other institutions a user can connect to.
	Institutions *InstitutionsService
	// Connections creates and manages a user's connections to institutions.
	Connections *ConnectionsService
	// Jobs reads the jobs that connection changes start, and answers MFA
	// challenges.
	Jobs *JobsService
	// Users creates and manages Basiq users.
	Users *UsersService
	// Accounts reads a user's accounts.
	Accounts *AccountsService
	// Transactions reads a user's transactions.
	Transactions *TransactionsService

	common service

	baseURL   *url.URL
	apiKey    hidden[string]
	version   string
	userAgent string
	logger    *slog.Logger

	// httpClient is the caller's client from WithHTTPClient, read by
	// NewClient and then dropped: the client sends through transports.
	httpClient *http.Client
	retryMax   int
	retryMin   time.Duration
	retryMaxD  time.Duration
	// transports hold the connections, whose buffers may still hold an
	// answer from /token: hidden, like the credentials, from reflection.
	transports hidden[transports]

	auth  hidden[*tokenSource]
	insts *institutionCache
	mfa   *mfaMemory
	waits *waitMemory
}

// NewClient returns a Client configured by opts. Without options it talks to
// [DefaultBaseURL] with the API key from the BASIQ_API_KEY environment variable.
//
// It returns an error matching [ErrValidation] when an option is invalid or no
// API key is available. NewClient makes no network call: the key is first
// exchanged for an access token by the first request.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{
		apiKey:    hide(os.Getenv(EnvAPIKey)),
		version:   DefaultVersion,
		userAgent: defaultUserAgent,
		retryMax:  defaultMaxRetries,
		retryMin:  defaultRetryMin,
		retryMaxD: defaultRetryMax,
	}
	base, err := parseBaseURL(DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	c.baseURL = base
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(c.apiKey.value()) == "" {
		return nil, &ValidationError{Field: "apiKey", Reason: "no API key: use WithAPIKey or set " + EnvAPIKey}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}

	hc := c.httpClient
	var attemptTimeout time.Duration
	if hc == nil {
		var rt http.RoundTripper = http.DefaultTransport
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			t = t.Clone()
			// Many goroutines share one client: keep their connections
			// alive, and bound how many are opened at once.
			t.MaxIdleConnsPerHost = defaultMaxConns
			t.MaxConnsPerHost = defaultMaxConns
			rt = t
		}
		hc = &http.Client{Transport: rt}
		// The default time limit per attempt goes on the request's context
		// rather than http.Client.Timeout, which costs a goroutine per request.
		attemptTimeout = defaultTimeout
	}
	// A copy, so the caller's client is not changed; redirects never carry
	// credentials to another origin.
	hcCopy := *hc
	hcCopy.CheckRedirect = c.checkRedirect(hc.CheckRedirect)
	rt := hcCopy.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	// The retry machinery closes the client's idle connections when it gives
	// up; on a transport shared with the rest of the program that would drop
	// everyone's keep-alive connections, so it is not passed on.
	hcCopy.Transport = keepIdle{RoundTripper: rt, timeout: attemptTimeout}

	retrier := func(b retryablehttp.Backoff) *retryablehttp.Client {
		return &retryablehttp.Client{
			HTTPClient:     &hcCopy,
			Logger:         nil,
			RetryWaitMin:   c.retryMin,
			RetryWaitMax:   c.retryMaxD,
			RetryMax:       c.retryMax,
			CheckRetry:     c.checkRetry,
			Backoff:        b,
			ErrorHandler:   retryablehttp.PassthroughErrorHandler,
			RequestLogHook: c.logRetry,
		}
	}
	c.transports = hide(transports{common: retrier(backoff), credentials: retrier(credentialBackoff)})
	c.httpClient = nil

	c.common.client = c
	c.Institutions = (*InstitutionsService)(&c.common)
	c.Connections = (*ConnectionsService)(&c.common)
	c.Jobs = (*JobsService)(&c.common)
	c.Users = (*UsersService)(&c.common)
	c.Accounts = (*AccountsService)(&c.common)
	c.Transactions = (*TransactionsService)(&c.common)
	c.auth = hide(&tokenSource{client: c})
	c.insts = newInstitutionCache()
	c.mfa = &mfaMemory{}
	c.waits = newWaitMemory()
	return c, nil
}

// BaseURL returns the base URL the client sends requests to.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// String describes the client without its credentials.
func (c Client) String() string {
	if c.baseURL == nil {
		return "basiq.Client{}"
	}
	return fmt.Sprintf("basiq.Client{BaseURL: %q, Version: %q}", c.baseURL.String(), c.version)
}

// Format implements [fmt.Formatter] so that every verb (%v, %+v, %#v, %s)
// prints [Client.String] and never the credentials the client holds.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue implements [slog.LogValuer]; credentials are left out.
func (c Client) LogValue() slog.Value {
	return slog.StringValue(c.String())
}

// hidden keeps a credential, or what holds credentials, out of reach of fmt,
// encoders and reflection-based printers: the value lives only in a closure,
// which they show as an address at most. fmt's bad-verb path dumps a struct's
// unexported fields without calling any method, so a string or a pointer there
// would be printed; a func is not. The methods below make a hidden value that
// is formatted directly print [REDACTED].
type hidden[T any] struct{ get func() T }

// hide wraps v so that only [hidden.value] can read it.
func hide[T any](v T) hidden[T] { return hidden[T]{get: func() T { return v }} }

// value returns the hidden value, or T's zero value for a zero hidden.
func (h hidden[T]) value() T {
	if h.get == nil {
		var zero T
		return zero
	}
	return h.get()
}

// String returns [REDACTED].
func (h hidden[T]) String() string { return redacted }

// Format prints [REDACTED] for every verb.
func (h hidden[T]) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue logs [REDACTED].
func (h hidden[T]) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes "[REDACTED]".
func (h hidden[T]) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// parseBaseURL checks a base URL: https for any host, http only for loopback
// hosts. The result's path always ends in "/", so relative references keep any
// path prefix.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return nil, &ValidationError{Field: "baseURL", Reason: "not an absolute URL"}
	}
	if u.User != nil {
		return nil, &ValidationError{Field: "baseURL", Reason: "must not carry user information"}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, &ValidationError{Field: "baseURL", Reason: "must not carry a query or fragment"}
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, &ValidationError{Field: "baseURL", Reason: "http is allowed only for loopback hosts; use https"}
		}
	default:
		return nil, &ValidationError{Field: "baseURL", Reason: "scheme must be https"}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether u has the base URL's scheme, host and port.
func (c *Client) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.baseURL.Scheme) &&
		strings.EqualFold(u.Hostname(), c.baseURL.Hostname()) &&
		effectivePort(u) == effectivePort(c.baseURL)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// resolve turns a link from an answer (absolute or relative) into a URL under
// the base URL: its scheme, host and port, and its path prefix. It reports
// false when the link is empty, malformed, carries user information or a
// backslash, or resolves outside the base URL (another origin, or a path
// that leaves the prefix, dot segments included, percent-encoded or not):
// such links are never followed with credentials. The URL returned always
// carries the base URL's own scheme and host.
func (c *Client) resolve(link string) (*url.URL, bool) {
	if link == "" || strings.Contains(link, `\`) {
		return nil, false
	}
	u, err := url.Parse(link)
	if err != nil || u.User != nil || u.Opaque != "" {
		return nil, false
	}
	switch prefix := c.baseURL.Path; {
	case u.Scheme != "" || u.Host != "" || strings.HasPrefix(link, "//"):
		if u.Scheme == "" {
			u.Scheme = c.baseURL.Scheme
		}
		if !c.sameOrigin(u) {
			return nil, false
		}
	case prefix != "/" && strings.HasPrefix(u.Path, prefix):
		// A path that already starts with the prefix is taken as it is.
	default:
		// Any other path is relative to the base URL, prefix included.
		u.Path = strings.TrimPrefix(u.Path, "/")
		u.RawPath = strings.TrimPrefix(u.RawPath, "/")
	}
	r := c.baseURL.ResolveReference(u)
	out := &url.URL{Scheme: c.baseURL.Scheme, Host: c.baseURL.Host, Path: r.Path, RawPath: r.RawPath, RawQuery: r.RawQuery}
	if !c.underBase(out) {
		return nil, false
	}
	return out, true
}

// underBase reports whether u is on the base URL's origin and its path stays
// under the base URL's path prefix, as sent (escaped) and as decoded, with no
// dot segment (".", "..", or their percent-encoded forms) and no empty
// segment after the prefix. A percent-encoded slash or backslash inside a
// segment is data (an escaped id), not a separator.
func (c *Client) underBase(u *url.URL) bool {
	if u.User != nil || u.Opaque != "" || !c.sameOrigin(u) {
		return false
	}
	prefix, escaped := c.baseURL.EscapedPath(), u.EscapedPath()
	if !strings.HasPrefix(escaped, prefix) || !strings.HasPrefix(u.Path, c.baseURL.Path) {
		return false
	}
	rest := escaped[len(prefix):]
	if rest == "" {
		return true
	}
	for seg := range strings.SplitSeq(rest, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "." || dec == ".." {
			return false
		}
	}
	return !strings.Contains(rest, "//") && !strings.HasPrefix(rest, "/")
}

// checkRedirect refuses any redirect of a request carrying the API key (POST
// /token: the key goes nowhere else, even on the same origin) or secrets in
// its body (a bank password, an MFA answer: they go to their own endpoint
// only, and a 307 would resend them), and any redirect outside the base URL
// (another origin, or a path outside its prefix), so that no credential
// follows them; then it defers to the caller's own policy, if any. A refused
// redirect comes back as its 3xx answer.
func (c *Client) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && (carriesAPIKey(via[0]) || via[0].Context().Value(secretsKey{}) != nil) {
			return http.ErrUseLastResponse
		}
		if !c.underBase(req.URL) {
			return http.ErrUseLastResponse
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// carriesAPIKey reports a request sent with the API key (Basic credentials).
func carriesAPIKey(req *http.Request) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(req.Header.Get("Authorization")), " ")
	return strings.EqualFold(scheme, "Basic")
}

// keepIdle hides a transport's CloseIdleConnections from the retry machinery,
// and bounds each attempt by timeout when it is set.
type keepIdle struct {
	http.RoundTripper
	timeout time.Duration
}

// RoundTrip sends one attempt, within the time limit if there is one; the
// limit covers reading the body, and ends when the body is closed.
func (k keepIdle) RoundTrip(req *http.Request) (*http.Response, error) {
	if k.timeout <= 0 {
		return k.RoundTripper.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), k.timeout)
	resp, err := k.RoundTripper.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases an attempt's time limit when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// newRequest builds a request for path, a path relative to the base URL (its ids
// already escaped) or a link from an answer under the base URL. A non-nil
// body is sent as JSON, or as a form when it is url.Values. Requests with
// methods that cannot create anything are marked safe to retry; see
// [withRetry] for the rest.
func (c *Client) newRequest(ctx context.Context, method, path string, body any) (*retryablehttp.Request, error) {
	u, ok := c.resolve(path)
	if !ok {
		return nil, fmt.Errorf("basiq: refusing to send a request to %q: not under the base URL", path)
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
			return nil, fmt.Errorf("basiq: encoding request body: %w", err)
		}
		contentType = "application/json"
	}
	// A fresh policy for every request, so that a request made while
	// serving another (a token fetch inside a GET or a connection POST)
	// never inherits that one's retry rules.
	safe := method == http.MethodGet || method == http.MethodHead || method == http.MethodDelete
	ctx = context.WithValue(ctx, policyKey{}, &retryPolicy{safe: safe})
	var rawBody any
	if raw != nil {
		rawBody = raw
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), rawBody)
	if err != nil {
		return nil, fmt.Errorf("basiq: building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("basiq-version", c.version)
	req.Header.Set("User-Agent", c.userAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// secretsKey carries, in a request's context, the secret values its body
// holds, so that an error answer quoting them has them masked.
type secretsKey struct{}

// withSecrets records the secret values req carries (empty ones are skipped).
func withSecrets(req *retryablehttp.Request, secrets ...string) *retryablehttp.Request {
	var keep []string
	for _, s := range secrets {
		if s != "" {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		return req
	}
	return req.WithContext(context.WithValue(req.Context(), secretsKey{}, keep))
}

// requestSecrets lists what must never appear in an error about req: the
// secrets of its body, the credential of its Authorization header, and the
// API key, which a server that saw it at /token could quote anywhere.
func (c *Client) requestSecrets(req *retryablehttp.Request) []string {
	body, _ := req.Context().Value(secretsKey{}).([]string)
	secrets := append([]string{c.apiKey.value()}, body...)
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && cred != "" {
		secrets = append(secrets, cred)
	}
	return secrets
}

// withRetry marks a request whose method could create something (a POST) as
// safe to repeat, because the API answers a repeat without a duplicate.
func withRetry(req *retryablehttp.Request) *retryablehttp.Request {
	policyOf(req.Context()).safe = true
	return req
}

// scopeKey carries, in a request's context, the token scope a request needs
// when it is not ScopeServerAccess.
type scopeKey struct{}

// withScope makes req use a token of another scope.
func withScope(req *retryablehttp.Request, scope string) *retryablehttp.Request {
	return req.WithContext(context.WithValue(req.Context(), scopeKey{}, scope))
}

// do sends req with the client's access token and decodes a successful JSON
// answer into v (when v is not nil). A non-2xx answer becomes an *APIError. An
// answer saying the token expired or is invalid gets one fresh token and one
// more try.
func (c *Client) do(req *retryablehttp.Request, v any) (*http.Response, error) {
	scope, _ := req.Context().Value(scopeKey{}).(string)
	if scope == "" {
		scope = ScopeServerAccess
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.auth.value().token(req.Context(), scope)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.send(req, v)
		if attempt == 0 && isTokenRejected(err) {
			c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: access token rejected, renewing")
			c.auth.value().invalidate(scope, tok)
			// A request carrying bank credentials counts this repeat
			// against its one repeat after an unknown outcome.
			if policyOf(req.Context()).once() {
				continue
			}
		}
		return resp, err
	}
}

// send is the single place a request leaves the client: it runs the retrying
// transport, maps a non-2xx answer to an *APIError and decodes a 2xx body into
// v. The response body is always read (bounded) and closed.
func (c *Client) send(req *retryablehttp.Request, v any) (*http.Response, error) {
	start := time.Now()
	where := req.Method + " " + safePath(req.URL)
	resp, err := c.retrier(req).Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = ctxErr
		}
		c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: request failed",
			slog.String("method", req.Method), slog.String("path", safePath(req.URL)),
			slog.Duration("elapsed", time.Since(start)), slog.String("error", err.Error()))
		return nil, fmt.Errorf("basiq: %s: %w", where, err)
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
			return resp, fmt.Errorf("basiq: %s: %w", where, req.Context().Err())
		}
		apiErr := newAPIError(resp, body, c.requestSecrets(req))
		apiErr.RetryAfter, _ = retryAfter(resp, time.Now())
		return resp, apiErr
	}
	if v == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
		if _, ok := v.(identified); ok {
			return resp, fmt.Errorf("%w: %s: answer %d has no content", ErrInvalidResponse, where, resp.StatusCode)
		}
		return resp, nil
	}
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 {
		// The announced length only sizes the first allocation, and only up
		// to a cap: memory follows the bytes that actually arrive.
		buf.Grow(int(min(n, maxBodyPrealloc)) + 1)
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBodyBytes+1))
	body := buf.Bytes()
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = ctxErr
		}
		return resp, fmt.Errorf("basiq: %s: reading response: %w", where, err)
	}
	if len(body) > maxBodyBytes {
		return resp, fmt.Errorf("%w: %s: response body larger than %d bytes", ErrInvalidResponse, where, maxBodyBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return resp, fmt.Errorf("%w: %s: empty response body (status %d)", ErrInvalidResponse, where, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp, fmt.Errorf("%w: %s: decoding response: %w", ErrInvalidResponse, where, err)
	}
	// An answer that completed as the caller gave up is not a success.
	if err := req.Context().Err(); err != nil {
		return resp, fmt.Errorf("basiq: %s: %w", where, err)
	}
	if r, ok := v.(identified); ok && checkID("id", r.resourceID()) != nil {
		return resp, fmt.Errorf("%w: %s: answer has no usable id", ErrInvalidResponse, where)
	}
	return resp, nil
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

// pathf formats a path, escaping each id as one path segment.
func pathf(format string, ids ...string) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, args...)
}

// get fetches path into v: the shape of every read.
func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	_, err = c.do(req, v)
	return err
}

// post sends body to path and decodes the answer into v. retry marks a POST
// that cannot create a duplicate as safe to repeat.
func (c *Client) post(ctx context.Context, path string, body, v any, retry bool) (*http.Response, error) {
	req, err := c.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, err
	}
	if retry {
		req = withRetry(req)
	}
	return c.do(req, v)
}

// deletePath checks the id named field, then sends DELETE to path.
func (c *Client) deletePath(ctx context.Context, field, id, path string) error {
	if err := checkID(field, id); err != nil {
		return err
	}
	req, err := c.newRequest(ctx, http.MethodDelete, path, nil)
	if err != nil {
		return err
	}
	_, err = c.do(req, nil)
	return err
}
