package basiq

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// AuthLinksService manages a user's auth link: a Basiq-hosted page, sent to
// the customer's mobile, where they connect their banks themselves (from API
// version 2.1; 3.0 keeps it).
type AuthLinksService service

// AuthLink is a user's auth link, as GET /users/{userId}/auth_link answers.
type AuthLink struct {
	// ID identifies the link; the answer to Create may leave it out.
	ID string `json:"id,omitempty"`
	// UserID is the user the link is for.
	UserID string `json:"userId"`
	// Mobile is the number the customer confirms on the page.
	Mobile string `json:"mobile"`
	// ExpiresAt is zero when the API does not give it.
	ExpiresAt time.Time     `json:"expiresAt"`
	Links     AuthLinkLinks `json:"links"`
}

// AuthLinkLinks are the links of an auth link.
type AuthLinkLinks struct {
	// Public is the page to send the customer to.
	Public string `json:"public,omitempty"`
	Self   string `json:"self,omitempty"`
}

// UnmarshalJSON reads the expiry leniently and a mobile given as a number.
func (a *AuthLink) UnmarshalJSON(b []byte) error {
	type plain AuthLink
	var raw struct {
		plain
		Mobile    flexString  `json:"mobile"`
		ExpiresAt lenientTime `json:"expiresAt"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*a = AuthLink(raw.plain)
	a.Mobile, a.ExpiresAt = string(raw.Mobile), raw.ExpiresAt.Time
	return nil
}

// resourceID is the link's id or, in the answer to Create, which may name
// no id, its public page: an answer with neither is no auth link.
func (x *AuthLink) resourceID() string {
	if x.ID != "" {
		return x.ID
	}
	return x.Links.Public
}

// authLinkBody is the body of POST /users/{userId}/auth_link.
type authLinkBody struct {
	Mobile string `json:"mobile,omitempty"`
}

// Create makes a new auth link for a user: POST /users/{userId}/auth_link,
// with the mobile number the customer will confirm (empty: the user's own).
// It replaces the user's previous link, so it is not repeated after a lost
// answer; call Get to see the current one.
func (s *AuthLinksService) Create(ctx context.Context, userID, mobile string) (*AuthLink, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	link := new(AuthLink)
	if _, err := s.client.call(ctx, http.MethodPost, pathf("users/%s/auth_link", userID), authLinkBody{Mobile: mobile}, link); err != nil {
		return nil, err
	}
	return link, nil
}

// Get returns a user's current auth link: GET /users/{userId}/auth_link. The
// API answers an expired link with 410: an *APIError with that StatusCode.
func (s *AuthLinksService) Get(ctx context.Context, userID string) (*AuthLink, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	link := new(AuthLink)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("users/%s/auth_link", userID), nil, link); err != nil {
		return nil, err
	}
	return link, nil
}

// Delete removes a user's auth link: DELETE /users/{userId}/auth_link.
func (s *AuthLinksService) Delete(ctx context.Context, userID string) error {
	if err := checkID("userId", userID); err != nil {
		return err
	}
	_, err := s.client.call(ctx, http.MethodDelete, pathf("users/%s/auth_link", userID), nil, nil)
	return err
}
