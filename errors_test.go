package basiq

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets with every character an encoder changes: JSON's " and \, HTML's
// & < > " ', a URL's space, / + % and non-ASCII.
const (
	hostilePassword = `Tr0ub&dor<1>"\`
	hostileAnswer   = `pa ss'wörd/+%2F`
)

// lowerHex rewrites the %XX escapes of a percent-encoded string in lower case.
func lowerHex(s string) string {
	return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(s, strings.ToLower)
}

// goJSON is encoding/json's escaping of s (HTML-safe), without the quotes.
func goJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// plainJSON is JSON escaping without the HTML escapes.
func plainJSON(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b := bytes.TrimSpace(buf.Bytes())
	return string(b[1 : len(b)-1])
}

// secretEncodings are the ways an answer may quote a secret it was sent:
// a gateway page or error that echoes the request body, a query string or a
// form.
var secretEncodings = []struct {
	name   string
	encode func(string) string
}{
	{"raw", func(s string) string { return s }},
	{"Go JSON", goJSON},
	{"plain JSON", plainJSON},
	{"JSON upper-case hex", func(s string) string {
		return regexp.MustCompile(`\\u[0-9a-f]{4}`).ReplaceAllStringFunc(goJSON(s), func(m string) string {
			return `\u` + strings.ToUpper(m[2:])
		})
	}},
	{"JSON ASCII-only", func(s string) string { q := strconv.QuoteToASCII(s); return q[1 : len(q)-1] }},
	{"JSON ASCII-only, escaped slash", func(s string) string {
		q := strconv.QuoteToASCII(s)
		return strings.ReplaceAll(q[1:len(q)-1], "/", `\/`)
	}},
	{"html.EscapeString", html.EscapeString},
	{"HTML &quot; &#x27;", strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;").Replace},
	{"HTML &quot; &#039;", strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#039;").Replace},
	{"HTML &#x22; &apos;", strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#x22;", "'", "&apos;").Replace},
	{"HTML text only", strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace},
	{"url.QueryEscape", url.QueryEscape},
	{"url.QueryEscape lower hex", func(s string) string { return lowerHex(url.QueryEscape(s)) }},
	{"url.PathEscape", url.PathEscape},
	{"url.PathEscape lower hex", func(s string) string { return lowerHex(url.PathEscape(s)) }},
	// The request body is JSON: a page or an error quoting the body shows the
	// JSON form, escaped once more.
	{"HTML of Go JSON", func(s string) string { return html.EscapeString(goJSON(s)) }},
	{"JSON of Go JSON", func(s string) string { return goJSON(goJSON(s)) }},
	{"JSON of HTML", func(s string) string { return goJSON(html.EscapeString(s)) }},
	{"query of Go JSON", func(s string) string { return url.QueryEscape(goJSON(s)) }},
}

// apiErrorTexts returns every text of err a caller or a log may see.
func apiErrorTexts(t *testing.T, err error) []string {
	t.Helper()
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	out := []string{err.Error(), apiErr.Body, apiErr.CorrelationID}
	for _, d := range apiErr.Errors {
		out = append(out, d.Code, d.Title, d.Detail, d.Source.Pointer, d.Source.Parameter)
	}
	return out
}

// assertNoForm checks that no text shows form, or its first bytes.
func assertNoForm(t *testing.T, texts []string, form, what string) {
	t.Helper()
	prefix := form[:min(len(form), 6)]
	for _, s := range texts {
		if !assert.NotContains(t, s, prefix, "%s: %q shows (the start of) %q", what, s, form) {
			return
		}
	}
}

func TestAPIErrorMasksEveryEncodingOfASecret(t *testing.T) {
	t.Parallel()
	secrets := []string{hostilePassword, hostileAnswer, "bearer-tok-Jq81"}
	resp := &http.Response{StatusCode: http.StatusBadRequest}
	for _, enc := range secretEncodings {
		t.Run(enc.name, func(t *testing.T) {
			t.Parallel()
			for _, secret := range secrets[:2] {
				form := enc.encode(secret)

				page := "<html><body><h1>400 Bad Request</h1><pre>password=" + form + "&next=1</pre></body></html>"
				texts := apiErrorTexts(t, newAPIError(resp, []byte(page), secrets))
				assertNoForm(t, texts, form, "gateway page")
				assert.Contains(t, texts[0], redacted)

				quoted := map[string]any{
					"correlationId": "c-" + form,
					"data": []map[string]any{{
						"code": form, "title": "bad " + form, "detail": "got {\"password\":\"" + form + "\"}",
						"source": map[string]string{"pointer": "/" + form, "parameter": form},
					}},
				}
				body, err := json.Marshal(quoted)
				require.NoError(t, err)
				texts = apiErrorTexts(t, newAPIError(resp, body, secrets))
				assertNoForm(t, texts, form, "JSON error")
				assert.Contains(t, texts[0], redacted)

				// JSON that is not Basiq's error list: the body is quoted as
				// it came, so the form sits in it JSON-escaped once more (a
				// third layer of escaping is not promised).
				if !strings.Contains(enc.name, " of ") {
					foreign, err := json.Marshal(map[string]string{"message": "rejected " + form})
					require.NoError(t, err)
					texts = apiErrorTexts(t, newAPIError(resp, foreign, secrets))
					assertNoForm(t, texts, form, "foreign JSON")
					assertNoForm(t, texts, goJSON(form), "foreign JSON")
				}

				// The snippet is cut at 200 bytes: the cut falls at every
				// point of the form in turn.
				for pad := 200 - len(form); pad <= 200; pad++ {
					body := strings.Repeat("x", pad) + form + " tail"
					assertNoForm(t, apiErrorTexts(t, newAPIError(resp, []byte(body), secrets)), form, "cut snippet")
				}
			}
		})
	}
}

func TestAPIErrorMasksASecretCutByTheReadLimit(t *testing.T) {
	t.Parallel()
	resp := &http.Response{StatusCode: http.StatusBadGateway}
	for _, enc := range secretEncodings {
		form := enc.encode(hostilePassword)
		// Whitespace the snippet collapses, then the form cut by the 64 KiB
		// read limit at each point.
		for keep := 1; keep < len(form); keep++ {
			body := strings.Repeat(" ", maxErrorBodyBytes-keep) + form[:keep]
			texts := apiErrorTexts(t, newAPIError(resp, []byte(body), []string{hostilePassword}))
			assertNoForm(t, texts, form[:keep], enc.name+" cut by the read limit")
		}
	}
}

func TestConnectionErrorsMaskThePasswordAsTheRequestBodyCarriedIt(t *testing.T) {
	t.Parallel()
	// Gateways quoting the request body they were sent, as it was sent.
	echoes := map[string]func(body []byte) string{
		"HTML page":       func(b []byte) string { return "<html><pre>" + html.EscapeString(string(b)) + "</pre></html>" },
		"JSON detail":     func(b []byte) string { return `{"data":[{"code":"bad","detail":` + strconv.Quote(string(b)) + `}]}` },
		"form echo":       func(b []byte) string { return "rejected: body=" + url.QueryEscape(string(b)) },
		"plain echo":      func(b []byte) string { return "rejected: " + string(b) },
		"path echo lower": func(b []byte) string { return "rejected: " + lowerHex(url.PathEscape(string(b))) },
	}
	for name, echo := range echoes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			c, mt := newMockClient(t, WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections/c1", func(r *http.Request) (*http.Response, error) {
				b, err := io.ReadAll(r.Body)
				require.NoError(t, err)
				require.Contains(t, string(b), goJSON(hostilePassword), "the body carries the password JSON-encoded")
				return jsonResp(http.StatusBadRequest, echo(b))(r)
			})
			_, err := c.Connections.Update(context.Background(), "u1", "c1", ConnectionUpdateParams{Password: hostilePassword})
			require.Error(t, err)
			texts := append(apiErrorTexts(t, err), logs.String())
			for _, enc := range secretEncodings {
				assertNoForm(t, texts, enc.encode(hostilePassword), enc.name)
			}
			assert.Contains(t, err.Error(), redacted)
		})
	}
}

func TestAPIErrorsMaskTheAPIKeyOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	t.Run("token", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t, WithMaxRetries(0))
		mt.RegisterResponder(http.MethodPost, testBase+"/token",
			jsonResp(http.StatusBadRequest, `{"data":[{"code":"bad","detail":"key `+url.QueryEscape(testKey)+` / `+lowerHex(url.QueryEscape(testKey))+`"}]}`))
		_, err := c.Jobs.Get(context.Background(), "j1")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), testKey[:6])
		assert.Contains(t, err.Error(), redacted)
	})
	t.Run("other endpoints", func(t *testing.T) {
		t.Parallel()
		// A hostile server has seen the key at /token and may quote it
		// anywhere.
		c, mt := newMockClient(t, WithMaxRetries(0))
		mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1",
			jsonResp(http.StatusInternalServerError, `<p>key=`+testKey+` auth=Basic `+url.PathEscape(testKey)+`</p>`))
		_, err := c.Jobs.Get(context.Background(), "j1")
		texts := apiErrorTexts(t, err)
		assertNoForm(t, texts, testKey, "raw key")
		assert.Contains(t, err.Error(), redacted)
	})
}

// BenchmarkAPIErrorMasking measures the masking of hostile 64 KiB error
// bodies: near-misses of every encoded form, and one byte repeated.
func BenchmarkAPIErrorMasking(b *testing.B) {
	long := strings.Repeat("eyJhbGciOiJIUzI1NiJ9", 60) // a bearer token of 1,200 bytes
	secrets := []string{hostilePassword, hostileAnswer, long, testKey}
	resp := &http.Response{StatusCode: http.StatusBadGateway}
	near := []byte(`Tr0ub&amp;dor&lt;1Tr0ub\u0026dor\u003c1pa+ss%27weyJhbGciOiJIUzI1NiJ9 `)
	bodies := []struct {
		name string
		body []byte
	}{
		{"near-misses", bytes.Repeat(near, maxErrorBodyBytes/len(near))},
		{"one-byte", bytes.Repeat([]byte("e"), maxErrorBodyBytes)},
		{"many-error-objects", []byte(`{"data":[` + strings.Repeat(`{"code":"Tr0ub"},`, maxErrorBodyBytes/17-1) + `{}]}`)},
		{"json-near-misses", []byte(`{"data":[{"detail":"` + strings.Repeat(string(near), maxErrorBodyBytes/len(near)-1) + `"}]}`)},
	}
	for _, bb := range bodies {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				newAPIError(resp, bb.body, secrets)
			}
		})
	}
}

