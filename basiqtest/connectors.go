package basiqtest

import (
	"net/http"
)

// Connectors: Basiq's GET /connectors lists each institution once per way
// of connecting to it (method). Every institution has a "web" connector;
// [InstHooli] also has "pdf" and "csv", the ones statement uploads use.

// connectorMethods returns the methods of in's connectors.
func connectorMethods(in *Institution) []string {
	if in.ID == InstHooli {
		return []string{"web", "pdf", "csv"}
	}
	return []string{"web"}
}

// hasConnector reports whether in has a connector of method.
func hasConnector(in *Institution, method string) bool {
	for _, m := range connectorMethods(in) {
		if m == method {
			return true
		}
	}
	return false
}

// connector is one institution and method, as the filters see it.
type connector struct {
	in     *Institution
	method string
}

// connectorJSON is the wire form of a connector.
type connectorJSON struct {
	Type          string            `json:"type"`
	ID            string            `json:"id"`
	Method        string            `json:"method"`
	Stage         string            `json:"stage"`
	Status        string            `json:"status"`
	Institution   connectorInstJSON `json:"institution"`
	Scopes        []string          `json:"scopes"`
	Authorization connectorAuthJSON `json:"authorization"`
	Stats         *statsJSON        `json:"stats,omitempty"`
	Links         selfLinks         `json:"links"`
}

type connectorInstJSON struct {
	Type      string   `json:"type"`
	Name      string   `json:"name"`
	ShortName string   `json:"shortName"`
	Tier      string   `json:"tier"`
	Country   string   `json:"country"`
	Logo      logoJSON `json:"logo"`
}

type connectorAuthJSON struct {
	Type string                 `json:"type"`
	Meta *connectorAuthMetaJSON `json:"meta,omitempty"`
}

type connectorAuthMetaJSON struct {
	LoginIDCaption          string `json:"login_id_caption,omitempty"`
	PasswordCaption         string `json:"password_caption,omitempty"`
	SecondaryLoginIDCaption string `json:"secondary_login_id_caption,omitempty"`
	SecurityCodeCaption     string `json:"security_code_caption,omitempty"`
}

// connectorView renders a connector; s.mu must be held.
func (s *Server) connectorView(c *call, k connector) connectorJSON {
	in := k.in
	out := connectorJSON{
		Type: "connector", ID: in.ID, Method: k.method, Stage: in.Stage, Status: in.Status,
		Institution: connectorInstJSON{Type: "Test Bank", Name: in.Name, ShortName: in.ShortName, Tier: in.Tier, Country: in.Country, Logo: institutionLogo(c, in)},
		Scopes:      []string{"ACCOUNT_DETAILS", "TRANSACTION_DETAILS"},
		Links:       selfLinks{Self: c.base + "/connectors/" + in.ID + "/" + k.method},
	}
	if k.method == "web" {
		out.Authorization = connectorAuthJSON{Type: in.Authorization, Meta: &connectorAuthMetaJSON{
			LoginIDCaption: in.LoginIDCaption, PasswordCaption: in.PasswordCaption,
			SecondaryLoginIDCaption: in.SecondaryLoginIDCaption, SecurityCodeCaption: in.SecurityCodeCaption,
		}}
	} else {
		out.Authorization = connectorAuthJSON{Type: "other"}
	}
	out.Stats = s.institutionView(c, in).Stats
	return out
}

// connectorFields are the fields GET /connectors filters on.
var connectorFields = fieldSet[connector]{
	"connector.id":                  func(k connector) (string, bool) { return k.in.ID, true },
	"connector.method":              func(k connector) (string, bool) { return k.method, true },
	"connector.stage":               func(k connector) (string, bool) { return k.in.Stage, true },
	"connector.status":              func(k connector) (string, bool) { return k.in.Status, true },
	"connector.institution.country": func(k connector) (string, bool) { return k.in.Country, true },
	"connector.institution.tier":    func(k connector) (string, bool) { return k.in.Tier, true },
	"connector.authorization.type":  func(k connector) (string, bool) { return k.in.Authorization, k.method == "web" },
}

// listConnectors is GET /connectors, by institution id then method.
func (s *Server) listConnectors(c *call) reply {
	match, r, bad := parseFilterParam(c, connectorFields)
	if bad {
		return r
	}
	data := []connectorJSON{}
	for _, in := range s.insts {
		for _, m := range connectorMethods(in) {
			if k := (connector{in, m}); match(k) {
				data = append(data, s.connectorView(c, k))
			}
		}
	}
	n := len(data)
	return answer(http.StatusOK, listJSON[connectorJSON]{Type: "list", Count: n, TotalCount: &n, Data: data,
		Links: &listLinks{Self: c.base + c.r.URL.RequestURI()}})
}

// getConnector is GET /connectors/{id}/{method}.
func (s *Server) getConnector(c *call) reply {
	in := s.instByID[c.pv("id")]
	if in == nil || !hasConnector(in, c.pv("method")) {
		return fail(errNotFound("Connector not found: " + c.pv("id") + "/" + c.pv("method")))
	}
	return answer(http.StatusOK, s.connectorView(c, connector{in, c.pv("method")}))
}
