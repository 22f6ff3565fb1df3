package basiqtest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnectorsAnswerBothVersions(t *testing.T) {
	srv, c := startServer(t)
	v3 := c.as(c.tokenFor(ScopeServerAccess, "3.0", nil))
	for name, cl := range map[string]*client{"2.0": c, "3.0": v3} {
		t.Run(name, func(t *testing.T) {
			items := list(t, cl.get("/connectors"))
			var web []string
			for _, it := range items {
				assert.Equal(t, "connector", str(it, "type"))
				if str(it, "method") == "web" {
					web = append(web, str(it, "id"))
				}
			}
			assert.Len(t, web, len(srv.insts), "every institution has a web connector")
		})
	}

	pdf := list(t, v3.get("/connectors?"+url.Values{"filter": {"connector.method.eq('pdf')"}}.Encode()))
	require.Len(t, pdf, 1)
	assert.Equal(t, InstHooli, str(pdf[0], "id"))

	r := v3.get("/connectors/" + InstMFA + "/web")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	m := r.obj(t)
	assert.Equal(t, "user-mfa", str(m, "authorization", "type"))
	assert.Equal(t, "Hooli MFA Bank", str(m, "institution", "name"))
	assert.Equal(t, "Login ID", str(m, "authorization", "meta", "login_id_caption"))
	assert.Equal(t, srv.URL+"/connectors/"+InstMFA+"/web", str(m, "links", "self"))
	v3.get("/connectors/"+InstMFA+"/pdf").errBody(t, http.StatusNotFound, "resource-not-found")
	v3.get("/connectors/nope/web").errBody(t, http.StatusNotFound, "resource-not-found")
	v3.get("/connectors?filter=nope.eq('x')").errBody(t, http.StatusBadRequest, "parameter-not-valid")
}
