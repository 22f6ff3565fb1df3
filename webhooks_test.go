package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// webhookSecret is the signing secret of webhookW1JSON: distinctive, so
// finding it anywhere is no accident.
const webhookSecret = "whsec_c2VjcmV0LW9mLXdlYmhvb2std2gtMS1zaWduaW5n"

// webhookW1JSON is a subscription as POST /notifications/webhooks answers it.
const webhookW1JSON = `{"type":"webhook","id":"w1","name":"All events","description":"catch-all",` +
	`"url":"https://app.example/hooks","status":"active","secret":"` + webhookSecret + `",` +
	`"subscribedEvents":["connection.created","transactions.updated"],"createdDate":"2026-11-30T01:02:03Z",` +
	`"links":{"self":"https://api.test/notifications/webhooks/w1"}}`

func TestWebhooksCreateSendsTheParamsAndKeepsTheSecretReadable(t *testing.T) {
	t.Parallel()
	c, _, rec := setup(t, http.MethodPost, testBase+"/notifications/webhooks", jsonResp(http.StatusCreated, webhookW1JSON))
	w, err := c.Webhooks.Create(context.Background(), WebhookParams{
		Name: "All events", URL: "https://app.example/hooks",
		SubscribedEvents: []string{"connection.created", "a.type.this.library.does.not.know"},
	})
	require.NoError(t, err)
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, "application/json", reqs[0].ContentType)
	assert.JSONEq(t, `{"name":"All events","url":"https://app.example/hooks",`+
		`"subscribedEvents":["connection.created","a.type.this.library.does.not.know"]}`, reqs[0].Body)

	assert.Equal(t, "w1", w.ID)
	assert.Equal(t, "All events", w.Name)
	assert.Equal(t, "catch-all", w.Description)
	assert.Equal(t, "https://app.example/hooks", w.URL)
	assert.Equal(t, WebhookActive, w.Status)
	assert.Equal(t, []string{"connection.created", "transactions.updated"}, w.SubscribedEvents)
	assert.Equal(t, time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC), w.CreatedDate)
	assert.Equal(t, "https://api.test/notifications/webhooks/w1", w.Links.Self)
	assert.Equal(t, webhookSecret, w.SigningSecret())
	assert.Empty(t, (*Webhook)(nil).SigningSecret())
	assert.Equal(t, `basiq.Webhook{ID: "w1", Name: "All events", URL: "https://app.example/hooks", Status: "active", `+
		`SubscribedEvents: ["connection.created" "transactions.updated"], Secret: [REDACTED]}`, fmt.Sprintf("%+v", w))
}

func TestWebhooksUpdateSendsOnlyTheFieldsSet(t *testing.T) {
	t.Parallel()
	c, _, rec := setup(t, http.MethodPost, testBase+"/notifications/webhooks/w1", jsonResp(http.StatusOK, webhookW1JSON))
	_, err := c.Webhooks.Update(context.Background(), "w1", WebhookParams{URL: "https://app.example/new", SubscribedEvents: []string{"user.created"}})
	require.NoError(t, err)
	require.Len(t, rec.all(), 1)
	assert.JSONEq(t, `{"url":"https://app.example/new","subscribedEvents":["user.created"]}`, rec.all()[0].Body)
}

func TestWebhookParamsAreCheckedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		create bool
		p      WebhookParams
		fields []string
	}{
		{"create without url", true, WebhookParams{Name: "x"}, []string{"url"}},
		{"create with blank url", true, WebhookParams{URL: "  "}, []string{"url"}},
		{"relative url", true, WebhookParams{URL: "/hooks"}, []string{"url"}},
		{"other scheme", true, WebhookParams{URL: "ftp://app.example/hooks"}, []string{"url"}},
		{"unparseable url", false, WebhookParams{URL: "https://app example/%zz"}, []string{"url"}},
		{"update without url", false, WebhookParams{Name: "x"}, []string{"url"}},
		{"control character in name", true, WebhookParams{URL: "https://a.example", Name: "a\nb"}, []string{"name"}},
		{"control character in description", false, WebhookParams{URL: "https://a.example", Description: "\x1b[2J"}, []string{"description"}},
		{"blank event type", true, WebhookParams{URL: "https://a.example", SubscribedEvents: []string{"user.created", " "}}, []string{"subscribedEvents"}},
		{"several at once", true, WebhookParams{Name: "\r", SubscribedEvents: []string{"x\n"}}, []string{"url", "name", "subscribedEvents"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			var err error
			if tc.create {
				_, err = c.Webhooks.Create(context.Background(), tc.p)
			} else {
				_, err = c.Webhooks.Update(context.Background(), "w1", tc.p)
			}
			assert.Equal(t, tc.fields, validationFields(t, err))
			assert.Zero(t, mt.GetTotalCallCount())
		})
	}
	c, mt := newMockClient(t)
	for _, bad := range []string{"", " ", "a\nb", strings.Repeat("x", maxIDBytes+1)} {
		assert.Equal(t, []string{"eventTypeId"}, validationFields(t, c.Webhooks.SendTest(context.Background(), bad)), "%q", bad)
	}
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestWebhooksSendTestPostsTheEventType(t *testing.T) {
	t.Parallel()
	c, _, rec := setup(t, http.MethodPost, testBase+"/notifications/messages/test", jsonResp(http.StatusCreated, ""))
	require.NoError(t, c.Webhooks.SendTest(context.Background(), "connection.created"))
	require.Len(t, rec.all(), 1)
	assert.JSONEq(t, `{"eventTypeId":"connection.created"}`, rec.all()[0].Body)
}

