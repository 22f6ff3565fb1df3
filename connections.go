package basiq

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// ConnectionsService creates and manages a user's connections to institutions.
type ConnectionsService service

// InstitutionRef names an institution by id.
type InstitutionRef struct {
	// ID is the institution's id, such as "AU00000".
	ID string `json:"id"`
}

// ConnectionParams are the credentials for [ConnectionsService.Create]. Which
// fields are needed depends on the institution's [AuthorizationType]:
//
//   - user, user-mfa, user-mfa-intermittent: LoginID and Password; no UserToken;
//   - token (also spelled user-token): UserToken; no LoginID or Password;
//   - SecurityCode and SecondaryLoginID: required where the institution has a
//     SecurityCodeCaption or SecondaryLoginIDCaption;
//   - other: cannot be connected this way.
//
// Formatting a ConnectionParams with fmt (any verb), log/slog or encoding/json
// shows which secrets are set, never their values. (fmt prints the fields
// without calling Format under %p of a value, under %w, and for a value held
// in an unexported struct field; encoding/gob, YAML and XML encoders write
// them in the clear: do not print or serialise params those ways.)
type ConnectionParams struct {
	LoginID          string
	Password         string
	UserToken        string
	SecurityCode     string
	SecondaryLoginID string
	Institution      InstitutionRef
}

// connectionBody is the wire form of ConnectionParams.
type connectionBody struct {
	LoginID          string         `json:"loginId,omitempty"`
	Password         string         `json:"password,omitempty"`
	SecurityCode     string         `json:"securityCode,omitempty"`
	SecondaryLoginID string         `json:"secondaryLoginId,omitempty"`
	UserToken        string         `json:"userToken,omitempty"`
	Institution      InstitutionRef `json:"institution"`
}

const redacted = "[REDACTED]"

func mask(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String shows the params with every secret masked. LoginID is shown: it
// names the customer but does not let anyone in.
func (p ConnectionParams) String() string {
	return fmt.Sprintf("basiq.ConnectionParams{LoginID: %q, Password: %q, UserToken: %q, SecurityCode: %q, SecondaryLoginID: %q, Institution: %q}",
		p.LoginID, mask(p.Password), mask(p.UserToken), mask(p.SecurityCode), p.SecondaryLoginID, p.Institution.ID)
}

// MarshalJSON encodes the params with every secret masked, so that a
// ConnectionParams nested in a logged or serialised value cannot leak them.
// ConnectionParams is not meant for storage; the client builds the request
// body from the fields directly.
func (p ConnectionParams) MarshalJSON() ([]byte, error) {
	return json.Marshal(p.wire(mask))
}

// wire returns the request body, with secrets passed through hide.
func (p ConnectionParams) wire(hide func(string) string) connectionBody {
	return connectionBody{
		LoginID:          p.LoginID,
		Password:         hide(p.Password),
		SecurityCode:     hide(p.SecurityCode),
		SecondaryLoginID: p.SecondaryLoginID,
		UserToken:        hide(p.UserToken),
		Institution:      p.Institution,
	}
}

// reveal is the hide function that keeps secrets, for request bodies.
func reveal(s string) string { return s }

// Format implements [fmt.Formatter]: every verb prints [ConnectionParams.String].
func (p ConnectionParams) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// LogValue implements [slog.LogValuer] with every secret masked.
func (p ConnectionParams) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("loginId", p.LoginID),
		slog.String("password", mask(p.Password)),
		slog.String("userToken", mask(p.UserToken)),
		slog.String("securityCode", mask(p.SecurityCode)),
		slog.String("secondaryLoginId", p.SecondaryLoginID),
		slog.String("institution", p.Institution.ID),
	)
}