// hostileTexts are what a hostile server may put in any string field.
var hostileTexts = map[string]string{
	"terminal colour":   "\x1b[31mred\x1b[0m",
	"C1 escape":         "\u009b31mred",
	"forged log line":   "ok\r\ntime=2026-01-01 level=ERROR msg=\"forged\"",
	"line separators":   "a\u2028b\u2029c\u0085d",
	"bidi override":     "abc\u202edcba\u2066x\u2069",
	"invalid UTF-8":     "ab\xff\xfe\xc3",
	"1 MB":              strings.Repeat("A", 1<<20),
	"1 MB of escapes":   strings.Repeat("\x1b[2J", 1<<18),
	"1 MB of bad UTF-8": strings.Repeat("\xff", 1<<20),
}

// assertCleanErrorString checks what an error string may carry from a
// server: one line, no terminal escapes, valid UTF-8, a bounded length.
func assertCleanErrorString(t *testing.T, s, what string) {
	t.Helper()
	assert.True(t, utf8.ValidString(s), "%s: invalid UTF-8", what)
	assert.LessOrEqual(t, len(s), 2048, "%s: %d bytes", what, len(s))
	bad := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || unicode.Is(unicode.Bidi_Control, r)
	})
	assert.Equal(t, -1, bad, "%s: control or bidi character in %.200q", what, s)
}

func TestJobErrorStringIsCleaned(t *testing.T) {
	t.Parallel()
	for name, v := range hostileTexts {
		for _, e := range []*JobError{
			{JobID: v, Step: "verify-credentials", Code: "c"},
			{JobID: "j1", Step: v, Code: "c"},
			{JobID: "j1", Step: "s", Code: v, Title: v, Detail: v},
			{JobID: v, Step: v, Code: v, Title: v, Detail: v + "x"},
		} {
			assertCleanErrorString(t, e.Error(), name)
		}
	}
	assert.Equal(t, "basiq: job j1 failed at step verify-credentials: invalid-credentials: Invalid credentials",
		(&JobError{JobID: "j1", Step: "verify-credentials", Code: "invalid-credentials", Title: "Invalid credentials"}).Error())
}

// TestJobErrorStringMasksTheClientsSecrets checks that a failed step whose
// result quotes the API key or the access token does not put them in the
// error string; the fields keep what the API sent.
func TestJobErrorStringMasksTheClientsSecrets(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "failed",
		`{"type":"error","code":"invalid-credentials","title":"key ` + testKey + `","detail":"token tok-1"}`})))
	_, err := c.WaitForJob(t.Context(), &Job{ID: "j1"}, fastPoll)
	var je *JobError
	require.ErrorAs(t, err, &je)
	assert.Equal(t, "basiq: job j1 failed at step verify-credentials: invalid-credentials: key "+redacted+" (token "+redacted+")", err.Error())
	assert.Equal(t, "key "+testKey, je.Title, "the field keeps what the API sent")
	assert.Equal(t, "token tok-1", je.Detail)
}

func TestAPIErrorStringIsCleaned(t *testing.T) {
	t.Parallel()
	for name, v := range hostileTexts {
		quoted, err := json.Marshal(strings.ToValidUTF8(v, "?"))
		require.NoError(t, err)
		bodies := []string{
			v,
			`{"correlationId":` + string(quoted) + `,"data":[{"code":` + string(quoted) + `,"title":` + string(quoted) + `,"detail":` + string(quoted) + `}]}`,
		}
		for _, body := range bodies {
			e := newAPIError(&http.Response{StatusCode: http.StatusBadGateway}, []byte(body), nil)
			assertCleanErrorString(t, e.Error(), name)
		}
	}
}

