package basiqtest

import (
	"net/http"
	"strings"
	"time"
)

// AuthLinkLifetime is how long an auth link works: GET
// /users/{id}/auth_link answers 410 afterwards.
const AuthLinkLifetime = time.Hour

// authLink is a user's auth link: a public URL for the customer to open
// (the server does not serve it).
type authLink struct {
	id, userID, mobile string
	expires            time.Time
}

// authLinkJSON is the wire form of an auth link.
type authLinkJSON struct {
	Type      string            `json:"type"`
	ID        string            `json:"id"`
	UserID    string            `json:"userId"`
	Mobile    string            `json:"mobile"`
	ExpiresAt string            `json:"expiresAt"`
	Links     authLinkLinksJSON `json:"links"`
}

type authLinkLinksJSON struct {
	Public string `json:"public"`
	Self   string `json:"self"`
}

func authLinkView(c *call, l *authLink) authLinkJSON {
	return authLinkJSON{Type: "auth_link", ID: l.id, UserID: l.userID, Mobile: l.mobile, ExpiresAt: timestamp(l.expires),
		Links: authLinkLinksJSON{Public: c.base + "/auth_link/" + l.id, Self: c.base + "/users/" + l.userID + "/auth_link"}}
}

// createAuthLink is POST /users/{u}/auth_link: a new link, for the body's
// mobile or the user's own, replacing the user's previous one.
func (s *Server) createAuthLink(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	var b struct {
		Mobile *string `json:"mobile"`
	}
	if err := decodeJSON(c.r, &b); err != nil {
		return fail(*err)
	}
	mobile := u.strs["mobile"]
	if b.Mobile != nil && strings.TrimSpace(*b.Mobile) != "" {
		mobile = strings.TrimSpace(*b.Mobile)
	}
	if mobile == "" {
		return fail(errMissing("/mobile", "mobile is required: the user has no mobile number."))
	}
	l := &authLink{id: s.newID(), userID: u.id, mobile: mobile, expires: c.now.Add(AuthLinkLifetime)}
	s.authLinks[u.id] = l
	return answer(http.StatusCreated, authLinkView(c, l))
}

// getAuthLink is GET /users/{u}/auth_link.
func (s *Server) getAuthLink(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	l := s.authLinks[u.id]
	switch {
	case l == nil:
		return fail(errNotFound("The user has no auth link."))
	case !c.now.Before(l.expires):
		return fail(apiError{status: http.StatusGone, code: "resource-no-longer-available",
			title: "Requested resource is no longer available", detail: "The auth link has expired."})
	}
	return answer(http.StatusOK, authLinkView(c, l))
}

// deleteAuthLink is DELETE /users/{u}/auth_link.
func (s *Server) deleteAuthLink(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	if s.authLinks[u.id] == nil {
		return fail(errNotFound("The user has no auth link."))
	}
	delete(s.authLinks, u.id)
	return answer(http.StatusNoContent, nil)
}
