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
// A Client never prints, and formatting it (fmt's %v, %+v, %#v or log/slog)
// shows its base URL and version but never its API key or access token.
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
	apiKey    string
	version   string
	userAgent string
	logger    *slog.Logger

	httpClient *http.Client
	retryMax   int
	retryMin   time.Duration
	retryMaxD  time.Duration
	rc         *retryablehttp.Client

	auth  *tokenSource
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
		apiKey:    os.Getenv(EnvAPIKey),
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
	if strings.TrimSpace(c.apiKey) == "" {
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
	c.httpClient = &hcCopy

	c.rc = &retryablehttp.Client{
		HTTPClient:     c.httpClient,
		Logger:         nil,
		RetryWaitMin:   c.retryMin,
		RetryWaitMax:   c.retryMaxD,
		RetryMax:       c.retryMax,
		CheckRetry:     checkRetry,
		Backoff:        backoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
		RequestLogHook: c.logRetry,
	}

	c.common.client = c
	c.Institutions = (*InstitutionsService)(&c.common)
	c.Connections = (*ConnectionsService)(&c.common)
	c.Jobs = (*JobsService)(&c.common)
	c.Users = (*UsersService)(&c.common)
	c.Accounts = (*AccountsService)(&c.common)
	c.Transactions = (*TransactionsService)(&c.common)
	c.auth = &tokenSource{client: c}
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

// resolve turns a link from an answer (absolute or relative) into a URL on the
// base URL's origin. It reports false when the link is empty, malformed or
// points at another origin: such links are never followed with credentials.
func (c *Client) resolve(link string) (*url.URL, bool) {
	if link == "" {
		return nil, false
	}
	u, err := url.Parse(link)
	if err != nil {
		return nil, false
	}
	if u.IsAbs() || u.Host != "" {
		if u.Scheme == "" {
			u.Scheme = c.baseURL.Scheme
		}
		return u, c.sameOrigin(u)
	}
	// A relative link is relative to the base URL, path prefix included,
	// unless it already starts with that prefix.
	prefix := c.baseURL.Path
	if prefix != "/" && strings.HasPrefix(u.Path, prefix) {
		return c.baseURL.ResolveReference(u), true
	}
	u.Path = strings.TrimPrefix(u.Path, "/")
	u.RawPath = strings.TrimPrefix(u.RawPath, "/")
	return c.baseURL.ResolveReference(u), true
}

// checkRedirect refuses redirects to another origin, so that no credential
// follows them, then defers to the caller's own policy, if any.
func (c *Client) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !c.sameOrigin(req.URL) {
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

// retryKey marks, in a request's context, a request that is safe to repeat.
type retryKey struct{}

// newRequest builds a request for path, a path relative to the base URL (its ids
// already escaped) or a link from an answer on the base URL's origin. A non-nil
// body is sent as JSON, or as a form when it is url.Values. Requests with
// methods that cannot create anything are marked safe to retry; see
// [withRetry] for the rest.
func (c *Client) newRequest(ctx context.Context, method, path string, body any) (*retryablehttp.Request, error) {
	u, ok := c.resolve(path)
	if !ok {
		return nil, fmt.Errorf("basiq: refusing to send a request to %q: not on the base URL's origin", path)
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
	if method == http.MethodGet || method == http.MethodHead || method == http.MethodDelete {
		ctx = context.WithValue(ctx, retryKey{}, true)
	}
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
// secrets of its body and the credential of its Authorization header.
func requestSecrets(req *retryablehttp.Request) []string {
	secrets, _ := req.Context().Value(secretsKey{}).([]string)
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && cred != "" {
		secrets = append(secrets, cred)
	}
	return secrets
}

// withRetry marks a request whose method could create something (a POST) as
// safe to repeat, because the API answers a repeat without a duplicate.
func withRetry(req *retryablehttp.Request) *retryablehttp.Request {
	return req.WithContext(context.WithValue(req.Context(), retryKey{}, true))
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
		tok, err := c.auth.token(req.Context(), scope)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.send(req, v)
		if attempt == 0 && isTokenRejected(err) {
			c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: access token rejected, renewing")
			c.auth.invalidate(scope, tok)
			continue
		}
		return resp, err
	}
}

// send is the single place a request leaves the client: it runs the retrying
// transport, maps a non-2xx answer to an *APIError and decodes a 2xx body into
// v. The response body is always read (bounded) and closed.
func (c *Client) send(req *retryablehttp.Request, v any) (*http.Response, error) {
	start := time.Now()
	resp, err := c.rc.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = ctxErr
		}
		c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: request failed",
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.Duration("elapsed", time.Since(start)), slog.String("error", err.Error()))
		return nil, fmt.Errorf("basiq: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()

	if c.logger.Enabled(req.Context(), slog.LevelDebug) {
		c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: request",
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.Int("status", resp.StatusCode), slog.Duration("elapsed", time.Since(start)))
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		if readErr != nil && req.Context().Err() != nil {
			return resp, fmt.Errorf("basiq: %s %s: %w", req.Method, req.URL.Path, req.Context().Err())
		}
		return resp, newAPIError(resp, body, requestSecrets(req))
	}
	if v == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
		return resp, nil
	}
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= maxBodyBytes {
		buf.Grow(int(n) + 1)
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBodyBytes+1))
	body := buf.Bytes()
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = ctxErr
		}
		return resp, fmt.Errorf("basiq: %s %s: reading response: %w", req.Method, req.URL.Path, err)
	}
	if len(body) > maxBodyBytes {
		return resp, fmt.Errorf("%w: %s %s: response body larger than %d bytes", ErrInvalidResponse, req.Method, req.URL.Path, maxBodyBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return resp, fmt.Errorf("%w: %s %s: empty response body (status %d)", ErrInvalidResponse, req.Method, req.URL.Path, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp, fmt.Errorf("%w: %s %s: decoding response: %w", ErrInvalidResponse, req.Method, req.URL.Path, err)
	}
	return resp, nil
}

// logRetry is the transport's request hook: it reports repeated attempts only.
func (c *Client) logRetry(_ retryablehttp.Logger, req *http.Request, attempt int) {
	if attempt == 0 {
		return
	}
	c.logger.LogAttrs(req.Context(), slog.LevelDebug, "basiq: retrying request",
		slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.Int("attempt", attempt+1))
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
