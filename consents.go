package basiq

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// ConsentsService reads and revokes the consents a user gave through the
// Consent UI (API version 3.0).
type ConsentsService service

// ConsentStatus is the state of a consent.
type ConsentStatus string

// The consent statuses the API uses.
const (
	ConsentActive  ConsentStatus = "active"
	ConsentRevoked ConsentStatus = "revoked"
	ConsentExpired ConsentStatus = "expired"
)

// Consent is what a user agreed to share, as GET /users/{userId}/consents
// lists it.
type Consent struct {
	ID     string        `json:"id"`
	Status ConsentStatus `json:"status"`
	// Origin is who gave the consent, such as "user".
	Origin string `json:"origin,omitempty"`
	// Created, Updated and ExpiryDate are zero when the API does not give
	// them.
	Created    time.Time      `json:"created"`
	Updated    time.Time      `json:"updated"`
	ExpiryDate time.Time      `json:"expiryDate"`
	Purpose    ConsentPurpose `json:"purpose"`
	Data       ConsentData    `json:"data"`
	Links      Links          `json:"links"`
}

// ConsentPurpose says why the data is shared.
type ConsentPurpose struct {
	Primary *PurposeText `json:"primary,omitempty"`
	// Other is kept as the API sent it.
	Other json.RawMessage `json:"other,omitempty"`
}

// PurposeText is a purpose's title and description.
type PurposeText struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// ConsentData says which data a consent covers and for how long it is kept.
type ConsentData struct {
	RetainData           bool                `json:"retainData"`
	InitialRetrievalDays int                 `json:"initialRetrievalDays"`
	Permissions          []ConsentPermission `json:"permissions"`
	// Organisation is kept as the API sent it.
	Organisation json.RawMessage `json:"organisation,omitempty"`
}

// ConsentPermission is one scope of data a consent covers.
type ConsentPermission struct {
	// Scope names the data, such as "account.basic".
	Scope     string `json:"scope"`
	Required  bool   `json:"required"`
	Consented bool   `json:"consented"`
	// Entity is the kind of resource, such as "account" or "transaction".
	Entity      string                 `json:"entity"`
	Information *PermissionInformation `json:"information,omitempty"`
	Purpose     *PurposeText           `json:"purpose,omitempty"`
}

// PermissionInformation describes a permission to the customer.
type PermissionInformation struct {
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	AttributeList []string `json:"attributeList"`
}

// UnmarshalJSON reads the timestamps leniently, like [Job.UnmarshalJSON].
func (c *Consent) UnmarshalJSON(b []byte) error {
	type plain Consent
	var raw struct {
		plain
		Created    lenientTime `json:"created"`
		Updated    lenientTime `json:"updated"`
		ExpiryDate lenientTime `json:"expiryDate"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*c = Consent(raw.plain)
	c.Created, c.Updated, c.ExpiryDate = raw.Created.Time, raw.Updated.Time, raw.ExpiryDate.Time
	return nil
}

func (x *Consent) resourceID() string { return x.ID }

// List returns a user's consents: GET /users/{userId}/consents.
func (s *ConsentsService) List(ctx context.Context, userID string) ([]Consent, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	return listAll[Consent](ctx, s.client, pathf("users/%s/consents", userID), nil)
}

// Delete revokes a consent: DELETE /users/{userId}/consents/{consentId}. The
// user's connections under it stop refreshing.
func (s *ConsentsService) Delete(ctx context.Context, userID, consentID string) error {
	if err := checkIDs("userId", userID, "consentId", consentID); err != nil {
		return err
	}
	_, err := s.client.call(ctx, http.MethodDelete, pathf("users/%s/consents/%s", userID, consentID), nil, nil)
	return err
}
