package basiq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors, for use with [errors.Is]. The typed errors below match them:
// a *ValidationError matches ErrValidation, a *JobError ErrJobFailed, and an
// *APIError the sentinel of its status (404 ErrNotFound, 401 ErrUnauthorized,
// 403 ErrForbidden, 429 ErrRateLimited).
var (
	// ErrValidation: an argument was refused before anything was sent.
	ErrValidation = errors.New("basiq: invalid argument")
	// ErrJobFailed: a step of a job failed.
	ErrJobFailed = errors.New("basiq: job failed")
	// ErrNotFound: the API answered 404.
	ErrNotFound = errors.New("basiq: not found")
	// ErrUnauthorized: the API answered 401, or the API key was refused.
	ErrUnauthorized = errors.New("basiq: unauthorized")
	// ErrForbidden: the API answered 403.
	ErrForbidden = errors.New("basiq: forbidden")
	// ErrRateLimited: the API answered 429, after any retries.
	ErrRateLimited = errors.New("basiq: rate limited")
	// ErrMFARequired: a job waits for the customer's answer to an MFA
	// challenge; the error is an *MFAChallenge.
	ErrMFARequired = errors.New("basiq: MFA answer required")
	// ErrInvalidResponse: a 2xx answer could not be understood (empty, not
	// JSON, the wrong shape, too large, nested deeper than the API ever
	// sends, without the id of the resource asked for, or a job in a state
	// this library does not know), or a list did not end (see
	// [TransactionsService.List]).
	ErrInvalidResponse = errors.New("basiq: invalid response")
)

// APIError is a non-2xx answer from the API. Errors holds the decoded error
// objects of Basiq's error body; for a body that is not Basiq's JSON (an HTML
// page from a proxy, say), Errors is empty and Body holds its first bytes.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// CorrelationID is Basiq's id for the request, to quote to Basiq support.
	CorrelationID string
	// Errors are the error objects of the body's data list.
	Errors []ErrorDetail
	// Body is a short snippet of a body that is not Basiq's JSON error list.
	Body string
	// RetryAfter is how long the server asked the caller to wait before
	// trying again: the Retry-After header of a 429 or 503 answer, in
	// seconds or as an HTTP date (at most 24 hours; zero when the answer
	// had none, or named a time already past). The client waits that long
	// by itself before a retry, up to 60 seconds and never past the
	// context's deadline; when the server asks for longer, the client
	// returns this error at once, without retrying, so the caller can
	// schedule the call.
	RetryAfter time.Duration

	// keyRefused marks POST /token refusing the API key: the error then
	// matches ErrUnauthorized, whatever its status (Basiq answers 404).
	keyRefused bool
}

// ErrorDetail is one error object of an API error body.
type ErrorDetail struct {
	// Code is Basiq's machine-readable code, such as "parameter-not-valid".
	Code string `json:"code"`
	// Title is a short human-readable summary.
	Title string `json:"title"`
	// Detail explains this occurrence.
	Detail string `json:"detail"`
	// Source names the request part at fault, when the API says.
	Source ErrorSource `json:"source"`
}

// ErrorSource names the part of a request an [ErrorDetail] is about.
type ErrorSource struct {
	// Pointer is a JSON pointer into the request body, such as "/loginId".
	Pointer string `json:"pointer"`
	// Parameter is the query parameter at fault.
	Parameter string `json:"parameter"`
}

// UnmarshalJSON accepts "detail" and "details", and a null or empty source.
func (d *ErrorDetail) UnmarshalJSON(b []byte) error {
	var raw struct {
		Code    string       `json:"code"`
		Title   string       `json:"title"`
		Detail  string       `json:"detail"`
		Details string       `json:"details"`
		Source  *ErrorSource `json:"source"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*d = ErrorDetail{Code: raw.Code, Title: raw.Title, Detail: raw.Detail}
	if d.Detail == "" {
		d.Detail = raw.Details
	}
	if raw.Source != nil {
		d.Source = *raw.Source
	}
	return nil
}

// Error describes the answer: status, first error's code, title and detail,
// and the correlation id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "basiq: API error %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		fmt.Fprintf(&b, " %s", t)
	}
	if len(e.Errors) > 0 {
		d := e.Errors[0]
		writeProblem(&b, d.Code, d.Title, d.Detail)
		if len(e.Errors) > 1 {
			fmt.Fprintf(&b, " and %d more", len(e.Errors)-1)
		}
	} else if e.Body != "" {
		fmt.Fprintf(&b, ": %q", e.Body)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " [correlation id %s]", clean(e.CorrelationID, 100))
	}
	return b.String()
}

// Code returns the first error object's code, or "" if there is none.
func (e *APIError) Code() string {
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// HasCode reports whether any error object carries code.
func (e *APIError) HasCode(code string) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// Is makes errors.Is match the sentinel of the error's status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound && !e.keyRefused
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.keyRefused
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// newAPIError decodes an error answer's body, which may be Basiq's JSON error
// list or anything else.
func newAPIError(resp *http.Response, body []byte, secrets []string) *APIError {
	for _, sec := range secrets {
		if sec != "" {
			body = bytes.ReplaceAll(body, []byte(sec), []byte(redacted))
		}
	}
	e := &APIError{StatusCode: resp.StatusCode}
	var list struct {
		CorrelationID string        `json:"correlationId"`
		Data          []ErrorDetail `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err == nil && (len(list.Data) > 0 || list.CorrelationID != "") {
		e.CorrelationID = list.CorrelationID
		e.Errors = list.Data
		return e.redact(secrets)
	}
	e.Body = snippet(body, 200)
	return e.redact(secrets)
}

// redact masks each secret wherever the answer quotes it: a proxy page or an
// error detail may echo the request.
func (e *APIError) redact(secrets []string) *APIError {
	if len(secrets) == 0 {
		return e
	}
	mask := func(s string) string {
		for _, sec := range secrets {
			if sec != "" {
				s = strings.ReplaceAll(s, sec, redacted)
			}
		}
		return s
	}
	e.Body, e.CorrelationID = mask(e.Body), mask(e.CorrelationID)
	for i := range e.Errors {
		d := &e.Errors[i]
		d.Code, d.Title, d.Detail = mask(d.Code), mask(d.Title), mask(d.Detail)
		d.Source.Pointer, d.Source.Parameter = mask(d.Source.Pointer), mask(d.Source.Parameter)
	}
	return e
}

// snippet returns up to n bytes of b as valid UTF-8 on one line.
func snippet(b []byte, n int) string {
	return clean(strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "\uFFFD")), " "), n)
}

