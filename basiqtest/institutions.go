package basiqtest

import (
	"math"
	"net/http"
	"slices"
	"strings"
)

// The sandbox institutions every Server knows.
const (
	// InstHooli is "Hooli Bank": authorization "user" (login id and
	// password), tier "4", operational.
	InstHooli = "AU00000"
	// InstToken is a bank with authorization "token": it takes a user token
	// ([SandboxUserToken]) instead of a login.
	InstToken = "AU19301"
	// InstSecurityCode is a "user" bank that also asks for a security code
	// (securityCodeCaption "Security code"); any non-empty code is accepted.
	InstSecurityCode = "AU00001"
	// InstSecondaryLogin is a "user" bank that also asks for a secondary
	// login id (secondaryLoginIdCaption "Customer number"); any non-empty
	// value is accepted.
	InstSecondaryLogin = "AU00002"
	// InstMFA is a bank with authorization "user-mfa": every job waits in
	// mfa-challenge for [MFACode] after verify-credentials.
	InstMFA = "AU00003"
	// InstMFAIntermittent is a bank with authorization
	// "user-mfa-intermittent". It asks for MFA on every second job of a
	// connection: the job that creates a connection skips mfa-challenge,
	// the connection's next job (a refresh, an update, or creating it
	// again) asks, the one after skips, and so on.
	InstMFAIntermittent = "AU00004"
	// InstOther is a bank with authorization "other": it cannot be connected
	// through POST /users/{id}/connections.
	InstOther = "AU00005"
)

// The sandbox logins. They work at every institution with a user kind of
// authorization (user, user-mfa, user-mfa-intermittent). Any other login id
// and password fails verify-credentials with invalid-credentials.
const (
	// LoginGavinBelson and PasswordGavinBelson are a good login.
	LoginGavinBelson, PasswordGavinBelson = "gavinBelson", "hooli2016"
	// LoginJared and PasswordJared are a good login.
	LoginJared, PasswordJared = "jared", "django"
	// LoginRichard and PasswordRichard are a good login.
	LoginRichard, PasswordRichard = "richard", "tabsnotspaces"
	// LoginGilfoyle and PasswordGilfoyle are a good login.
	LoginGilfoyle, PasswordGilfoyle = "Gilfoyle", "PiedPiper"
	// LoginWhistler and PasswordWhistler are a good login.
	LoginWhistler, PasswordWhistler = "Whistler", "ShowBox"
	// LoginBighead and PasswordBighead fail verify-credentials with
	// invalid-credentials ("Account is locked"); the connection becomes
	// "invalid".
	LoginBighead, PasswordBighead = "bighead", "password"
	// LoginErlich and PasswordErlich fail verify-credentials with
	// account-not-accessible-requires-user-action.
	LoginErlich, PasswordErlich = "erlich", "aviato"
	// LoginJianYang and PasswordJianYang fail verify-credentials with
	// service-unavailable.
	LoginJianYang, PasswordJianYang = "jianYang", "nothotdog"

	// SandboxUserToken is the user token institutions with token
	// authorization accept; any other token fails with invalid-credentials.
	SandboxUserToken = "token:PTln18RhwL"
	// MFACode is the one-time code that answers an MFA challenge.
	MFACode = "1234"
)

// The authorization kinds, as the API spells them.
const (
	authUser         = "user"
	authUserMFA      = "user-mfa"
	authIntermittent = "user-mfa-intermittent"
	authToken        = "token"
	authUserToken    = "user-token"
	authOther        = "other"
)

// Institution describes an institution for [WithInstitutions]. Empty fields
// get defaults: Name the ID, Tier "4", Stage "live", Status "operational",
// Country "Australia", and the login captions of user kinds.
type Institution struct {
	// ID is the institution's id, such as "AU00000".
	ID string
	// Name and ShortName name the institution.
	Name, ShortName string
	// Authorization is "user", "user-mfa", "user-mfa-intermittent", "token"
	// (or "user-token") or "other".
	Authorization string
	// Tier is "1" to "4".
	Tier string
	// Stage is "live", "beta" or "alpha".
	Stage string
	// Status is "operational", "degraded-performance", "major-outage", ...
	Status string
	// Country is the institution's country.
	Country string
	// The captions; a non-empty SecurityCodeCaption or
	// SecondaryLoginIDCaption makes that credential required.
	LoginIDCaption, PasswordCaption, SecurityCodeCaption string
	SecondaryLoginIDCaption, UserTokenCaption            string
}

