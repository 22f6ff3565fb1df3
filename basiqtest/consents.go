package basiqtest

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// consent is a user's consent, as the Consent UI creates it.
type consent struct {
	id, userID       string
	seq              int64
	created, updated time.Time
	expires          time.Time
	revoked          bool
}

// Consent statuses.
const (
	consentActive  = "active"
	consentRevoked = "revoked"
	consentExpired = "expired"
)

// status is the consent's status at now.
func (cs *consent) status(now time.Time) string {
	switch {
	case cs.revoked:
		return consentRevoked
	case !now.Before(cs.expires):
		return consentExpired
	}
	return consentActive
}

// AddConsent gives the user an active consent directly in the server's
// state, as the Consent UI does on a user's first connection, and returns
// its id; it returns "" when there is no such user. The consent lives
// [WithConsentLifetime].
func (s *Server) AddConsent(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[userID] == nil {
		return ""
	}
	return s.newConsent(time.Now(), userID).id
}

// newConsent creates an active consent and records consent.created; s.mu
// must be held.
func (s *Server) newConsent(now time.Time, userID string) *consent {
	s.seq++
	cs := &consent{id: s.newID(), userID: userID, seq: s.seq, created: now, updated: now, expires: now.Add(s.cfg.consentLifetime)}
	s.consents[cs.id] = cs
	s.emit(now, "consent", "created", userID, "/users/"+userID+"/consents/"+cs.id)
	return cs
}

// activeConsent returns the user's active consent, or nil; s.mu must be
// held.
func (s *Server) activeConsent(now time.Time, userID string) *consent {
	for _, cs := range s.consents {
		if cs.userID == userID && cs.status(now) == consentActive {
			return cs
		}
	}
	return nil
}

// consentJSON is the wire form of a consent.
type consentJSON struct {
	Type       string             `json:"type"`
	ID         string             `json:"id"`
	Status     string             `json:"status"`
	Origin     string             `json:"origin"`
	Created    string             `json:"created"`
	Updated    string             `json:"updated"`
	ExpiryDate string             `json:"expiryDate"`
	Purpose    consentPurposeJSON `json:"purpose"`
	Data       consentDataJSON    `json:"data"`
	Links      selfLinks          `json:"links"`
}

type consentPurposeJSON struct {
	Primary purposeTextJSON `json:"primary"`
}

type purposeTextJSON struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

type consentDataJSON struct {
	RetainData           bool                    `json:"retainData"`
	InitialRetrievalDays int                     `json:"initialRetrievalDays"`
	Permissions          []consentPermissionJSON `json:"permissions"`
}

type consentPermissionJSON struct {
	Scope       string          `json:"scope"`
	Information informationJSON `json:"information"`
	Entity      string          `json:"entity"`
	Required    bool            `json:"required"`
	Consented   bool            `json:"consented"`
	Purpose     purposeTextJSON `json:"purpose"`
}

type informationJSON struct {
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	AttributeList []string `json:"attributeList"`
}

func consentView(c *call, cs *consent) consentJSON {
	return consentJSON{
		Type: "consent", ID: cs.id, Status: cs.status(c.now), Origin: "user",
		Created: timestamp(cs.created), Updated: timestamp(cs.updated), ExpiryDate: timestamp(cs.expires),
		Purpose: consentPurposeJSON{Primary: purposeTextJSON{Title: "basiqtest",
			Description: "Test data from the basiqtest sandbox banks"}},
		Data: consentDataJSON{RetainData: false, InitialRetrievalDays: 90, Permissions: []consentPermissionJSON{
			{Scope: "ACCOUNT_DETAILS", Entity: "account", Required: true, Consented: true,
				Information: informationJSON{Name: "Account name, type and balance", Description: "Name of account, type of account, account balance",
					AttributeList: []string{"Name of account", "Type of account", "Account balance"}},
				Purpose: purposeTextJSON{Title: "Accounts", Description: "Account names, numbers and balances"}},
			{Scope: "TRANSACTION_DETAILS", Entity: "transaction", Required: true, Consented: true,
				Information: informationJSON{Name: "Transaction details", Description: "Incoming and outgoing transactions",
					AttributeList: []string{"Amounts", "Dates", "Descriptions of transactions"}},
				Purpose: purposeTextJSON{Title: "Transactions", Description: "Transactions of the accounts"}},
		}},
		Links: selfLinks{Self: c.base + "/users/" + cs.userID + "/consents/" + cs.id},
	}
}

// listConsents is GET /users/{u}/consents, oldest first.
func (s *Server) listConsents(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	var mine []*consent
	for _, cs := range s.consents {
		if cs.userID == u.id {
			mine = append(mine, cs)
		}
	}
	slices.SortFunc(mine, func(a, b *consent) int { return cmp.Compare(a.seq, b.seq) })
	data := []consentJSON{}
	for _, cs := range mine {
		data = append(data, consentView(c, cs))
	}
	return answer(http.StatusOK, listJSON[consentJSON]{Type: "list", Count: len(data), Data: data,
		Links: &listLinks{Self: c.base + c.r.URL.RequestURI()}})
}

// revokeConsent is DELETE /users/{u}/consents/{id}: an active consent is
// revoked, and the data collected under it (the user's connections, with
// their accounts and transactions) deleted, as a consent that does not
// retain data requires.
func (s *Server) revokeConsent(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	cs := s.consents[c.pv("id")]
	if cs == nil || cs.userID != u.id {
		return fail(errNotFound("Consent not found: " + c.pv("id")))
	}
	if st := cs.status(c.now); st != consentActive {
		return fail(errInvalidParam("consentId", "Consent "+cs.id+" is "+st+", not active."))
	}
	cs.revoked, cs.updated = true, c.now
	s.emit(c.now, "consent", "revoked", u.id, "/users/"+u.id+"/consents/"+cs.id)
	for _, cid := range slices.Clone(u.conns) {
		s.removeConnection(c.now, s.conns[cid])
	}
	return answer(http.StatusNoContent, nil)
}
