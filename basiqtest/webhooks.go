package basiqtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/basiq-go/basiq/webhook"
)

// Webhooks: the server keeps subscriptions and, once one exists, POSTs a
// signed notification to it for each event it records (of the types it
// subscribed to), retrying failed deliveries on a schedule. Each
// subscription has one delivery goroutine; a clock goroutine moves jobs on
// at the instants their steps end, so that events happen (and are
// delivered) without a request to see them. Close stops them all and waits.

// DefaultWebhookRetrySchedule is the wait before each further delivery of a
// message that failed, as Basiq retries: 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h, 10 h. [WithWebhookRetrySchedule] shortens it for tests.
var DefaultWebhookRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

const (
	// webhookAttemptTimeout bounds one delivery: a receiver that stalls
	// longer has failed that attempt.
	webhookAttemptTimeout = 10 * time.Second
	// webhookMaxAnswer bounds how much of a receiver's answer is read (and
	// discarded).
	webhookMaxAnswer = 64 << 10
	// webhookMaxMessages bounds the messages kept per subscription, the
	// newest, and the messages waiting for delivery.
	webhookMaxMessages = 1000
	// webhookMaxSubscriptions bounds the subscriptions of one server.
	webhookMaxSubscriptions = 100
)

// subscription is a registered webhook; its fields are guarded by s.mu.
type subscription struct {
	id, name, description, url string
	events                     []string // empty: every type
	secret                     string
	created                    time.Time
	messages                   []*message
	// queue holds the deliveries waiting, each due at its time.
	queue  []*delivery
	wake   chan struct{}
	cancel context.CancelFunc
}

// wants reports whether the subscription is notified of eventType.
func (sub *subscription) wants(eventType string) bool {
	return len(sub.events) == 0 || slices.Contains(sub.events, eventType)
}

// message is one notification of a subscription, with its attempts.
type message struct {
	id, webhookID, eventTypeID, eventID string
	payload                             []byte
	attempts                            []deliveryAttempt
}

// deliveryAttempt is one delivery of a message.
type deliveryAttempt struct {
	id, url, response string
	status            int // 0: no answer
	at                time.Time
}

// delivery is a message waiting for its next attempt.
type delivery struct {
	msg   *message
	due   time.Time
	tries int // attempts made so far
	seq   int64
}

// notificationJSON is the body POSTed to a subscription.
type notificationJSON struct {
	EventTypeID string                `json:"eventTypeId"`
	EventID     string                `json:"eventId"`
	Links       notificationLinksJSON `json:"links"`
}

type notificationLinksJSON struct {
	Event       string `json:"event"`
	EventEntity string `json:"eventEntity"`
}

// notify records a message for every subscription that wants e, and wakes
// their delivery goroutines; s.mu must be held.
func (s *Server) notify(e *event) {
	if len(s.hooks) == 0 {
		return
	}
	base := s.URL
	if base == "" {
		base = UnstartedURL
	}
	s.send(e.entity+"."+e.eventType, e.id, base+"/events/"+e.id, base+e.dataRef, nil)
}

// send queues a notification of eventType for the subscriptions that want
// it (or only for those in only, when not nil); s.mu must be held. It
// returns how many were queued.
func (s *Server) send(eventType, eventID, eventLink, entityLink string, only []*subscription) int {
	body, _ := json.Marshal(notificationJSON{EventTypeID: eventType, EventID: eventID,
		Links: notificationLinksJSON{Event: eventLink, EventEntity: entityLink}})
	n := 0
	for _, id := range s.hookOrder {
		sub := s.hooks[id]
		if !sub.wants(eventType) || (only != nil && !slices.Contains(only, sub)) {
			continue
		}
		m := &message{id: "msg_" + s.newID(), webhookID: sub.id, eventTypeID: eventType, eventID: eventID, payload: body}
		if len(sub.messages) >= webhookMaxMessages {
			sub.messages = sub.messages[1:]
		}
		sub.messages = append(sub.messages, m)
		if len(sub.queue) >= webhookMaxMessages {
			// A receiver that stays down: the oldest message waiting is
			// given up, so the queue stays bounded.
			oldest := 0
			for i, d := range sub.queue {
				if d.seq < sub.queue[oldest].seq {
					oldest = i
				}
			}
			sub.queue = slices.Delete(sub.queue, oldest, oldest+1)
		}
		s.seq++
		sub.queue = append(sub.queue, &delivery{msg: m, due: time.Now(), seq: s.seq})
		wake(sub.wake)
		n++
	}
	return n
}