func TestErrorAnswersEchoingSecretsAreMasked(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", jsonResp(200, hooliJSON))
	mt.RegisterResponder(http.MethodPost, testBase+"/users/u1/connections", func(r *http.Request) (*http.Response, error) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		b, _ := json.Marshal(body)
		return httpmock.NewStringResponse(400, "<html>Request rejected: "+string(b)+" auth="+r.Header.Get("Authorization")+"</html>"), nil
	})
	mt.RegisterResponder(http.MethodPost, testBase+"/jobs/j1/mfa",
		jsonResp(400, `{"type":"list","data":[{"code":"parameter-not-valid","title":"Bad answer","detail":"mfa-response '839201' is not valid","source":{"pointer":"839201"}}]}`))

	_, err := c.Connections.Create(context.Background(), "u1", ConnectionParams{LoginID: "gavin", Password: "hunter2-SECRET", Institution: InstitutionRef{ID: "AU00000"}})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, err.Error(), "hunter2-SECRET")
	assert.NotContains(t, err.Error(), "tok-1")
	assert.Contains(t, apiErr.Body, redacted)

	_, err = c.Jobs.RespondMFA(context.Background(), "j1", "839201")
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, err.Error(), "839201")
	assert.NotContains(t, apiErr.Errors[0].Source.Pointer, "839201")
}

func TestAPIErrorDecoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		status   int
		body     string
		sentinel error
		code     string
		corr     string
		snippet  string
		detail   string
	}{
		{"basiq list", 404, `{"type":"list","correlationId":"ab-12","data":[{"type":"error","code":"resource-not-found","title":"Resource not found","detail":"Job j1 not found","source":{"parameter":"id"}}]}`, ErrNotFound, "resource-not-found", "ab-12", "", "Job j1 not found"},
		{"details spelling and null source", 400, `{"type":"list","data":[{"code":"parameter-not-valid","title":"Parameter invalid","details":"bad id","source":null}]}`, ErrValidation, "parameter-not-valid", "", "", "bad id"},
		{"html page", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", nil, "", "", "<html><body><h1>502 Bad Gateway</h1></body></html>", ""},
		{"empty body", 500, "", nil, "", "", "", ""},
		{"rate limited", 429, `{"type":"list","data":[{"code":"too-many-requests"}]}`, ErrRateLimited, "too-many-requests", "", "", ""},
		{"forbidden", 403, `{"type":"list","data":[{"code":"no-production-access"}]}`, ErrForbidden, "no-production-access", "", "", ""},
		{"unauthorized", 401, `{"type":"list","data":[{"code":"unauthorized-access"}]}`, ErrUnauthorized, "unauthorized-access", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithMaxRetries(0))
			mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", jsonResp(tc.status, tc.body))
			_, err := c.Jobs.Get(context.Background(), "j1")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, tc.code, apiErr.Code())
			assert.Equal(t, tc.corr, apiErr.CorrelationID)
			assert.Equal(t, tc.snippet, apiErr.Body)
			if tc.detail != "" {
				require.NotEmpty(t, apiErr.Errors)
				assert.Equal(t, tc.detail, apiErr.Errors[0].Detail)
			}
			if tc.sentinel != nil && tc.sentinel != ErrValidation {
				assert.ErrorIs(t, err, tc.sentinel)
			}
			assert.NotErrorIs(t, err, ErrValidation, "an API 400 is not a client-side validation error")
			assert.Contains(t, err.Error(), fmt.Sprint(tc.status))
		})
	}
}

func TestAPIErrorBodyIsBounded(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	huge := strings.Repeat("x", 5<<20)
	mt.RegisterResponder(http.MethodGet, testBase+"/jobs/j1", httpmock.NewStringResponder(500, huge))
	_, err := c.Jobs.Get(context.Background(), "j1")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.LessOrEqual(t, len(apiErr.Body), 210)
	assert.Less(t, len(err.Error()), 400)
}

// fuzzAPIErrorSeed is a status and a body, as the API or a proxy answers.
type fuzzAPIErrorSeed struct {
	code int
	body string
}

