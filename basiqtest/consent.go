package basiqtest

import (
	"html/template"
	"net/http"
	"net/url"
	"time"
)

// The stand-in Consent UI: GET /consent/home shows a form for the user a
// CLIENT_ACCESS 3.0 token is bound to; POST /consent/home connects the bank
// with the sandbox logins' outcomes, gives the user a consent, and redirects
// (303) to the redirect URL with jobIds and state. GET /consent/done is the
// default redirect target.

// consentPage is the Consent UI's one template: the form, a message, or the
// done page. html/template escapes every value.
var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>basiqtest Consent UI</title></head>
<body>
<h1>basiqtest Consent UI</h1>
{{- range .Errors}}
<p role="alert">{{.}}</p>
{{- end}}
{{- if .Form}}
<p>Connect a sandbox bank to share its accounts and transactions (a stand-in for Basiq's Consent UI).</p>
<form method="post" action="/consent/home">
<input type="hidden" name="token" value="{{.Token}}">
<input type="hidden" name="action" value="{{.Action}}">
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="connectionId" value="{{.ConnectionID}}">
<p><label>Institution <select name="institutionId">
{{- range .Institutions}}
<option value="{{.ID}}"{{if .Selected}} selected{{end}}>{{.Name}}</option>
{{- end}}
</select></label></p>
<p><label>Login <input name="loginId" value="{{.LoginID}}" autocomplete="username"></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password"></label></p>
<p><label>Security code (if the bank asks) <input name="securityCode" type="password"></label></p>
<p><label>Secondary login (if the bank asks) <input name="secondaryLoginId"></label></p>
<p><label>User token (token banks) <input name="userToken" type="password"></label></p>
<p><button type="submit">Connect</button></p>
</form>
{{- end}}
{{- if .Done}}
<p>Done. jobIds: {{.JobIDs}}; state: {{.State}}</p>
{{- end}}
</body></html>
`))

type consentPageData struct {
	Errors                             []string
	Form, Done                         bool
	Token, Action, State, ConnectionID string
	LoginID, JobIDs                    string
	Institutions                       []consentInstitution
}

type consentInstitution struct {
	ID, Name string
	Selected bool
}

// writePage answers the Consent UI's page with status.
func writePage(w http.ResponseWriter, status int, d consentPageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds a token
	w.WriteHeader(status)
	_ = consentPage.Execute(w, d)
}

// consentToken checks the token a Consent UI request carries: a
// CLIENT_ACCESS token bound to a user that exists, not expired. It returns
// the token, or the status and message to answer. s.mu must be held.
func (s *Server) consentToken(value string, now time.Time) (*token, int, string) {
	t := s.tokens[value]
	switch {
	case value == "" || t == nil:
		return nil, http.StatusUnauthorized, "This link carries no valid token."
	case t.expired || !now.Before(t.expires):
		return nil, http.StatusForbidden, "This link has expired: ask the application for a new one."
	case t.scope != ScopeClientAccess || t.userID == "":
		return nil, http.StatusForbidden, "This link's token is not a CLIENT_ACCESS token bound to a user (basiq-version 3.0)."
	case s.users[t.userID] == nil:
		return nil, http.StatusForbidden, "The user of this link no longer exists."
	}
	return t, 0, ""
}

// formData is the form page for the token's user; s.mu must be held.
func (s *Server) formData(q url.Values) consentPageData {
	d := consentPageData{Form: true, Token: q.Get("token"), Action: q.Get("action"), State: q.Get("state"),
		ConnectionID: q.Get("connectionId"), LoginID: q.Get("loginId")}
	for _, in := range s.insts {
		d.Institutions = append(d.Institutions, consentInstitution{ID: in.ID, Name: in.Name, Selected: in.ID == q.Get("institutionId")})
	}
	return d
}

// consentForm is GET /consent/home.
func (s *Server) consentForm(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	if _, status, msg := s.consentToken(q.Get("token"), time.Now()); status != 0 {
		writePage(w, status, consentPageData{Errors: []string{msg}})
		return
	}
	writePage(w, http.StatusOK, s.formData(q))
}

// consentSubmit is POST /consent/home.
func (s *Server) consentSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, consentPageData{Errors: []string{"The form could not be read."}})
		return
	}
	f := r.PostForm
	s.mu.Lock()
	now := time.Now()
	s.settle(now)
	t, status, msg := s.consentToken(f.Get("token"), now)
	if status != 0 {
		s.mu.Unlock()
		writePage(w, status, consentPageData{Errors: []string{msg}})
		return
	}
	c := &call{r: r, now: now, base: s.linkBase(r), tok: t}
	j, problems := s.consentConnect(c, s.users[t.userID], f)
	if problems != nil {
		d := s.formData(f)
		d.Errors = problems
		s.mu.Unlock()
		writePage(w, http.StatusBadRequest, d)
		return
	}
	if s.activeConsent(now, t.userID) == nil {
		s.newConsent(now, t.userID)
	}
	target := s.cfg.consentRedirect
	if target == "" {
		target = c.base + "/consent/done"
	}
	s.mu.Unlock()

	u, _ := url.Parse(target) // checked by WithConsentRedirectURL
	q := u.Query()
	q.Set("jobIds", j.id)
	if st := f.Get("state"); st != "" {
		q.Set("state", st)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// consentConnect connects the institution of the form for u, or updates
// the form's connectionId, and returns the job; or the problems to show.
// s.mu must be held.
func (s *Server) consentConnect(c *call, u *user, f url.Values) (*job, []string) {
	b := credentialsBody{LoginID: f.Get("loginId"), Password: f.Get("password"), SecurityCode: f.Get("securityCode"),
		SecondaryLoginID: f.Get("secondaryLoginId"), UserToken: f.Get("userToken")}
	instID := f.Get("institutionId")
	var cn *connection
	if cid := f.Get("connectionId"); cid != "" {
		cn = s.conns[cid]
		if cn == nil || cn.userID != u.id {
			return nil, []string{"Unknown connection: " + cid}
		}
		instID = cn.instID
	}
	in := s.instByID[instID]
	if in == nil {
		return nil, []string{"Choose an institution."}
	}
	if errs := checkCredentials(in, &b); errs != nil {
		out := make([]string, len(errs))
		for i, e := range errs {
			out[i] = e.detail
		}
		return nil, out
	}
	if cn == nil {
		j, _ := s.connect(c, u, in, &b)
		return j, nil
	}
	if cn.current != nil && !cn.current.finished {
		return cn.current, nil
	}
	cn.loginID, cn.password, cn.userToken = b.LoginID, b.Password, b.UserToken
	cn.securityCode, cn.secondaryLoginID = b.SecurityCode, b.SecondaryLoginID
	cn.bankPasswordChanged = false
	if cn.status == connInvalid {
		cn.status = connPending
	}
	return s.startJob(c, cn), nil
}

// consentDone is GET /consent/done, where the Consent UI redirects when no
// [WithConsentRedirectURL] was given: it shows the job ids and state.
func (s *Server) consentDone(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	writePage(w, http.StatusOK, consentPageData{Done: true, JobIDs: q.Get("jobIds"), State: q.Get("state")})
}
