package basiq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Basiq 3.0's consent flow. In API version 3.0 a connection is not created
// with the customer's credentials: the customer goes to Basiq's hosted
// Consent UI with a short-lived CLIENT_ACCESS token bound to their user id,
// and the Consent UI sends them back to the application's redirect URL (set
// in Basiq's dashboard) with the ids of the jobs it started.

// v3 is the API version of the consent flow.
const v3 = "3.0"

// maxRedirectJobs bounds how many job ids a redirect may carry.
const maxRedirectJobs = 100

// ClientToken is a CLIENT_ACCESS token bound to one user, from
// [Client.ClientToken]: the token the Consent UI opens with. It can open the
// Consent UI and read job status for that user, nothing else.
//
// Formatting a ClientToken with fmt (String, Format, GoString), log/slog
// (LogValue) or encoding/json (MarshalJSON) shows the user and the expiry,
// never Value. (Like [ConnectionParams], fmt prints the fields without
// calling Format under %p of a value, under %w, and for a value held in an
// unexported struct field; encoding/gob, YAML and XML encoders write Value in
// the clear: do not print or serialise a ClientToken those ways.)
type ClientToken struct {
	// Value is the bearer token to hand to the Consent UI.
	Value string
	// UserID is the user the token is bound to.
	UserID string
	// ExpiresAt is when the token stops working, as the answer's expires_in
	// says (5 minutes when it says nothing usable).
	ExpiresAt time.Time
}

// String describes the token without its value.
func (t ClientToken) String() string {
	return fmt.Sprintf("basiq.ClientToken{Value: %q, UserID: %q, ExpiresAt: %s}",
		mask(t.Value), clean(t.UserID, 100), t.ExpiresAt.Format(time.RFC3339))
}

// GoString is [ClientToken.String], for %#v.
func (t ClientToken) GoString() string { return t.String() }

// Format implements [fmt.Formatter]: every verb prints [ClientToken.String].
func (t ClientToken) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

// LogValue implements [slog.LogValuer] with the value masked.
func (t ClientToken) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("value", mask(t.Value)),
		slog.String("userId", t.UserID),
		slog.Time("expiresAt", t.ExpiresAt),
	)
}

// MarshalJSON encodes the token with its value masked: a ClientToken is not
// meant for storage.
func (t ClientToken) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Value     string    `json:"value"`
		UserID    string    `json:"userId"`
		ExpiresAt time.Time `json:"expiresAt"`
	}{mask(t.Value), t.UserID, t.ExpiresAt})
}

// ClientToken asks for a CLIENT_ACCESS token bound to a user: POST /token
// with scope=CLIENT_ACCESS and userId, under the client's API version. Each
// call fetches a new token; it is never kept by the client nor used for the
// client's own calls (a client token must not serve server calls). The
// request is repeated on a network error or a 429/5xx answer, as every token
// request is. The value never appears in an error or log record.
func (c *Client) ClientToken(ctx context.Context, userID string) (*ClientToken, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	tok, life, err := c.requestToken(ctx, url.Values{"scope": {scopeClient}, "userId": {userID}}, c.version, true)
	if err != nil {
		return nil, err
	}
	return &ClientToken{Value: tok, UserID: userID, ExpiresAt: time.Now().Add(life)}, nil
}

// ConsentAction is what the Consent UI asks the customer to do.
type ConsentAction string

// The Consent UI's actions.
const (
	// ConsentCreate sends no action parameter: create or renew a consent.
	ConsentCreate ConsentAction = ""
	// ConsentConnect connects one more institution under the consent.
	ConsentConnect ConsentAction = "connect"
	// ConsentManage lets the customer review and change the consent.
	ConsentManage ConsentAction = "manage"
	// ConsentExtend extends the consent before it expires.
	ConsentExtend ConsentAction = "extend"
	// ConsentUpdate updates a connection (ConnectionID).
	ConsentUpdate ConsentAction = "update"
	// ConsentReauthorise renews a connection's authorisation at the bank.
	ConsentReauthorise ConsentAction = "reauthorise"
)

// known reports whether a is one of the Consent UI's actions.
func (a ConsentAction) known() bool {
	switch a {
	case ConsentCreate, ConsentConnect, ConsentManage, ConsentExtend, ConsentUpdate, ConsentReauthorise:
		return true
	}
	return false
}

// ConsentLinkParams are the parameters of a link to the Consent UI, for
// [Client.ConsentURL]. Empty fields are not sent.
type ConsentLinkParams struct {
	// Action is what the Consent UI asks the customer to do.
	Action ConsentAction
	// State comes back unchanged on the redirect ([ConsentRedirect.State]):
	// use it to tie the redirect to the session that sent the customer.
	State string
	// InstitutionID preselects an institution.
	InstitutionID string
	// ConnectionID names the connection to update or reauthorise.
	ConnectionID string
}