var fuzzAPIErrorSeeds = []fuzzAPIErrorSeed{
	{400, `{"type":"list","correlationId":"ac5ah5i","data":[{"type":"error","code":"parameter-not-valid","title":"Parameter value is not valid","detail":"ID value is not valid.","source":{"parameter":"id"}}]}`},
	{400, `{"type":"list","correlationId":"c1","data":[{"type":"error","code":"parameter-not-supplied","title":"Required parameter not supplied","detail":"loginId is required","source":{"pointer":"/loginId"}},{"type":"error","code":"parameter-not-supplied","title":"Required parameter not supplied","detail":"password is required","source":{"pointer":"/password"}}]}`},
	{401, `{"type":"list","correlationId":"c2","data":[{"type":"error","code":"invalid-authorization-token","title":"Invalid authorization token","detail":"Invalid token","source":null}]}`},
	{403, `{"type":"list","correlationId":"c3","data":[{"type":"error","code":"access-denied","title":"Access denied","detail":"Token has expired","source":{}}]}`},
	{404, `{"type":"list","correlationId":"c4","data":[{"type":"error","code":"resource-not-found","title":"Unable to authenticate","details":"Unable to authenticate with the API key given."}]}`},
	{429, `{"type":"list","data":[{"code":"too-many-requests","title":"Too many requests"}]}`},
	{503, `{"type":"list","correlationId":"c5","data":[]}`},
	{502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"},
	{503, "upstream connect error or disconnect/reset before headers. reset reason: connection termination"},
	{504, ""},
	{500, "   \n\t "},
	{500, `{"type":"list","correlationId":"c6","data":[{"code":"internal-server-error","title":"Internal`},
	{500, `{"data":"not a list"}`},
	{418, `null`},
	{0, `[]`},
	{-1, `{"correlationId":""}`},
	{200, `{}`},
	{999, strings.Repeat("é", 150)},
}

// FuzzAPIError builds an APIError from any status and body and checks the
// sentinels it matches, Code(), and that its Body and Error() are bounded
// single lines of valid UTF-8 without control characters. Seeds: fuzzAPIErrorSeeds and testdata/fuzz/FuzzAPIError.
func FuzzAPIError(f *testing.F) {
	for _, s := range fuzzAPIErrorSeeds {
		f.Add(s.code, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		e := newAPIError(&http.Response{StatusCode: code}, body, nil)
		if e == nil || e.StatusCode != code {
			t.Fatalf("newAPIError(%d) = %+v", code, e)
		}
		msg := e.Error()
		if !strings.HasPrefix(msg, "basiq: API error "+strconv.Itoa(code)) {
			t.Fatalf("Error() = %q does not start with the status", msg)
		}
		if !utf8.ValidString(msg) {
			t.Fatalf("Error() is not valid UTF-8: %q", msg)
		}

		// The sentinels follow the status, through wrapping too.
		wrapped := fmt.Errorf("basiq: GET /x: %w", e)
		for _, c := range []struct {
			sentinel error
			want     bool
		}{
			{ErrNotFound, code == http.StatusNotFound},
			{ErrUnauthorized, code == http.StatusUnauthorized},
			{ErrForbidden, code == http.StatusForbidden},
			{ErrRateLimited, code == http.StatusTooManyRequests},
			{ErrValidation, false}, {ErrJobFailed, false}, {ErrMFARequired, false}, {ErrInvalidResponse, false},
		} {
			if errors.Is(e, c.sentinel) != c.want || errors.Is(wrapped, c.sentinel) != c.want {
				t.Fatalf("errors.Is(APIError %d, %v) = %v, want %v", code, c.sentinel, !c.want, c.want)
			}
		}
		var as *APIError
		if !errors.As(wrapped, &as) || as != e {
			t.Fatalf("errors.As does not find the *APIError")
		}
		_ = isTokenRejected(wrapped)

		if len(e.Errors) > 0 {
			if e.Code() != e.Errors[0].Code || !e.HasCode(e.Errors[0].Code) {
				t.Fatalf("Code() = %q, Errors[0].Code = %q", e.Code(), e.Errors[0].Code)
			}
		} else if e.Code() != "" {
			t.Fatalf("Code() = %q without errors", e.Code())
		}

		decoded := len(e.Errors) > 0 || e.CorrelationID != ""
		if decoded && e.Body != "" {
			t.Fatalf("Body %q beside a decoded error list", e.Body)
		}
		if len(e.Body) > 203 {
			t.Fatalf("Body is %d bytes: %q", len(e.Body), e.Body)
		}
		if strings.ContainsAny(e.Body, "\r\n\t") {
			t.Fatalf("Body is not one line: %q", e.Body)
		}
		if utf8.Valid(body) && !utf8.ValidString(e.Body) {
			t.Fatalf("snippet of a valid UTF-8 body is not valid UTF-8: %q", e.Body)
		}
		if !utf8.ValidString(e.Body) {
			// Found by fuzzing: snippet only repairs UTF-8 when it truncates, so
			// a short body that is not UTF-8 (a Latin-1 page) stays invalid.
			t.Fatalf("Body is not valid UTF-8: %q", e.Body)
		}
		if !decoded && len(strings.TrimSpace(string(body))) > 200 && e.Body == "..." {
			// Same issue: a long body with a byte that is not UTF-8 early on
			// is cut back to nothing, and Body is just "...".
			t.Fatalf("Body %q keeps nothing of a %d-byte body", e.Body, len(body))
		}
		if !decoded && utf8.Valid(body) {
			// What a body that is not an error list keeps: its first bytes,
			// whitespace collapsed, so at least something of a long page.
			if len(strings.TrimSpace(string(body))) > 0 && e.Body == "" {
				t.Fatalf("Body is empty for a body of %d bytes", len(body))
			}
		}

		// Error() stays short: the body's part is a bounded snippet. The
		// decoded fields go in whole, so there the bound grows with them.
		bound := 2 << 10
		if decoded {
			d := e.Errors
			var fields int
			if len(d) > 0 {
				fields = len(d[0].Code) + len(d[0].Title) + len(d[0].Detail)
			}
			bound = 128 + fields + len(e.CorrelationID)
		}
		if len(msg) >= bound {
			t.Fatalf("Error() is %d bytes (bound %d): %.300q...", len(msg), bound, msg)
		}
		if len(msg) >= 2<<10 {
			// Found by fuzzing: the title, detail, code and correlation id of an
			// error list go into Error() whole; a body of up to 64 KiB (the
			// limit send reads) makes a message of up to 64 KiB.
			t.Fatalf("Error() is %d bytes", len(msg))
		}
		if strings.ContainsFunc(msg, unicode.IsControl) {
			// Found by fuzzing: the decoded fields go into Error() as they are,
			// newlines and escape sequences included (log injection).
			t.Fatalf("Error() has control characters: %q", msg)
		}
	})
}

// TestOverlongIDsAreRefused checks that an id longer than any Basiq id is
// refused before any request, and that an answer naming a resource with one
// is not taken as that resource.
func TestOverlongIDsAreRefused(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", maxIDBytes+1)
	require.NoError(t, checkID("userId", strings.Repeat("a", maxIDBytes)))
	c, mt := newMockClient(t)
	_, err := c.Users.Get(context.Background(), long)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "userId", ve.Field)
	assert.Equal(t, 0, mt.GetTotalCallCount())

	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1", jsonResp(http.StatusOK, `{"id":"`+long+`"}`))
	_, err = c.Users.Get(context.Background(), "u1")
	require.ErrorIs(t, err, ErrInvalidResponse)
}

