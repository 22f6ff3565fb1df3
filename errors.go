package basiq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Sentinel errors, for use with [errors.Is]. The typed errors below match them:
// a *ValidationError matches ErrValidation, a *JobError ErrJobFailed, an
// *MFAChallenge ErrMFARequired, a *RedirectError ErrRedirectRefused, and an
// *APIError the sentinel of its status (400 ErrBadRequest, 404 ErrNotFound,
// 401 ErrUnauthorized, 403 ErrForbidden, 429 ErrRateLimited).
//
// Every error this package returns prints "basiq: " once, at its start,
// however many layers it went through. The typed errors ([*APIError],
// [*JobError], [*MFAChallenge], [*ValidationError], [*RedirectError]) and the
// sentinels start with it, so that one returned as it is reads the same; a
// layer that adds context (the request, the job waited for, the token fetch)
// writes it after the prefix and leaves out the prefix of the error it wraps:
//
//	basiq: waiting for job j1: API error 404 Not Found: resource-not-found: ...
//
// Every layer unwraps to the one below, so [errors.Is] and [errors.As] find
// the sentinels and the typed errors through all of them. Several
// validation problems found at once print one sentence a line, the prefix on
// the first only.
var (
	// ErrValidation: an argument was refused by this library's own checks,
	// before the request it guards was sent; the error is a
	// *ValidationError, or several joined. Most checks need no request at
	// all; two need a read first: [ConnectionsService.Create] checks the
	// credentials against the institution it reads (GET
	// /institutions/{id}, cached), and [WithUntilStep]'s title is checked
	// against the job's steps once they are known. An argument the API
	// refuses is an *APIError matching ErrBadRequest.
	ErrValidation = errors.New("basiq: invalid argument")
	// ErrBadRequest: the API answered 400 (a parameter it did not supply or
	// found not valid; Basiq's code says which).
	ErrBadRequest = errors.New("basiq: bad request")
	// ErrJobFailed: a step of a job failed; the error is a *JobError.
	ErrJobFailed = errors.New("basiq: job failed")
	// ErrNotFound: the API answered 404.
	ErrNotFound = errors.New("basiq: not found")
	// ErrUnauthorized: the API answered 401, or the API key was refused.
	ErrUnauthorized = errors.New("basiq: unauthorized")
	// ErrForbidden: the API answered 403.
	ErrForbidden = errors.New("basiq: forbidden")
	// ErrRateLimited: the API answered 429, after any retries;
	// [APIError.RetryAfter] says how long the server asked to wait.
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
	// ErrRedirectRefused: the API answered with a redirect the client did
	// not follow, so that no credential leaves for where it was not meant
	// to go; the error is a *RedirectError, which says why.
	ErrRedirectRefused = errors.New("basiq: redirect not followed")
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
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
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
// list or anything else. Every form of every secret (see [secretForms]) is
// masked in the body before anything is decoded or cut, and again in the
// decoded fields.
func newAPIError(resp *http.Response, body []byte, secrets []string) *APIError {
	forms := secretForms(secrets)
	if len(forms) > 0 {
		masked := maskForms(string(body), forms)
		if len(body) >= maxErrorBodyBytes {
			// The read limit may have cut a secret: its start, which no
			// form matches, is somewhere in the last bytes. Drop them.
			masked = masked[:max(0, len(masked)-(len(forms[0])-1))]
		}
		body = []byte(masked)
	}
	e := &APIError{StatusCode: resp.StatusCode}
	var list struct {
		CorrelationID string        `json:"correlationId"`
		Data          []ErrorDetail `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err == nil && (len(list.Data) > 0 || list.CorrelationID != "") {
		e.CorrelationID = list.CorrelationID
		e.Errors = list.Data
		return e.redact(forms)
	}
	e.Body = snippet(body, 200)
	return e.redact(forms)
}

// redact masks the secret forms wherever the decoded answer quotes them: a
// proxy page or an error detail may echo the request, escaped once more.
func (e *APIError) redact(forms []string) *APIError {
	if len(forms) == 0 {
		return e
	}
	mask := func(s string) string { return maskForms(s, forms) }
	e.Body, e.CorrelationID = mask(e.Body), mask(e.CorrelationID)
	for i := range e.Errors {
		d := &e.Errors[i]
		d.Code, d.Title, d.Detail = mask(d.Code), mask(d.Title), mask(d.Detail)
		d.Source.Pointer, d.Source.Parameter = mask(d.Source.Pointer), mask(d.Source.Parameter)
	}
	return e
}

// maskForms replaces every occurrence of each form in s, longest forms first
// (forms is sorted so).
func maskForms(s string, forms []string) string {
	for _, f := range forms {
		if len(f) <= len(s) && strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, redacted)
		}
	}
	return s
}

// secretForms returns the spellings in which an answer may quote the
// secrets, longest first and without repeats: each secret as sent and
// JSON-escaped (the request body is JSON), and each of those as is,
// JSON-escaped, HTML-escaped or percent-encoded, in the styles common
// encoders and gateways use; the HTML and percent-encoded forms also
// JSON-escaped (a JSON answer quoting a page or a URL). The cost is some
// dozens of substring searches per secret over a body of at most 64 KiB.
func secretForms(secrets []string) []string {
	seen := map[string]bool{}
	var forms []string
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			forms = append(forms, f)
		}
	}
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, f := range append([]string{sec}, jsonForms(sec)...) {
			add(f)
			for _, g := range jsonForms(f) {
				add(g)
			}
			for _, g := range append(htmlForms(f), urlForms(f)...) {
				add(g)
				for _, h := range jsonForms(g) {
					add(h)
				}
			}
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return forms
}

// jsonForms returns s as JSON string contents (without quotes), escaped as
// encoding/json does (with and without its HTML escapes) and as other
// encoders do: \u escapes in either case, non-ASCII escaped, "/" escaped.
func jsonForms(s string) []string {
	var slash, nonASCII, htmlChar, ctl, quote bool
	for _, r := range s {
		switch {
		case r == '/':
			slash = true
		case r > 0x7e:
			nonASCII = true
		case r == '<' || r == '>' || r == '&':
			htmlChar = true
		case r < 0x20:
			ctl = true
		case r == '"' || r == '\\':
			quote = true // escaped the same way by every encoder
		}
	}
	if !slash && !nonASCII && !htmlChar && !ctl && !quote {
		return nil // every encoder leaves s as it is
	}
	// Only the options that change something for s are tried.
	opts := func(relevant bool) []bool {
		if relevant {
			return []bool{false, true}
		}
		return []bool{false}
	}
	var out []string
	for _, html := range []bool{true, false} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) == nil {
			b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			out = append(out, string(b[1:len(b)-1]))
		}
		if html && !htmlChar {
			continue // the same as without
		}
		for _, ascii := range opts(nonASCII) {
			for _, sl := range opts(slash) {
				for _, upper := range opts(ctl || nonASCII && ascii || htmlChar && html) {
					out = append(out, jsonEscape(s, html, ascii, sl, upper))
				}
			}
		}
	}
	return out
}

// jsonEscape escapes s for a JSON string in one encoder's style.
func jsonEscape(s string, html, ascii, slash, upper bool) string {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	var b strings.Builder
	u := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(digits[r>>shift&0xf])
		}
	}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '/' && slash:
			b.WriteString(`\/`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20, html && (r == '<' || r == '>' || r == '&'):
			u(r)
		case ascii && r > 0x7e:
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				u(r1)
				u(r2)
			} else {
				u(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// htmlForms returns s HTML-escaped: & < > always, and the quotes in each
// common style (html.EscapeString's &#34; &#39;, &quot;, &#x27;, &#039;,
// &apos;, or left as they are).
func htmlForms(s string) []string {
	if !strings.ContainsAny(s, `&<>"'`) {
		return nil
	}
	var out []string
	for _, dq := range []string{"&#34;", "&quot;", "&#x22;", `"`} {
		for _, sq := range []string{"&#39;", "&#x27;", "&#039;", "&apos;", "'"} {
			var b strings.Builder
			for _, r := range s {
				switch r {
				case '&':
					b.WriteString("&amp;")
				case '<':
					b.WriteString("&lt;")
				case '>':
					b.WriteString("&gt;")
				case '"':
					b.WriteString(dq)
				case '\'':
					b.WriteString(sq)
				default:
					b.WriteRune(r)
				}
			}
			out = append(out, b.String())
			if !strings.Contains(s, "'") {
				break
			}
		}
		if !strings.Contains(s, `"`) {
			break
		}
	}
	return out
}

// urlForms returns s percent-encoded as a query value (space as "+"), as a
// path segment, and with only RFC 3986's unreserved characters left, each with
// upper- and lower-case hex digits.
func urlForms(s string) []string {
	var out []string
	for _, f := range []string{url.QueryEscape(s), url.PathEscape(s), percentEncode(s)} {
		out = append(out, f, lowerPercentHex(f))
	}
	return out
}

// percentEncode escapes every byte of s but A-Z a-z 0-9 - . _ ~.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

// lowerPercentHex writes the hex digits of s's %XX escapes in lower case.
func lowerPercentHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for j := i + 1; j <= i+2; j++ {
				if 'A' <= b[j] && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
			i += 2
		}
	}
	return string(b)
}