// Validate checks p against an institution's authorization rules without any
// I/O, and returns every problem found, each a *ValidationError, joined. An
// authorization type this library does not know is left for the API to judge,
// beyond requiring some credential.
func (p ConnectionParams) Validate(inst *Institution) error {
	var errs []error
	if err := checkID("institution.id", p.Institution.ID); err != nil {
		errs = append(errs, err)
	}
	if inst == nil {
		return joinValidation(append(errs, &ValidationError{Field: "institution", Reason: "is unknown: pass Validate the institution Institutions.Get returns for p.Institution.ID"}))
	}
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	need := func(field, value, why string) {
		if blank(value) {
			errs = append(errs, &ValidationError{Field: field, Reason: "is required " + why})
		}
	}
	refuse := func(field, value, why, instead string) {
		if !blank(value) {
			errs = append(errs, &ValidationError{Field: field, Reason: "must be empty " + why + ", which takes " + instead + " instead"})
		}
	}
	auth := inst.Authorization
	instID := clean(inst.ID, 100)
	kind := fmt.Sprintf("for institution %s, whose authorization is %q", instID, clean(string(auth), 50))
	switch {
	case auth == AuthOther:
		errs = append(errs, &ValidationError{Field: "institution.id", Reason: fmt.Sprintf("names institution %s, whose authorization is %q: it cannot be connected with credentials; connect it through an auth link (AuthLinks.Create) or, on API version 3.0, the Consent UI (Client.ConsentURL)", instID, clean(string(auth), 50))})
	case auth.UsesLogin():
		need("loginId", p.LoginID, kind)
		need("password", p.Password, kind)
		refuse("userToken", p.UserToken, kind, "a loginId and password")
	case auth.UsesToken():
		need("userToken", p.UserToken, kind)
		refuse("loginId", p.LoginID, kind, "a userToken")
		refuse("password", p.Password, kind, "a userToken")
	default:
		if blank(p.LoginID) && blank(p.UserToken) {
			errs = append(errs, &ValidationError{Field: "loginId", Reason: "is required " + kind + " when userToken is empty: give a loginId and password, or a userToken"})
		}
	}
	if auth != AuthOther {
		if inst.SecurityCodeCaption != "" {
			need("securityCode", p.SecurityCode, fmt.Sprintf("for institution %s, which asks for %q", instID, clean(inst.SecurityCodeCaption, 100)))
		}
		if inst.SecondaryLoginIDCaption != "" {
			need("secondaryLoginId", p.SecondaryLoginID, fmt.Sprintf("for institution %s, which asks for %q", instID, clean(inst.SecondaryLoginIDCaption, 100)))
		}
	}
	return joinValidation(errs)
}

// Create connects a user to an institution: POST /users/{userId}/connections.
// It returns the job that verifies the credentials and retrieves the data;
// pass it to [Client.WaitForJob].
//
// Before anything is posted, Create reads the institution (through
// [InstitutionsService.Get], cached per client for up to 15 minutes) and checks p against its
// authorization type with [ConnectionParams.Validate]; a refused call returns
// an error matching [ErrValidation] and posts nothing. An institution id the
// API does not know fails that read, with an error matching [ErrNotFound]
// that names the institution.
//
// The API answers 202 with a new job, or 200 with the job already queued or
// running for the same connection; the latter sets [Job.Reused]. Because of
// that rule a repeat cannot create a second connection, but each copy of the
// password Basiq processes after the first job ended is another login at the
// bank, and banks lock accounts after a few. So the password reaches Basiq at
// most twice per call: Create is repeated freely (within [WithMaxRetries])
// only when the first copy cannot have been processed (the connection was
// refused before the request was written, 429, 503), and at most once, after
// the minimum wait, when the outcome is unknown (500, 502, 504, or a network
// error after the request may have been written).
//
// API version 3.0 has no connection creation: on a 3.0 client Create is
// refused before any request with an error matching [errors.ErrUnsupported];
// use [Client.ConsentURL].
func (s *ConnectionsService) Create(ctx context.Context, userID string, p ConnectionParams) (*Job, error) {
	if err := s.client.unsupportedOn3("POST /users/{userId}/connections (Connections.Create)", "Client.ConsentURL to send the customer to the Consent UI"); err != nil {
		return nil, err
	}
	var errs []error
	if err := checkID("userId", userID); err != nil {
		errs = append(errs, err)
	}
	if err := checkID("institution.id", p.Institution.ID); err != nil {
		errs = append(errs, err)
	}
	if err := joinValidation(errs); err != nil {
		return nil, err
	}
	inst, err := s.client.Institutions.cached(ctx, p.Institution.ID)
	if err != nil {
		return nil, errorf("reading institution %s to validate the connection: %w", p.Institution.ID, err)
	}
	if err := p.Validate(&inst); err != nil {
		return nil, err
	}
	job, err := s.client.postJob(ctx, pathf("users/%s/connections", userID), p.wire(reveal), p.Password, p.UserToken, p.SecurityCode)
	if err != nil {
		return nil, err
	}
	// The waiter plans its polls from what is known of the institution.
	if job.Institution == nil {
		job.Institution = &InstitutionRef{ID: p.Institution.ID}
	}
	return job, nil
}

// ConnectionStatus is the state of a connection.
type ConnectionStatus string

