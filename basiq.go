package basiq

import (
	"context"
	"encoding/json"
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
	// DefaultConsentURL is the address of Basiq's hosted Consent UI, used by
	// [Client.ConsentURL] when no [WithConsentBaseURL] option is given.
	DefaultConsentURL = "https://consent.basiq.io/home"
	// EnvAPIKey is the environment variable read for the API key when no [WithAPIKey] option is given.
	EnvAPIKey = "BASIQ_API_KEY"

	defaultUserAgent  = "basiq-go/" + Version
	defaultMaxRetries = 3
	defaultRetryMin   = 500 * time.Millisecond
	defaultRetryMax   = 10 * time.Second
	defaultTimeout    = 60 * time.Second
	defaultMaxConns   = 100

	// maxBodyBytes bounds how much of a successful answer is read: the
	// bound of an upload too.
	maxBodyBytes = MaxStatementBytes
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
	// Connectors reads the ways to reach each institution (3.0's
	// replacement for Institutions; both versions have it).
	Connectors *ConnectorsService
	// Consents reads and revokes a user's consents (3.0).
	Consents *ConsentsService
	// AuthLinks manages a user's auth link (from 2.1).
	AuthLinks *AuthLinksService
	// Statements uploads bank statements (PDF or CSV) in place of a
	// connection.
	Statements *StatementsService
	// Events reads what happened to users, connections and consents (3.0).
	Events *EventsService
	// Webhooks manages the subscriptions through which Basiq pushes signed
	// notifications, and reads the messages sent.
	Webhooks *WebhooksService

	common service

	baseURL *url.URL
	// consentURL is the Consent UI's address, for ConsentURL.
	consentURL *url.URL
	apiKey     hidden[string]
	version    string
	userAgent  string
	logger     *slog.Logger
	// retryMin is the shortest wait before a retry: a Retry-After that
	// would reach the context's deadline is judged against it.
	retryMin time.Duration
	// attemptTimeout bounds one attempt (0: no bound): the default limit, or
	// the caller's http.Client.Timeout.
	attemptTimeout time.Duration
	// transports hold the connections, whose buffers may still hold an
	// answer from /token: hidden, like the credentials, from reflection.
	transports hidden[transports]

	// headers are the common headers' values; bodies lends the buffers
	// answers are read into.
	headers commonHeaders
	bodies  *bodyBuffers

	auth  hidden[*tokenSource]
	insts *institutionCache
	waits *waitMemory
	// webhookSecrets are the webhook secrets this client has read, masked
	// in its webhook calls' errors: hidden like the other credentials.
	webhookSecrets hidden[*secretMemory]
	// waitDefaults are WithWaitDefaults' options, applied before each
	// wait's own.
	waitDefaults []WaitOption
}

