package basiq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token scopes. The client uses a SERVER_ACCESS token for every call except
// [JobsService.RespondMFA], which the API accepts only with a CLIENT_ACCESS
// token; each scope's token is fetched, shared and renewed on its own.
const (
	scopeServer = "SERVER_ACCESS"
	scopeClient = "CLIENT_ACCESS"
)

const (
	// maxRefreshMargin is how long before its expiry a token is renewed, at most.
	maxRefreshMargin = 5 * time.Minute
	// fallbackTokenLife is assumed when an answer gives no usable
	// expires_in: short, so a token that lives less is soon renewed.
	fallbackTokenLife = 5 * time.Minute
	// maxTokenLife caps the life an answer may claim.
	maxTokenLife = 24 * time.Hour
	// renewRetryInterval is how long calls go on with a still-valid token
	// after a failed renewal before one of them tries again.
	renewRetryInterval = 30 * time.Second
	// renewTimeout bounds one renewal in the background.
	renewTimeout = 30 * time.Second
	// maxTokenBytes bounds an access token's length.
	maxTokenBytes = 16 << 10
)

// tokenSource holds the client's access tokens, one per scope. All goroutines
// share them; while a token is being fetched the others wait for that fetch
// instead of starting their own, so N concurrent first calls make one token
// request. A token is renewed in the background some time before it
// expires; if renewal fails, calls go on with the current token until it
// really expires.
type tokenSource struct {
	client *Client

	mu     sync.Mutex
	tokens map[string]cachedToken // by scope

	fetches flight[string, string] // by scope
}

// cachedToken is a token, when to fetch its successor (some time before it
// expires), and when it expires.
type cachedToken struct {
	tok string
	// header is the Authorization header's value for tok, built once.
	header  []string
	renew   time.Time
	expires time.Time
	// renewing is true while a renewal runs in the background; retryAt is
	// when to try again after a failed one. Calls meanwhile use tok.
	renewing bool
	retryAt  time.Time
}

type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// authorization returns a valid access token for scope and the
// Authorization header value that carries it, fetching a token if there is
// none or the current one is close to its expiry. The header value is
// shared by every request sent with the token: it is set, never changed.
func (ts *tokenSource) authorization(ctx context.Context, scope string) (string, []string, error) {
	now := time.Now()
	ts.mu.Lock()
	t, ok := ts.tokens[scope]
	if ok && now.Before(t.expires) && (now.Before(t.renew) || t.renewing || now.Before(t.retryAt)) {
		ts.mu.Unlock()
		return t.tok, t.header, nil
	}
	ts.mu.Unlock()
	tok, err := ts.token(ctx, scope)
	if err != nil {
		return "", nil, err
	}
	return tok, bearerHeader(tok), nil
}

// bearerHeader is the Authorization header value for tok.
func bearerHeader(tok string) []string { return []string{"Bearer " + tok} }

// token returns a valid access token for scope, fetching one if there is none
// or the current one is close to its expiry.
func (ts *tokenSource) token(ctx context.Context, scope string) (string, error) {
	now := time.Now()
	ts.mu.Lock()
	t, ok := ts.tokens[scope]
	if ok && now.Before(t.expires) {
		if now.Before(t.renew) || t.renewing || now.Before(t.retryAt) {
			ts.mu.Unlock()
			return t.tok, nil
		}
		// Due for renewal while still valid: one attempt runs in the
		// background, and every call, this one included, goes on with the
		// current token meanwhile.
		t.renewing = true
		ts.tokens[scope] = t
		ts.mu.Unlock()
		go ts.renew(scope, t)
		return t.tok, nil
	}
	ts.mu.Unlock()
	return ts.fetches.do(ctx, scope, func(ctx context.Context) (string, error) {
		// A caller that arrived as another fetch finished finds its token here.
		ts.mu.Lock()
		t, ok := ts.tokens[scope]
		ts.mu.Unlock()
		if ok && time.Now().Before(t.renew) {
			return t.tok, nil
		}
		return ts.fetchAndStore(ctx, scope, true)
	})
}