// TestWebhooksDecodePublishedExamples decodes Basiq's published example
// answers, whose shapes depart from their own schema: subscribedEvents as
// one string, a status code as a string, attempts listed in a message.
func TestWebhooksDecodePublishedExamples(t *testing.T) {
	t.Parallel()
	var w Webhook
	require.NoError(t, json.Unmarshal(specExample(t, "v3/webhooks.yml", "/notifications/webhooks", "post", "201", ""), &w))
	assert.Equal(t, "3fa85f64-5717-4562-b3fc-2c963f66afa6", w.ID)
	assert.Equal(t, []string{"user.created"}, w.SubscribedEvents)
	assert.Equal(t, WebhookActive, w.Status)
	assert.Equal(t, "rfiuheo43934", w.SigningSecret())
	assert.NotContains(t, fmtAll(w), "rfiuheo43934")

	var m WebhookMessage
	require.NoError(t, json.Unmarshal(specExample(t, "v3/webhooks.yml", "/notifications/webhooks/{webhookId}/messages/{messageId}", "get", "200", ""), &m))
	assert.Equal(t, "11a85f64-5717-4562-b3fc-2c963f66af11", m.ID)
	assert.Equal(t, "user.created", m.EventTypeID, "taken from the payload")
	assert.Equal(t, "44a85f64-5717-4562-b3fc-2c963f66af44", m.EventID)
	assert.Equal(t, "https://au-api.basiq.io/events/44a85f64-5717-4562-b3fc-2c963f66af44", m.Payload.Links.Event)
	require.Len(t, m.Attempts, 2)
	assert.Equal(t, WebhookAttempt{ID: "e2du423ed", URL: "https://piper.com/basiq-messages/", Response: "OK", StatusCode: 200,
		Timestamp: time.Date(2019, 8, 24, 14, 15, 22, 0, time.UTC), Status: "Success"}, m.Attempts[0])
	assert.True(t, m.Attempts[0].Succeeded())
	assert.Equal(t, 500, m.Attempts[1].StatusCode, "a status code written as a string")
	assert.False(t, m.Attempts[1].Succeeded())
}

func TestWebhookMessagesArePagedAndOddAttemptsTolerated(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks/w1/messages", jsonResp(http.StatusOK,
		`{"type":"list","data":[{"id":"m1","eventTypeId":"connection.created","attempts":["a1",{"id":"a2","responseStatusCode":null},42]}],`+
			`"links":{"next":"https://api.test/notifications/webhooks/w1/messages?page=2"}}`))
	mt.RegisterResponderWithQuery(http.MethodGet, testBase+"/notifications/webhooks/w1/messages", "page=2", jsonResp(http.StatusOK,
		`{"type":"list","data":[{"id":"m2","payload":{"eventTypeId":"transactions.updated","eventId":"e2"}}]}`))
	msgs, err := collect(c.Webhooks.Messages(context.Background(), "w1"))
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, []WebhookAttempt{{ID: "a1"}, {ID: "a2"}}, msgs[0].Attempts, "a string is an attempt id; a number is left out")
	assert.Equal(t, "transactions.updated", msgs[1].EventTypeID)
	assert.Equal(t, "e2", msgs[1].EventID)

	for _, err := range c.Webhooks.Messages(context.Background(), "..") {
		assert.Equal(t, []string{"webhookId"}, validationFields(t, err))
	}
}