// NewClient returns a Client configured by opts. Without options it talks to
// [DefaultBaseURL] with the API key from the BASIQ_API_KEY environment variable.
//
// It returns an error matching [ErrValidation] when an option is invalid or no
// API key is available. NewClient makes no network call: the key is first
// exchanged for an access token by the first request.
func NewClient(opts ...Option) (*Client, error) {
	o := clientOptions{
		apiKey:       os.Getenv(EnvAPIKey),
		version:      DefaultVersion,
		userAgent:    defaultUserAgent,
		retryMax:     defaultMaxRetries,
		retryMin:     defaultRetryMin,
		retryMaxWait: defaultRetryMax,
	}
	base, err := parseBaseURL(DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	o.baseURL = base
	if o.consentURL, err = parseConsentURL(DefaultConsentURL); err != nil {
		return nil, err
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(o.apiKey) == "" {
		return nil, &ValidationError{Field: "apiKey", Reason: "is required: use WithAPIKey or set " + EnvAPIKey}
	}
	c := &Client{
		baseURL:    o.baseURL,
		consentURL: o.consentURL,
		apiKey:     hide(o.apiKey),
		version:    o.version,
		userAgent:  o.userAgent,
		logger:     o.logger,
		retryMin:   o.retryMin,

		waitDefaults: o.waitDefaults,
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.bodies = new(bodyBuffers)
	c.headers = commonHeaders{accept: []string{"application/json"}, version: []string{c.version}, userAgent: []string{c.userAgent}}

	hc := o.httpClient
	attemptTimeout := defaultTimeout
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
	} else {
		attemptTimeout = hc.Timeout
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
	// everyone's keep-alive connections, so it is not passed on. The time
	// limit per attempt (the caller's Timeout, or the default) goes on the
	// request's context rather than http.Client.Timeout: net/http enforces
	// a Timeout around a wrapped transport with a goroutine and a timer per
	// request.
	hcCopy.Transport = keepIdle{RoundTripper: rt, timeout: attemptTimeout}
	c.attemptTimeout = attemptTimeout
	hcCopy.Timeout = 0

	retrier := func(b retryablehttp.Backoff) *retryablehttp.Client {
		return &retryablehttp.Client{
			HTTPClient:     &hcCopy,
			Logger:         nil,
			RetryWaitMin:   o.retryMin,
			RetryWaitMax:   o.retryMaxWait,
			RetryMax:       o.retryMax,
			CheckRetry:     c.checkRetry,
			Backoff:        b,
			ErrorHandler:   retryablehttp.PassthroughErrorHandler,
			RequestLogHook: c.logRetry,
		}
	}
	c.transports = hide(transports{common: retrier(backoff), credentials: retrier(credentialBackoff)})

	c.common.client = c
	c.Institutions = (*InstitutionsService)(&c.common)
	c.Connections = (*ConnectionsService)(&c.common)
	c.Jobs = (*JobsService)(&c.common)
	c.Users = (*UsersService)(&c.common)
	c.Accounts = (*AccountsService)(&c.common)
	c.Transactions = (*TransactionsService)(&c.common)
	c.Connectors = (*ConnectorsService)(&c.common)
	c.Consents = (*ConsentsService)(&c.common)
	c.AuthLinks = (*AuthLinksService)(&c.common)
	c.Statements = (*StatementsService)(&c.common)
	c.Events = (*EventsService)(&c.common)
	c.Webhooks = (*WebhooksService)(&c.common)
	c.webhookSecrets = hide(new(secretMemory))
	c.auth = hide(&tokenSource{client: c})
	c.insts = newInstitutionCache()
	c.waits = newWaitMemory()
	return c, nil
}

// BaseURL returns the base URL the client sends requests to.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// String describes the client without its credentials.
func (c *Client) String() string {
	if c == nil || c.baseURL == nil {
		return "basiq.Client{}"
	}
	return fmt.Sprintf("basiq.Client{BaseURL: %q, Version: %q}", c.baseURL.String(), c.version)
}

// Format implements [fmt.Formatter] so that every verb (%v, %+v, %#v, %s)
// prints [Client.String] and never the credentials the client holds. (A
// Client copied by value formats as a struct, which holds its credentials
// out of fmt's reach all the same.)
func (c *Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue implements [slog.LogValuer]; credentials are left out.
func (c *Client) LogValue() slog.Value {
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

// parseBaseURL checks a base URL with checkServiceURL. The result's path
// always ends in "/", so relative references keep any path prefix.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := checkServiceURL("baseURL", raw)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// checkServiceURL checks the address of a service the client sends
// credentials to (the API, the Consent UI): absolute, https (http for
// loopback hosts only), no user information, query or fragment. field names
// the option in the *ValidationError.
func checkServiceURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, &ValidationError{Field: field, Reason: "is not an absolute URL: give one such as " + DefaultBaseURL}
	}
	if u.User != nil {
		return nil, &ValidationError{Field: field, Reason: "must not carry user information: remove the user@ part"}
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, &ValidationError{Field: field, Reason: "must not carry a query or fragment: remove what follows ? or #"}
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, &ValidationError{Field: field, Reason: "must use https: http is allowed only for loopback hosts"}
		}
	default:
		return nil, &ValidationError{Field: field, Reason: "must use https (http only for loopback hosts)"}
	}
	u.Scheme = strings.ToLower(u.Scheme)
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
	if u, ok := c.resolvePlain(link); ok {
		return u, true
	}
	return c.resolveParsed(link)
}

// resolvePlain is resolve's fast path, for the paths the client builds
// itself ("jobs/{id}", "users/{id}/transactions?..."): a relative path of
// unreserved characters only, with no empty or dot segment, and a query of
// plain characters, under a base URL whose path needs no escaping. It
// gives what resolveParsed gives without parsing, or reports false.
func (c *Client) resolvePlain(link string) (*url.URL, bool) {
	if c.baseURL.RawPath != "" || link == "" || link[0] == '/' {
		return nil, false
	}
	path, query, _ := strings.Cut(link, "?")
	start := 0 // of the current segment
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			if seg := path[start:i]; seg == "" || seg == "." || seg == ".." {
				return nil, false
			}
			start = i + 1
			continue
		}
		if b := path[i]; !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.' || b == '~') {
			return nil, false
		}
	}
	for i := 0; i < len(query); i++ {
		if b := query[i]; b <= ' ' || b >= 0x7f || b == '#' || b == '\\' {
			return nil, false
		}
	}
	return &url.URL{Scheme: c.baseURL.Scheme, Host: c.baseURL.Host, Path: c.baseURL.Path + path, RawQuery: query}, true
}

