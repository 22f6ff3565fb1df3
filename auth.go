package basiq

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ScopeServerAccess is the token scope the client requests: full server-side
// access to the API.
const ScopeServerAccess = "SERVER_ACCESS"

const (
	// maxRefreshMargin is how long before its expiry a token is renewed, at most.
	maxRefreshMargin = 5 * time.Minute
	// defaultTokenLife is assumed when an answer gives no expires_in.
	defaultTokenLife = time.Hour
)

// tokenSource holds the client's one access token. All goroutines share it;
// while a token is being fetched the others wait for that fetch instead of
// starting their own, so N concurrent first calls make one token request.
type tokenSource struct {
	client *Client

	mu    sync.Mutex
	tok   string
	renew time.Time // when to fetch a new one, some time before it expires

	fetches flight[struct{}, string]
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// token returns a valid access token, fetching one if there is none or the
// current one is close to its expiry.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	tok, renew := ts.tok, ts.renew
	ts.mu.Unlock()
	if tok != "" && time.Now().Before(renew) {
		return tok, nil
	}
	return ts.fetches.do(ctx, struct{}{}, func(ctx context.Context) (string, error) {
		// A caller that waited for the lock may find a fresh token already.
		ts.mu.Lock()
		tok, renew := ts.tok, ts.renew
		ts.mu.Unlock()
		if tok != "" && time.Now().Before(renew) {
			return tok, nil
		}
		tok, life, err := ts.fetch(ctx)
		if err != nil {
			return "", err
		}
		ts.mu.Lock()
		ts.tok = tok
		ts.renew = time.Now().Add(life - min(maxRefreshMargin, life/4))
		ts.mu.Unlock()
		return tok, nil
	})
}

// invalidate drops tok if it is still the current token, so that the next call
// fetches a new one. Many goroutines told at once that tok expired cause one
// fetch, not many.
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok == tok {
		ts.tok = ""
		ts.renew = time.Time{}
	}
}

// fetch exchanges the API key for a token at POST /token, through the same
// request path as every other call.
func (ts *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	c := ts.client
	form := url.Values{"scope": {ScopeServerAccess}}
	req, err := c.newRequest(ctx, http.MethodPost, "token", form)
	if err != nil {
		return "", 0, err
	}
	// Asking for a token creates nothing, so it is safe to repeat.
	req = withRetry(req)
	req.Header.Set("Authorization", "Basic "+basicKey(c.apiKey))
	var tr tokenResponse
	if _, err := c.send(req, &tr); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusUnauthorized) {
			// Basiq answers a key it does not know with 404 "Unable to authenticate".
			return "", 0, fmt.Errorf("basiq: getting access token: API key refused: %w: %w", ErrUnauthorized, apiErr)
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

// basicKey returns the API key for a Basic Authorization header. Basiq issues
// keys already base64-encoded ("id:secret" encoded); such a key is sent as it
// is. A raw "id:secret" pair is encoded first.
func basicKey(key string) string {
	key = strings.TrimSpace(key)
	if strings.Contains(key, ":") {
		return base64.StdEncoding.EncodeToString([]byte(key))
	}
	return key
}