// wake signals ch without blocking.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// next takes the delivery due first if it is due at now; otherwise it
// returns how long until one is (0: none waiting). s.mu must be held.
func (sub *subscription) next(now time.Time) (*delivery, time.Duration) {
	if len(sub.queue) == 0 {
		return nil, 0
	}
	first := 0
	for i, d := range sub.queue {
		f := sub.queue[first]
		if d.due.Before(f.due) || d.due.Equal(f.due) && d.seq < f.seq {
			first = i
		}
	}
	d := sub.queue[first]
	if wait := d.due.Sub(now); wait > 0 {
		return nil, wait
	}
	sub.queue = slices.Delete(sub.queue, first, first+1)
	return d, 0
}

// runDeliveries is a subscription's delivery goroutine: it sends each
// message when due, until ctx ends (Close, or the subscription deleted).
func (s *Server) runDeliveries(ctx context.Context, sub *subscription) {
	defer s.hookWG.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() != nil { // Close: leave what is queued
			return
		}
		s.mu.Lock()
		d, wait := sub.next(time.Now())
		target, secret := sub.url, sub.secret
		s.mu.Unlock()
		if d != nil {
			s.deliver(ctx, sub, d, target, secret)
			continue
		}
		var due <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-sub.wake:
		case <-due:
		}
		timer.Stop()
	}
}

// deliver makes one attempt at d and records it; a failure is queued again
// after the schedule's next wait, while the schedule lasts. An attempt cut
// short by ctx (Close) is not recorded.
func (s *Server) deliver(ctx context.Context, sub *subscription, d *delivery, target, secret string) {
	at := time.Now()
	status, response := 0, "no answer"
	if sig, err := webhook.Sign(secret, d.msg.id, at, d.msg.payload); err == nil {
		actx, cancel := context.WithTimeout(ctx, s.cfg.webhookTimeout)
		status, response = s.post(actx, target, d.msg, sig, at)
		cancel()
	}
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d.msg.attempts = append(d.msg.attempts, deliveryAttempt{id: s.newID(), url: target, response: response, status: status, at: at})
	if status >= 200 && status <= 299 {
		return
	}
	if d.tries < len(s.cfg.webhookRetries) {
		// The wait runs from the failure, as Basiq's does: an attempt
		// that timed out is not retried at once.
		d.due = time.Now().Add(s.cfg.webhookRetries[d.tries])
		d.tries++
		sub.queue = append(sub.queue, d)
	}
}

// post sends one delivery and returns the receiver's status (0 when it did
// not answer) and what the server records of its answer.
func (s *Server) post(ctx context.Context, target string, m *message, sig string, at time.Time) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(m.payload))
	if err != nil {
		return 0, "not sent: bad URL"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderID, m.id)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, sig)
	req.Header.Set("User-Agent", "basiqtest-webhooks")
	resp, err := s.hookClient.Do(req)
	if err != nil {
		return 0, "no answer"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, webhookMaxAnswer))
	resp.Body.Close()
	return resp.StatusCode, http.StatusText(resp.StatusCode)
}