// TestAPIErrorsMaskTheDecodedAPIKey checks that the API key quoted decoded
// (it is a Basic credential, "id:secret" in base64) is masked too.
func TestAPIErrorsMaskTheDecodedAPIKey(t *testing.T) {
	t.Parallel()
	decoded, err := base64.StdEncoding.DecodeString(testKey)
	require.NoError(t, err)
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1", jsonResp(http.StatusBadRequest,
		`{"type":"list","data":[{"code":"parameter-not-valid","detail":"credential `+string(decoded)+` not allowed"}]}`))
	_, err = c.Users.Get(context.Background(), "u1")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, err.Error(), string(decoded))
	assert.NotContains(t, apiErr.Errors[0].Detail, string(decoded))
}

// TestBadRequestMatchesErrBadRequest checks that a 400 from the API matches
// ErrBadRequest, not ErrValidation (which is for this library's own checks,
// made before sending), and that other statuses do not.
func TestBadRequestMatchesErrBadRequest(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]bool{http.StatusBadRequest: true, http.StatusNotFound: false, http.StatusUnprocessableEntity: false} {
		c, mt := newMockClient(t, WithMaxRetries(0))
		mt.RegisterResponder(http.MethodGet, testBase+"/users/u1", jsonResp(status,
			`{"type":"list","data":[{"code":"parameter-not-valid","title":"Parameter not valid"}]}`))
		_, err := c.Users.Get(context.Background(), "u1")
		require.Error(t, err)
		assert.Equal(t, want, errors.Is(err, ErrBadRequest), "status %d", status)
		assert.NotErrorIs(t, err, ErrValidation, "status %d", status)
	}
}

// assertOnePrefix checks the rule of errors.go: an error string names the
// package once, at its start, however many layers the error went through.
func assertOnePrefix(t *testing.T, err error, what string) {
	t.Helper()
	require.Error(t, err, what)
	msg := err.Error()
	assert.Equal(t, 1, strings.Count(msg, "basiq:"), "%s: %q", what, msg)
	assert.True(t, strings.HasPrefix(msg, "basiq: "), "%s: %q", what, msg)
}

