package basiq

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefusedKeyIsAnAPIError checks that /token refusing the key (404
// "Unable to authenticate", or 401) gives an error that matches
// ErrUnauthorized, not ErrNotFound, and still yields the *APIError with its
// status, correlation id and code.
func TestRefusedKeyIsAnAPIError(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNotFound, http.StatusUnauthorized} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/token",
				jsonResp(status, `{"type":"list","correlationId":"k1","data":[{"code":"unauthorized-access","title":"Unable to authenticate"}]}`))
			_, err := c.Users.Get(context.Background(), "u1")
			require.ErrorIs(t, err, ErrUnauthorized)
			assert.NotErrorIs(t, err, ErrNotFound, "a refused key must not read as a missing user")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, status, apiErr.StatusCode)
			assert.Equal(t, "k1", apiErr.CorrelationID)
			assert.Equal(t, "unauthorized-access", apiErr.Code())
			assert.Contains(t, err.Error(), "k1")
			assert.NotContains(t, err.Error(), testKey)
			assert.Equal(t, 0, calls(mt, "GET "+testBase+"/users/u1"))
		})
	}
}

// TestValidTokenKeptWhileRenewalFails checks that a token still valid is used
// while /token fails inside the early-renewal window, without every call
// waiting on /token again, and that the client stops using it once it has
// really expired.
func TestValidTokenKeptWhileRenewalFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t)
		var down atomic.Bool
		var n atomic.Int32
		mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
			if down.Load() {
				return jsonResp(http.StatusServiceUnavailable, `{"type":"list","data":[{"code":"service-unavailable"}]}`)(r)
			}
			return tokenResponder(fmt.Sprintf("tok-%d", n.Add(1)), 3600)(r)
		})
		var seen []string
		mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
			seen = append(seen, r.Header.Get("Authorization"))
			return jsonResp(http.StatusOK, `{"id":"j1","steps":[]}`)(r)
		})
		ctx := context.Background()
		_, err := c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)

		down.Store(true)
		time.Sleep(56 * time.Minute) // inside the renewal window
		for range 5 {
			_, err = c.Jobs.Get(ctx, "j1")
			require.NoError(t, err, "a valid token is kept while renewal fails")
			synctest.Wait()
		}
		assert.Equal(t, []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-1"}, seen)
		assert.Equal(t, 2, calls(mt, "POST "+testBase+"/token"), "one renewal attempt, not one per call")

		time.Sleep(time.Minute) // later calls try to renew again
		_, err = c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, 3, calls(mt, "POST "+testBase+"/token"))

		time.Sleep(4 * time.Minute) // past the real expiry
		_, err = c.Jobs.Get(ctx, "j1")
		require.Error(t, err, "an expired token is not used")
		assert.Len(t, seen, 7)

		down.Store(false)
		_, err = c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)
		assert.Equal(t, "Bearer tok-2", seen[len(seen)-1])
	})
}

// TestTokenLifeForms checks how each form of expires_in sets the token's
// life: a number, a numeric string or a float is read; a missing, zero,
// negative or unreadable value gives a short safe life; a huge one is capped.
func TestTokenLifeForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		expiresIn string // raw JSON, "" leaves the field out
		life      time.Duration
	}{
		{"number", `3600`, time.Hour},
		{"numeric string", `"3600"`, time.Hour},
		{"float", `3599.6`, 3599 * time.Second},
		{"float string", `"120.5"`, 120 * time.Second},
		{"missing", ``, fallbackTokenLife},
		{"null", `null`, fallbackTokenLife},
		{"zero", `0`, fallbackTokenLife},
		{"negative", `-60`, fallbackTokenLife},
		{"not a number", `"soon"`, fallbackTokenLife},
		{"an object", `{"s":1}`, fallbackTokenLife},
		{"huge", `1e300`, maxTokenLife},
		{"huge integer", `99999999999999999999999`, maxTokenLife},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				c, mt := newMockClient(t)
				body := `{"access_token":"tok-1","token_type":"Bearer"`
				if tc.expiresIn != "" {
					body += `,"expires_in":` + tc.expiresIn
				}
				mt.RegisterResponder(http.MethodPost, testBase+"/token", jsonResp(http.StatusOK, body+"}"))
				start := time.Now()
				_, err := c.auth.value().token(context.Background(), scopeServer)
				require.NoError(t, err)
				c.auth.value().mu.Lock()
				got := c.auth.value().tokens[scopeServer]
				c.auth.value().mu.Unlock()
				assert.Equal(t, tc.life, got.expires.Sub(start))
				assert.True(t, got.renew.Before(got.expires))
				assert.True(t, got.renew.After(start))
			})
		})
	}
}

