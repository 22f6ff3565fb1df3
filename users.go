package basiq

import (
	"context"
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
	// Connections and Accounts list the user's resources by id.
	Connections RefList `json:"connections"`
	Accounts    RefList `json:"accounts"`
	Links       Links   `json:"links"`
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
}

func (p UserParams) empty() bool {
	return strings.TrimSpace(p.Email+p.Mobile+p.FirstName+p.MiddleName+p.LastName+p.BusinessName) == ""
}

// Create creates a user: POST /users. It needs an Email or a Mobile. Creating
// is not retried, since a repeat could create a second user.
func (s *UsersService) Create(ctx context.Context, p UserParams) (*User, error) {
	if strings.TrimSpace(p.Email) == "" && strings.TrimSpace(p.Mobile) == "" {
		return nil, &ValidationError{Field: "email", Reason: "required: an email or a mobile"}
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
		return nil, &ValidationError{Field: "user", Reason: "nothing to update"}
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