// resolveParsed is resolve for any link: it parses it.
func (c *Client) resolveParsed(link string) (*url.URL, bool) {
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
// /token: the key goes nowhere else, even on the same origin), secrets in
// its body (a bank password, an MFA answer: they go to their own endpoint
// only, and a 307 would resend them) or a body sent once (an upload), and
// any redirect outside the base URL (another origin, or a path outside its
// prefix, or one carrying user information), so that no credential follows
// them; it stops after 10 redirects, and within that limit defers to the
// caller's own policy, if any. A refused
// redirect is a *RedirectError (matching [ErrRedirectRefused]) that says
// which rule refused it.
func (c *Client) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		refuse := func(why redirectRule) error {
			e := &RedirectError{Origin: origin(req.URL), why: why, basePath: c.baseURL.Path}
			if req.Response != nil {
				e.StatusCode = req.Response.StatusCode
			}
			return e
		}
		if len(via) > 0 {
			if why := policyOf(via[0].Context()).noRedirect; why != redirectFollowed {
				return refuse(why)
			}
		}
		if !c.sameOrigin(req.URL) {
			return refuse(redirectOtherOrigin)
		}
		if req.URL.User != nil {
			return refuse(redirectUserInfo)
		}
		if !c.underBase(req.URL) {
			return refuse(redirectOutsidePath)
		}
		if len(via) >= 10 {
			return refuse(redirectTooMany)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// malformedRedirect returns a *RedirectError for a redirect answer whose
// Location net/http cannot parse, or nil. net/http's own error for it
// quotes the whole target, which may carry whatever secret the server put
// there, at any length; this one names none of it.
func malformedRedirect(req *http.Request, resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil
	}
	if _, err := req.URL.Parse(loc); err == nil {
		return nil
	}
	return &RedirectError{StatusCode: resp.StatusCode, why: redirectMalformed}
}

// keepIdle hides a transport's CloseIdleConnections from the retry machinery,
// bounds each attempt by timeout when it is set, and refuses a redirect
// whose target cannot be parsed (see malformedRedirect) before net/http
// reads it.
type keepIdle struct {
	http.RoundTripper
	timeout time.Duration
}

// RoundTrip sends one attempt, within the time limit if there is one, as
// http.Client.Timeout would: the limit covers the redirects the attempt
// follows (a redirected request keeps the deadline of the first) and reading
// the body, and ends when the body is closed.
func (k keepIdle) RoundTrip(req *http.Request) (*http.Response, error) {
	if k.timeout <= 0 {
		resp, err := k.RoundTripper.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		if err := malformedRedirect(req, resp); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return resp, nil
	}
	// A redirected request carries the original request's context, not
	// the one sent: the deadline of the first request is found through the
	// responses that led to this one, each of which names the request sent.
	deadline := time.Now().Add(k.timeout)
	for r := req.Response; r != nil && r.Request != nil; r = r.Request.Response {
		if d, ok := r.Request.Context().Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
	}
	ctx, cancel := context.WithDeadline(req.Context(), deadline)
	sent := req.WithContext(ctx)
	resp, err := k.RoundTripper.RoundTrip(sent)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := malformedRedirect(req, resp); err != nil {
		resp.Body.Close()
		cancel()
		return nil, err
	}
	if resp.Request == nil {
		resp.Request = sent // as http.Transport sets it
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