// renew fetches old's successor, once and without retries, within
// renewTimeout and before old expires. If that fails, old is kept until it
// expires, and renewal is tried again after renewRetryInterval. It runs on
// its own goroutine, which ends with the attempt.
func (ts *tokenSource) renew(scope string, old cachedToken) {
	ctx, cancel := context.WithDeadline(context.Background(), minTime(old.expires, time.Now().Add(renewTimeout)))
	defer cancel()
	if _, err := ts.fetchAndStore(ctx, scope, false); err != nil {
		ts.client.logger.LogAttrs(ctx, slog.LevelDebug, "basiq: renewing access token failed; the current one is still valid",
			slog.String("scope", scope), slog.String("error", err.Error()))
		ts.mu.Lock()
		if cur, ok := ts.tokens[scope]; ok && cur.tok == old.tok {
			cur.renewing, cur.retryAt = false, time.Now().Add(renewRetryInterval)
			ts.tokens[scope] = cur
		}
		ts.mu.Unlock()
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// fetchAndStore fetches a token for scope and keeps it.
func (ts *tokenSource) fetchAndStore(ctx context.Context, scope string, retry bool) (string, error) {
	tok, life, err := ts.fetch(ctx, scope, retry)
	if err != nil {
		return "", err
	}
	now := time.Now()
	ts.mu.Lock()
	if ts.tokens == nil {
		ts.tokens = map[string]cachedToken{}
	}
	ts.tokens[scope] = cachedToken{tok: tok, header: bearerHeader(tok), renew: now.Add(life - min(maxRefreshMargin, life/4)), expires: now.Add(life)}
	ts.mu.Unlock()
	return tok, nil
}

// cached returns the access tokens held now, of every scope.
func (ts *tokenSource) cached() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	toks := make([]string, 0, len(ts.tokens))
	for _, t := range ts.tokens {
		toks = append(toks, t.tok)
	}
	return toks
}

// invalidate drops tok if it is still the scope's current token, so that the
// next call fetches a new one. Many goroutines told at once that tok expired
// cause one fetch, not many.
func (ts *tokenSource) invalidate(scope, tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tokens[scope].tok == tok {
		delete(ts.tokens, scope)
	}
}

// tokenVersion is the basiq-version a token for scope is requested under:
// the API fixes a token's version when it is issued. A SERVER_ACCESS token
// has the client's version; the CLIENT_ACCESS token answers MFA challenges,
// which exist from version 2.1, so it has the client's version when that is
// 2.1 or later (3.0 on a 3.0 client), and 2.1 otherwise.
func (c *Client) tokenVersion(scope string) string {
	if scope == scopeClient && !versionAtLeast(c.version, mfaVersion) {
		return mfaVersion
	}
	return c.version
}

// versionAtLeast reports whether the API version v ("2.0", "3.0", ...) is
// want or later, comparing major then minor numbers. A version it cannot
// read counts as earlier than any.
func versionAtLeast(v, want string) bool {
	vm, vn, ok1 := splitVersion(v)
	wm, wn, ok2 := splitVersion(want)
	if !ok1 || !ok2 {
		return false
	}
	return vm > wm || vm == wm && vn >= wn
}

// splitVersion reads "major.minor" (or "major").
func splitVersion(v string) (major, minor int, ok bool) {
	maj, min, _ := strings.Cut(strings.TrimSpace(v), ".")
	var err error
	if major, err = strconv.Atoi(maj); err != nil || major < 0 {
		return 0, 0, false
	}
	if min != "" {
		if minor, err = strconv.Atoi(min); err != nil || minor < 0 {
			return 0, 0, false
		}
	}
	return major, minor, true
}

// fetch exchanges the API key for a token of scope at POST /token, through
// the same request path as every other call. retry lets the request be
// repeated on a network error or a 429/5xx answer.
func (ts *tokenSource) fetch(ctx context.Context, scope string, retry bool) (string, time.Duration, error) {
	c := ts.client
	return c.requestToken(ctx, url.Values{"scope": {scope}}, c.tokenVersion(scope), retry)
}

// requestToken asks POST /token for a token described by form (scope, and
// userId for a client token) under the API version version, and returns it
// with its life. retry lets the request be repeated on a network error or
// a 429/5xx answer.
func (c *Client) requestToken(ctx context.Context, form url.Values, version string, retry bool) (string, time.Duration, error) {
	opts := []requestOption{withAPIKey(), withHeader("basiq-version", version)}
	if retry {
		// Asking for a token creates nothing, so it is safe to repeat.
		opts = append(opts, withRetry())
	}
	var tr tokenResponse
	if _, err := c.call(ctx, http.MethodPost, "token", form, &tr, opts...); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusUnauthorized) {
			// Basiq answers a key it does not know with 404 "Unable to
			// authenticate": marked as a refused key, it matches
			// ErrUnauthorized and not ErrNotFound, so a caller does not take
			// it for a missing resource.
			apiErr.keyRefused = true
			return "", 0, errorf("getting access token: API key refused: %w", apiErr)
		}
		return "", 0, errorf("getting access token: %w", err)
	}
	if err := checkToken(tr.AccessToken); err != nil {
		return "", 0, err
	}
	return tr.AccessToken, tokenLife(tr.ExpiresIn), nil
}

// checkToken refuses an access token that a header cannot carry as it is:
// one with spaces, control or non-ASCII characters, or of absurd length.
func checkToken(tok string) error {
	if tok == "" {
		return fmt.Errorf("%w: POST /token: answer has no access_token", ErrInvalidResponse)
	}
	if len(tok) > maxTokenBytes || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return fmt.Errorf("%w: POST /token: access_token holds characters a header cannot carry", ErrInvalidResponse)
	}
	return nil
}

// tokenLife reads expires_in (seconds) as a number, a numeric string or a
// float. A missing, zero, negative or unreadable value gives
// fallbackTokenLife; a longer life than maxTokenLife is capped.
func tokenLife(raw json.RawMessage) time.Duration {
	s := strings.TrimSpace(string(raw))
	if unq, ok := unquote([]byte(s)); ok {
		s = strings.TrimSpace(unq)
	}
	secs, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange), math.IsNaN(secs), secs < 1:
		return fallbackTokenLife
	case secs >= maxTokenLife.Seconds():
		return maxTokenLife
	}
	return time.Duration(secs) * time.Second
}

// basicKey returns the API key for a Basic Authorization header: exactly as
// the dashboard issues it (already encoded), only trimmed of spaces.
func basicKey(key string) string {
	return strings.TrimSpace(key)
}
