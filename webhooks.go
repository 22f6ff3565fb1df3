package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// WebhooksService manages the subscriptions through which Basiq pushes a
// signed notification to an application's endpoint when something happens
// (a connection is created, transactions are updated...), and reads the
// messages sent and their delivery attempts.
//
// Receiving a notification safely takes three steps: build a verifier with
// the subscription's secret (webhook.NewVerifier(w.SigningSecret())), serve
// webhook.Handler(v, fn) at the subscription's URL, and in fn read the event
// with [EventsService.Get] (Notification.EventID): the notification only
// says that something happened.
type WebhooksService service

// WebhookStatus is the state of a subscription.
type WebhookStatus string

// The subscription statuses the API uses.
const (
	// WebhookActive: notifications are sent.
	WebhookActive WebhookStatus = "active"
	// WebhookPendingApproval: Basiq is reviewing the subscription (up to
	// 15 minutes); nothing is sent yet.
	WebhookPendingApproval WebhookStatus = "pending-approval"
)

// Webhook is a subscription: where Basiq sends notifications, and for which
// event types, as POST and GET /notifications/webhooks answer it.
//
// Its signing secret is a credential: it is held where fmt, log/slog,
// encoding/json, encoding/gob and reflection-based printers cannot read it,
// and read only with [Webhook.SigningSecret].
type Webhook struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// URL is the endpoint notifications are POSTed to.
	URL string `json:"url"`
	// SubscribedEvents are the event types notified, such as
	// "connection.created" (the webhook package names them).
	SubscribedEvents []string      `json:"subscribedEvents"`
	Status           WebhookStatus `json:"status"`
	// CreatedDate is zero when the API does not give it.
	CreatedDate time.Time `json:"createdDate"`
	Links       Links     `json:"links"`

	secret hidden[string]
}

// SigningSecret returns the secret Basiq signs this subscription's
// notifications with, for webhook.NewVerifier; "" when the answer did not
// carry it (lists leave it out). Keep it like a password: never log it.
func (w *Webhook) SigningSecret() string {
	if w == nil {
		return ""
	}
	return w.secret.value()
}