// TestTokenAHeaderCannotCarryIsRefused checks that an access token with
// characters a header cannot carry is refused at once with a typed error,
// and not kept: the next call asks for a new one.
func TestTokenAHeaderCannotCarryIsRefused(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"tok\r\nX-Evil: 1", "tok\x00", "tok\n", "to k", "tok\x7f", "tök", ""} {
		t.Run(fmt.Sprintf("%q", tok), func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			var n atomic.Int32
			mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
				if n.Add(1) == 1 {
					return tokenResponder(tok, 3600)(r)
				}
				return tokenResponder("good", 3600)(r)
			})
			mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(http.StatusOK, `{"id":"j1","steps":[]}`))
			_, err := c.Jobs.Get(context.Background(), "j1")
			require.ErrorIs(t, err, ErrInvalidResponse)
			assert.Equal(t, 0, calls(mt, "GET "+testBase+"/jobs/j1"))
			assert.Equal(t, 1, calls(mt, "POST "+testBase+"/token"), "refused at once, not retried")
			_, err = c.Jobs.Get(context.Background(), "j1")
			require.NoError(t, err, "the refused token was not kept")
		})
	}
}

// TestMFATokenIssuedUnderMFAVersion checks that the CLIENT_ACCESS token used
// for MFA answers is requested with basiq-version 2.1 when the client is set
// to an earlier version (the version is fixed when a token is issued), and
// with the client's own version otherwise.
func TestMFATokenIssuedUnderMFAVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ client, want string }{{"1.0", "2.1"}, {"2.0", "2.1"}, {"2.1", "2.1"}, {"3.0", "3.0"}} {
		t.Run(tc.client, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithVersion(tc.client))
			versions := map[string]string{}
			mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
				require.NoError(t, r.ParseForm())
				versions[r.PostForm.Get("scope")] = r.Header.Get("basiq-version")
				return tokenResponder("tok-"+r.PostForm.Get("scope"), 3600)(r)
			})
			mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa", jsonResp(http.StatusAccepted, `{"type":"job","id":"j1"}`))
			// The job names its user: on 3.0 the MFA token is bound to it.
			mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(http.StatusOK, `{"id":"j1","steps":[],"links":{"source":"/users/u1/connections/c1"}}`))
			_, err := c.Jobs.RespondMFA(context.Background(), "j1", "1234")
			require.NoError(t, err)
			_, err = c.Jobs.Get(context.Background(), "j1")
			require.NoError(t, err)
			assert.Equal(t, tc.want, versions[scopeClient])
			assert.Equal(t, tc.client, versions[scopeServer], "the server token keeps the client's version")
		})
	}
}

// TestRenewalNeverHoldsACall checks that a call whose token is still valid
// goes on at once while /token hangs inside the renewal window, and that the
// old token is not sent once it has expired.
func TestRenewalNeverHoldsACall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t)
		var n atomic.Int32
		mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
			if n.Add(1) > 1 {
				<-r.Context().Done() // hangs until the caller gives up
				return nil, r.Context().Err()
			}
			return tokenResponder("tok-1", 4)(r)
		})
		var seen []string
		mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
			seen = append(seen, r.Header.Get("Authorization"))
			return jsonResp(http.StatusOK, `{"id":"j1","steps":[]}`)(r)
		})
		ctx := context.Background()
		_, err := c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)
		time.Sleep(3200 * time.Millisecond) // inside the renewal window of a 4 s token
		start := time.Now()
		_, err = c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)
		assert.Zero(t, time.Since(start), "the call did not wait for the renewal")

		time.Sleep(time.Second) // past the expiry, the renewal still hangs
		deadline, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = c.Jobs.Get(deadline, "j1")
		require.Error(t, err, "no valid token to send")
		assert.Equal(t, []string{"Bearer tok-1", "Bearer tok-1"}, seen, "the expired token was never sent")
		synctest.Wait()
	})
}

func TestForbiddenThatIsNotAboutTheTokenKeepsTheToken(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1",
		jsonResp(403, `{"type":"list","data":[{"code":"forbidden-access","title":"Forbidden","detail":"Your trial expired"}]}`))
	_, err := c.Users.Get(context.Background(), "u1")
	require.ErrorIs(t, err, ErrForbidden)
	assert.Equal(t, 1, calls(mt, "POST "+testBase+"/token"))
	assert.Equal(t, 1, calls(mt, "GET "+testBase+"/users/u1"))
}

func TestBasicKeySentAsIssued(t *testing.T) {
	assert.Equal(t, testKey, basicKey(" "+testKey+"\n"))
	assert.Equal(t, "id:secret", basicKey("id:secret"), "never encoded again")
}

func TestTokenSharedByConcurrentCalls(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
		time.Sleep(20 * time.Millisecond) // keep the fetch in flight while others arrive
		return tokenResponder("tok-1", 3600)(r)
	})
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, `{"id":"j1","steps":[]}`))

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Jobs.Get(context.Background(), "j1")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, calls(mt, "POST "+testBase+"/token"))
	assert.Equal(t, n, calls(mt, "GET "+testBase+"/jobs/j1"))
}

