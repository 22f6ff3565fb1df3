package basiqtest

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// connection is a user's connection to an institution.
type connection struct {
	id, userID, instID string

	loginID, password, userToken   string
	securityCode, secondaryLoginID string
	status                         string // pending, active, invalid
	created, lastUsed              time.Time

	// accounts are the connection's account ids, in generation order.
	accounts []string
	// txnsLoaded is set once its transactions were generated.
	txnsLoaded bool
	// jobCount counts the jobs started for it (for the intermittent bank).
	jobCount int
	// current is its latest job.
	current *job
	// statement: made by a statement upload; its jobs' verify-credentials
	// ends with statementErr (nil for success) and asks no MFA.
	statement       bool
	statementErr    *stepError
	statementMethod string // "pdf" or "csv"
	// bankPasswordChanged: the customer changed their password at the
	// bank (ChangeBankPassword); the stored one no longer works.
	bankPasswordChanged bool
}

// Connection statuses.
const (
	connPending = "pending"
	connActive  = "active"
	connInvalid = "invalid"
)

// seed is the connection's data seed: the same institution and login give
// the same accounts and transactions, on every server.
func (cn *connection) seed() uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s", cn.instID, cn.loginID, cn.userToken)
	return h.Sum64()
}

// dupKey is what the duplicate-job rule compares besides user and
// institution: the login id, or the user token.
func (cn *connection) dupKey() string {
	if cn.userToken != "" && cn.loginID == "" {
		return "token:" + cn.userToken
	}
	return "login:" + cn.loginID
}

// credentialsBody is the body of POST /users/{u}/connections and of the
// credentials update.
type credentialsBody struct {
	LoginID          string `json:"loginId"`
	Password         string `json:"password"`
	SecurityCode     string `json:"securityCode"`
	SecondaryLoginID string `json:"secondaryLoginId"`
	UserToken        string `json:"userToken"`
	Institution      *struct {
		ID string `json:"id"`
	} `json:"institution"`
}

// checkCredentials applies the institution's authorization rules to a
// connection body.
func checkCredentials(in *Institution, b *credentialsBody) []apiError {
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	kind := fmt.Sprintf("institution %s has %q authorization", in.ID, in.Authorization)
	var errs []apiError
	switch {
	case in.Authorization == authOther:
		return []apiError{errInvalid("/institution/id", "Institution "+in.ID+" cannot be connected with credentials: its authorization is \"other\".")}
	case usesToken(in.Authorization):
		if blank(b.UserToken) {
			errs = append(errs, errMissing("/userToken", "userToken is required: "+kind+"."))
		}
		if !blank(b.LoginID) {
			errs = append(errs, errInvalid("/loginId", "loginId is not used: "+kind+"."))
		}
		if !blank(b.Password) {
			errs = append(errs, errInvalid("/password", "password is not used: "+kind+"."))
		}
	default: // user kinds
		if blank(b.LoginID) {
			errs = append(errs, errMissing("/loginId", "loginId is required: "+kind+"."))
		}
		if blank(b.Password) {
			errs = append(errs, errMissing("/password", "password is required: "+kind+"."))
		}
		if !blank(b.UserToken) {
			errs = append(errs, errInvalid("/userToken", "userToken is not used: "+kind+"."))
		}
	}
	if in.SecurityCodeCaption != "" && blank(b.SecurityCode) {
		errs = append(errs, errMissing("/securityCode", fmt.Sprintf("securityCode is required: institution %s asks for %q.", in.ID, in.SecurityCodeCaption)))
	}
	if in.SecondaryLoginIDCaption != "" && blank(b.SecondaryLoginID) {
		errs = append(errs, errMissing("/secondaryLoginId", fmt.Sprintf("secondaryLoginId is required: institution %s asks for %q.", in.ID, in.SecondaryLoginIDCaption)))
	}
	return errs
}

// loginOutcome is how verify-credentials ends for a login at a bank with a
// user kind of authorization: nil for a good sandbox login.
func loginOutcome(loginID, password string) *stepError {
	const title = "Cannot login to target institution using supplied credentials. Please check credentials and try again."
	switch loginID + "/" + password {
	case LoginGavinBelson + "/" + PasswordGavinBelson, LoginJared + "/" + PasswordJared,
		LoginRichard + "/" + PasswordRichard, LoginGilfoyle + "/" + PasswordGilfoyle,
		LoginWhistler + "/" + PasswordWhistler:
		return nil
	case LoginBighead + "/" + PasswordBighead:
		return &stepError{code: "invalid-credentials", title: title, detail: "Account is locked"}
	case LoginErlich + "/" + PasswordErlich:
		return &stepError{code: "account-not-accessible-requires-user-action",
			title:  "The account cannot be accessed until the customer takes action at the institution.",
			detail: "Log in to the institution's website and follow the instructions shown."}
	case LoginJianYang + "/" + PasswordJianYang:
		return &stepError{code: "service-unavailable", title: "The institution's service is unavailable.",
			detail: "The institution is not answering; try again later."}
	}
	return &stepError{code: "invalid-credentials", title: title, detail: "Invalid login credentials"}
}