// TestWebhookSecretIsMaskedInLaterErrors checks that once a client has read
// a subscription's secret, an error answer quoting it (on any webhook call)
// shows it masked.
func TestWebhookSecretIsMaskedInLaterErrors(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithMaxRetries(0))
	mt.RegisterResponder(http.MethodPost, testBase+"/notifications/webhooks", jsonResp(http.StatusCreated, webhookW1JSON))
	quote := jsonResp(http.StatusBadRequest, `{"type":"list","data":[{"type":"error","code":"invalid-content",`+
		`"title":"Bad","detail":"webhook w1 has secret `+webhookSecret+`"},{"type":"error","code":"invalid-content",`+
		`"title":"Bad","detail":"key `+strings.TrimPrefix(webhookSecret, "whsec_")+`"}]}`)
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks/w1", quote)
	mt.RegisterResponder(http.MethodPost, testBase+"/notifications/webhooks/w1", quote)
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks", quote)
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks/w1/messages", quote)
	mt.RegisterResponder(http.MethodPost, testBase+"/notifications/messages/test", quote)
	ctx := context.Background()
	_, err := c.Webhooks.Create(ctx, WebhookParams{URL: "https://app.example/hooks"})
	require.NoError(t, err)

	_, errGet := c.Webhooks.Get(ctx, "w1")
	_, errUpdate := c.Webhooks.Update(ctx, "w1", WebhookParams{Name: "x", URL: "https://app.example/hooks"})
	_, errList := c.Webhooks.List(ctx)
	_, errMessages := collect(c.Webhooks.Messages(ctx, "w1"))
	errTest := c.Webhooks.SendTest(ctx, "user.created")
	for _, err := range []error{errGet, errUpdate, errList, errMessages, errTest} {
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		out := fmtAll(err) + apiErr.Body + apiErr.Errors[0].Detail
		assert.NotContains(t, out, webhookSecret)
		assert.NotContains(t, out, strings.TrimPrefix(webhookSecret, "whsec_"))
		require.Len(t, apiErr.Errors, 2)
		assert.Contains(t, apiErr.Errors[0].Detail, redacted)
		assert.Contains(t, apiErr.Errors[1].Detail, redacted, "the key without its prefix")
	}
}

// TestWebhookSecretMemoryIsBounded checks that a client remembers a bounded
// number of secrets, the newest.
func TestWebhookSecretMemoryIsBounded(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	n := 0
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks/w1", func(r *http.Request) (*http.Response, error) {
		n++
		return jsonResp(http.StatusOK, `{"id":"w1","url":"https://a.example","secret":"whsec_`+strings.Repeat("A", n)+`"}`)(r)
	})
	for range maxRememberedSecrets + 10 {
		_, err := c.Webhooks.Get(context.Background(), "w1")
		require.NoError(t, err)
	}
	m := c.webhookSecrets.value()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Len(t, m.secrets, maxRememberedSecrets)
	assert.Equal(t, "whsec_"+strings.Repeat("A", maxRememberedSecrets+10), m.secrets[len(m.secrets)-1])
}

// fmtAll formats v with the common verbs, joined.
func fmtAll(v any) string {
	var b strings.Builder
	for _, verb := range fmtVerbs {
		b.WriteString(fmt.Sprintf(verb, v))
		b.WriteByte('\n')
	}
	return b.String()
}

// The webhook secrets a client remembers are only masked, never sent: once
// one is known, webhook calls still follow a same-origin redirect as any
// read does.
func TestWebhookCallsFollowSameOriginRedirectsOnceASecretIsKnown(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/notifications/webhooks", jsonResp(http.StatusCreated, webhookW1JSON))
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks/old", redirect(http.StatusMovedPermanently, testBase+"/notifications/webhooks/w1"))
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks/w1", jsonResp(http.StatusOK, webhookW1JSON))
	ctx := context.Background()

	w, err := c.Webhooks.Get(ctx, "old")
	require.NoError(t, err, "a fresh client follows the same-origin redirect")
	assert.Equal(t, "w1", w.ID)

	_, err = c.Webhooks.Create(ctx, WebhookParams{URL: "https://app.example/hooks"})
	require.NoError(t, err)
	w, err = c.Webhooks.Get(ctx, "old")
	var redir *RedirectError
	if errors.As(err, &redir) {
		t.Errorf("after Create the same redirect is refused: %v", err)
	}
	require.NoError(t, err)
	assert.Equal(t, "w1", w.ID)
}

// The answer that issues a secret may quote it in a header (a Location, a
// gateway's echo), recorded before the body shows the secret: WithResponse
// masks it there too.
func TestWithResponseOfWebhookCreateMasksTheNewSecret(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodPost, testBase+"/notifications/webhooks", func(r *http.Request) (*http.Response, error) {
		resp, _ := jsonResp(http.StatusCreated, webhookW1JSON)(r)
		resp.Header.Set("X-Echo", webhookSecret)
		resp.Header.Set("Location", testBase+"/notifications/webhooks/w1?s="+webhookSecret)
		return resp, nil
	})
	var res Response
	_, err := c.Webhooks.Create(WithResponse(context.Background(), &res), WebhookParams{URL: "https://app.example/hooks"})
	require.NoError(t, err)
	for name, values := range res.Header {
		for _, v := range values {
			assert.NotContains(t, v, "c2VjcmV0LW9mLXdlYmhvb2std2gtMS1zaWduaW5n", "header %s keeps the secret Create just issued", name)
		}
	}
}

