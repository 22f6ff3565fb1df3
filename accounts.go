package basiq

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// AccountsService reads the accounts that a user's connections retrieved.
type AccountsService service

// Account is a bank account, as GET /users/{userId}/accounts/{id} answers.
// Balances keep the API's decimal strings exactly; see [Decimal].
type Account struct {
	ID             string       `json:"id"`
	AccountNo      string       `json:"accountNo"`
	Name           string       `json:"name"`
	Currency       string       `json:"currency"`
	Class          AccountClass `json:"class"`
	Balance        Decimal      `json:"balance"`
	AvailableFunds Decimal      `json:"availableFunds"`
	// LastUpdated is zero when the API does not give it.
	LastUpdated time.Time `json:"lastUpdated"`
	// Status is [AccountStatusAvailable] or [AccountStatusUnavailable].
	Status AccountStatus `json:"status"`
	// Institution and Connection are ids; the API sends them as strings or as
	// objects with an id, and both are read.
	Institution string `json:"institution"`
	Connection  string `json:"connection"`
	Links       Links  `json:"links"`
}

// AccountStatus says whether an account's data can be read. A value the
// library does not know is kept as the API sent it; [AccountStatus.Known]
// tells them apart.
type AccountStatus string

// The account statuses the API defines.
const (
	// AccountStatusAvailable: the account's data can be read.
	AccountStatusAvailable AccountStatus = "available"
	// AccountStatusUnavailable: the bank no longer gives the account's
	// data, for example after the account was closed.
	AccountStatusUnavailable AccountStatus = "unavailable"
)

// Known reports whether s is one of the statuses this library understands.
func (s AccountStatus) Known() bool {
	return s == AccountStatusAvailable || s == AccountStatusUnavailable
}

// AccountList is a list of accounts inside another resource.
type AccountList struct {
	Data []Account `json:"data"`
}

// AccountClass says what kind of account it is, such as
// {Type: "transaction", Product: "Everyday Account"}.
type AccountClass struct {
	Type    string `json:"type"`
	Product string `json:"product"`
}

// UnmarshalJSON reads ids given as strings or objects, and timestamps leniently.
func (a *Account) UnmarshalJSON(b []byte) error {
	type plain Account
	var raw struct {
		plain
		LastUpdated lenientTime `json:"lastUpdated"`
		Institution flexID      `json:"institution"`
		Connection  flexID      `json:"connection"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*a = Account(raw.plain)
	a.LastUpdated = raw.LastUpdated.Time
	a.Institution, a.Connection = string(raw.Institution), string(raw.Connection)
	return nil
}

// AccountFilter narrows [AccountsService.List]. Conditions are joined with
// AND; empty fields are left out, so an empty ConnectionID (that of a job
// not waited for yet, see [Job.ConnectionID]) lists the accounts of every
// connection of the user.
type AccountFilter struct {
	ConnectionID  string
	InstitutionID string
	AccountID     string
	// Raw is a filter in Basiq's grammar, appended unchanged.
	Raw string
}

// List returns a user's accounts: GET /users/{userId}/accounts, narrowed by f
// (nil for all).
func (s *AccountsService) List(ctx context.Context, userID string, f *AccountFilter) ([]Account, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	return listAll[Account](ctx, s.client, pathf("users/%s/accounts", userID), f)
}

// query returns the filter's query values; a nil filter has none.
func (f *AccountFilter) query() (url.Values, error) {
	var b filterBuilder
	if f != nil {
		b.eq("connectionId", "connection.id", f.ConnectionID)
		b.eq("institutionId", "institution.id", f.InstitutionID)
		b.eq("accountId", "account.id", f.AccountID)
		b.raw(f.Raw)
	}
	return b.query(0, 0)
}

// Get returns one account: GET /users/{userId}/accounts/{id}.
func (s *AccountsService) Get(ctx context.Context, userID, accountID string) (*Account, error) {
	if err := checkIDs("userId", userID, "accountId", accountID); err != nil {
		return nil, err
	}
	a := new(Account)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("users/%s/accounts/%s", userID, accountID), nil, a); err != nil {
		return nil, err
	}
	return a, nil
}

func (x *Account) resourceID() string { return x.ID }