// TestErrorStringsCarryOnePrefix drives every endpoint of the table through
// the ways a call fails (an API error, a refused key, a network error, a
// refused redirect, an answer that cannot be read, a cancelled context, bad
// ids) and checks each error string carries "basiq:" once.
func TestErrorStringsCarryOnePrefix(t *testing.T) {
	t.Parallel()
	const apiError400 = `{"type":"list","correlationId":"corr-400","data":[{"type":"error","code":"parameter-not-valid","title":"Parameter value is not valid"}]}`
	kinds := []struct {
		name   string
		answer httpmock.Responder
		want   error
	}{
		{"404", jsonResp(http.StatusNotFound, user404JSON), ErrNotFound},
		{"400", jsonResp(http.StatusBadRequest, apiError400), ErrBadRequest},
		{"network error", httpmock.NewErrorResponder(errors.New("connection reset by peer")), nil},
		{"redirect to another origin", redirect(http.StatusFound, "https://evil.test/x?token=abc"), ErrRedirectRefused},
		{"not JSON", httpmock.NewStringResponder(http.StatusOK, "<html>maintenance</html>"), ErrInvalidResponse},
	}
	for _, e := range endpoints {
		for _, k := range kinds {
			t.Run(e.name+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				ids := e.sampleIDs()
				c, _ := endpointSetup(t, e, ids, k.answer)
				_, err := e.call(t.Context(), c, ids...)
				if k.want == ErrInvalidResponse && err == nil {
					return // a delete reads no body
				}
				assertOnePrefix(t, err, e.name+" "+k.name)
				if k.want != nil {
					assert.ErrorIs(t, err, k.want)
				}
			})
		}
		t.Run(e.name+"/cancelled", func(t *testing.T) {
			t.Parallel()
			ids := e.sampleIDs()
			c, _ := endpointSetup(t, e, ids)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := e.call(ctx, c, ids...)
			assertOnePrefix(t, err, e.name+" cancelled")
			assert.ErrorIs(t, err, context.Canceled)
		})
		t.Run(e.name+"/key refused", func(t *testing.T) {
			t.Parallel()
			ids := e.sampleIDs()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/token", jsonResp(http.StatusNotFound, `{"type":"list","data":[{"code":"resource-not-found","title":"Unable to authenticate"}]}`))
			_, err := e.call(t.Context(), c, ids...)
			assertOnePrefix(t, err, e.name+" key refused")
			assert.ErrorIs(t, err, ErrUnauthorized)
		})
		if len(e.fields) > 0 {
			t.Run(e.name+"/bad ids", func(t *testing.T) {
				t.Parallel()
				c, _ := newMockClient(t)
				_, err := e.call(t.Context(), c, make([]string, len(e.fields))...)
				assertOnePrefix(t, err, e.name+" bad ids")
				assert.ErrorIs(t, err, ErrValidation)
			})
		}
	}
}

// TestWaitErrorStringsCarryOnePrefix checks the errors of a wait and of the
// calls that wrap another call's error: a failed job, an MFA step, a poll
// answered 404, a job without steps, a deadline, an institution that does
// not exist, parameters refused before sending.
func TestWaitErrorStringsCarryOnePrefix(t *testing.T) {
	t.Parallel()
	wait := func(answer httpmock.Responder) func(t *testing.T) error {
		return func(t *testing.T) error {
			c, mt := newMockClient(t, WithMaxRetries(0))
			mt.RegisterResponder(http.MethodGet, jobURL, answer)
			mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/connections/c1", jsonResp(http.StatusOK, connC1JSON))
			mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", jsonResp(http.StatusOK, hooliJSON))
			_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
			return err
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T) error
		want error
	}{
		{"job failed", wait(jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "failed", `{"type":"error","code":"invalid-credentials","title":"Invalid credentials"}`}))), ErrJobFailed},
		{"MFA", wait(jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stMFA, "pending", `{"type":"mfa","method":"token","description":"Enter the code"}`}))), ErrMFARequired},
		{"poll 404", wait(jsonResp(http.StatusNotFound, user404JSON)), ErrNotFound},
		{"no steps", wait(jsonResp(http.StatusOK, `{"type":"job","id":"j1","steps":[]}`)), ErrInvalidResponse},
		{"redirect", wait(redirect(http.StatusFound, "https://evil.test/jobs/j1")), ErrRedirectRefused},
		{"deadline", func(t *testing.T) error {
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""})))
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			_, err := c.WaitForJob(ctx, &Job{ID: "j1"}, fastPoll)
			return err
		}, context.DeadlineExceeded},
		{"unknown institution", func(t *testing.T) error {
			c, mt := newMockClient(t, WithMaxRetries(0))
			mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU19301", jsonResp(http.StatusNotFound, user404JSON))
			_, err := c.Connections.Create(t.Context(), "u1", ConnectionParams{LoginID: "l", Password: "p", Institution: InstitutionRef{ID: "AU19301"}})
			return err
		}, ErrNotFound},
		{"parameters refused", func(t *testing.T) error {
			c, mt := newMockClient(t, WithMaxRetries(0))
			mt.RegisterResponder(http.MethodGet, testBase+"/institutions/AU00000", jsonResp(http.StatusOK, hooliJSON))
			_, err := c.Connections.Create(t.Context(), "u1", ConnectionParams{UserToken: "tok", Institution: InstitutionRef{ID: "AU00000"}})
			return err
		}, ErrValidation},
		{"bad wait options", func(t *testing.T) error {
			c, _ := newMockClient(t)
			_, err := c.WaitForJob(t.Context(), &Job{ID: "j1"}, WithPollInterval(0, 0), WithProgress(nil))
			return err
		}, ErrValidation},
		{"amount that is not a number", func(t *testing.T) error {
			c, mt := newMockClient(t, WithMaxRetries(0))
			mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/transactions/t1", jsonResp(http.StatusOK, `{"type":"transaction","id":"t1","amount":123456789012345678901234567890123456789012345678901234567890,"account":"a1"}`))
			mt.RegisterResponder(http.MethodGet, testBase+"/users/u1/transactions", jsonResp(http.StatusOK, `{"type":"list","data":[{"type":"transaction","id":"t1","amount":123456789012345678901234567890123456789012345678901234567890}],"links":{}}`))
			_, err := c.Transactions.Get(t.Context(), "u1", "t1")
			if err == nil {
				_, err = collect(c.Transactions.List(t.Context(), "u1", nil))
			}
			return err
		}, ErrInvalidResponse},
		{"MFA answer without a user on 3.0", func(t *testing.T) error {
			c, mt := newMockClient(t, WithVersion("3.0"))
			mt.RegisterResponder(http.MethodGet, jobURL, jsonResp(http.StatusNotFound, user404JSON))
			_, err := c.Jobs.RespondMFA(t.Context(), "j1", "123456")
			return err
		}, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.run(t)
			assertOnePrefix(t, err, tc.name)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

// TestJoinedValidationErrorsReadOneSentenceALine checks that several
// problems found at once print one sentence a line, naming the package
// once, and that each is still a *ValidationError.
func TestJoinedValidationErrorsReadOneSentenceALine(t *testing.T) {
	t.Parallel()
	c, _ := newMockClient(t)
	_, err := c.Connections.Update(t.Context(), " ", "", ConnectionUpdateParams{})
	assert.Equal(t, []string{"userId", "connectionId", "password"}, validationFields(t, err))
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 3, "%q", err.Error())
	assert.Equal(t, 1, strings.Count(err.Error(), "basiq:"), "%q", err.Error())
	assert.True(t, strings.HasPrefix(lines[0], "basiq: userId "), "%q", lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "connectionId "), "%q", lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "password "), "%q", lines[2])
	for _, l := range lines {
		assert.NotContains(t, l, "invalid ", "a line says what is wrong, not only that it is")
		assert.False(t, strings.HasSuffix(l, ":"), "%q is a whole sentence", l)
	}
	// Each joined error, printed alone, is a sentence of its own.
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	for _, e := range joined.Unwrap() {
		assertOnePrefix(t, e, "joined part")
	}
}

