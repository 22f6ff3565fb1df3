package basiq

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	accountsURL   = testBase + "/users/u1/accounts"
	getAccounts   = "GET " + accountsURL
	accountA1JSON = `{"type":"account","id":"a1","accountNo":"600000-157441965","name":"Everyday",
		"currency":"AUD","class":{"type":"transaction","product":"Everyday Account"},
		"balance":"1234.56","availableFunds":12.5,"lastUpdated":"2024-03-01T10:20:30Z","status":"available",
		"institution":"AU00000","connection":{"type":"connection","id":"c1","links":{"self":"https://api.test/users/u1/connections/c1"}},
		"links":{"self":"https://api.test/users/u1/accounts/a1"}}`
	accountA2JSON = `{"type":"account","id":"a2","balance":"-0.10","availableFunds":null,"lastUpdated":"",
		"institution":{"id":"AU00000"},"connection":"c1"}`
)

func TestAccountDecoding(t *testing.T) {
	t.Parallel()
	var a Account
	require.NoError(t, json.Unmarshal([]byte(accountA1JSON), &a))
	assert.Equal(t, Account{
		ID: "a1", AccountNo: "600000-157441965", Name: "Everyday", Currency: "AUD",
		Class:          AccountClass{Type: "transaction", Product: "Everyday Account"},
		Balance:        "1234.56",
		AvailableFunds: "12.5",
		LastUpdated:    time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC),
		Status:         "available",
		Institution:    "AU00000",
		Connection:     "c1",
		Links:          Links{Self: "https://api.test/users/u1/accounts/a1"},
	}, a)
	assert.Equal(t, "1234.56", a.Balance.String(), "kept exactly as written")
	cents, err := a.Balance.MinorUnits(2)
	require.NoError(t, err)
	assert.Equal(t, int64(123456), cents)

	var b Account
	require.NoError(t, json.Unmarshal([]byte(accountA2JSON), &b))
	assert.Equal(t, Decimal("-0.10"), b.Balance)
	assert.Equal(t, Decimal(""), b.AvailableFunds, "null is empty, not zero")
	assert.True(t, b.LastUpdated.IsZero())
	assert.Equal(t, "AU00000", b.Institution, "an {id} object")
	assert.Equal(t, "c1", b.Connection, "a bare string")

	tests := []struct {
		name, json string
		wantInst   string
		wantTime   time.Time
	}{
		{"missing", `{"id":"a"}`, "", time.Time{}},
		{"null", `{"id":"a","institution":null,"lastUpdated":null}`, "", time.Time{}},
		{"object without id", `{"id":"a","institution":{"type":"institution"}}`, "", time.Time{}},
		{"number is not an id", `{"id":"a","institution":42}`, "", time.Time{}},
		{"space-separated time", `{"id":"a","lastUpdated":"2024-03-01 10:20:30"}`, "", time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC)},
		{"date only", `{"id":"a","lastUpdated":"2024-03-01"}`, "", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"unreadable time", `{"id":"a","lastUpdated":"yesterday"}`, "", time.Time{}},
	}
	for _, tc := range tests {
		var a Account
		require.NoError(t, json.Unmarshal([]byte(tc.json), &a), tc.name)
		assert.Equal(t, tc.wantInst, a.Institution, tc.name)
		assert.True(t, tc.wantTime.Equal(a.LastUpdated), "%s: %v", tc.name, a.LastUpdated)
	}

	var bad Account
	assert.Error(t, json.Unmarshal([]byte(`{"id":"a","balance":true}`), &bad), "a balance that is not a number or string")
}

