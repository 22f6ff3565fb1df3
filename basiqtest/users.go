package basiqtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// user is a Basiq user.
type user struct {
	id      string
	created time.Time
	// strs holds the known string fields (email, mobile, firstName, ...).
	strs map[string]string
	// extra holds any other field of the body, as sent.
	extra map[string]json.RawMessage
	// conns are the user's connection ids, oldest first.
	conns []string
	// txns are the user's transactions, newest first.
	txns []*transaction
}

// userStringFields are the user fields the server knows; all are strings.
var userStringFields = []string{"email", "mobile", "firstName", "middleName", "lastName", "businessName"}

// userReserved are fields a body cannot set.
var userReserved = map[string]bool{"type": true, "id": true, "links": true, "connections": true, "accounts": true}

// AddUser creates a user with this email directly in the server's state,
// as POST /users would, without a request, and returns the user's id. It
// is a shortcut for tests that need a user before they start.
func (s *Server) AddUser(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &user{id: s.newID(), created: time.Now(), strs: map[string]string{"email": email}, extra: map[string]json.RawMessage{}}
	s.users[u.id] = u
	s.emit(u.created, "user", "created", u.id, "/users/"+u.id)
	return u.id
}

// refJSON is a reference to another resource in a user's lists.
type refJSON struct {
	Type  string    `json:"type"`
	ID    string    `json:"id"`
	Links selfLinks `json:"links"`
}

// userView renders u; s.mu must be held.
func (s *Server) userView(c *call, u *user) map[string]any {
	out := map[string]any{}
	for k, v := range u.extra {
		out[k] = v
	}
	for _, f := range userStringFields {
		if v, set := u.strs[f]; set || f != "businessName" {
			out[f] = v
		}
	}
	conns := []refJSON{}
	accts := []refJSON{}
	for _, cid := range u.conns {
		conns = append(conns, refJSON{Type: "connection", ID: cid, Links: selfLinks{Self: c.base + "/users/" + u.id + "/connections/" + cid}})
		for _, aid := range s.conns[cid].accounts {
			accts = append(accts, refJSON{Type: "account", ID: aid, Links: selfLinks{Self: c.base + "/users/" + u.id + "/accounts/" + aid}})
		}
	}
	out["type"] = "user"
	out["id"] = u.id
	out["connections"] = listJSON[refJSON]{Type: "list", Count: len(conns), Data: conns}
	out["accounts"] = listJSON[refJSON]{Type: "list", Count: len(accts), Data: accts}
	self := c.base + "/users/" + u.id
	out["links"] = map[string]string{"self": self, "accounts": self + "/accounts", "connections": self + "/connections",
		"transactions": self + "/transactions", "auth_link": self + "/auth_link"}
	if c.v3() {
		// 3.0 names the user in one field too.
		out["name"] = strings.TrimSpace(strings.Join(slices.DeleteFunc([]string{u.strs["firstName"], u.strs["middleName"], u.strs["lastName"]},
			func(s string) bool { return s == "" }), " "))
	}
	return out
}

// applyUserBody reads a user body into strs and extra, and checks it. On
// create, email or mobile must end up set.
func applyUserBody(c *call, strs map[string]string, extra map[string]json.RawMessage) []apiError {
	var body map[string]json.RawMessage
	if err := decodeJSON(c.r, &body); err != nil {
		return []apiError{*err}
	}
	var errs []apiError
	known := map[string]bool{}
	for _, f := range userStringFields {
		known[f] = true
		raw, present := body[f]
		if !present {
			continue
		}
		var v *string
		if err := json.Unmarshal(raw, &v); err != nil {
			errs = append(errs, errInvalid("/"+f, f+" must be a string"))
			continue
		}
		if v == nil || *v == "" {
			delete(strs, f)
			continue
		}
		strs[f] = *v
	}
	for k, raw := range body {
		if !known[k] && !userReserved[k] {
			extra[k] = raw
		}
	}
	if errs != nil {
		return errs
	}
	if strs["email"] == "" && strs["mobile"] == "" {
		return []apiError{errMissing("/email", "A user needs an email or a mobile number.")}
	}
	if e := strs["email"]; e != "" && !strings.Contains(e, "@") {
		return []apiError{errInvalid("/email", "email is not a valid email address.")}
	}
	return nil
}

// createUser is POST /users.
func (s *Server) createUser(c *call) reply {
	u := &user{created: c.now, strs: map[string]string{}, extra: map[string]json.RawMessage{}}
	if errs := applyUserBody(c, u.strs, u.extra); errs != nil {
		return fail(errs...)
	}
	u.id = s.newID()
	s.users[u.id] = u
	s.emit(c.now, "user", "created", u.id, "/users/"+u.id)
	return answer(http.StatusCreated, s.userView(c, u))
}

// lookupUser finds the user named by the path's {u}.
func (s *Server) lookupUser(c *call) (*user, reply, bool) {
	u, found := s.users[c.pv("u")]
	if !found {
		return nil, fail(errNotFound("User not found: " + c.pv("u"))), false
	}
	return u, reply{}, true
}

// getUser is GET /users/{u}.
func (s *Server) getUser(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	return answer(http.StatusOK, s.userView(c, u))
}

// updateUser is POST /users/{u}: the fields present change.
func (s *Server) updateUser(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	strs := make(map[string]string, len(u.strs))
	for k, v := range u.strs {
		strs[k] = v
	}
	extra := make(map[string]json.RawMessage, len(u.extra))
	for k, v := range u.extra {
		extra[k] = v
	}
	if errs := applyUserBody(c, strs, extra); errs != nil {
		return fail(errs...)
	}
	u.strs, u.extra = strs, extra
	s.emit(c.now, "user", "updated", u.id, "/users/"+u.id)
	return answer(http.StatusOK, s.userView(c, u))
}

// deleteUser is DELETE /users/{u}: the user and all its data go.
func (s *Server) deleteUser(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	for _, cid := range append([]string(nil), u.conns...) {
		s.removeConnection(c.now, s.conns[cid])
	}
	delete(s.users, u.id)
	delete(s.authLinks, u.id)
	for id, cs := range s.consents {
		if cs.userID == u.id {
			delete(s.consents, id)
		}
	}
	s.emit(c.now, "user", "deleted", u.id, "/users/"+u.id)
	return answer(http.StatusNoContent, nil)
}
