package basiq

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// UsersService creates and manages Basiq users: the customers whose banks are
// connected. Deleting a user deletes all of its data.
type UsersService service

// User is a Basiq user, as GET /users/{id} answers.
type User struct {
	ID           string `json:"id"`
	Email        string `json:"email,omitempty"`
	Mobile       string `json:"mobile,omitempty"`
	FirstName    string `json:"firstName,omitempty"`
	MiddleName   string `json:"middleName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	BusinessName string `json:"businessName,omitempty"`
	// Name is the user's full name, where the API gives one.
	Name string `json:"name,omitempty"`
	// The business fields of API version 3.0, for a business user.
	BusinessIDNo string `json:"businessIdNo,omitempty"`
	// BusinessIDNoType is "ABN" or "ACN".
	BusinessIDNoType string           `json:"businessIdNoType,omitempty"`
	BusinessAddress  *BusinessAddress `json:"businessAddress,omitempty"`
	// VerificationStatus and VerificationDate say whether and when the
	// business was verified; the date is kept as the API wrote it (Basiq's
	// example: "12/01/2024").
	VerificationStatus bool   `json:"verificationStatus,omitempty"`
	VerificationDate   string `json:"verificationDate,omitempty"`
	// Connections and Accounts list the user's resources by id.
	Connections RefList `json:"connections"`
	Accounts    RefList `json:"accounts"`
	Links       Links   `json:"links"`
}

// BusinessAddress is a business user's address (API version 3.0).
type BusinessAddress struct {
	AddressLine1 string `json:"addressLine1,omitempty"`
	AddressLine2 string `json:"addressLine2,omitempty"`
	Suburb       string `json:"suburb,omitempty"`
	State        string `json:"state,omitempty"`
	Postcode     string `json:"postcode,omitempty"`
	// CountryCode is ISO 3166 alpha-3, such as "AUS".
	CountryCode string `json:"countryCode,omitempty"`
}

// UnmarshalJSON reads a mobile number given as a string or, as Basiq's 3.0
// example writes it, as a number.
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	var raw struct {
		plain
		Mobile flexString `json:"mobile"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*u = User(raw.plain)
	u.Mobile = string(raw.Mobile)
	return nil
}

// RefList is a list of references to resources, as a user's connections and
// accounts are given.
type RefList struct {
	Count int   `json:"count"`
	Data  []Ref `json:"data"`
}

// Ref names a resource by type and id.
type Ref struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Links Links  `json:"links"`
}

// UserParams are the fields of [UsersService.Create] and [UsersService.Update].
// Create needs an Email or a Mobile; empty fields are not sent.
type UserParams struct {
	Email        string `json:"email,omitempty"`
	Mobile       string `json:"mobile,omitempty"`
	FirstName    string `json:"firstName,omitempty"`
	MiddleName   string `json:"middleName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	BusinessName string `json:"businessName,omitempty"`
	// The business fields of API version 3.0.
	BusinessIDNo       string           `json:"businessIdNo,omitempty"`
	BusinessIDNoType   string           `json:"businessIdNoType,omitempty"`
	BusinessAddress    *BusinessAddress `json:"businessAddress,omitempty"`
	VerificationStatus *bool            `json:"verificationStatus,omitempty"`
	VerificationDate   string           `json:"verificationDate,omitempty"`
}

func (p UserParams) empty() bool {
	return strings.TrimSpace(p.Email+p.Mobile+p.FirstName+p.MiddleName+p.LastName+p.BusinessName+
		p.BusinessIDNo+p.BusinessIDNoType+p.VerificationDate) == "" &&
		p.BusinessAddress == nil && p.VerificationStatus == nil
}

// Create creates a user: POST /users. It needs an Email or a Mobile. Creating
// is not retried, since a repeat could create a second user.
func (s *UsersService) Create(ctx context.Context, p UserParams) (*User, error) {
	if strings.TrimSpace(p.Email) == "" && strings.TrimSpace(p.Mobile) == "" {
		return nil, &ValidationError{Field: "email", Reason: "is required when mobile is empty: give an email or a mobile"}
	}
	u := new(User)
	if _, err := s.client.call(ctx, http.MethodPost, "users", p, u); err != nil {
		return nil, err
	}
	return u, nil
}

// Get returns a user: GET /users/{id}.
func (s *UsersService) Get(ctx context.Context, userID string) (*User, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	u := new(User)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("users/%s", userID), nil, u); err != nil {
		return nil, err
	}
	return u, nil
}

// Update changes the fields of p that are set: POST /users/{id}. Setting the
// same fields twice changes nothing more, so it is retried like a read.
func (s *UsersService) Update(ctx context.Context, userID string, p UserParams) (*User, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	if p.empty() {
		return nil, &ValidationError{Field: "user", Reason: "has nothing to update: set at least one field of UserParams"}
	}
	u := new(User)
	if _, err := s.client.call(ctx, http.MethodPost, pathf("users/%s", userID), p, u, withRetry()); err != nil {
		return nil, err
	}
	return u, nil
}

// Delete deletes a user and all of its connections, accounts and
// transactions: DELETE /users/{id}.
func (s *UsersService) Delete(ctx context.Context, userID string) error {
	if err := checkID("userId", userID); err != nil {
		return err
	}
	_, err := s.client.call(ctx, http.MethodDelete, pathf("users/%s", userID), nil, nil)
	return err
}

func (x *User) resourceID() string { return x.ID }
