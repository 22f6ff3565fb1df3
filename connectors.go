package basiq

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// ConnectorsService reads the connectors: the ways to reach an institution
// (a web login, open banking, a PDF or CSV statement). In API version 3.0
// they replace /institutions; both versions have them.
type ConnectorsService service

// Connector is one way to reach an institution, as GET
// /connectors/{id}/{method} answers.
type Connector struct {
	// ID is the institution's id, such as "AU00000".
	ID string `json:"id"`
	// Method is how the connector reaches the institution: "web",
	// "openbanking" (also spelled "open-banking"), "pdf", "csv".
	Method string `json:"method"`
	// Stage is "live", "beta" or "alpha".
	Stage string `json:"stage"`
	// Status is "operational", "degraded-performance", "partial-outage",
	// "major-outage", "under-maintenance" or another value the API adds.
	Status string `json:"status"`
	// Institution describes the institution behind the connector.
	Institution ConnectorInstitution `json:"institution"`
	// Scopes are the data the connector can share, such as
	// "customer.person.basic".
	Scopes []string `json:"scopes"`
	// Authorization is the kind of credentials the institution takes.
	Authorization ConnectorAuthorization `json:"authorization"`
	// Stats are the connector's published step durations; nil if none.
	Stats *InstitutionStats `json:"stats,omitempty"`
	Links Links             `json:"links"`
}

// ConnectorInstitution is the institution a [Connector] reaches.
type ConnectorInstitution struct {
	// Type is "Bank", "Credit Union", "Test Bank" and so on.
	Type      string `json:"type"`
	Name      string `json:"name"`
	ShortName string `json:"shortName"`
	// Tier is "1" to "4"; a number in the answer is read as its digits.
	Tier    string `json:"tier"`
	Country string `json:"country"`
	// Logo is kept as the API sent it.
	Logo json.RawMessage `json:"logo,omitempty"`
	// The institution's Consumer Data Right details, when it has them.
	CDRFAQ            string `json:"cdrFAQ,omitempty"`
	CDREmail          string `json:"cdrEmail,omitempty"`
	CDRPolicy         string `json:"cdrPolicy,omitempty"`
	CDRProviderNumber string `json:"cdrProviderNumber,omitempty"`
	ABN               string `json:"abn,omitempty"`
	ACN               string `json:"acn,omitempty"`
}

// UnmarshalJSON reads tier as a string or a number.
func (ci *ConnectorInstitution) UnmarshalJSON(b []byte) error {
	type plain ConnectorInstitution
	var raw struct {
		plain
		Tier json.RawMessage `json:"tier"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*ci = ConnectorInstitution(raw.plain)
	ci.Tier = tierOf(raw.Tier)
	return nil
}

// ConnectorAuthorization is the kind of credentials a connector takes, with
// the captions of its login form.
type ConnectorAuthorization struct {
	// Type is user, token, user-mfa, user-mfa-intermittent or other.
	Type AuthorizationType `json:"type"`
	// Meta holds the login form's captions, when the API gives them.
	Meta *ConnectorAuthorizationMeta `json:"meta,omitempty"`
}

// ConnectorAuthorizationMeta holds a connector's login captions (the API
// spells these fields in snake case).
type ConnectorAuthorizationMeta struct {
	LoginIDCaption          string `json:"login_id_caption,omitempty"`
	PasswordCaption         string `json:"password_caption,omitempty"`
	SecondaryLoginIDCaption string `json:"secondary_login_id_caption,omitempty"`
	SecurityCodeCaption     string `json:"security_code_caption,omitempty"`
	ForgottenPasswordURL    string `json:"forgotten_password_url,omitempty"`
}

func (x *Connector) resourceID() string { return x.ID }

// ConnectorFilter narrows [ConnectorsService.List]. Conditions are joined
// with AND; empty fields are left out. Values are quoted, and a value
// holding a quote or a control character is refused.
type ConnectorFilter struct {
	// ID keeps the connectors of one institution (connector.id).
	ID string
	// Method keeps one method (connector.method): "web", "open-banking",
	// "pdf", "csv".
	Method string
	// Stage keeps any of these stages (connector.stage).
	Stage []string
	// Status keeps any of these statuses (connector.status).
	Status []string
	// Country keeps institutions of these countries
	// (connector.institution.country): "Australia", "New Zealand".
	Country []string
	// Tier keeps institutions of these tiers (connector.institution.tier),
	// "1" to "4".
	Tier []string
	// Authorization keeps connectors with any of these authorization types
	// (connector.authorization.type). A value that is not one of the
	// AuthorizationType constants is refused with a *ValidationError before
	// any request; write a condition on a value the library does not know
	// yet in Raw.
	Authorization []AuthorizationType
	// Raw is a filter in Basiq's grammar, appended unchanged.
	Raw string
}

// query returns the filter's query values; a nil filter has none.
func (f *ConnectorFilter) query() (url.Values, error) {
	var b filterBuilder
	if f != nil {
		b.eq("id", "connector.id", f.ID)
		b.eq("method", "connector.method", f.Method)
		b.op("stage", "connector.stage", "in", f.Stage...)
		b.op("status", "connector.status", "in", f.Status...)
		b.op("country", "connector.institution.country", "in", f.Country...)
		b.op("tier", "connector.institution.tier", "in", f.Tier...)
		anyOf(&b, "authorization", "connector.authorization.type", f.Authorization, authorizationTypes)
		b.raw(f.Raw)
	}
	return b.query(0, 0)
}

// List returns the connectors: GET /connectors, narrowed by f (nil for
// all).
func (s *ConnectorsService) List(ctx context.Context, f *ConnectorFilter) ([]Connector, error) {
	return listAll[Connector](ctx, s.client, "connectors", f)
}

// Get returns one connector: GET /connectors/{connectorId}/{method}, such as
// ("AU00000", "web").
func (s *ConnectorsService) Get(ctx context.Context, connectorID, method string) (*Connector, error) {
	if err := checkIDs("connectorId", connectorID, "method", method); err != nil {
		return nil, err
	}
	conn := new(Connector)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("connectors/%s/%s", connectorID, method), nil, conn); err != nil {
		return nil, err
	}
	return conn, nil
}