// verifyOutcome decides how verify-credentials ends for the connection's
// current credentials: nil for success.
func verifyOutcome(in *Institution, cn *connection) *stepError {
	if cn.bankPasswordChanged {
		return &stepError{code: "invalid-credentials",
			title:  "Cannot login to target institution using supplied credentials. Please check credentials and try again.",
			detail: "Invalid login credentials"}
	}
	if !usesToken(in.Authorization) {
		return loginOutcome(cn.loginID, cn.password)
	}
	if cn.userToken == SandboxUserToken {
		return nil
	}
	return &stepError{code: "invalid-credentials",
		title:  "Cannot login to target institution using supplied credentials. Please check credentials and try again.",
		detail: "Invalid user token"}
}

// connectionJSON is the wire form of a connection.
type connectionJSON struct {
	Type        string                `json:"type"`
	ID          string                `json:"id"`
	Status      string                `json:"status"`
	CreatedDate string                `json:"createdDate"`
	LastUsed    *string               `json:"lastUsed"`
	MFAEnabled  bool                  `json:"mfaEnabled"`
	Institution institutionRefJSON    `json:"institution"`
	Accounts    listJSON[accountJSON] `json:"accounts"`
	// Method and ExpiryDate are 3.0's: how the connection was made ("web",
	// or "pdf"/"csv" for statements) and when its consent ends.
	Method     string              `json:"method,omitempty"`
	ExpiryDate string              `json:"expiryDate,omitempty"`
	Links      connectionLinksJSON `json:"links"`
}

type institutionRefJSON struct {
	Type  string     `json:"type"`
	ID    string     `json:"id"`
	Links *selfLinks `json:"links,omitempty"`
}

type connectionLinksJSON struct {
	Self         string `json:"self"`
	Accounts     string `json:"accounts"`
	Transactions string `json:"transactions"`
	User         string `json:"user"`
	Institution  string `json:"institution"`
}

// filterLink is base+path with a filter on connection.id.
func filterLink(base, path, connID string) string {
	return base + path + "?" + url.Values{"filter": {"connection.id.eq('" + connID + "')"}}.Encode()
}

// connectionView renders cn; s.mu must be held.
func (s *Server) connectionView(c *call, cn *connection) connectionJSON {
	in := s.instByID[cn.instID]
	accts := []accountJSON{}
	for _, aid := range cn.accounts {
		accts = append(accts, s.accountView(c, s.accounts[aid]))
	}
	var lastUsed *string
	if !cn.lastUsed.IsZero() {
		v := timestamp(cn.lastUsed)
		lastUsed = &v
	}
	userBase := "/users/" + cn.userID
	out := connectionJSON{
		Type: "connection", ID: cn.id, Status: cn.status,
		CreatedDate: timestamp(cn.created), LastUsed: lastUsed,
		MFAEnabled: in.Authorization == authUserMFA || in.Authorization == authIntermittent,
		Institution: institutionRefJSON{Type: "institution", ID: in.ID,
			Links: &selfLinks{Self: c.base + "/institutions/" + in.ID}},
		Accounts: listJSON[accountJSON]{Type: "list", Count: len(accts), Data: accts},
		Links: connectionLinksJSON{
			Self:         c.base + userBase + "/connections/" + cn.id,
			Accounts:     filterLink(c.base, userBase+"/accounts", cn.id),
			Transactions: filterLink(c.base, userBase+"/transactions", cn.id),
			User:         c.base + userBase,
			Institution:  c.base + "/institutions/" + in.ID,
		},
	}
	if c.v3() {
		out.Method = "web"
		if cn.statement {
			out.Method = cn.statementMethod
		}
		expires := cn.created.Add(s.cfg.consentLifetime)
		if cs := s.activeConsent(c.now, cn.userID); cs != nil {
			expires = cs.expires
		}
		out.ExpiryDate = timestamp(expires)
	}
	return out
}