// sandboxInstitutions are the institutions every server knows.
func sandboxInstitutions() []Institution {
	return []Institution{
		{ID: InstHooli, Name: "Hooli Bank", ShortName: "Hooli", Authorization: authUser},
		{ID: InstSecurityCode, Name: "Hooli Security Code Bank", ShortName: "Hooli SC", Authorization: authUser,
			SecurityCodeCaption: "Security code"},
		{ID: InstSecondaryLogin, Name: "Hooli Secondary Login Bank", ShortName: "Hooli SL", Authorization: authUser,
			SecondaryLoginIDCaption: "Customer number"},
		{ID: InstMFA, Name: "Hooli MFA Bank", ShortName: "Hooli MFA", Authorization: authUserMFA},
		{ID: InstMFAIntermittent, Name: "Hooli Intermittent MFA Bank", ShortName: "Hooli MFA-I", Authorization: authIntermittent},
		{ID: InstOther, Name: "Hooli Other Bank", ShortName: "Hooli Other", Authorization: authOther},
		{ID: InstToken, Name: "Hooli Token Bank", ShortName: "Hooli Token", Authorization: authToken,
			UserTokenCaption: "User token"},
	}
}

// buildInstitutions merges extra into the sandbox institutions, fills
// defaults and sorts them by id.
func buildInstitutions(extra []Institution) ([]*Institution, map[string]*Institution) {
	byID := map[string]*Institution{}
	for _, in := range append(sandboxInstitutions(), extra...) {
		fillInstitution(&in)
		byID[in.ID] = &in
	}
	list := make([]*Institution, 0, len(byID))
	for _, in := range byID {
		list = append(list, in)
	}
	slices.SortFunc(list, func(a, b *Institution) int { return strings.Compare(a.ID, b.ID) })
	return list, byID
}

func fillInstitution(in *Institution) {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&in.Name, in.ID)
	def(&in.ShortName, in.Name)
	def(&in.Authorization, authUser)
	def(&in.Tier, "4")
	def(&in.Stage, "live")
	def(&in.Status, "operational")
	def(&in.Country, "Australia")
	if usesLogin(in.Authorization) {
		def(&in.LoginIDCaption, "Login ID")
		def(&in.PasswordCaption, "Password")
	}
	if usesToken(in.Authorization) {
		def(&in.UserTokenCaption, "User token")
	}
}

func usesLogin(auth string) bool {
	return auth == authUser || auth == authUserMFA || auth == authIntermittent
}

func usesToken(auth string) bool { return auth == authToken || auth == authUserToken }

// institutionJSON is the wire form of an institution.
type institutionJSON struct {
	Type                    string       `json:"type"`
	ID                      string       `json:"id"`
	Name                    string       `json:"name"`
	ShortName               string       `json:"shortName"`
	InstitutionType         string       `json:"institutionType"`
	Country                 string       `json:"country"`
	ServiceName             string       `json:"serviceName"`
	ServiceType             string       `json:"serviceType"`
	Tier                    string       `json:"tier"`
	Authorization           string       `json:"authorization"`
	Stage                   string       `json:"stage"`
	Status                  string       `json:"status"`
	LoginIDCaption          string       `json:"loginIdCaption,omitempty"`
	PasswordCaption         string       `json:"passwordCaption,omitempty"`
	SecurityCodeCaption     string       `json:"securityCodeCaption,omitempty"`
	SecondaryLoginIDCaption string       `json:"secondaryLoginIdCaption,omitempty"`
	UserTokenCaption        string       `json:"userTokenCaption,omitempty"`
	Stats                   *statsJSON   `json:"stats"`
	Features                featuresJSON `json:"features"`
	Logo                    logoJSON     `json:"logo"`
	Links                   selfLinks    `json:"links"`
}

// featuresJSON says which sources can log in and answer MFA.
type featuresJSON struct {
	Login        []string `json:"login"`
	MFAChallenge []string `json:"mfaChallenge"`
}

// logoJSON is an institution's logo; the server does not serve the images.
type logoJSON struct {
	Type  string        `json:"type"`
	Links logoLinksJSON `json:"links"`
}

type logoLinksJSON struct {
	Square string `json:"square"`
	Full   string `json:"full"`
}

