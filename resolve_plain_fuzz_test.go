package basiq

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzResolvePlainMatchesParsed checks resolve's fast path: wherever it
// takes a link, it gives the URL that parsing the link gives, under a base
// URL with and without a path prefix.
func FuzzResolvePlainMatchesParsed(f *testing.F) {
	for _, s := range []string{
		"jobs/j1", "users/u-1/transactions?limit=500&filter=account.id.eq('a')", "users/u/connections/c/refresh",
		"jobs/../token", "jobs/./j", "jobs//j", "jobs/", "v2/jobs/j", "a:b/c", "jobs/j?x#y", "jobs/%2e%2e",
		"jobs/j?a b", "~/x", "jobs/j?", "..", ".",
	} {
		f.Add(s)
	}
	var clients []*Client
	for _, base := range []string{"http://127.0.0.1:8080", "https://api.example/v2/", "https://api.example/a.b/"} {
		c, err := NewClient(WithBaseURL(base), WithAPIKey("key"))
		require.NoError(f, err)
		clients = append(clients, c)
	}
	f.Fuzz(func(t *testing.T, link string) {
		for _, c := range clients {
			fast, ok := c.resolvePlain(link)
			if !ok {
				continue
			}
			slow, ok := c.resolveParsed(link)
			require.True(t, ok, "base %s, link %q: the fast path took a link the parsed path refuses", c.baseURL, link)
			require.Equal(t, slow, fast, "base %s, link %q", c.baseURL, link)
			require.Equal(t, slow.String(), fast.String())
		}
	})
}
