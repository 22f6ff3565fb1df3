package basiqtest

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuthLinksCreateGetDelete(t *testing.T) {
	srv, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	base := "/users/" + uid + "/auth_link"

	c.get(base).errBody(t, http.StatusNotFound, "resource-not-found")
	c.post(base, map[string]string{}).errBody(t, http.StatusBadRequest, "parameter-not-supplied")

	r := c.post(base, map[string]string{"mobile": "+61410000000"})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	m := r.obj(t)
	assert.Equal(t, "auth_link", str(m, "type"))
	assert.Equal(t, uid, str(m, "userId"))
	assert.Equal(t, "+61410000000", str(m, "mobile"))
	assert.NotEmpty(t, str(m, "expiresAt"))
	assert.Contains(t, str(m, "links", "public"), srv.URL+"/")
	assert.Equal(t, srv.URL+base, str(m, "links", "self"))

	got := c.get(base)
	require.Equal(t, http.StatusOK, got.status)
	assert.Equal(t, str(m, "links", "public"), str(got.obj(t), "links", "public"))

	// A new link replaces the old one.
	r2 := c.post(base, map[string]string{"mobile": "+61410000001"})
	require.Equal(t, http.StatusCreated, r2.status)
	assert.NotEqual(t, str(m, "links", "public"), str(r2.obj(t), "links", "public"))

	require.Equal(t, http.StatusNoContent, c.del(base).status)
	c.get(base).errBody(t, http.StatusNotFound, "resource-not-found")
	c.del(base).errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/nope/auth_link").errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestAuthLinkUsesTheUsersMobileAndExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithTokenLifetime(2*time.Hour))
		r := c.post("/users", map[string]any{"mobile": "+61410000002"})
		require.Equal(t, http.StatusCreated, r.status)
		uid := str(r.obj(t), "id")
		base := "/users/" + uid + "/auth_link"
		r = c.post(base, nil)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		assert.Equal(t, "+61410000002", str(r.obj(t), "mobile"))

		time.Sleep(AuthLinkLifetime - time.Second)
		assert.Equal(t, http.StatusOK, c.get(base).status)
		time.Sleep(time.Second)
		c.get(base).errBody(t, http.StatusGone, "resource-no-longer-available")
	})
}