// snippet returns up to n bytes of b as valid UTF-8 on one line.
func snippet(b []byte, n int) string {
	return clean(strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "\uFFFD")), " "), n)
}

// clean makes text from an answer safe for an error string: valid UTF-8, no
// control characters, line or paragraph separators or bidirectional controls
// (no forged log lines, terminal escapes or text that reads backwards), at
// most n bytes, marked with "..." when cut. A long input costs no more than
// its first 4n bytes.
func clean(s string, n int) string {
	cut := false
	if len(s) > 4*n+utf8.UTFMax {
		s, cut = s[:4*n+utf8.UTFMax], true
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > n {
		s, cut = s[:n], true
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	if cut {
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

	// forms are the spellings of the client's secrets, masked in Error;
	// hidden, as they are the secrets.
	forms hidden[[]string]
}

// Error describes the failure. The fields come from the server: the string
// carries them cleaned (one line, valid UTF-8, each bounded) and, for an
// error from [Client.WaitForJob], with the API key and the client's access
// tokens masked in every form an [APIError] masks, as [APIError.Error]
// does. The fields themselves keep what the API sent.
func (e *JobError) Error() string {
	m := func(s string) string { return maskForms(s, e.forms.value()) }
	var b strings.Builder
	fmt.Fprintf(&b, "basiq: job %s failed at step %s", clean(m(e.JobID), 100), clean(m(e.Step), 100))
	writeProblem(&b, m(e.Code), m(e.Title), m(e.Detail))
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

// ValidationError is an argument refused by this library's own checks,
// before the request it guards was sent (see [ErrValidation]). Several
// problems found at once come back joined: the error's Unwrap() []error
// returns each, a *ValidationError, and it prints one a line. It matches
// [ErrValidation].
type ValidationError struct {
	// Field names what was refused, for a program to tell problems apart:
	// a request body field by its JSON name ("loginId", "institution.id",
	// "mfa-response"), an id in the path by its parameter name ("userId",
	// "jobId"), a filter field by its Go name in lower camel case
	// ("connectionId", "postDate", "limit"), or an option by its name
	// without "With" ("apiKey", "retryWait", "pollInterval", "untilStep").
	Field string
	// Reason says what is wrong with the field and what is expected, as
	// the rest of a sentence whose subject is the field: "is required for
	// institution AU19301, whose authorization is \"token\"".
	Reason string
}

// Error is the sentence Field and Reason make, after the package's prefix:
// "basiq: userToken is required for institution AU19301, whose authorization
// is \"token\"". It never quotes a value the caller gave for a secret.
func (e *ValidationError) Error() string {
	return prefix + e.sentence()
}

// sentence is the error without the package's prefix.
func (e *ValidationError) sentence() string {
	reason := e.Reason
	if reason == "" {
		reason = "is not valid"
	}
	return e.Field + " " + reason
}

// Is makes errors.Is(err, ErrValidation) true.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

// validationErrors are several problems found at once. It prints one
// sentence a line, the package's prefix on the first line only.
type validationErrors []error

func (v validationErrors) Error() string {
	var b strings.Builder
	for i, e := range v {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimPrefix(e.Error(), prefix))
	}
	return prefix + b.String()
}

// Unwrap returns each problem, for errors.Is and errors.As.
func (v validationErrors) Unwrap() []error { return v }

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
	return validationErrors(errs)
}

// prefix starts every error string of the package, once.
const prefix = "basiq: "

// errorf is fmt.Errorf for an error of this package: the result starts with
// the prefix once, and each error among args is written without its own
// (see the package's rule above). It wraps what fmt.Errorf would wrap.
func errorf(format string, args ...any) error {
	bare := make([]any, len(args))
	for i, a := range args {
		if e, ok := a.(error); ok {
			bare[i] = unprefixed{e}
		} else {
			bare[i] = a
		}
	}
	msg := prefix + strings.TrimPrefix(fmt.Errorf(format, bare...).Error(), prefix)
	switch w := fmt.Errorf(format, args...).(type) {
	case interface{ Unwrap() error }:
		return &wrapped{msg: msg, err: w.Unwrap()}
	case interface{ Unwrap() []error }:
		return &wrappedMany{msg: msg, errs: w.Unwrap()}
	}
	return errors.New(msg)
}

// unprefixed prints an error without the package's prefix.
type unprefixed struct{ err error }

func (u unprefixed) Error() string { return strings.TrimPrefix(u.err.Error(), prefix) }

// wrapped is an error that adds context to another.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// wrappedMany is an error that adds context to several.
type wrappedMany struct {
	msg  string
	errs []error
}

func (w *wrappedMany) Error() string   { return w.msg }
func (w *wrappedMany) Unwrap() []error { return w.errs }

// RedirectError is a redirect the client did not follow: one to another
// origin (scheme, host and port) or outside the base URL's path, one to a
// URL carrying user information (a name or password before the host), one
// whose target (the Location header) is not a valid URL, one answering the
// token request (which carries the API key) or a request whose body carries
// a password, user token, security code or MFA answer, one of a file
// upload, or one past the tenth in a row. It matches [ErrRedirectRefused],
// and is not retried. Its message names the target's scheme and host only
// (none of a target that is not a valid URL): a redirect's path, query and
// user information may carry secrets.
type RedirectError struct {
	// StatusCode is the redirect's status, such as 302.
	StatusCode int
	// Origin is the scheme, host and port (when given) of the redirect's
	// target, such as "https://login.example"; never its path, query or
	// user information; empty when the target is not a valid URL. The
	// request's secrets are masked in it, as in an [APIError].
	Origin string

	// why says which rule refused the redirect.
	why redirectRule
	// basePath is the base URL's path, for a redirect outside it.
	basePath string
}

// redirectRule is why a redirect is not followed.
type redirectRule int

const (
	redirectFollowed    redirectRule = iota // under the base URL: followed
	redirectOtherOrigin                     // to another scheme, host or port
	redirectOutsidePath                     // outside the base URL's path prefix
	redirectAPIKey                          // of POST /token, which carries the API key
	redirectSecrets                         // of a body carrying credentials or MFA answers
	redirectUpload                          // of a streamed upload
	redirectTooMany                         // past the tenth in a row
	redirectUserInfo                        // to a URL with a name or password in it
	redirectMalformed                       // to a Location that is not a URL
)

// Error says which redirect was refused and why.
func (e *RedirectError) Error() string {
	var what string
	switch e.why {
	case redirectOtherOrigin:
		what = "redirect to another origin not followed"
	case redirectOutsidePath:
		what = "redirect outside the base URL's path " + clean(e.basePath, 100) + " not followed"
	case redirectAPIKey:
		return prefix + "redirect of the API key request not followed: the key is sent to POST /token only"
	case redirectSecrets:
		return prefix + "redirect of a request carrying a password, user token, security code or MFA answer not followed: they are sent to their own endpoint only"
	case redirectUpload:
		return prefix + "redirect of a file upload not followed: the file is sent once"
	case redirectTooMany:
		what = "redirect not followed: stopped after 10 redirects"
	case redirectUserInfo:
		what = "redirect to a URL carrying user information not followed"
	case redirectMalformed:
		what = "redirect not followed: its target (the Location header) is not a valid URL"
	default:
		what = "redirect not followed"
	}
	if e.Origin == "" {
		return prefix + what
	}
	return prefix + what + ": " + clean(e.Origin, 200)
}

// Is makes errors.Is(err, ErrRedirectRefused) true.
func (e *RedirectError) Is(target error) bool { return target == ErrRedirectRefused }

// origin is u's scheme and host (with its port), for an error string.
func origin(u *url.URL) string {
	if u == nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + u.Host
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

// maxIDBytes bounds an id: Basiq's are a few dozen bytes, and an id from an
// answer is kept (in a job, in the client's memory of connections).
const maxIDBytes = 256

// checkID refuses an id that is empty, blank, a dot segment, has control
// characters or is longer than maxIDBytes, so that no id can change which
// path a request goes to. Ids are path-escaped when a request is built.
func checkID(field, id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return &ValidationError{Field: field, Reason: "is required: pass an id the API returned, not an empty or blank string"}
	case id == "." || id == "..":
		return &ValidationError{Field: field, Reason: "is a dot segment, which is not an id: pass an id the API returned"}
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return &ValidationError{Field: field, Reason: "contains control characters, which no id has: pass an id the API returned"}
	case len(id) > maxIDBytes:
		return &ValidationError{Field: field, Reason: fmt.Sprintf("is longer than %d bytes, which no id is: pass an id the API returned", maxIDBytes)}
	}
	return nil
}