// TestValidationMessagesSayWhatToDo checks that a refused argument's
// message is one sentence naming the field, the problem and what to do.
func TestValidationMessagesSayWhatToDo(t *testing.T) {
	// Not parallel: a case clears the API key's environment variable.
	token := &Institution{ID: "AU19301", Authorization: AuthToken}
	login := &Institution{ID: "AU00000", Authorization: AuthUser, SecurityCodeCaption: "Security code"}
	cases := []struct {
		name string
		err  func(c *Client) error
		want string
	}{
		{"user token missing", func(*Client) error {
			return ConnectionParams{Institution: InstitutionRef{ID: "AU19301"}}.Validate(token)
		}, `basiq: userToken is required for institution AU19301, whose authorization is "token"`},
		{"login for a token bank", func(*Client) error {
			return ConnectionParams{UserToken: "t", LoginID: "gavin", Institution: InstitutionRef{ID: "AU19301"}}.Validate(token)
		}, `basiq: loginId must be empty for institution AU19301, whose authorization is "token", which takes a userToken instead`},
		{"security code", func(*Client) error {
			return ConnectionParams{LoginID: "gavin", Password: "p", Institution: InstitutionRef{ID: "AU00000"}}.Validate(login)
		}, `basiq: securityCode is required for institution AU00000, which asks for "Security code"`},
		{"blank id", func(c *Client) error {
			_, err := c.Users.Get(t.Context(), " ")
			return err
		}, "basiq: userId is required: pass an id the API returned, not an empty or blank string"},
		{"MFA answer", func(c *Client) error {
			_, err := c.Jobs.RespondMFA(t.Context(), "j1")
			return err
		}, "basiq: mfa-response is required: give one answer per question of the challenge (a one-time code is one answer)"},
		{"user update", func(c *Client) error {
			_, err := c.Users.Update(t.Context(), "u1", UserParams{})
			return err
		}, "basiq: user has nothing to update: set at least one field of UserParams"},
		{"page size", func(c *Client) error {
			_, err := collect(c.Transactions.List(t.Context(), "u1", &TransactionFilter{PageSize: -1}))
			return err
		}, "basiq: limit must be between 1 and 500: give 0 for the API's default page size"},
		{"retry wait", func(*Client) error {
			_, err := NewClient(WithAPIKey("k"), WithRetryWait(0, 0))
			return err
		}, "basiq: retryWait needs 0 < min <= max: give a positive min no larger than max"},
		{"no key", func(*Client) error {
			t.Setenv(EnvAPIKey, "")
			_, err := NewClient()
			return err
		}, "basiq: apiKey is required: use WithAPIKey or set BASIQ_API_KEY"},
	}
	c, _ := newMockClient(t)
	for _, tc := range cases {
		err := tc.err(c)
		require.ErrorIs(t, err, ErrValidation, tc.name)
		assert.Equal(t, tc.want, err.Error(), tc.name)
	}
}