// clean makes text from an answer safe for an error string: valid UTF-8, no
// control characters (no forged log lines or terminal escapes), at most n
// bytes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return s
}

// isTokenRejected reports an answer that says the access token itself is bad:
// 401 invalid-authorization-token, or 403 "Token has expired".
func isTokenRejected(err error) bool {
	if err == nil {
		return false
	}
	var e *APIError
	if !errors.As(err, &e) {
		return false
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return e.HasCode("invalid-authorization-token") || len(e.Errors) == 0
	case http.StatusForbidden:
		for _, d := range e.Errors {
			if d.Code == "access-denied" && strings.Contains(strings.ToLower(d.Title+" "+d.Detail), "token") {
				return true
			}
		}
	}
	return false
}

// JobError reports a job step that failed. It matches [ErrJobFailed].
type JobError struct {
	// JobID is the job's id.
	JobID string
	// Step is the failed step's title, such as "verify-credentials".
	Step string
	// Code is Basiq's failure code, such as "invalid-credentials".
	Code string
	// Title is the failure's short summary.
	Title string
	// Detail explains the failure, such as "Account is locked".
	Detail string
}

// Error describes the failure.
func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "basiq: job %s failed at step %s", e.JobID, e.Step)
	writeProblem(&b, e.Code, e.Title, e.Detail)
	return b.String()
}

// writeProblem appends ": code: title (detail)", leaving out what is empty.
func writeProblem(b *strings.Builder, code, title, detail string) {
	code, title, detail = clean(code, 100), clean(title, 200), clean(detail, 300)
	if code != "" {
		fmt.Fprintf(b, ": %s", code)
	}
	if title != "" {
		fmt.Fprintf(b, ": %s", title)
	}
	if detail != "" && detail != title {
		fmt.Fprintf(b, " (%s)", detail)
	}
}

// Is makes errors.Is(err, ErrJobFailed) true.
func (e *JobError) Is(target error) bool { return target == ErrJobFailed }

// ValidationError is an argument refused before any request was sent. Several
// problems found at once come back joined with [errors.Join], each one a
// *ValidationError. It matches [ErrValidation].
type ValidationError struct {
	// Field is the argument's JSON name, such as "loginId" or "institution.id".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error names the field and the reason; it never quotes the value.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("basiq: invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrValidation) true.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

// joinValidation returns nil, the single error, or all of them joined.
func joinValidation(errs []error) error {
	var flat []error
	for _, e := range errs {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			flat = append(flat, j.Unwrap()...)
		} else if e != nil {
			flat = append(flat, e)
		}
	}
	errs = flat
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// checkIDs checks pairs of (field, id) and joins what it finds.
func checkIDs(fieldsAndIDs ...string) error {
	var errs []error
	for i := 0; i+1 < len(fieldsAndIDs); i += 2 {
		if err := checkID(fieldsAndIDs[i], fieldsAndIDs[i+1]); err != nil {
			errs = append(errs, err)
		}
	}
	return joinValidation(errs)
}

// checkID refuses an id that is empty, blank, a dot segment or has control
// characters, so that no id can change which path a request goes to. Ids are
// path-escaped when a request is built.
func checkID(field, id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return &ValidationError{Field: field, Reason: "required"}
	case id == "." || id == "..":
		return &ValidationError{Field: field, Reason: "not a valid id"}
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return &ValidationError{Field: field, Reason: "contains control characters"}
	}
	return nil
}