// startWebhooks starts the clock goroutine with the first subscription;
// s.mu must be held. It reports false once Close has begun.
func (s *Server) startWebhooks() bool {
	if s.hooksClosed {
		return false
	}
	if !s.clockRunning {
		s.clockRunning = true
		s.hookWG.Add(1)
		go s.runClock(s.hookCtx)
	}
	return true
}

// runClock moves jobs on at the instants their steps end, so that their
// events are recorded and delivered without a request to see them.
func (s *Server) runClock(ctx context.Context) {
	defer s.hookWG.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		s.settle(now)
		next, ok := s.nextJobChange(now)
		s.mu.Unlock()
		var due <-chan time.Time
		if ok {
			timer.Reset(next.Sub(now))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clockWake:
		case <-due:
		}
		timer.Stop()
	}
}

// nextJobChange is the first instant after now at which a running job's
// steps change by themselves; s.mu must be held.
func (s *Server) nextJobChange(now time.Time) (time.Time, bool) {
	var next time.Time
	for _, j := range s.active {
		verified := j.created.Add(j.durVerify)
		base := verified
		cands := []time.Time{verified}
		if j.hasMFA && j.askMFA {
			if j.mfaAnswered {
				base = j.mfaAt
			} else {
				cands = append(cands, verified.Add(mfaExpiry))
			}
		}
		cands = append(cands, base.Add(j.durAccounts), base.Add(j.durAccounts+j.durTransactions))
		for _, t := range cands {
			if t.After(now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	return next, !next.IsZero()
}

// kickClock tells the clock goroutine that a job started or changed.
func (s *Server) kickClock() { wake(s.clockWake) }

// stopWebhooks stops the delivery and clock goroutines and waits for them:
// a delivery in flight is cut short.
func (s *Server) stopWebhooks() {
	s.mu.Lock()
	s.hooksClosed = true
	s.mu.Unlock()
	s.hookStop()
	s.hookWG.Wait()
	s.hookClient.CloseIdleConnections()
}

// webhookJSON is the wire form of a subscription.
type webhookJSON struct {
	Type             string    `json:"type"`
	ID               string    `json:"id"`
	Name             string    `json:"name,omitempty"`
	Description      string    `json:"description,omitempty"`
	URL              string    `json:"url"`
	Status           string    `json:"status"`
	Secret           string    `json:"secret,omitempty"`
	SubscribedEvents []string  `json:"subscribedEvents"`
	CreatedDate      string    `json:"createdDate"`
	Links            selfLinks `json:"links"`
}

func webhookView(c *call, sub *subscription, withSecret bool) webhookJSON {
	w := webhookJSON{Type: "webhook", ID: sub.id, Name: sub.name, Description: sub.description, URL: sub.url,
		Status: "active", SubscribedEvents: slices.Clone(sub.events), CreatedDate: timestamp(sub.created),
		Links: selfLinks{Self: c.base + "/notifications/webhooks/" + sub.id}}
	if w.SubscribedEvents == nil {
		w.SubscribedEvents = []string{}
	}
	if withSecret {
		w.Secret = sub.secret
	}
	return w
}

// webhookBody is the body of POST /notifications/webhooks[/{id}].
type webhookBody struct {
	Name             *string  `json:"name"`
	Description      *string  `json:"description"`
	URL              *string  `json:"url"`
	SubscribedEvents []string `json:"subscribedEvents"`
}

// check refuses what Basiq refuses (its schema requires url on create and
// on update), and URLs off this machine.
func (b *webhookBody) check() []apiError {
	var errs []apiError
	switch {
	case b.URL == nil:
		errs = append(errs, errMissing("/url", "url is required."))
	case b.URL != nil && !loopbackURL(*b.URL):
		errs = append(errs, errInvalid("/url", "basiqtest delivers to loopback URLs only (127.0.0.0/8, ::1, localhost), over http or https."))
	}
	known := webhook.EventTypes()
	for _, ev := range b.SubscribedEvents {
		if !slices.Contains(known, ev) {
			errs = append(errs, errInvalidContent("Posted subscribedEvents contains unsupported event types."))
			break
		}
	}
	return errs
}

// loopbackOnly refuses a delivery connection to an address that is not
// loopback, whatever name led to it.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("basiqtest: webhook delivery to %s refused: not a loopback address", host)
	}
	return nil
}

// loopbackURL reports whether raw is an absolute http(s) URL on a loopback
// host.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newSecret returns a Standard Webhooks secret: "whsec_" and the base64 of
// 24 random bytes.
func newSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// createWebhook is POST /notifications/webhooks.
func (s *Server) createWebhook(c *call) reply {
	var b webhookBody
	if err := decodeJSON(c.r, &b); err != nil {
		return fail(*err)
	}
	if errs := b.check(); errs != nil {
		return fail(errs...)
	}
	if len(s.hooks) >= webhookMaxSubscriptions {
		return fail(errInvalidContent("basiqtest keeps at most 100 webhooks."))
	}
	if !s.startWebhooks() {
		return fail(apiError{status: http.StatusServiceUnavailable, code: "service-unavailable",
			title: "Service unavailable", detail: "The server is closing."})
	}
	ctx, cancel := context.WithCancel(s.hookCtx)
	sub := &subscription{id: s.newID(), url: *b.URL, events: slices.Clone(b.SubscribedEvents), secret: newSecret(),
		created: c.now, wake: make(chan struct{}, 1), cancel: cancel}
	sub.apply(&b)
	s.hooks[sub.id] = sub
	s.hookOrder = append(s.hookOrder, sub.id)
	s.hookWG.Add(1)
	go s.runDeliveries(ctx, sub)
	return answer(http.StatusCreated, webhookView(c, sub, true))
}

// apply sets the fields b carries.
func (sub *subscription) apply(b *webhookBody) {
	if b.Name != nil {
		sub.name = *b.Name
	}
	if b.Description != nil {
		sub.description = *b.Description
	}
	if b.URL != nil {
		sub.url = *b.URL
	}
	if b.SubscribedEvents != nil {
		sub.events = slices.Clone(b.SubscribedEvents)
	}
}

// lookupWebhook finds the subscription of the path's {id}.
func (s *Server) lookupWebhook(c *call) (*subscription, reply, bool) {
	sub := s.hooks[c.pv("id")]
	if sub == nil {
		return nil, fail(errNotFound("Webhook with provided id doesn't exist.")), false
	}
	return sub, reply{}, true
}

// listWebhooks is GET /notifications/webhooks: without the secrets.
func (s *Server) listWebhooks(c *call) reply {
	data := []webhookJSON{}
	for _, id := range s.hookOrder {
		data = append(data, webhookView(c, s.hooks[id], false))
	}
	return answer(http.StatusOK, listJSON[webhookJSON]{Type: "list", Count: len(data), Data: data,
		Links: &listLinks{Self: c.base + "/notifications/webhooks"}})
}

// getWebhook is GET /notifications/webhooks/{id}.
func (s *Server) getWebhook(c *call) reply {
	sub, r, found := s.lookupWebhook(c)
	if !found {
		return r
	}
	return answer(http.StatusOK, webhookView(c, sub, true))
}

// updateWebhook is POST /notifications/webhooks/{id}: the fields given
// (url among them) replace the subscription's; the others are kept.
func (s *Server) updateWebhook(c *call) reply {
	sub, r, found := s.lookupWebhook(c)
	if !found {
		return r
	}
	var b webhookBody
	if err := decodeJSON(c.r, &b); err != nil {
		return fail(*err)
	}
	if errs := b.check(); errs != nil {
		return fail(errs...)
	}
	sub.apply(&b)
	return answer(http.StatusOK, webhookView(c, sub, true))
}

// deleteWebhook is DELETE /notifications/webhooks/{id}: its deliveries
// stop.
func (s *Server) deleteWebhook(c *call) reply {
	sub, r, found := s.lookupWebhook(c)
	if !found {
		return r
	}
	sub.cancel()
	delete(s.hooks, sub.id)
	s.hookOrder = slices.DeleteFunc(s.hookOrder, func(id string) bool { return id == sub.id })
	return answer(http.StatusNoContent, nil)
}

// messageJSON is the wire form of a message.
type messageJSON struct {
	Type        string            `json:"type"`
	ID          string            `json:"id"`
	WebhookID   string            `json:"webhookId"`
	EventTypeID string            `json:"eventTypeId"`
	EventID     string            `json:"eventId"`
	Payload     json.RawMessage   `json:"payload"`
	Attempts    []attemptJSON     `json:"attempts"`
	Links       map[string]string `json:"links"`
}

type attemptJSON struct {
	ID                 string `json:"id"`
	URL                string `json:"url"`
	Response           string `json:"response"`
	ResponseStatusCode int    `json:"responseStatusCode"`
	Timestamp          string `json:"timestamp"`
	Status             string `json:"status"`
}

func messageView(c *call, m *message) messageJSON {
	hook := c.base + "/notifications/webhooks/" + m.webhookID
	out := messageJSON{Type: "message", ID: m.id, WebhookID: m.webhookID, EventTypeID: m.eventTypeID, EventID: m.eventID,
		Payload: m.payload, Attempts: []attemptJSON{},
		Links: map[string]string{"self": hook + "/messages/" + m.id, "webhook": hook, "event": c.base + "/events/" + m.eventID}}
	for _, a := range m.attempts {
		status := "Failed"
		if a.status >= 200 && a.status <= 299 {
			status = "Success"
		}
		out.Attempts = append(out.Attempts, attemptJSON{ID: a.id, URL: a.url, Response: a.response,
			ResponseStatusCode: a.status, Timestamp: a.at.UTC().Format(time.RFC3339Nano), Status: status})
	}
	return out
}

// listMessages is GET /notifications/webhooks/{id}/messages, oldest first.
func (s *Server) listMessages(c *call) reply {
	sub, r, found := s.lookupWebhook(c)
	if !found {
		return r
	}
	data := make([]messageJSON, 0, len(sub.messages))
	for _, m := range sub.messages {
		data = append(data, messageView(c, m))
	}
	return answer(http.StatusOK, listJSON[messageJSON]{Type: "list", Count: len(data), Data: data,
		Links: &listLinks{Self: c.base + c.r.URL.RequestURI()}})
}

// getMessage is GET /notifications/webhooks/{id}/messages/{mid}.
func (s *Server) getMessage(c *call) reply {
	sub, r, found := s.lookupWebhook(c)
	if !found {
		return r
	}
	for _, m := range sub.messages {
		if m.id == c.pv("mid") {
			return answer(http.StatusOK, messageView(c, m))
		}
	}
	return fail(errNotFound("Message not found."))
}

// sendTestMessage is POST /notifications/messages/test: a notification of
// the type given to every subscription that wants it. Its event is not
// recorded: GET /events/{id} answers 404 for it.
func (s *Server) sendTestMessage(c *call) reply {
	var b struct {
		EventTypeID string `json:"eventTypeId"`
	}
	if err := decodeJSON(c.r, &b); err != nil {
		return fail(*err)
	}
	if !slices.Contains(webhook.EventTypes(), b.EventTypeID) {
		return fail(errInvalidContent("Posted eventTypeId doesn't exists."))
	}
	if len(s.hooks) == 0 {
		return fail(apiError{status: http.StatusBadRequest, code: "no-webhooks-found", title: "No webhooks found for an app",
			detail: "No webhooks found: at least one webhook should exist."})
	}
	id := s.newID()
	s.send(b.EventTypeID, id, c.base+"/events/"+id, c.base+"/notifications/messages/test", nil)
	return answer(http.StatusCreated, nil)
}