// The connection statuses the API uses.
const (
	// ConnectionPending: the first job has not finished.
	ConnectionPending ConnectionStatus = "pending"
	// ConnectionActive: the connection can be refreshed.
	ConnectionActive ConnectionStatus = "active"
	// ConnectionInvalid: the credentials stopped working; the connection
	// cannot refresh until [ConnectionsService.Update] gives a new password
	// (on 3.0, until the customer reauthorises it in the Consent UI).
	ConnectionInvalid ConnectionStatus = "invalid"
	// ConnectionInit: API version 3.0; the connection is being set up in
	// the Consent UI.
	ConnectionInit ConnectionStatus = "init"
	// ConnectionPreInit: API version 3.0; the customer left the Consent UI
	// before the connection was made.
	ConnectionPreInit ConnectionStatus = "pre-init"
)

// Known reports whether s is one of the statuses this library understands.
// A status it does not know is kept as the API sent it.
func (s ConnectionStatus) Known() bool {
	switch s {
	case ConnectionPending, ConnectionActive, ConnectionInvalid, ConnectionInit, ConnectionPreInit:
		return true
	}
	return false
}

// Connection is a user's link to one institution, as
// GET /users/{userId}/connections/{id} answers.
type Connection struct {
	ID     string           `json:"id"`
	Status ConnectionStatus `json:"status"`
	// CreatedDate and LastUsed are zero when the API does not give them.
	CreatedDate time.Time      `json:"createdDate"`
	LastUsed    time.Time      `json:"lastUsed"`
	MFAEnabled  bool           `json:"mfaEnabled"`
	Institution InstitutionRef `json:"institution"`
	// Accounts are the connection's accounts, when the API includes them.
	Accounts AccountList `json:"accounts"`
	// Profile is the account holder's profile, kept as the API sent it.
	Profile json.RawMessage `json:"profile,omitempty"`
	Links   ConnectionLinks `json:"links"`
}

// ConnectionLinks are the links of a connection.
type ConnectionLinks struct {
	Self         string `json:"self,omitempty"`
	Accounts     string `json:"accounts,omitempty"`
	Transactions string `json:"transactions,omitempty"`
}