// ConsentURL returns a link to the Consent UI for a user: the Consent UI's
// address ([DefaultConsentURL] or [WithConsentBaseURL]) with a fresh client
// token ([Client.ClientToken]) and the parameters, each escaped:
// token, action, state, institutionId, connectionId. Send the customer's
// browser there; the Consent UI redirects it back with the ids of the jobs it
// started (read them with [ParseConsentRedirect]).
//
// An unknown action, an institution or connection id that no request could
// carry (blank, control characters, a dot segment), or a state holding
// control characters is refused with an error matching [ErrValidation]
// before any request. The link carries a
// bearer token for the user until it expires: do not log it. The Consent UI
// expects a token of API version 3.0 ([WithVersion]("3.0")); on an earlier
// version the token is asked for as it is and Basiq decides.
func (c *Client) ConsentURL(ctx context.Context, userID string, p ConsentLinkParams) (string, error) {
	errs := []error{checkID("userId", userID)}
	if !p.Action.known() {
		errs = append(errs, &ValidationError{Field: "action", Reason: "is not one of the Consent UI's actions: use one of the ConsentAction constants, such as ConsentConnect"})
	}
	if p.InstitutionID != "" {
		errs = append(errs, checkID("institutionId", p.InstitutionID))
	}
	if p.ConnectionID != "" {
		errs = append(errs, checkID("connectionId", p.ConnectionID))
	}
	if strings.ContainsFunc(p.State, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		errs = append(errs, &ValidationError{Field: "state", Reason: "contains control characters: pass plain text, which the Consent UI sends back unchanged"})
	}
	if err := joinValidation(errs); err != nil {
		return "", err
	}
	tok, err := c.ClientToken(ctx, userID)
	if err != nil {
		return "", err
	}
	q := url.Values{"token": {tok.Value}}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("action", string(p.Action))
	set("state", p.State)
	set("institutionId", p.InstitutionID)
	set("connectionId", p.ConnectionID)
	u := *c.consentURL
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ConsentRedirect is what the Consent UI's redirect back to the application
// carries.
type ConsentRedirect struct {
	// JobIDs are the ids of the jobs the Consent UI started, in the order
	// given; wait for them with [Client.WaitForJobs].
	JobIDs []string
	// State is the [ConsentLinkParams.State] the link was made with:
	// check it against the session before trusting the redirect.
	State string
}

// ParseConsentRedirect reads the redirect back from the Consent UI: the
// request URL the customer's browser arrives with, such as
// r.URL in an http.Handler. It reads jobIds (comma-separated; several
// jobIds parameters are read in turn) and state. Each job id is checked like
// every id (not blank, no control characters, not a dot segment), and at most
// 100 are read.
//
// A redirect without job ids (the customer left the Consent UI, or it
// failed) is refused with a *ValidationError matching [ErrValidation]; when
// the Consent UI added an error parameter (error, error_description), the
// error names it, cleaned and bounded.
func ParseConsentRedirect(u *url.URL) (*ConsentRedirect, error) {
	if u == nil {
		return nil, &ValidationError{Field: "redirect", Reason: "is required: pass the URL the Consent UI redirected the customer to (r.URL in your handler)"}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, &ValidationError{Field: "redirect", Reason: "has a query that cannot be read: pass the URL as the Consent UI sent it"}
	}
	r := &ConsentRedirect{State: q.Get("state")}
	var errs []error
	tooMany := &ValidationError{Field: "jobIds", Reason: fmt.Sprintf("holds more than %d job ids, more than the Consent UI sends: pass the URL the Consent UI redirected to", maxRedirectJobs)}
	for _, v := range q["jobIds"] {
		if v == "" {
			continue
		}
		for id := range strings.SplitSeq(v, ",") {
			// Stop at the cap: a hostile redirect costs no more than it.
			if len(r.JobIDs)+len(errs) >= maxRedirectJobs {
				return nil, tooMany
			}
			id = strings.TrimSpace(id)
			if err := checkID("jobIds", id); err != nil {
				errs = append(errs, err)
				continue
			}
			r.JobIDs = append(r.JobIDs, id)
		}
	}
	if err := joinValidation(errs); err != nil {
		return nil, err
	}
	if len(r.JobIDs) == 0 {
		reason := "is missing from the redirect, which carries no job ids: the customer left the Consent UI or it failed, so there is no job to wait for"
		if e := strings.TrimSpace(q.Get("error")); e != "" {
			reason = "is missing from the redirect, which carries no job ids: the Consent UI reported error " + fmt.Sprintf("%q", clean(e, 100))
			if d := strings.TrimSpace(q.Get("error_description")); d != "" {
				reason += fmt.Sprintf(" (%q)", clean(d, 200))
			}
		}
		return nil, &ValidationError{Field: "jobIds", Reason: reason}
	}
	return r, nil
}

// parseConsentURL checks the Consent UI's address like a base URL.
func parseConsentURL(raw string) (*url.URL, error) {
	return checkServiceURL("consentBaseURL", raw)
}

// unsupportedOn3 refuses, on a client of API version 3.0 or later, a call
// that version does not have, pointing to the one that replaces it. It
// matches [errors.ErrUnsupported].
func (c *Client) unsupportedOn3(call, instead string) error {
	if !versionAtLeast(c.version, v3) {
		return nil
	}
	return fmt.Errorf("basiq: %s does not exist in API version %s; use %s: %w", call, clean(c.version, 20), instead, errors.ErrUnsupported)
}
