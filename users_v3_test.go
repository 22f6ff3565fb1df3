package basiq

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 3.0 business user, in the shape of Basiq's UserGetResponse (core.yml)
// with its property examples: the mobile is a number there.
const businessUserJSON = `{"type":"user","id":"ea3a81","email":"gavin@hooli.com","mobile":61410888666,"name":"",
 "firstName":"Gavin","middleName":"middleName","lastName":"lastName","businessName":"Manly Accounting PTY LTD",
 "businessIdNo":"16 7645 892","businessIdNoType":"ABN",
 "businessAddress":{"addressLine1":"21 Sydney Rd","addressLine2":"","suburb":"Manly","state":"NSW","postcode":"2095","countryCode":"AUS"},
 "verificationStatus":true,"verificationDate":"12/01/2024",
 "connections":{"type":"list","count":0,"data":[]},"accounts":{"type":"list","count":0,"data":[]},
 "links":{"self":"https://au-api.basiq.io/users/ea3a81"}}`

func TestUsersDecodeVersion3BusinessFields(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	mt.RegisterResponder(http.MethodGet, testBase+"/users/ea3a81", jsonResp(200, businessUserJSON))
	u, err := c.Users.Get(context.Background(), "ea3a81")
	require.NoError(t, err)
	assert.Equal(t, "61410888666", u.Mobile, "a numeric mobile is read as its digits")
	assert.Equal(t, "Manly Accounting PTY LTD", u.BusinessName)
	assert.Equal(t, "16 7645 892", u.BusinessIDNo)
	assert.Equal(t, "ABN", u.BusinessIDNoType)
	require.NotNil(t, u.BusinessAddress)
	assert.Equal(t, BusinessAddress{AddressLine1: "21 Sydney Rd", Suburb: "Manly", State: "NSW", Postcode: "2095", CountryCode: "AUS"}, *u.BusinessAddress)
	assert.True(t, u.VerificationStatus)
	assert.Equal(t, "12/01/2024", u.VerificationDate)
	assert.Equal(t, "https://au-api.basiq.io/users/ea3a81", u.Links.Self)
}

func TestUsersMobileAsStringStillDecodes(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"id":"u1","mobile":"+61410888666"}`: "+61410888666",
		`{"id":"u1","mobile":null}`:           "",
		`{"id":"u1"}`:                         "",
	} {
		var u User
		require.NoError(t, u.UnmarshalJSON([]byte(body)), body)
		assert.Equal(t, want, u.Mobile, body)
		assert.Equal(t, "u1", u.ID)
	}
}

func TestUsersCreateSendsBusinessFields(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(201, businessUserJSON)))
	verified := true
	_, err := c.Users.Create(context.Background(), UserParams{
		Email: "gavin@hooli.com", BusinessName: "Manly Accounting PTY LTD", BusinessIDNo: "16 7645 892", BusinessIDNoType: "ABN",
		BusinessAddress:    &BusinessAddress{AddressLine1: "21 Sydney Rd", Suburb: "Manly", State: "NSW", Postcode: "2095", CountryCode: "AUS"},
		VerificationStatus: &verified, VerificationDate: "12/01/2024",
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"email": "gavin@hooli.com", "businessName": "Manly Accounting PTY LTD", "businessIdNo": "16 7645 892", "businessIdNoType": "ABN",
		"businessAddress":    map[string]any{"addressLine1": "21 Sydney Rd", "suburb": "Manly", "state": "NSW", "postcode": "2095", "countryCode": "AUS"},
		"verificationStatus": true, "verificationDate": "12/01/2024",
	}, jsonFields(t, rec.all()[0].Body))

	// An update of a business field alone is something to send.
	_, err = c.Users.Update(context.Background(), "ea3a81", UserParams{BusinessAddress: &BusinessAddress{Suburb: "Manly"}})
	require.NoError(t, err)
	assert.Len(t, rec.all(), 2)
}