// UnmarshalJSON reads the timestamps leniently, like [Job.UnmarshalJSON].
func (c *Connection) UnmarshalJSON(b []byte) error {
	type plain Connection
	var raw struct {
		plain
		CreatedDate lenientTime `json:"createdDate"`
		LastUsed    lenientTime `json:"lastUsed"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*c = Connection(raw.plain)
	c.CreatedDate, c.LastUsed = raw.CreatedDate.Time, raw.LastUsed.Time
	return nil
}

// checkConnectionIDs checks the ids of a connection's path. An empty
// connection id most often comes from a job straight from Create, whose
// ConnectionID is empty until the job has run: the error says so.
func checkConnectionIDs(userID, connectionID string) error {
	if strings.TrimSpace(connectionID) != "" {
		return checkIDs("userId", userID, "connectionId", connectionID)
	}
	return joinValidation([]error{checkID("userId", userID), &ValidationError{
		Field:  "connectionId",
		Reason: "required; a job from Connections.Create names its connection only once it has run: wait for it with Client.WaitForJob, then use that job's ConnectionID()",
	}})
}

// Get returns one connection: GET /users/{userId}/connections/{id}.
func (s *ConnectionsService) Get(ctx context.Context, userID, connectionID string) (*Connection, error) {
	if err := checkConnectionIDs(userID, connectionID); err != nil {
		return nil, err
	}
	conn := new(Connection)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("users/%s/connections/%s", userID, connectionID), nil, conn); err != nil {
		return nil, err
	}
	return conn, nil
}

// List returns a user's connections: GET /users/{userId}/connections.
func (s *ConnectionsService) List(ctx context.Context, userID string) ([]Connection, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	return listAll[Connection](ctx, s.client, pathf("users/%s/connections", userID), nil)
}

// ConnectionUpdateParams are new credentials for an existing connection, for
// [ConnectionsService.Update]. Password is required. Like [ConnectionParams],
// it never shows its secrets when formatted, logged or JSON-encoded, with the
// same limits.
type ConnectionUpdateParams struct {
	Password         string
	SecurityCode     string
	SecondaryLoginID string
}

// String shows the params with every secret masked.
func (p ConnectionUpdateParams) String() string {
	return fmt.Sprintf("basiq.ConnectionUpdateParams{Password: %q, SecurityCode: %q, SecondaryLoginID: %q}",
		mask(p.Password), mask(p.SecurityCode), p.SecondaryLoginID)
}

// Format implements [fmt.Formatter]: every verb prints [ConnectionUpdateParams.String].
func (p ConnectionUpdateParams) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// LogValue implements [slog.LogValuer] with every secret masked.
func (p ConnectionUpdateParams) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("password", mask(p.Password)),
		slog.String("securityCode", mask(p.SecurityCode)),
		slog.String("secondaryLoginId", p.SecondaryLoginID),
	)
}

// MarshalJSON encodes the params with every secret masked.
func (p ConnectionUpdateParams) MarshalJSON() ([]byte, error) {
	return json.Marshal(p.wire(mask))
}

// connectionUpdateBody is the wire form of ConnectionUpdateParams.
type connectionUpdateBody struct {
	Password         string `json:"password,omitempty"`
	SecurityCode     string `json:"securityCode,omitempty"`
	SecondaryLoginID string `json:"secondaryLoginId,omitempty"`
}

// wire returns the body, with secrets passed through hide.
func (p ConnectionUpdateParams) wire(hide func(string) string) connectionUpdateBody {
	return connectionUpdateBody{Password: hide(p.Password), SecurityCode: hide(p.SecurityCode), SecondaryLoginID: p.SecondaryLoginID}
}

// Update gives a connection new credentials and starts a job that verifies
// them: POST /users/{userId}/connections/{id}. An empty password is refused
// before anything is sent. Like [ConnectionsService.Create] it returns the
// running job with Reused set when one was already under way, and it is
// repeated under the same rules, so the password reaches Basiq at most twice.
// On a 3.0 client it is refused like [ConnectionsService.Create]; use
// [Client.ConsentURL] with [ConsentUpdate] or [ConsentReauthorise].
func (s *ConnectionsService) Update(ctx context.Context, userID, connectionID string, p ConnectionUpdateParams) (*Job, error) {
	if err := s.client.unsupportedOn3("POST /users/{userId}/connections/{id} (Connections.Update)", "Client.ConsentURL with ConsentUpdate or ConsentReauthorise"); err != nil {
		return nil, err
	}
	errs := []error{checkConnectionIDs(userID, connectionID)}
	if strings.TrimSpace(p.Password) == "" {
		errs = append(errs, &ValidationError{Field: "password", Reason: "is required: give the customer's new bank password"})
	}
	if err := joinValidation(errs); err != nil {
		return nil, err
	}
	return s.client.postJob(ctx, pathf("users/%s/connections/%s", userID, connectionID), p.wire(reveal), p.Password, p.SecurityCode)
}

// Refresh starts a job that fetches a connection's latest data:
// POST /users/{userId}/connections/{id}/refresh. A connection whose status is
// invalid cannot refresh until [ConnectionsService.Update] fixes its password.
func (s *ConnectionsService) Refresh(ctx context.Context, userID, connectionID string) (*Job, error) {
	if err := checkConnectionIDs(userID, connectionID); err != nil {
		return nil, err
	}
	return s.client.postJob(ctx, pathf("users/%s/connections/%s/refresh", userID, connectionID), nil)
}

// RefreshAll starts a refresh job for each of a user's connections:
// POST /users/{userId}/connections/refresh. When the API answers 200 (jobs
// already under way) every job has Reused set.
func (s *ConnectionsService) RefreshAll(ctx context.Context, userID string) ([]Job, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	var list page[Job]
	resp, err := s.client.call(ctx, http.MethodPost, pathf("users/%s/connections/refresh", userID), nil, &list, withRetry())
	if err != nil {
		return nil, err
	}
	if list.Data == nil {
		return nil, fmt.Errorf("%w: POST /users/%s/connections/refresh: the answer has no list of jobs", ErrInvalidResponse, userID)
	}
	for i := range list.Data {
		if checkID("id", list.Data[i].ID) != nil {
			return nil, fmt.Errorf("%w: POST /users/%s/connections/refresh: a job in the answer has no id", ErrInvalidResponse, userID)
		}
		list.Data[i].Reused = resp.StatusCode == http.StatusOK
	}
	return list.Data, nil
}

// Delete deletes a connection and its data:
// DELETE /users/{userId}/connections/{id}.
func (s *ConnectionsService) Delete(ctx context.Context, userID, connectionID string) error {
	if err := checkConnectionIDs(userID, connectionID); err != nil {
		return err
	}
	_, err := s.client.call(ctx, http.MethodDelete, pathf("users/%s/connections/%s", userID, connectionID), nil, nil)
	return err
}

func (x *Connection) resourceID() string { return x.ID }

// Purge removes all the data a connection brought (accounts, transactions)
// while keeping the connection: POST /users/{userId}/connections/{id}/purge
// (API version 3.0; active connections only). Purging again changes
// nothing, so the request is repeated like a read after a network error or
// a 429/5xx answer.
func (s *ConnectionsService) Purge(ctx context.Context, userID, connectionID string) error {
	if err := checkConnectionIDs(userID, connectionID); err != nil {
		return err
	}
	_, err := s.client.call(ctx, http.MethodPost, pathf("users/%s/connections/%s/purge", userID, connectionID), nil, nil, withRetry())
	return err
}
