package basiq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Token scopes. The client uses a SERVER_ACCESS token for every call except
// [JobsService.RespondMFA], which the API accepts only with a CLIENT_ACCESS
// token; each scope's token is fetched, shared and renewed on its own.
const (
	ScopeServerAccess = "SERVER_ACCESS"
	ScopeClientAccess = "CLIENT_ACCESS"
)

const (
	// maxRefreshMargin is how long before its expiry a token is renewed, at most.
	maxRefreshMargin = 5 * time.Minute
	// defaultTokenLife is assumed when an answer gives no expires_in.
	defaultTokenLife = time.Hour
)

// tokenSource holds the client's access tokens, one per scope. All goroutines
// share them; while a token is being fetched the others wait for that fetch
// instead of starting their own, so N concurrent first calls make one token
// request.
type tokenSource struct {
	client *Client

	mu     sync.Mutex
	tokens map[string]cachedToken // by scope

	fetches flight[string, string] // by scope
}

// cachedToken is a token and when to fetch its successor, some time before it
// expires.
type cachedToken struct {
	tok   string
	renew time.Time
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// current returns the scope's token if it is not yet due for renewal.
func (ts *tokenSource) current(scope string) (string, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.tokens[scope]
	if !ok || t.tok == "" || !time.Now().Before(t.renew) {
		return "", false
	}
	return t.tok, true
}

// token returns a valid access token for scope, fetching one if there is none
// or the current one is close to its expiry.
func (ts *tokenSource) token(ctx context.Context, scope string) (string, error) {
	if tok, ok := ts.current(scope); ok {
		return tok, nil
	}
	return ts.fetches.do(ctx, scope, func(ctx context.Context) (string, error) {
		// A caller that arrived as another fetch finished finds its token here.
		if tok, ok := ts.current(scope); ok {
			return tok, nil
		}
		tok, life, err := ts.fetch(ctx, scope)
		if err != nil {
			return "", err
		}
		ts.mu.Lock()
		if ts.tokens == nil {
			ts.tokens = map[string]cachedToken{}
		}
		ts.tokens[scope] = cachedToken{tok: tok, renew: time.Now().Add(life - min(maxRefreshMargin, life/4))}
		ts.mu.Unlock()
		return tok, nil
	})
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

// fetch exchanges the API key for a token at POST /token, through the same
// request path as every other call.
func (ts *tokenSource) fetch(ctx context.Context, scope string) (string, time.Duration, error) {
	c := ts.client
	form := url.Values{"scope": {scope}}
	req, err := c.newRequest(ctx, http.MethodPost, "token", form)
	if err != nil {
		return "", 0, err
	}
	// Asking for a token creates nothing, so it is safe to repeat.
	req = withRetry(req)
	req.Header.Set("Authorization", "Basic "+basicKey(c.apiKey.value()))
	var tr tokenResponse
	if _, err := c.send(req, &tr); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusUnauthorized) {
			// Basiq answers a key it does not know with 404 "Unable to
			// authenticate". That 404 is not passed on as an *APIError: a
			// caller must not take a refused key for a missing resource.
			return "", 0, fmt.Errorf("%w: getting access token: API key refused (status %d, correlation id %q)",
				ErrUnauthorized, apiErr.StatusCode, apiErr.CorrelationID)
		}
		return "", 0, fmt.Errorf("basiq: getting access token: %w", err)
	}
	if tr.AccessToken == "" {
		return "", 0, fmt.Errorf("%w: POST /token: answer has no access_token", ErrInvalidResponse)
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = defaultTokenLife
	}
	return tr.AccessToken, life, nil
}

// basicKey returns the API key for a Basic Authorization header: exactly as
// the dashboard issues it (already encoded), only trimmed of spaces.
func basicKey(key string) string {
	return strings.TrimSpace(key)
}
