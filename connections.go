package basiq

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
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
// shows which secrets are set, never their values. (fmt cannot reach the
// methods of a value held in an unexported struct field: do not print such a
// struct.)
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
	return json.Marshal(connectionBody{
		LoginID:          p.LoginID,
		Password:         mask(p.Password),
		SecurityCode:     mask(p.SecurityCode),
		SecondaryLoginID: p.SecondaryLoginID,
		UserToken:        mask(p.UserToken),
		Institution:      p.Institution,
	})
}

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
		return joinValidation(append(errs, &ValidationError{Field: "institution", Reason: "unknown institution"}))
	}
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	need := func(field, value, why string) {
		if blank(value) {
			errs = append(errs, &ValidationError{Field: field, Reason: "required: " + why})
		}
	}
	refuse := func(field, value, why string) {
		if !blank(value) {
			errs = append(errs, &ValidationError{Field: field, Reason: "not used: " + why})
		}
	}
	auth := inst.Authorization
	kind := fmt.Sprintf("institution %s has %q authorization", inst.ID, auth)
	switch {
	case auth == AuthOther:
		errs = append(errs, &ValidationError{Field: "institution.id", Reason: kind + " and cannot be connected with credentials"})
	case auth.UsesLogin():
		need("loginId", p.LoginID, kind)
		need("password", p.Password, kind)
		refuse("userToken", p.UserToken, kind)
	case auth.UsesToken():
		need("userToken", p.UserToken, kind)
		refuse("loginId", p.LoginID, kind)
		refuse("password", p.Password, kind)
	default:
		if blank(p.LoginID) && blank(p.UserToken) {
			errs = append(errs, &ValidationError{Field: "loginId", Reason: "required: a login id or a user token must be given"})
		}
	}
	if auth != AuthOther {
		if inst.SecurityCodeCaption != "" {
			need("securityCode", p.SecurityCode, fmt.Sprintf("institution %s asks for %q", inst.ID, inst.SecurityCodeCaption))
		}
		if inst.SecondaryLoginIDCaption != "" {
			need("secondaryLoginId", p.SecondaryLoginID, fmt.Sprintf("institution %s asks for %q", inst.ID, inst.SecondaryLoginIDCaption))
		}
	}
	return joinValidation(errs)
}

// Create connects a user to an institution: POST /users/{userId}/connections.
// It returns the job that verifies the credentials and retrieves the data;
// pass it to [Client.WaitForJob].
//
// Before anything is posted, Create reads the institution (through
// [InstitutionsService.Get], cached per client) and checks p against its
// authorization type with [ConnectionParams.Validate]; a refused call returns
// an error matching [ErrValidation] and posts nothing.
//
// The API answers 202 with a new job, or 200 with the job already queued or
// running for the same connection; the latter sets [Job.Reused]. Because of
// that rule a repeat cannot create a second connection, so Create is retried
// like a read on network errors and 429/5xx answers.
func (s *ConnectionsService) Create(ctx context.Context, userID string, p ConnectionParams) (*Job, error) {
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
		return nil, fmt.Errorf("basiq: reading institution %s to validate the connection: %w", p.Institution.ID, err)
	}
	if err := p.Validate(&inst); err != nil {
		return nil, err
	}
	body := connectionBody{
		LoginID:          p.LoginID,
		Password:         p.Password,
		SecurityCode:     p.SecurityCode,
		SecondaryLoginID: p.SecondaryLoginID,
		UserToken:        p.UserToken,
		Institution:      p.Institution,
	}
	req, err := s.client.newRequest(ctx, http.MethodPost, pathf("users/%s/connections", userID), body)
	if err != nil {
		return nil, err
	}
	job := new(Job)
	resp, err := s.client.do(withRetry(req), job)
	if err != nil {
		return nil, err
	}
	return decodeJobAnswer(resp, job), nil
}
