package basiqtest

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUserCreateAndGet(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	r := c.post("/users", `{"email":"gavin@hooli.example","firstName":"Gavin","lastName":"Belson","custom":{"a":[1,2.5]},"id":"mine","type":"x"}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	u := r.obj(t)
	id := str(u, "id")
	require.NotEmpty(t, id)
	assert.NotEqual(t, "mine", id)
	assert.Equal(t, map[string]any{
		"type": "user", "id": id, "email": "gavin@hooli.example", "mobile": "", "firstName": "Gavin",
		"middleName": "", "lastName": "Belson", "custom": map[string]any{"a": []any{1.0, 2.5}},
		"connections": map[string]any{"type": "list", "count": 0.0, "data": []any{}},
		"accounts":    map[string]any{"type": "list", "count": 0.0, "data": []any{}},
		"links": map[string]any{"self": c.base + "/users/" + id, "accounts": c.base + "/users/" + id + "/accounts",
			"connections": c.base + "/users/" + id + "/connections", "transactions": c.base + "/users/" + id + "/transactions",
			"auth_link": c.base + "/users/" + id + "/auth_link"},
	}, u)
	assert.Equal(t, u, c.get("/users/"+id).obj(t))

	// A mobile is enough.
	r = c.post("/users", map[string]any{"mobile": "+61410888999", "businessName": "Hooli"})
	require.Equal(t, http.StatusCreated, r.status)
	assert.Equal(t, "Hooli", str(r.obj(t), "businessName"))
	assert.Equal(t, "", str(r.obj(t), "email"))

	// A user made by AddUser reads the same way.
	added := c.get("/users/" + c.srv.AddUser("added@x.example")).obj(t)
	assert.Equal(t, "added@x.example", str(added, "email"))

	c.get("/users/nope").errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestUserValidation(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	tests := []struct {
		name, body  string
		status      int
		code, where string
	}{
		{"empty", `{}`, 400, "parameter-not-supplied", "/email"},
		{"empty body", ``, 400, "parameter-not-supplied", "/email"},
		{"blank email", `{"email":"","mobile":null}`, 400, "parameter-not-supplied", "/email"},
		{"bad email", `{"email":"not-an-address"}`, 400, "parameter-not-valid", "/email"},
		{"number", `{"email":42}`, 400, "parameter-not-valid", "/email"},
		{"bad json", `{"email":`, 400, "invalid-content", ""},
		{"not an object", `["a"]`, 400, "invalid-content", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := c.post("/users", tt.body).errBody(t, tt.status, tt.code)
			assert.Equal(t, tt.where, e.Data[0].Source["pointer"])
		})
	}
	r := c.send(http.MethodPost, "/users", `{"email":"a@b.example"}`, map[string]string{"Content-Type": "text/plain"})
	r.errBody(t, http.StatusUnsupportedMediaType, "unsupported-content-type")
}

func TestUserUpdate(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	id := c.createUser("a@b.example")
	r := c.post("/users/"+id, map[string]any{"firstName": "Richard", "businessName": "Pied Piper", "extra": true})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	u := r.obj(t)
	assert.Equal(t, "a@b.example", str(u, "email"), "fields not sent stay")
	assert.Equal(t, "Richard", str(u, "firstName"))
	assert.Equal(t, "Pied Piper", str(u, "businessName"))
	assert.Equal(t, true, u["extra"])
	assert.Equal(t, u, c.get("/users/"+id).obj(t))

	// Clearing the email with no mobile is refused, and changes nothing.
	c.post("/users/"+id, map[string]any{"email": "", "firstName": "X"}).errBody(t, http.StatusBadRequest, "parameter-not-supplied")
	assert.Equal(t, u, c.get("/users/"+id).obj(t))
	r = c.post("/users/"+id, map[string]any{"email": nil, "mobile": "+61400000000", "businessName": nil})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "", str(r.obj(t), "email"))
	assert.NotContains(t, r.obj(t), "businessName")

	c.post("/users/nope", map[string]any{"firstName": "X"}).errBody(t, http.StatusNotFound, "resource-not-found")
	c.post("/users/"+id, `{"firstName":`).errBody(t, http.StatusBadRequest, "invalid-content")
}

func TestUserDeleteCascades(t *testing.T) {
	t.Parallel()
	srv, c := startServer(t, WithStepDuration(0), WithTransactionsPerAccount(3))
	id := c.createUser("a@b.example")
	other := c.createUser("b@b.example")
	j := c.wait(c.connectLogin(id, InstHooli, LoginJared, PasswordJared))
	keep := c.wait(c.connectLogin(other, InstHooli, LoginJared, PasswordJared))

	u := c.get("/users/" + id).obj(t)
	assert.InDelta(t, 1, dig(u, "connections", "count"), 0)
	conns := dig(u, "connections", "data").([]any)
	assert.Equal(t, map[string]any{"type": "connection", "id": j.connID(),
		"links": map[string]any{"self": c.base + "/users/" + id + "/connections/" + j.connID()}}, conns[0])
	accts := list(t, c.get("/users/"+id+"/accounts"))
	assert.InDelta(t, len(accts), dig(u, "accounts", "count"), 0)
	txns := list(t, c.get("/users/"+id+"/transactions"))
	require.NotEmpty(t, txns)

	assert.Equal(t, http.StatusNoContent, c.del("/users/"+id).status)
	c.get("/users/"+id).errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/jobs/"+j.ID).errBody(t, http.StatusNotFound, "resource-not-found")
	c.del("/users/"+id).errBody(t, http.StatusNotFound, "resource-not-found")
	srv.mu.Lock()
	_, accountLeft := srv.accounts[str(accts[0], "id")]
	_, txnLeft := srv.txns[str(txns[0], "id")]
	_, connLeft := srv.conns[j.connID()]
	srv.mu.Unlock()
	assert.False(t, accountLeft)
	assert.False(t, txnLeft)
	assert.False(t, connLeft)

	// The other user keeps everything.
	assert.Equal(t, http.StatusOK, c.get("/jobs/"+keep.ID).status)
	assert.NotEmpty(t, list(t, c.get("/users/"+other+"/transactions")))
}
