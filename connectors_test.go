package basiq

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connectorJSON is a connector in the shape of Basiq's 3.0 Connector schema
// (data.yml), with the values its property examples give.
const connectorJSON = `{"type":"connector","id":"AU00000","method":"web","stage":"beta","status":"operational",
 "institution":{"type":"Test Bank","name":"Hooli Bank","shortName":"Hooli","tier":4,"country":"Australia",
  "cdrFAQ":"https://example.com/banking/help-support/open-banking.html","cdrProviderNumber":"DHBNK000111","abn":"87087651111",
  "logo":{"type":"image","links":{"square":"https://example.com/s.png"}}},
 "scopes":["customer.person.basic","account.basic"],
 "authorization":{"type":"user-mfa","meta":{"login_id_caption":"User name","password_caption":"Password","security_code_caption":"Security code","forgotten_password_url":"https://example.com/forgotten-password"}},
 "stats":{"averageDurationMs":{"verifyCredentials":2000,"retrieveAccounts":3000,"retrieveTransactions":9000,"retrieveMeta":1000,"total":15000}},
 "links":{"self":"https://au-api.basiq.io/connectors/AU00000/web"}}`

func TestConnectorsGet(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"2.0", "3.0"} {
		c, mt := newMockClient(t, WithVersion(version))
		tokens := recordTokens(t, mt)
		var rec reqRecorder
		mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK, connectorJSON)))

		conn, err := c.Connectors.Get(context.Background(), "AU00000", "web")
		require.NoError(t, err)
		assert.Equal(t, "AU00000", conn.ID)
		assert.Equal(t, "web", conn.Method)
		assert.Equal(t, "beta", conn.Stage)
		assert.Equal(t, "operational", conn.Status)
		assert.Equal(t, "Hooli Bank", conn.Institution.Name)
		assert.Equal(t, "4", conn.Institution.Tier, "a numeric tier is read as its digits")
		assert.Equal(t, "Test Bank", conn.Institution.Type)
		assert.Equal(t, "DHBNK000111", conn.Institution.CDRProviderNumber)
		assert.Equal(t, []string{"customer.person.basic", "account.basic"}, conn.Scopes)
		assert.Equal(t, AuthUserMFA, conn.Authorization.Type)
		require.NotNil(t, conn.Authorization.Meta)
		assert.Equal(t, "Security code", conn.Authorization.Meta.SecurityCodeCaption)
		require.NotNil(t, conn.Stats)
		require.NotNil(t, conn.Stats.AverageDurationMs)
		assert.Equal(t, 2000.0, conn.Stats.AverageDurationMs.VerifyCredentials)

		_, err = c.Connectors.Get(context.Background(), "AU 0/1", "open banking")
		require.NoError(t, err)
		reqs := rec.all()
		require.Len(t, reqs, 2)
		assert.Equal(t, http.MethodGet, reqs[0].Method)
		assert.Equal(t, "/connectors/AU00000/web", reqs[0].Path)
		assert.Equal(t, "Bearer tok-SERVER_ACCESS-"+version, reqs[0].Auth)
		assert.Equal(t, "/connectors/AU%200%2F1/open%20banking", reqs[1].Path)
		assert.Equal(t, []tokenRequest{{Scope: scopeServer, Version: version}}, tokens())

		_, err = c.Connectors.Get(context.Background(), "..", " ")
		assert.Equal(t, []string{"connectorId", "method"}, validationFields(t, err))
		assert.Len(t, rec.all(), 2, "refused ids make no request")
	}
}

func TestConnectorsGetErrors(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	mt.RegisterResponder(http.MethodGet, testBase+"/connectors/AU99999/web",
		jsonResp(404, `{"type":"list","correlationId":"c9","data":[{"code":"resource-not-found","title":"Resource not found"}]}`))
	mt.RegisterResponder(http.MethodGet, testBase+"/connectors/AU00000/web", jsonResp(200, `{"type":"connector"}`))
	_, err := c.Connectors.Get(context.Background(), "AU99999", "web")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = c.Connectors.Get(context.Background(), "AU00000", "web")
	require.ErrorIs(t, err, ErrInvalidResponse, "an answer without an id is no connector")
}

// TestConnectorFilterRefusesAnUnknownAuthorization checks that an
// authorization type the library does not define is refused before any
// request, instead of matching nothing.
func TestConnectorFilterRefusesAnUnknownAuthorization(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	failOnUnexpected(t, mt)
	_, err := c.Connectors.List(t.Context(), &ConnectorFilter{Authorization: []AuthorizationType{"user-mfa-intermitent"}})
	require.ErrorIs(t, err, ErrValidation)
	assert.Equal(t, []string{"authorization"}, validationFields(t, err))
	assert.Empty(t, mt.GetCallCountInfo()["POST "+testBase+"/token"], "refused before any request")
}

func TestConnectorsList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK,
		`{"type":"list","totalCount":2,"data":[`+connectorJSON+`,{"type":"connector","id":"AU00000","method":"pdf","institution":{"tier":"4"}}],"links":{"self":"https://au-api.basiq.io/connectors"}}`)))

	list, err := c.Connectors.List(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "web", list[0].Method)
	assert.Equal(t, "pdf", list[1].Method)
	assert.Equal(t, "4", list[1].Institution.Tier)

	_, err = c.Connectors.List(context.Background(), &ConnectorFilter{
		ID: "AU00000", Method: "web", Stage: []string{"live", "beta"}, Status: []string{"operational"},
		Country: []string{"Australia"}, Tier: []string{"1", "2"},
		Authorization: []AuthorizationType{AuthUser, AuthUserMFA}, Raw: "connector.connectorEngine.eq('node')",
	})
	require.NoError(t, err)
	reqs := rec.all()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/connectors", reqs[0].Path)
	assert.Empty(t, reqs[0].Query)
	assert.Equal(t, "connector.id.eq('AU00000'),connector.method.eq('web'),connector.stage.in('live','beta'),"+
		"connector.status.in('operational'),connector.institution.country.in('Australia'),connector.institution.tier.in('1','2'),"+
		"connector.authorization.type.in('user','user-mfa'),connector.connectorEngine.eq('node')", reqs[1].Query.Get("filter"))

	_, err = c.Connectors.List(context.Background(), &ConnectorFilter{Method: "web') ,x", Tier: []string{"1\n"}})
	assert.Equal(t, []string{"method", "tier"}, validationFields(t, err))
	assert.Len(t, rec.all(), 2, "a refused filter makes no request")
}
