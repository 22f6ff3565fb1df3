package basiq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endlessPages answers every page of a list with the given data and a next
// link that has never been seen before.
func endlessPages(data string) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		body := fmt.Sprintf(`{"type":"list","data":[%s],"links":{"next":"%s/users/u1/accounts?page=%d"}}`, data, testBase, n+1)
		return jsonResp(http.StatusOK, body)(r)
	}
}

// TestEmptyPagesWithNewLinksEndTheList checks that a list answering empty
// pages with ever-new next links ends with ErrInvalidResponse after a few
// pages instead of looping.
func TestEmptyPagesWithNewLinksEndTheList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/accounts", endlessPages(""))
	accs, err := c.Accounts.List(t.Context(), "u1", nil)
	require.ErrorIs(t, err, ErrInvalidResponse)
	assert.Nil(t, accs)
	assert.LessOrEqual(t, calls(mt, "GET "+testBase+"/users/u1/accounts"), maxEmptyPages+1)
}

// TestEmptyPageBetweenFullPagesIsTolerated checks that the count of empty
// pages is of consecutive ones: data resets it.
func TestEmptyPageBetweenFullPagesIsTolerated(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/accounts", func(r *http.Request) (*http.Response, error) {
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		data, next := "", fmt.Sprintf(`"%s/users/u1/accounts?page=%d"`, testBase, n+1)
		if n%maxEmptyPages == 0 {
			data = fmt.Sprintf(`{"id":"a%d"}`, n)
		}
		if n == 4*maxEmptyPages {
			next = `null`
		}
		return jsonResp(http.StatusOK, fmt.Sprintf(`{"type":"list","data":[%s],"links":{"next":%s}}`, data, next))(r)
	})
	accs, err := c.Accounts.List(t.Context(), "u1", nil)
	require.NoError(t, err)
	assert.Len(t, accs, 5)
}

// TestListingPagesAreBounded checks that a list whose every page brings one
// item and a new next link ends with ErrInvalidResponse at the page bound.
func TestListingPagesAreBounded(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/accounts", endlessPages(`{"id":"a"}`))
	const limit = 40
	var n int
	var last error
	for _, err := range paginateAs(t.Context(), c, "users/u1/accounts", func(a *Account) Account { return *a }, limit) {
		if err != nil {
			last = err
			break
		}
		n++
	}
	require.ErrorIs(t, last, ErrInvalidResponse)
	assert.Equal(t, limit, n)
	assert.Equal(t, limit, calls(mt, "GET "+testBase+"/users/u1/accounts"))
}

// TestForeignNextLinkErrorNamesOnlyItsOrigin checks that a next page link
// the client refuses is named in the error by its origin alone (or its path,
// on the base URL's origin), with the client's secrets masked: the link's
// query may quote the API key or the access token.
func TestForeignNextLinkErrorNamesOnlyItsOrigin(t *testing.T) {
	t.Parallel()
	for link, want := range map[string]string{
		"https://evil.test/x?key=" + testKey + "&token=tok-1":     "basiq: invalid response: next page link to another origin: https://evil.test",
		"https://tok-1.evil.test/x?token=tok-1":                   "basiq: invalid response: next page link to another origin: https://" + redacted + ".evil.test",
		"https://user:tok-1@api.test/basiq/users/u1/transactions": "basiq: invalid response: next page link carries user information",
		"https://api.test/admin/tok-1/x?key=" + testKey:           "basiq: invalid response: next page link outside the base URL's path: /admin/" + redacted + "/x",
		"https://evil.test:8x/x?key=" + testKey:                   "basiq: invalid response: next page link is not a valid URL",
	} {
		t.Run(link, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithBaseURL(prefixBase), WithMaxRetries(0))
			mt.RegisterResponder(http.MethodPost, prefixBase+"/token", tokenResponder("tok-1", 3600))
			body, err := json.Marshal(map[string]any{"type": "list", "data": []any{}, "links": map[string]string{"next": link}})
			require.NoError(t, err)
			mt.RegisterResponder(http.MethodGet, prefixBase+"/users/u1/transactions", jsonResp(http.StatusOK, string(body)))
			_, err = collect(c.Transactions.List(t.Context(), "u1", nil))
			require.ErrorIs(t, err, ErrInvalidResponse)
			assert.Equal(t, want, err.Error())
		})
	}
}

func TestNextLinkOutsideBasePathEndsPaging(t *testing.T) {
	t.Parallel()
	for _, link := range linksOutsidePrefix {
		t.Run(link, func(t *testing.T) {
			t.Parallel()
			c, mt, unexpected := newPrefixClient(t)
			page, err := json.Marshal(map[string]any{
				"type": "list", "data": []map[string]string{{"type": "account", "id": "a1"}},
				"links": map[string]string{"next": link},
			})
			require.NoError(t, err)
			mt.RegisterResponder(http.MethodGet, prefixBase+"/users/u1/accounts", jsonResp(http.StatusOK, string(page)))

			_, err = c.Accounts.List(t.Context(), "u1", nil)
			require.ErrorIs(t, err, ErrInvalidResponse)
			assert.Equal(t, 1, calls(mt, "GET "+prefixBase+"/users/u1/accounts"))
			assert.Empty(t, unexpected(), "no request outside the base URL")
		})
	}
}

// A next link on the base URL whose path quotes a credential of the client
// (the API key, a bearer token, a webhook secret) is not followed: the
// credential would reach the request, its errors and the debug log.
func TestNextLinkQuotingACredentialIsNotFollowed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second httpmock.Responder
	}{
		{"decode error", jsonResp(http.StatusOK, `not json`)},
		{"transport error", httpmock.NewErrorResponder(errors.New("connection reset"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			c, mt := newMockClient(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			leakPath := "/notifications/webhooks/wh1/messages/p/" + testKey
			mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks/wh1/messages",
				jsonResp(http.StatusOK, `{"type":"list","data":[],"links":{"next":"`+testBase+leakPath+`"}}`))
			mt.RegisterResponder(http.MethodGet, testBase+leakPath, tc.second)
			var err error
			for _, e := range c.Webhooks.Messages(t.Context(), "wh1") {
				if e != nil {
					err = e
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("API key in error: %v", err)
			}
			if strings.Contains(logs.String(), testKey) {
				t.Errorf("API key in debug log: %s", logs.String())
			}
		})
	}
}
