package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers Basiq sends with every notification (the Standard Webhooks
// names). http.Header's methods find them in any letter case.
const (
	// HeaderID carries the message id, the same on every retry of one
	// message: deduplicate on it.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the Unix time, in seconds, of this delivery
	// attempt.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries one or more space-separated signatures, each
	// "v1,<base64>".
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a notification's timestamp may be from the
// verifier's clock, either way, unless [WithTolerance] says otherwise.
const DefaultTolerance = 5 * time.Minute

// DefaultMaxBodyBytes is the largest body [Verifier.Parse] and [Handler]
// read unless [WithMaxBodyBytes] says otherwise. Basiq's notifications are
// a few hundred bytes.
const DefaultMaxBodyBytes = 64 << 10

// secretPrefix starts the secrets of the Standard Webhooks scheme; Basiq's
// own examples leave it out.
const secretPrefix = "whsec_"

// The errors of this package. Each error a [Verifier] returns matches one of
// them with [errors.Is], except a failure to read a request body in
// [Verifier.Parse], which wraps the reader's error; none carries the secret,
// a signature or the body.
var (
	// ErrNoSignature: a header the scheme requires (webhook-id,
	// webhook-timestamp or webhook-signature) is missing or empty.
	ErrNoSignature = errors.New("webhook: missing signature header")
	// ErrInvalidSignature: no v1 signature in webhook-signature matches the
	// message, or a header is malformed. The notification did not come from
	// the holder of the secret, or was changed on the way.
	ErrInvalidSignature = errors.New("webhook: invalid signature")
	// ErrTimestampOutOfRange: the signature matches, but webhook-timestamp
	// is further from now than the tolerance: a replay of an old message,
	// or a clock far off.
	ErrTimestampOutOfRange = errors.New("webhook: timestamp out of range")
	// ErrBodyTooLarge: the body is over the verifier's bound
	// ([WithMaxBodyBytes]); it was not verified.
	ErrBodyTooLarge = errors.New("webhook: body too large")
	// ErrInvalidPayload: the signature matches but the body is not a JSON
	// object.
	ErrInvalidPayload = errors.New("webhook: invalid notification body")
	// ErrInvalidSecret: the secret given to [NewVerifier] or [Sign] is empty
	// or not base64 (after an optional "whsec_" prefix).
	ErrInvalidSecret = errors.New("webhook: invalid secret")
	// ErrInvalidOption: an option given to [NewVerifier] has a value it
	// cannot use.
	ErrInvalidOption = errors.New("webhook: invalid option")
)

// The event types Basiq sends (a [Notification]'s EventTypeID). The set is
// open: a type not listed here is passed on, never refused.
const (
	// EventAccountUpdated: an account's details changed.
	EventAccountUpdated = "account.updated"
	// EventConnectionCreated: a connection was created.
	EventConnectionCreated = "connection.created"
	// EventConnectionActivated: a connection became active.
	EventConnectionActivated = "connection.activated"
	// EventConnectionDeleted: a connection was deleted.
	EventConnectionDeleted = "connection.deleted"
	// EventConnectionInvalidated: a connection stopped working, for example
	// after the customer changed their bank password.
	EventConnectionInvalidated = "connection.invalidated"
	// EventConsentCreated: the customer gave consent.
	EventConsentCreated = "consent.created"
	// EventConsentUpdated: a consent changed.
	EventConsentUpdated = "consent.updated"
	// EventConsentRevoked: the customer withdrew consent.
	EventConsentRevoked = "consent.revoked"
	// EventConsentExpired: a consent reached its end.
	EventConsentExpired = "consent.expired"
	// EventConsentWarning: a consent is about to expire.
	EventConsentWarning = "consent.warning"
	// EventConsentReminder: a reminder about a consent was sent.
	EventConsentReminder = "consent.reminder"
	// EventTransactionsUpdated: new or changed transactions were retrieved.
	EventTransactionsUpdated = "transactions.updated"
	// EventUserCreated: a user was created.
	EventUserCreated = "user.created"
	// EventUserUpdated: a user's details changed.
	EventUserUpdated = "user.updated"
	// EventUserDeleted: a user was deleted.
	EventUserDeleted = "user.deleted"
)

// EventTypes returns the event types this package names, in a new slice
// each call.
func EventTypes() []string {
	return []string{
		EventAccountUpdated,
		EventConnectionCreated, EventConnectionActivated, EventConnectionDeleted, EventConnectionInvalidated,
		EventConsentCreated, EventConsentUpdated, EventConsentRevoked, EventConsentExpired, EventConsentWarning, EventConsentReminder,
		EventTransactionsUpdated,
		EventUserCreated, EventUserUpdated, EventUserDeleted,
	}
}

// Notification is one verified notification. It is thin: read the event it
// announces with the client's Events.Get(ctx, n.EventID).
type Notification struct {
	// ID is the message id (webhook-id), the same on every retry of the
	// message: an application that must act once deduplicates on it.
	ID string
	// Timestamp is this delivery attempt's time (webhook-timestamp).
	Timestamp time.Time
	// EventTypeID is what happened, such as [EventConnectionCreated].
	EventTypeID string
	// EventID is the id of the event to read.
	EventID string
	// Links are the URLs of the event and of the resource it is about.
	Links struct{ Event, EventEntity string }
}

// Verifier checks notifications signed with one endpoint's secret. It is safe
// for concurrent use. The secret cannot be read back from it: it is held in
// a closure, and its formatted and logged forms say [REDACTED]. A Verifier
// is made by [NewVerifier]; its zero value verifies nothing.
type Verifier struct {
	mac       func(id, ts string, body []byte) []byte // holds the key
	tolerance time.Duration
	now       func() time.Time
	maxBody   int64
}

// VerifierOption configures a [Verifier].
type VerifierOption func(*Verifier) error

// WithTolerance sets how far a notification's timestamp may be from now,
// either way (default [DefaultTolerance]). It must be positive.
func WithTolerance(d time.Duration) VerifierOption {
	return func(v *Verifier) error {
		if d <= 0 {
			return fmt.Errorf("%w: tolerance must be positive, got %v", ErrInvalidOption, d)
		}
		v.tolerance = d
		return nil
	}
}

// WithClock sets the clock timestamps are checked against (default
// time.Now), for tests. It must not be nil.
func WithClock(now func() time.Time) VerifierOption {
	return func(v *Verifier) error {
		if now == nil {
			return fmt.Errorf("%w: clock must not be nil", ErrInvalidOption)
		}
		v.now = now
		return nil
	}
}

// WithMaxBodyBytes sets the largest body [Verifier.Parse] and [Handler] read
// (default [DefaultMaxBodyBytes]). It must be positive.
func WithMaxBodyBytes(n int64) VerifierOption {
	return func(v *Verifier) error {
		if n <= 0 {
			return fmt.Errorf("%w: body bound must be positive, got %d", ErrInvalidOption, n)
		}
		v.maxBody = n
		return nil
	}
}

// NewVerifier returns a verifier for the secret Basiq gave the endpoint
// (the subscription's secret), with or without its "whsec_" prefix, in
// padded or unpadded base64. A secret that is empty or not base64 is refused
// with an error matching [ErrInvalidSecret].
func NewVerifier(secret string, opts ...VerifierOption) (*Verifier, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		mac:       func(id, ts string, body []byte) []byte { return sign(key, id, ts, body) },
		tolerance: DefaultTolerance,
		now:       time.Now,
		maxBody:   DefaultMaxBodyBytes,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// String returns a description without the secret.
func (v Verifier) String() string {
	return fmt.Sprintf("webhook.Verifier{Secret: [REDACTED], Tolerance: %v}", v.tolerance)
}

// Format prints [Verifier.String] for every verb, so %#v and %+v do not
// reach the fields.
func (v Verifier) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// LogValue logs [Verifier.String].
func (v Verifier) LogValue() slog.Value { return slog.StringValue(v.String()) }

// Verify checks that body, with the headers it came with, was signed with
// the verifier's secret and that its timestamp is within the tolerance. It
// returns nil or an error matching [ErrNoSignature], [ErrInvalidSignature]
// or [ErrTimestampOutOfRange] ([ErrInvalidSecret] from a Verifier not made
// by [NewVerifier]). The signature is checked first, in constant time, so an
// unsigned request learns nothing about the clock. Any v1 signature in the
// header that matches is enough; entries of other versions are ignored. The
// header is read with [http.Header.Get], so its keys must be in canonical
// form (as net/http makes them); build it with Set for other sources.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	_, err := v.verify(h, body)
	return err
}

func (v *Verifier) verify(h http.Header, body []byte) (time.Time, error) {
	if v == nil || v.mac == nil {
		return time.Time{}, fmt.Errorf("%w: nil verifier", ErrInvalidSecret)
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, hv := range [...]struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if strings.TrimSpace(hv.value) == "" {
			return time.Time{}, fmt.Errorf("%w: %s", ErrNoSignature, hv.name)
		}
	}
	want := "v1," + base64.StdEncoding.EncodeToString(v.mac(id, ts, body))
	if !matchAny(sigs, want) {
		return time.Time{}, ErrInvalidSignature
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || strings.TrimLeft(ts, "0123456789") != "" {
		// Signed, but not a number: the sender is broken, not the network.
		return time.Time{}, fmt.Errorf("%w: %s is not a Unix time in seconds", ErrInvalidSignature, HeaderTimestamp)
	}
	at := time.Unix(secs, 0)
	if d := v.now().Sub(at); d > v.tolerance || d < -v.tolerance {
		return time.Time{}, fmt.Errorf("%w: %s is %v from now, tolerance %v",
			ErrTimestampOutOfRange, HeaderTimestamp, d.Round(time.Second), v.tolerance)
	}
	return at, nil
}

// matchAny reports whether one entry of the space-separated header value is
// want, the "v1,<base64>" entry Basiq writes, with or without its padding;
// entries of other versions never match it, and neither do other spellings
// of the same bytes. Every entry is compared in constant time, so the time
// taken does not say which one matched.
func matchAny(header string, want string) bool {
	padded, unpadded := []byte(want), []byte(strings.TrimRight(want, "="))
	ok := false
	for entry := range strings.FieldsSeq(header) {
		e := []byte(entry)
		if hmac.Equal(e, padded) || hmac.Equal(e, unpadded) {
			ok = true
		}
	}
	return ok
}

// Parse reads r's body (at most the verifier's bound), verifies it with r's
// headers and decodes the notification. Besides the errors of
// [Verifier.Verify] it returns [ErrBodyTooLarge] and [ErrInvalidPayload].
// The body is closed. Unknown event types are passed on.
func (v *Verifier) Parse(r *http.Request) (*Notification, error) {
	if r == nil || r.Body == nil {
		return nil, fmt.Errorf("%w: no request body", ErrNoSignature)
	}
	defer r.Body.Close()
	limit := int64(DefaultMaxBodyBytes)
	if v != nil && v.maxBody > 0 {
		limit = v.maxBody
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, ErrBodyTooLarge
		}
		return nil, fmt.Errorf("webhook: reading the body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, ErrBodyTooLarge
	}
	return v.parse(r.Header, body)
}

func (v *Verifier) parse(h http.Header, body []byte) (*Notification, error) {
	at, err := v.verify(h, body)
	if err != nil {
		return nil, err
	}
	n, err := decodeNotification(body)
	if err != nil {
		return nil, err
	}
	n.ID = h.Get(HeaderID)
	n.Timestamp = at
	return n, nil
}

// decodeNotification reads the notification's fields from a JSON object;
// fields it does not know are ignored, and links may be an object or, as
// some of Basiq's examples write them, a list of one.
func decodeNotification(body []byte) (*Notification, error) {
	var wire struct {
		EventTypeID json.RawMessage `json:"eventTypeId"`
		EventID     json.RawMessage `json:"eventId"`
		Links       json.RawMessage `json:"links"`
	}
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &wire) != nil {
		return nil, ErrInvalidPayload
	}
	// A field of another type is left empty: the message is signed, so it
	// is passed on for the application to judge rather than refused, which
	// would make Basiq retry it for hours and then disable the endpoint.
	n := &Notification{}
	_ = json.Unmarshal(wire.EventTypeID, &n.EventTypeID)
	_ = json.Unmarshal(wire.EventID, &n.EventID)
	type links struct {
		Event       string `json:"event"`
		EventEntity string `json:"eventEntity"`
	}
	if l := bytes.TrimSpace(wire.Links); len(l) > 0 && l[0] == '[' {
		var list []links
		if json.Unmarshal(l, &list) == nil && len(list) > 0 {
			n.Links.Event, n.Links.EventEntity = list[0].Event, list[0].EventEntity
		}
	} else if len(l) > 0 {
		var one links
		if json.Unmarshal(l, &one) == nil {
			n.Links.Event, n.Links.EventEntity = one.Event, one.EventEntity
		}
	}
	return n, nil
}

// Sign returns the webhook-signature value ("v1,<base64>") for a message, as
// Basiq computes it: HMAC-SHA256 over "{msgID}.{unix seconds}.{body}" keyed
// with the decoded secret. It is for tests and fake servers; a secret that
// [NewVerifier] would refuse is refused here too.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	mac := sign(key, msgID, strconv.FormatInt(ts.Unix(), 10), body)
	return "v1," + base64.StdEncoding.EncodeToString(mac), nil
}

func sign(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// decodeSecret strips an optional "whsec_" prefix and decodes the rest as
// padded or unpadded standard base64.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.TrimPrefix(strings.TrimSpace(secret), secretPrefix)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := decodeBase64(s)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("%w: not base64 (after an optional %q prefix)", ErrInvalidSecret, secretPrefix)
	}
	return key, nil
}

func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
