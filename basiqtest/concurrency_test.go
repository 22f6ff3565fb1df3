package basiqtest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t, WithTransactionsPerAccount(20))
	shared := c.createUser("shared@b.example")
	const n = 50
	var wg sync.WaitGroup
	jobIDs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Own user and connection.
			user := c.createUser(fmt.Sprintf("u%d@b.example", i))
			jobIDs[i] = c.connectLogin(user, InstHooli, LoginJared, PasswordJared)
			c.get("/jobs/" + jobIDs[i])
			c.get("/users/" + user + "/connections")
			// All on one user and login: one job at a time for it.
			r := c.connect(shared, InstHooli, map[string]string{"loginId": LoginGavinBelson, "password": PasswordGavinBelson})
			assert.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r.status)
			c.get("/users/" + shared + "/transactions?limit=10")
			c.get("/institutions")
			srv.Requests()
			srv.TokenRequests()
			if i%10 == 0 {
				srv.InjectFault(Fault{Path: "/nothing-uses-this", Status: 500})
				c.token(ScopeClientAccess)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 2+n*7+n/10, len(srv.Requests()))
	for _, id := range jobIDs {
		j := c.wait(id)
		status, _ := j.step("retrieve-transactions")
		assert.Equal(t, "success", status)
	}
	require.Len(t, list(t, c.get("/users/"+shared+"/connections")), 1)
	// Ids are unique.
	seen := map[string]bool{}
	for _, id := range jobIDs {
		assert.False(t, seen[id])
		seen[id] = true
	}
}