// UnmarshalJSON reads the secret into its hidden place, the timestamp
// leniently, and subscribedEvents as a list or, as Basiq's examples write
// it, a single string.
func (w *Webhook) UnmarshalJSON(b []byte) error {
	type plain Webhook
	var raw struct {
		plain
		SubscribedEvents json.RawMessage `json:"subscribedEvents"`
		CreatedDate      lenientTime     `json:"createdDate"`
		Secret           string          `json:"secret"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*w = Webhook(raw.plain)
	w.CreatedDate = raw.CreatedDate.Time
	w.SubscribedEvents = stringList(raw.SubscribedEvents)
	w.secret = hide(raw.Secret)
	return nil
}

func (w *Webhook) resourceID() string { return w.ID }

// String describes the subscription with its secret masked, and the URL's
// user information and query, which may hold credentials of the endpoint,
// masked too.
func (w Webhook) String() string {
	return fmt.Sprintf("basiq.Webhook{ID: %q, Name: %q, URL: %q, Status: %q, SubscribedEvents: %q, Secret: %s}",
		clean(w.ID, 100), clean(w.Name, 100), clean(endpointURL(w.URL), 300), clean(string(w.Status), 50), w.SubscribedEvents, mask(w.secret.value()))
}

// endpointURL is raw without its user information and query, each
// replaced by [REDACTED]; a URL that does not parse is [REDACTED] whole.
func endpointURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" { // "https:user:pw@host" parses opaque
		return redacted
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = redacted, false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// Format implements [fmt.Formatter]: every verb prints [Webhook.String].
func (w Webhook) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, w.String()) }

// stringList reads a list of strings, or one string as a list of one;
// anything else is nil.
func stringList(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '"' {
		if s, ok := unquote(raw); ok && s != "" {
			return []string{s}
		}
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	return list
}

// WebhookParams are the fields of a subscription sent by
// [WebhooksService.Create] and [WebhooksService.Update]; empty fields are
// left out.
type WebhookParams struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// URL is the endpoint to notify: an absolute https URL (Basiq's
	// servers reach it over the internet; basiqtest takes loopback http
	// ones). Required, by Update too: Basiq's published schema requires it
	// in both bodies.
	URL string `json:"url,omitempty"`
	// SubscribedEvents are the event types to notify, such as
	// "connection.created". The set is open: a type this library does not
	// know is sent as it is.
	SubscribedEvents []string `json:"subscribedEvents,omitempty"`
}

// check refuses params the API cannot take, before any request.
func (p WebhookParams) check() error {
	var errs []error
	switch u, err := url.Parse(p.URL); {
	case strings.TrimSpace(p.URL) == "":
		errs = append(errs, &ValidationError{Field: "url", Reason: "is required: give the endpoint Basiq should notify, an absolute https URL (basiqtest takes loopback http ones)"})
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, &ValidationError{Field: "url", Reason: "must be an absolute URL with a host, such as https://app.example/basiq/webhooks"})
	}
	for _, f := range []struct{ field, value string }{{"name", p.Name}, {"description", p.Description}} {
		if hasControl(f.value) {
			errs = append(errs, &ValidationError{Field: f.field, Reason: "contains control characters: give plain text"})
		}
	}
	for _, ev := range p.SubscribedEvents {
		if strings.TrimSpace(ev) == "" || hasControl(ev) || len(ev) > maxIDBytes {
			errs = append(errs, &ValidationError{Field: "subscribedEvents", Reason: "each event type must be a name such as connection.created"})
			break
		}
	}
	return joinValidation(errs)
}

// hasControl reports whether s holds a control character.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// Create subscribes an endpoint to notifications: POST
// /notifications/webhooks. The answer carries the signing secret
// ([Webhook.SigningSecret]). It is not repeated on a 5xx answer or a
// network error: a repeat could subscribe the endpoint twice.
func (s *WebhooksService) Create(ctx context.Context, p WebhookParams) (*Webhook, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	w := new(Webhook)
	if _, err := s.client.call(ctx, http.MethodPost, "notifications/webhooks", p, w); err != nil {
		return nil, err
	}
	s.remember(ctx, w)
	return w, nil
}

// List returns the application's subscriptions: GET
// /notifications/webhooks. Basiq's list leaves the secrets out.
func (s *WebhooksService) List(ctx context.Context) ([]Webhook, error) {
	var all []Webhook
	for w, err := range paginateLenient[Webhook](ctx, s.client, "notifications/webhooks") {
		if err != nil {
			return nil, err
		}
		s.remember(ctx, &w)
		all = append(all, w)
	}
	return all, nil
}

// Get returns one subscription: GET /notifications/webhooks/{webhookId}.
func (s *WebhooksService) Get(ctx context.Context, webhookID string) (*Webhook, error) {
	if err := checkID("webhookId", webhookID); err != nil {
		return nil, err
	}
	w := new(Webhook)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("notifications/webhooks/%s", webhookID), nil, w); err != nil {
		return nil, err
	}
	s.remember(ctx, w)
	return w, nil
}

// Update changes a subscription: POST /notifications/webhooks/{webhookId}
// with the fields set in p (URL is required, as Basiq's schema has it; give
// the fields to keep as well, since what the API does with a field left
// out is not documented). Setting the same fields again changes nothing,
// so it is repeated on a 5xx answer or a network error.
func (s *WebhooksService) Update(ctx context.Context, webhookID string, p WebhookParams) (*Webhook, error) {
	err := checkID("webhookId", webhookID)
	if perr := p.check(); perr != nil {
		err = joinValidation([]error{err, perr})
	}
	if err != nil {
		return nil, err
	}
	w := new(Webhook)
	if _, err := s.client.call(ctx, http.MethodPost, pathf("notifications/webhooks/%s", webhookID), p, w, withRetry()); err != nil {
		return nil, err
	}
	s.remember(ctx, w)
	return w, nil
}

// Delete ends a subscription: DELETE /notifications/webhooks/{webhookId}.
func (s *WebhooksService) Delete(ctx context.Context, webhookID string) error {
	if err := checkID("webhookId", webhookID); err != nil {
		return err
	}
	_, err := s.client.call(ctx, http.MethodDelete, pathf("notifications/webhooks/%s", webhookID), nil, nil)
	return err
}

// WebhookMessage is one notification sent to a subscription, with its
// delivery attempts, as GET /notifications/webhooks/{id}/messages lists it.
type WebhookMessage struct {
	ID        string `json:"id"`
	WebhookID string `json:"webhookId"`
	// EventTypeID and EventID say what the notification was about; they
	// are the payload's when the message does not repeat them.
	EventTypeID string `json:"eventTypeId"`
	EventID     string `json:"eventId"`
	// Payload is the body that was POSTed.
	Payload WebhookPayload `json:"payload"`
	// Attempts are the deliveries tried, as the API lists them.
	Attempts []WebhookAttempt `json:"attempts"`
	Links    MessageLinks     `json:"links"`
}

// WebhookPayload is the body of a notification.
type WebhookPayload struct {
	EventTypeID string       `json:"eventTypeId"`
	EventID     string       `json:"eventId"`
	Links       PayloadLinks `json:"links"`
}

// PayloadLinks are a notification's links: the event (read it with
// [EventsService.Get]) and the resource it is about.
type PayloadLinks struct {
	Event       string `json:"event,omitempty"`
	EventEntity string `json:"eventEntity,omitempty"`
}

// MessageLinks are a message's links.
type MessageLinks struct {
	Self    string `json:"self,omitempty"`
	Webhook string `json:"webhook,omitempty"`
	Event   string `json:"event,omitempty"`
}

// WebhookAttempt is one delivery of a message.
type WebhookAttempt struct {
	ID string `json:"id"`
	// URL is where it was sent.
	URL string `json:"url"`
	// Response is what the endpoint answered, as the API records it.
	Response string `json:"response"`
	// StatusCode is the endpoint's HTTP status (responseStatusCode); 0
	// when it did not answer.
	StatusCode int `json:"responseStatusCode"`
	// Timestamp is when the attempt was made; zero when not given.
	Timestamp time.Time `json:"timestamp"`
	// Status is the API's verdict, such as "Success" or "Failed".
	Status string `json:"status"`
}

// Succeeded reports whether the endpoint answered with a 2xx status.
func (a WebhookAttempt) Succeeded() bool { return a.StatusCode >= 200 && a.StatusCode <= 299 }

// String describes the attempt with the URL's user information and query
// masked, as [Webhook.String] does.
func (a WebhookAttempt) String() string {
	return fmt.Sprintf("basiq.WebhookAttempt{ID: %q, URL: %q, StatusCode: %d, Status: %q, Timestamp: %s}",
		clean(a.ID, 100), clean(endpointURL(a.URL), 300), a.StatusCode, clean(a.Status, 50), a.Timestamp.Format(time.RFC3339))
}

// UnmarshalJSON reads the status code as a number or a string, and the
// timestamp leniently.
func (a *WebhookAttempt) UnmarshalJSON(b []byte) error {
	type plain WebhookAttempt
	var raw struct {
		plain
		StatusCode flexString  `json:"responseStatusCode"`
		Timestamp  lenientTime `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*a = WebhookAttempt(raw.plain)
	a.Timestamp = raw.Timestamp.Time
	a.StatusCode = 0
	if n, err := json.Number(raw.StatusCode).Int64(); err == nil && n > 0 && n < 1000 {
		a.StatusCode = int(n)
	}
	return nil
}

// UnmarshalJSON reads attempts given as objects or, as Basiq's schema
// writes them, as strings (read as attempt ids), and takes the event's type
// and id from the payload when the message does not repeat them.
func (m *WebhookMessage) UnmarshalJSON(b []byte) error {
	type plain WebhookMessage
	var raw struct {
		plain
		Attempts []json.RawMessage `json:"attempts"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = WebhookMessage(raw.plain)
	m.Attempts = nil
	for _, r := range raw.Attempts {
		var a WebhookAttempt
		if s, ok := unquote(bytes.TrimSpace(r)); ok {
			a.ID = s
		} else if json.Unmarshal(r, &a) != nil {
			continue // an odd entry is left out
		}
		m.Attempts = append(m.Attempts, a)
	}
	if m.EventTypeID == "" {
		m.EventTypeID = m.Payload.EventTypeID
	}
	if m.EventID == "" {
		m.EventID = m.Payload.EventID
	}
	return nil
}

func (m *WebhookMessage) resourceID() string { return m.ID }

// Messages yields a subscription's messages with their attempts: GET
// /notifications/webhooks/{webhookId}/messages, fetching each further page
// only when the loop reaches it. A bad id ends the loop at once with a
// *ValidationError, before any request.
func (s *WebhooksService) Messages(ctx context.Context, webhookID string) iter.Seq2[WebhookMessage, error] {
	if err := checkID("webhookId", webhookID); err != nil {
		return func(yield func(WebhookMessage, error) bool) { yield(WebhookMessage{}, err) }
	}
	return paginate[WebhookMessage](ctx, s.client, pathf("notifications/webhooks/%s/messages", webhookID))
}

// Message returns one message of a subscription with its attempts: GET
// /notifications/webhooks/{webhookId}/messages/{messageId}.
func (s *WebhooksService) Message(ctx context.Context, webhookID, messageID string) (*WebhookMessage, error) {
	if err := checkIDs("webhookId", webhookID, "messageId", messageID); err != nil {
		return nil, err
	}
	m := new(WebhookMessage)
	path := pathf("notifications/webhooks/%s/messages/%s", webhookID, messageID)
	if _, err := s.client.call(ctx, http.MethodGet, path, nil, m); err != nil {
		return nil, err
	}
	return m, nil
}

// SendTest asks Basiq to send a test notification of an event type (such
// as "user.created") to the application's subscriptions: POST
// /notifications/messages/test. It is not repeated on a 5xx answer or a
// network error: a repeat would send a second message.
func (s *WebhooksService) SendTest(ctx context.Context, eventTypeID string) error {
	if strings.TrimSpace(eventTypeID) == "" || hasControl(eventTypeID) || len(eventTypeID) > maxIDBytes {
		return &ValidationError{Field: "eventTypeId", Reason: "must be an event type such as user.created"}
	}
	body := struct {
		EventTypeID string `json:"eventTypeId"`
	}{eventTypeID}
	_, err := s.client.call(ctx, http.MethodPost, "notifications/messages/test", body, nil)
	return err
}

// The secrets of the subscriptions a client has read are masked in the
// errors of its webhook calls: a server that knows them could quote one in
// an error answer (a gateway quoting the stored subscription, say).

// maxRememberedSecrets bounds the secrets a client remembers for masking.
const maxRememberedSecrets = 64

// secretMemory is the per-client memory of webhook secrets, newest last.
type secretMemory struct {
	mu      sync.Mutex
	secrets []string
}

// remember keeps w's secret, if it has one, for masking, and masks it in
// the headers ctx's WithResponse target recorded before the body showed it.
func (s *WebhooksService) remember(ctx context.Context, w *Webhook) {
	sec := w.SigningSecret()
	if sec == "" {
		return
	}
	maskRecorded(ctx, webhookSecretForms([]string{sec})...)
	m := s.client.webhookSecrets.value()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, old := range m.secrets {
		if old == sec {
			m.secrets = append(m.secrets[:i], m.secrets[i+1:]...)
			break
		}
	}
	if len(m.secrets) >= maxRememberedSecrets {
		m.secrets = m.secrets[1:]
	}
	m.secrets = append(m.secrets, sec)
}

// webhookSecretForms are the forms of a secret masked: as issued and, for a
// Standard Webhooks secret, its key without the "whsec_" prefix.
func webhookSecretForms(secrets []string) []string {
	out := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		if len(s) < 8 { // too short to mask without garbling the text
			continue
		}
		out = append(out, s)
		if key, ok := strings.CutPrefix(s, "whsec_"); ok && len(key) >= 8 {
			out = append(out, key)
		}
	}
	return out
}

// webhookSecretForms returns the forms of the webhook secrets the client
// has read, for masking in any text from the server.
func (c *Client) webhookSecretForms() []string {
	m := c.webhookSecrets.value()
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.secrets) == 0 {
		return nil
	}
	return webhookSecretForms(m.secrets)
}