func TestAccountsList(t *testing.T) {
	t.Parallel()

	t.Run("all pages, no filter", func(t *testing.T) {
		t.Parallel()
		c, _, rec := setup(t, http.MethodGet, accountsURL, func(r *http.Request) (*http.Response, error) {
			if r.URL.Query().Get("page") == "2" {
				return jsonResp(http.StatusOK, `{"type":"list","count":1,"data":[`+accountA2JSON+`],"links":{}}`)(r)
			}
			return jsonResp(http.StatusOK, `{"type":"list","count":1,"data":[`+accountA1JSON+`],
				"links":{"next":"https://api.test/users/u1/accounts?page=2"}}`)(r)
		})

		accs, err := c.Accounts.List(t.Context(), "u1", nil)
		require.NoError(t, err)
		require.Len(t, accs, 2)
		assert.Equal(t, "a1", accs[0].ID)
		assert.Equal(t, Decimal("1234.56"), accs[0].Balance)
		assert.Equal(t, "a2", accs[1].ID)
		reqs := rec.all()
		require.Len(t, reqs, 2)
		assert.Empty(t, reqs[0].Query, "no filter, no limit")
		assert.Equal(t, url.Values{"page": {"2"}}, reqs[1].Query)
	})

	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		c, _, rec := setup(t, http.MethodGet, accountsURL, jsonResp(http.StatusOK, `{"type":"list","data":[]}`))

		for _, f := range []*AccountFilter{
			{ConnectionID: "c1", InstitutionID: "AU00000", AccountID: "a1", Raw: "account.status.eq('available')"},
			{InstitutionID: "AU00000"},
			{Raw: "  account.id.eq('x')  "},
			{},
		} {
			accs, err := c.Accounts.List(t.Context(), "u1", f)
			require.NoError(t, err)
			assert.Empty(t, accs)
		}
		reqs := rec.all()
		require.Len(t, reqs, 4)
		assert.Equal(t, url.Values{"filter": {"connection.id.eq('c1'),institution.id.eq('AU00000'),account.id.eq('a1'),account.status.eq('available')"}}, reqs[0].Query)
		assert.Equal(t, url.Values{"filter": {"institution.id.eq('AU00000')"}}, reqs[1].Query)
		assert.Equal(t, url.Values{"filter": {"account.id.eq('x')"}}, reqs[2].Query)
		assert.Empty(t, reqs[3].Query)
	})

	t.Run("bad arguments refused without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		_, err := c.Accounts.List(t.Context(), "u1", &AccountFilter{ConnectionID: "c1') ,account.id.eq('x", InstitutionID: "AU\n"})
		assert.Equal(t, []string{"connectionId", "institutionId"}, validationFields(t, err))
		assert.Equal(t, 0, mt.GetTotalCallCount(), "%v", mt.GetCallCountInfo())
	})
}

func TestAccountsGet(t *testing.T) {
	t.Parallel()
	c, _, rec := setup(t, "", "", jsonResp(http.StatusOK, accountA1JSON))

	a, err := c.Accounts.Get(t.Context(), "u1", "a1")
	require.NoError(t, err)
	require.NotNil(t, a)
	assert.Equal(t, "a1", a.ID)
	assert.Equal(t, Decimal("1234.56"), a.Balance)
	assert.Equal(t, Decimal("12.5"), a.AvailableFunds)
	assert.Equal(t, "AU00000", a.Institution)
	assert.Equal(t, "c1", a.Connection)

	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/users/u1/accounts/a1", reqs[0].Path)
}

// TestAccountStatusIsTyped checks that an account's status is an
// AccountStatus, that every status Basiq's published files list is a
// known constant, and that one the library does not know is read
// unchanged.
func TestAccountStatusIsTyped(t *testing.T) {
	t.Parallel()
	var a Account
	var _ AccountStatus = a.Status // compile-time
	sf, ok := reflect.TypeFor[Account]().FieldByName("Status")
	require.True(t, ok)
	assert.Equal(t, reflect.TypeFor[AccountStatus](), sf.Type)

	require.NoError(t, json.Unmarshal([]byte(accountA1JSON), &a))
	assert.Equal(t, AccountStatusAvailable, a.Status)
	assert.True(t, a.Status.Known())
	require.NoError(t, json.Unmarshal([]byte(`{"id":"a3","status":"frozen"}`), &a))
	assert.Equal(t, AccountStatus("frozen"), a.Status)
	assert.False(t, a.Status.Known())

	for _, file := range []string{"v2/swagger.json", "v3/data.yml"} {
		for _, v := range specEnum(t, file, "AccountsData", "status") {
			assert.True(t, AccountStatus(v).Known(), "%s: %q", file, v)
		}
	}
}