// timestamp formats t as RFC 3339 in UTC, to the second.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// createConnection is POST /users/{u}/connections.
func (s *Server) createConnection(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	var b credentialsBody
	if err := decodeJSON(c.r, &b); err != nil {
		return fail(*err)
	}
	if b.Institution == nil || strings.TrimSpace(b.Institution.ID) == "" {
		return fail(errMissing("/institution/id", "institution.id is required."))
	}
	in, known := s.instByID[b.Institution.ID]
	if !known {
		return fail(errInvalid("/institution/id", "Unknown institution: "+b.Institution.ID+"."))
	}
	if errs := checkCredentials(in, &b); errs != nil {
		return fail(errs...)
	}
	j, reused := s.connect(c, u, in, &b)
	if reused {
		// The duplicate-job rule: the job already running, with 200.
		return answer(http.StatusOK, shortJob(c, j))
	}
	return answer(http.StatusAccepted, shortJob(c, j))
}

// connect creates or reuses the user's connection to in for checked
// credentials b and starts its job; while its job runs, it returns that job
// and true (the duplicate-job rule). s.mu must be held.
func (s *Server) connect(c *call, u *user, in *Institution, b *credentialsBody) (*job, bool) {
	// checkCredentials left only the login or only the token.
	probe := connection{instID: in.ID, loginID: b.LoginID, userToken: b.UserToken}
	var cn *connection
	for _, cid := range u.conns {
		if old := s.conns[cid]; old.instID == in.ID && old.dupKey() == probe.dupKey() {
			cn = old
			break
		}
	}
	if cn != nil && cn.current != nil && !cn.current.finished {
		return cn.current, true
	}
	if cn == nil {
		cn = &connection{id: s.newID(), userID: u.id, instID: in.ID, status: connPending, created: c.now}
		s.conns[cn.id] = cn
		u.conns = append(u.conns, cn.id)
		s.emit(c.now, "connection", "created", u.id, "/users/"+u.id+"/connections/"+cn.id)
	} else if cn.status == connInvalid {
		cn.status = connPending
	}
	cn.loginID, cn.password, cn.userToken = probe.loginID, b.Password, probe.userToken
	cn.securityCode, cn.secondaryLoginID = b.SecurityCode, b.SecondaryLoginID
	return s.startJob(c, cn), false
}

// lookupConnection finds the connection {c} of user {u}.
func (s *Server) lookupConnection(c *call) (*connection, reply, bool) {
	u, r, found := s.lookupUser(c)
	if !found {
		return nil, r, false
	}
	cn, found := s.conns[c.pv("c")]
	if !found || cn.userID != u.id {
		return nil, fail(errNotFound("Connection not found: " + c.pv("c"))), false
	}
	return cn, reply{}, true
}

// getConnection is GET /users/{u}/connections/{c}.
func (s *Server) getConnection(c *call) reply {
	cn, r, found := s.lookupConnection(c)
	if !found {
		return r
	}
	return answer(http.StatusOK, s.connectionView(c, cn))
}

// connectionFields are the fields GET /users/{u}/connections filters on.
var connectionFields = fieldSet[*connection]{
	"connection.id":     func(cn *connection) (string, bool) { return cn.id, true },
	"connection.status": func(cn *connection) (string, bool) { return cn.status, true },
	"institution.id":    func(cn *connection) (string, bool) { return cn.instID, true },
}

// listConnections is GET /users/{u}/connections.
func (s *Server) listConnections(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	match, r, bad := parseFilterParam(c, connectionFields)
	if bad {
		return r
	}
	data := []connectionJSON{}
	for _, cid := range u.conns {
		if cn := s.conns[cid]; match(cn) {
			data = append(data, s.connectionView(c, cn))
		}
	}
	return answer(http.StatusOK, listJSON[connectionJSON]{Type: "list", Count: len(data), Data: data,
		Links: &listLinks{Self: c.base + c.r.URL.RequestURI()}})
}

// updateConnection is POST /users/{u}/connections/{c}: new credentials and
// a new job. Token institutions take userToken instead of password.
func (s *Server) updateConnection(c *call) reply {
	cn, r, found := s.lookupConnection(c)
	if !found {
		return r
	}
	var b credentialsBody
	if err := decodeJSON(c.r, &b); err != nil {
		return fail(*err)
	}
	in := s.instByID[cn.instID]
	if usesToken(in.Authorization) {
		if strings.TrimSpace(b.UserToken) == "" {
			return fail(errMissing("/userToken", "userToken is required to update a connection to "+in.ID+"."))
		}
	} else if strings.TrimSpace(b.Password) == "" {
		return fail(errMissing("/password", "password is required."))
	}
	if cn.current != nil && !cn.current.finished {
		return answer(http.StatusOK, shortJob(c, cn.current))
	}
	if usesToken(in.Authorization) {
		cn.userToken = b.UserToken
	} else {
		cn.password = b.Password
	}
	cn.bankPasswordChanged = false
	if b.SecurityCode != "" {
		cn.securityCode = b.SecurityCode
	}
	if b.SecondaryLoginID != "" {
		cn.secondaryLoginID = b.SecondaryLoginID
	}
	if cn.status == connInvalid {
		cn.status = connPending
	}
	return answer(http.StatusAccepted, shortJob(c, s.startJob(c, cn)))
}