// The debug record of a failed request carries the error's masked, bounded
// text, never the raw transport error, which quotes a redirect's whole
// target.
func TestDebugLogOfARefusedRedirectShowsNoSecret(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu syncBuffer
	mu.w = &buf
	c, mt := newMockClient(t, WithMaxRetries(0), WithLogger(slog.New(slog.NewTextHandler(&mu, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	mt.RegisterResponder(http.MethodPost, testBase+"/notifications/webhooks", jsonResp(http.StatusCreated, webhookW1JSON))
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks/w1",
		redirect(http.StatusFound, "https://evil.example/x?s="+webhookSecret+"&t=tok-1"))
	mt.RegisterResponder(http.MethodGet, testBase+"/users/u1",
		redirect(http.StatusFound, "https://evil.example/x?t=tok-1&k="+testKey))
	ctx := context.Background()
	_, err := c.Webhooks.Create(ctx, WebhookParams{URL: "https://app.example/hooks"})
	require.NoError(t, err)
	_, err = c.Webhooks.Get(ctx, "w1")
	require.Error(t, err)
	_, err = c.Users.Get(ctx, "u1")
	require.Error(t, err)
	logged := mu.String()
	for _, secret := range []string{strings.TrimPrefix(webhookSecret, "whsec_"), "tok-1", testKey, "evil.example/x"} {
		assert.NotContains(t, logged, secret)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's writes.
type syncBuffer struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.w.String() }

// A subscription's URL may carry the endpoint's own credentials: its user
// information and query are masked in the formatted value (the verbs that
// reach Format; the URL is the caller's own, not one of the secrets kept out
// of fmt's bad-verb path).
func TestWebhookStringMasksTheURLsCredentials(t *testing.T) {
	t.Parallel()
	w := Webhook{ID: "wh1", URL: "https://user:hunter2@app.example/hooks?token=s3cret#frag"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out := fmt.Sprintf(verb, w)
		assert.NotContains(t, out, "hunter2", verb)
		assert.NotContains(t, out, "s3cret", verb)
		assert.Contains(t, out, "app.example/hooks", verb)
	}
	assert.Equal(t, redacted, endpointURL("://bad url"))
	assert.Equal(t, "https://app.example/hooks", endpointURL("https://app.example/hooks"))
}

// Basiq's published example of GET /notifications/webhooks writes data as
// one object: List reads it as a list of one, and a list as a list.
func TestWebhooksListReadsThePublishedExample(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"published example (one object)": string(specExample(t, "v3/webhooks.yml", "/notifications/webhooks", "get", "200", "")),
		"a list":                         `{"type":"list","data":[{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","url":"https://piper.com/basiq-messages/","status":"active"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks", jsonResp(http.StatusOK, body))
			hooks, err := c.Webhooks.List(t.Context())
			require.NoError(t, err)
			require.Len(t, hooks, 1)
			assert.Equal(t, "3fa85f64-5717-4562-b3fc-2c963f66afa6", hooks[0].ID)
			assert.Equal(t, "https://piper.com/basiq-messages/", hooks[0].URL)
		})
	}
	// Another shape is still refused.
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, testBase+"/notifications/webhooks", jsonResp(http.StatusOK, `{"type":"list","data":"nope"}`))
	_, err := c.Webhooks.List(t.Context())
	assert.ErrorIs(t, err, ErrInvalidResponse)
}

// A URL whose scheme is not followed by "//" parses as opaque, user
// information and all: Webhook's formatted value masks it whole.
func TestWebhookStringMasksAnOpaqueURL(t *testing.T) {
	var w Webhook
	if err := json.Unmarshal([]byte(`{"id":"wh1","url":"https:alice:hunter2pass@hooks.example/in"}`), &w); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{w.String(), fmt.Sprint(w), fmt.Sprintf("%+v", &w)} {
		if strings.Contains(s, "hunter2pass") {
			t.Errorf("endpoint password printed: %s", s)
		}
	}
}

// An attempt's URL is masked like its subscription's.
func TestWebhookAttemptStringMasksTheURLsCredentials(t *testing.T) {
	t.Parallel()
	m := WebhookMessage{Attempts: []WebhookAttempt{{ID: "a1", URL: "https://user:hunter2@app.example/hooks?token=s3cret", StatusCode: 500}}}
	for _, verb := range []string{"%v", "%+v", "%s"} {
		out := fmt.Sprintf(verb, m)
		assert.NotContains(t, out, "hunter2", verb)
		assert.NotContains(t, out, "s3cret", verb)
		assert.Contains(t, out, "app.example/hooks", verb)
	}
}