func TestTokenWaiterSurvivesCancelledFetcher(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	release := make(chan struct{})
	var n atomic.Int32
	mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
		if n.Add(1) == 1 {
			select { // the first fetch hangs until its caller gives up
			case <-r.Context().Done():
				return nil, r.Context().Err()
			case <-release:
			}
		}
		return tokenResponder("tok-2", 3600)(r)
	})
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(200, `{"id":"j1","steps":[]}`))

	ctx1, cancel1 := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := c.Jobs.Get(ctx1, "j1"); first <- err }()
	require.Eventually(t, func() bool { return n.Load() == 1 }, time.Second, time.Millisecond)

	second := make(chan error, 1)
	go func() { _, err := c.Jobs.Get(context.Background(), "j1"); second <- err }()
	time.Sleep(10 * time.Millisecond) // let the second caller start waiting on the first fetch
	cancel1()
	require.ErrorIs(t, <-first, context.Canceled)
	require.NoError(t, <-second, "a waiter must not inherit another caller's cancellation")
	close(release)
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, mt := newMockClient(t)
		var n atomic.Int32
		mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
			return tokenResponder(fmt.Sprintf("tok-%d", n.Add(1)), 3600)(r)
		})
		var seen []string
		mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
			seen = append(seen, r.Header.Get("Authorization"))
			return jsonResp(200, `{"id":"j1","steps":[]}`)(r)
		})
		ctx := context.Background()
		_, err := c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)
		time.Sleep(50 * time.Minute) // still well before the renewal window
		_, err = c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)
		time.Sleep(6 * time.Minute) // 56 min: inside the last 5 minutes of the hour
		_, err = c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)
		synctest.Wait() // the renewal, started in the background, ends
		_, err = c.Jobs.Get(ctx, "j1")
		require.NoError(t, err)
		assert.Equal(t, []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-2"}, seen,
			"the call that starts the renewal goes on with the valid token; the next uses the new one")
		assert.Equal(t, 2, calls(mt, "POST "+testBase+"/token"))
	})
}

func TestTokenRejectedGetsOneFreshTokenAndOneRetry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
		retry  bool
	}{
		{"401 invalid token", 401, `{"type":"list","data":[{"type":"error","code":"invalid-authorization-token","title":"Invalid authorization token"}]}`, true},
		{"403 expired", 403, `{"type":"list","data":[{"type":"error","code":"access-denied","title":"Access denied","detail":"Token has expired"}]}`, true},
		{"403 forbidden is not a token problem", 403, `{"type":"list","data":[{"type":"error","code":"forbidden-access","title":"Forbidden"}]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			var n atomic.Int32
			mt.RegisterResponder(http.MethodPost, testBase+"/token", func(r *http.Request) (*http.Response, error) {
				return tokenResponder(fmt.Sprintf("tok-%d", n.Add(1)), 3600)(r)
			})
			mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", func(r *http.Request) (*http.Response, error) {
				if r.Header.Get("Authorization") == "Bearer tok-1" {
					return jsonResp(tc.status, tc.body)(r)
				}
				return jsonResp(200, `{"id":"j1","steps":[]}`)(r)
			})
			_, err := c.Jobs.Get(context.Background(), "j1")
			if tc.retry {
				require.NoError(t, err)
				assert.Equal(t, 2, calls(mt, "POST "+testBase+"/token"))
				assert.Equal(t, 2, calls(mt, "GET "+testBase+"/jobs/j1"))
				return
			}
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.ErrorIs(t, err, ErrForbidden)
			assert.Equal(t, 1, calls(mt, "POST "+testBase+"/token"))
		})
	}
}

func TestTokenRejectedTwiceGivesUp(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1",
		jsonResp(401, `{"type":"list","data":[{"code":"invalid-authorization-token"}]}`))
	_, err := c.Jobs.Get(context.Background(), "j1")
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Equal(t, 2, calls(mt, "GET "+testBase+"/jobs/j1"), "exactly one retry with a fresh token")
	assert.Equal(t, 2, calls(mt, "POST "+testBase+"/token"))
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		resp     httpmock.Responder
		sentinel error
	}{
		{"bad key", jsonResp(404, `{"type":"list","data":[{"code":"resource-not-found","title":"Unable to authenticate"}]}`), ErrUnauthorized},
		{"no token in answer", jsonResp(200, `{"token_type":"Bearer"}`), ErrInvalidResponse},
		{"flooded", jsonResp(403, `{"type":"list","data":[{"code":"forbidden-access","title":"Invalid request"}]}`), ErrForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/token", tc.resp)
			_, err := c.Jobs.Get(context.Background(), "j1")
			require.ErrorIs(t, err, tc.sentinel)
			assert.NotContains(t, err.Error(), testKey)
			assert.Equal(t, 0, calls(mt, "GET "+testBase+"/jobs/j1"))
		})
	}
}