// refreshConnection is POST /users/{u}/connections/{c}/refresh.
func (s *Server) refreshConnection(c *call) reply {
	cn, r, found := s.lookupConnection(c)
	if !found {
		return r
	}
	if cn.current != nil && !cn.current.finished {
		return answer(http.StatusOK, shortJob(c, cn.current))
	}
	if cn.status == connInvalid {
		return fail(apiError{status: http.StatusBadRequest, code: "invalid-connection", title: "Connection is invalid",
			detail: "Connection " + cn.id + " has invalid credentials: update them with POST /users/{userId}/connections/{connectionId} before refreshing."})
	}
	return answer(http.StatusAccepted, shortJob(c, s.startJob(c, cn)))
}

// refreshAll is POST /users/{u}/connections/refresh: a job for every
// connection that is not invalid (the running job where there is one).
func (s *Server) refreshAll(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	jobs := []shortJobJSON{}
	for _, cid := range u.conns {
		cn := s.conns[cid]
		switch {
		case cn.current != nil && !cn.current.finished:
			jobs = append(jobs, shortJob(c, cn.current))
		case cn.status != connInvalid:
			jobs = append(jobs, shortJob(c, s.startJob(c, cn)))
		}
	}
	return answer(http.StatusAccepted, struct {
		Type string         `json:"type"`
		Data []shortJobJSON `json:"data"`
	}{Type: "list", Data: jobs})
}

// deleteConnection is DELETE /users/{u}/connections/{c}.
func (s *Server) deleteConnection(c *call) reply {
	cn, r, found := s.lookupConnection(c)
	if !found {
		return r
	}
	s.removeConnection(c.now, cn)
	return answer(http.StatusNoContent, nil)
}

// removeConnection deletes cn with its jobs, accounts and transactions,
// and records connection.deleted;
// s.mu must be held.
func (s *Server) removeConnection(now time.Time, cn *connection) {
	s.emit(now, "connection", "deleted", cn.userID, "/users/"+cn.userID+"/connections/"+cn.id)
	for _, aid := range cn.accounts {
		delete(s.accounts, aid)
	}
	for id, j := range s.jobs {
		if j.connID == cn.id {
			j.deleted = true
			delete(s.jobs, id)
		}
	}
	if u := s.users[cn.userID]; u != nil {
		u.conns = slices.DeleteFunc(u.conns, func(id string) bool { return id == cn.id })
		u.txns = slices.DeleteFunc(u.txns, func(t *transaction) bool {
			if t.connID == cn.id {
				delete(s.txns, t.id)
				return true
			}
			return false
		})
	}
	delete(s.conns, cn.id)
}

// purgeConnection is POST /users/{u}/connections/{c}/purge: an active
// connection's accounts and transactions are deleted; the connection stays,
// and its next job retrieves them again.
func (s *Server) purgeConnection(c *call) reply {
	cn, r, found := s.lookupConnection(c)
	if !found {
		return r
	}
	if cn.status != connActive {
		return fail(errInvalidParam("connectionId", "Connection "+cn.id+" is "+cn.status+": only active connections can be purged."))
	}
	for _, aid := range cn.accounts {
		delete(s.accounts, aid)
	}
	cn.accounts, cn.txnsLoaded = nil, false
	if u := s.users[cn.userID]; u != nil {
		u.txns = slices.DeleteFunc(u.txns, func(t *transaction) bool {
			if t.connID == cn.id {
				delete(s.txns, t.id)
				return true
			}
			return false
		})
	}
	return answer(http.StatusNoContent, nil)
}

// ChangeBankPassword acts as the customer changing their password at the
// bank: the connection's stored credentials stop working. Its next job (a
// refresh) fails verify-credentials with invalid-credentials, the
// connection becomes invalid and connection.invalidated is recorded (and
// delivered to the webhooks that want it); new credentials through POST
// /users/{u}/connections/{c} (Connections.Update) work again. It reports
// false when there is no such connection.
func (s *Server) ChangeBankPassword(connectionID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cn := s.conns[connectionID]
	if cn == nil {
		return false
	}
	cn.bankPasswordChanged = true
	return true
}