// institutionLogo is in's logo, with links on the server.
func institutionLogo(c *call, in *Institution) logoJSON {
	return logoJSON{Type: "image", Links: logoLinksJSON{Square: c.base + "/logos/" + in.ID + ".svg", Full: c.base + "/logos/" + in.ID + "-full.svg"}}
}

type statsJSON struct {
	AverageDurationMs *durationsJSON `json:"averageDurationMs"`
}

type durationsJSON struct {
	VerifyCredentials    float64 `json:"verifyCredentials"`
	RetrieveAccounts     float64 `json:"retrieveAccounts"`
	RetrieveTransactions float64 `json:"retrieveTransactions"`
	RetrieveMeta         float64 `json:"retrieveMeta"`
	Total                float64 `json:"total"`
}

// selfLinks is a links object with only self.
type selfLinks struct {
	Self string `json:"self"`
}

// institutionView renders in; s.mu must be held.
func (s *Server) institutionView(c *call, in *Institution) institutionJSON {
	ms := func(step string) float64 { return s.cfg.publishedMs(in.ID, step) }
	d := &durationsJSON{
		VerifyCredentials:    ms(stepVerify),
		RetrieveAccounts:     ms(stepAccounts),
		RetrieveTransactions: ms(stepTransactions),
		RetrieveMeta:         ms("retrieve-meta"),
	}
	// Jobs have no retrieve-meta step: the total is what a job takes.
	d.Total = d.VerifyCredentials + d.RetrieveAccounts + d.RetrieveTransactions
	if math.IsInf(d.Total, 0) {
		d.Total = math.Copysign(math.MaxFloat64, d.Total) // JSON has no infinity
	}
	stats := &statsJSON{AverageDurationMs: d}
	if s.cfg.noStats {
		stats = nil
	}
	features := featuresJSON{Login: []string{"web"}, MFAChallenge: []string{}}
	if in.Authorization == authOther {
		features.Login = []string{}
	}
	if in.Authorization == authUserMFA || in.Authorization == authIntermittent {
		features.MFAChallenge = []string{"web"}
	}
	return institutionJSON{
		Type: "institution", ID: in.ID, Name: in.Name, ShortName: in.ShortName,
		InstitutionType: "Test Bank", Country: in.Country, ServiceName: "Test Bank", ServiceType: "Test",
		Tier: in.Tier, Authorization: in.Authorization, Stage: in.Stage, Status: in.Status,
		LoginIDCaption: in.LoginIDCaption, PasswordCaption: in.PasswordCaption,
		SecurityCodeCaption: in.SecurityCodeCaption, SecondaryLoginIDCaption: in.SecondaryLoginIDCaption,
		UserTokenCaption: in.UserTokenCaption,
		Stats:            stats,
		Features:         features,
		Logo:             institutionLogo(c, in),
		Links:            selfLinks{Self: c.base + "/institutions/" + in.ID},
	}
}

// institutionFields are the fields GET /institutions filters on.
var institutionFields = fieldSet[*Institution]{
	"institution.id":            func(in *Institution) (string, bool) { return in.ID, true },
	"institution.authorization": func(in *Institution) (string, bool) { return in.Authorization, true },
	"institution.tier":          func(in *Institution) (string, bool) { return in.Tier, true },
	"institution.status":        func(in *Institution) (string, bool) { return in.Status, true },
	"institution.stage":         func(in *Institution) (string, bool) { return in.Stage, true },
	"institution.country":       func(in *Institution) (string, bool) { return in.Country, true },
	"institution.name":          func(in *Institution) (string, bool) { return in.Name, true },
}

// listInstitutions is GET /institutions.
func (s *Server) listInstitutions(c *call) reply {
	match, errR, bad := parseFilterParam(c, institutionFields)
	if bad {
		return errR
	}
	data := []institutionJSON{}
	for _, in := range s.insts {
		if match(in) {
			data = append(data, s.institutionView(c, in))
		}
	}
	n := len(data)
	return answer(http.StatusOK, listJSON[institutionJSON]{Type: "list", Count: n, TotalCount: &n, Data: data,
		Links: &listLinks{Self: c.base + c.r.URL.RequestURI()}})
}

// getInstitution is GET /institutions/{id}.
func (s *Server) getInstitution(c *call) reply {
	in, found := s.instByID[c.pv("id")]
	if !found {
		return fail(errNotFound("Institution not found: " + c.pv("id")))
	}
	return answer(http.StatusOK, s.institutionView(c, in))
}
