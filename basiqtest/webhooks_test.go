package basiqtest

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delivered is one request a receiver got.
type delivered struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is an application's endpoint: it records every request and
// answers with the next status of answers (the last repeating), sending
// each request on got.
func receiver(t *testing.T, answers ...int) (*httptest.Server, chan delivered) {
	t.Helper()
	got := make(chan delivered, 100)
	var mu sync.Mutex
	n := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		status := answers[min(n, len(answers)-1)]
		n++
		mu.Unlock()
		got <- delivered{header: r.Header.Clone(), body: body, at: time.Now()}
		w.WriteHeader(status)
	}))
	t.Cleanup(ts.Close)
	return ts, got
}

// next waits for the next delivery, or fails the test after 5 s.
func next(t *testing.T, got chan delivered) delivered {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery within 5 s")
		return delivered{}
	}
}

// subscribe registers a webhook and returns its id and secret.
func subscribe(t *testing.T, c *client, url string, events ...string) (string, string) {
	t.Helper()
	body := map[string]any{"name": "test", "url": url}
	if events != nil {
		body["subscribedEvents"] = events
	}
	r := c.post("/notifications/webhooks", body)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	m := r.obj(t)
	secret := str(m, "secret")
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	return str(m, "id"), secret
}

func TestWebhookRegistrationTakesLoopbackURLsOnly(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	for _, u := range []string{"http://127.0.0.1:1/h", "http://127.9.9.9/h", "https://localhost:8443/h", "http://[::1]:9/h"} {
		r := c.post("/notifications/webhooks", map[string]any{"url": u})
		assert.Equal(t, http.StatusCreated, r.status, "%s: %s", u, r.body)
	}
	for _, u := range []string{"https://app.example/h", "http://10.0.0.1/h", "http://169.254.169.254/latest", "ftp://127.0.0.1/h",
		"http://user:pw@127.0.0.1/h", "/relative", ""} {
		r := c.post("/notifications/webhooks", map[string]any{"url": u})
		e := r.errBody(t, http.StatusBadRequest, "parameter-not-valid")
		assert.Equal(t, "/url", e.Data[0].Source["pointer"], u)
	}
	c.post("/notifications/webhooks", map[string]any{"name": "x"}).errBody(t, http.StatusBadRequest, "parameter-not-supplied")
	c.post("/notifications/webhooks", map[string]any{"url": "http://127.0.0.1/h", "subscribedEvents": []string{"no.such"}}).
		errBody(t, http.StatusBadRequest, "invalid-content")
}

func TestWebhookSubscriptionsAreManaged(t *testing.T) {
	t.Parallel()
	_, c := startServer(t)
	id, secret := subscribe(t, c, "http://127.0.0.1:1/h", webhook.EventUserCreated)
	got := c.get("/notifications/webhooks/" + id).obj(t)
	assert.Equal(t, secret, str(got, "secret"))
	assert.Equal(t, "active", str(got, "status"))

	list := c.get("/notifications/webhooks")
	require.Equal(t, http.StatusOK, list.status)
	assert.NotContains(t, string(list.body), secret, "lists leave the secret out")
	assert.Contains(t, string(list.body), id)

	c.post("/notifications/webhooks/"+id, map[string]any{"name": "renamed"}).errBody(t, http.StatusBadRequest, "parameter-not-supplied")
	r := c.post("/notifications/webhooks/"+id, map[string]any{"url": "http://127.0.0.2:1/h",
		"subscribedEvents": []string{webhook.EventConnectionCreated}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	assert.Equal(t, "http://127.0.0.2:1/h", str(r.obj(t), "url"))
	assert.Equal(t, []any{webhook.EventConnectionCreated}, r.obj(t)["subscribedEvents"])
	assert.Equal(t, "test", str(r.obj(t), "name"), "a field not given is kept")

	assert.Equal(t, http.StatusNoContent, c.del("/notifications/webhooks/"+id).status)
	c.get("/notifications/webhooks/"+id).errBody(t, http.StatusNotFound, "resource-not-found")
	c.post("/notifications/messages/test", map[string]any{"eventTypeId": "user.created"}).errBody(t, http.StatusBadRequest, "no-webhooks-found")
}

// TestWebhookDeliveriesAreSignedAndRetriedWithTheSameID checks a delivery's
// headers and body, its signature against the secret Create answered, and a
// retry after a failed attempt: same webhook-id, a fresh timestamp, both
// attempts listed with their status codes.
func TestWebhookDeliveriesAreSignedAndRetriedWithTheSameID(t *testing.T) {
	t.Parallel()
	ts, got := receiver(t, http.StatusInternalServerError, http.StatusNoContent)
	srv, c := startServer(t, WithWebhookRetrySchedule(1100*time.Millisecond))
	id, secret := subscribe(t, c, ts.URL+"/hooks", webhook.EventUserCreated)
	userID := c.createUser("hook@hooli.example")

	first, second := next(t, got), next(t, got)
	v, err := webhook.NewVerifier(secret)
	require.NoError(t, err)
	for _, d := range []delivered{first, second} {
		require.NoError(t, v.Verify(d.header, d.body))
		assert.Equal(t, "application/json", d.header.Get("Content-Type"))
	}
	assert.Equal(t, first.header.Get("webhook-id"), second.header.Get("webhook-id"), "the same id on every retry")
	t1, _ := strconv.ParseInt(first.header.Get("webhook-timestamp"), 10, 64)
	t2, _ := strconv.ParseInt(second.header.Get("webhook-timestamp"), 10, 64)
	assert.Greater(t, t2, t1, "a fresh timestamp per attempt")

	require.ErrorIs(t, v.Verify(http.Header{}, second.body), webhook.ErrNoSignature)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", strings.NewReader(string(second.body)))
	req.Header = second.header
	n, err := v.Parse(req)
	require.NoError(t, err)
	assert.Equal(t, webhook.EventUserCreated, n.EventTypeID)
	assert.Equal(t, srv.URL+"/events/"+n.EventID, n.Links.Event)
	assert.Equal(t, srv.URL+"/users/"+userID, n.Links.EventEntity)
	ev := c.get("/events/" + n.EventID).obj(t)
	assert.Equal(t, "user", str(ev, "entity"))

	// The attempts are recorded once the second answer is in.
	require.Eventually(t, func() bool {
		var list struct {
			Data []struct {
				ID       string `json:"id"`
				Attempts []struct {
					ResponseStatusCode int    `json:"responseStatusCode"`
					Status             string `json:"status"`
				} `json:"attempts"`
			} `json:"data"`
		}
		c.get("/notifications/webhooks/"+id+"/messages").into(t, &list)
		return len(list.Data) == 1 && len(list.Data[0].Attempts) == 2 &&
			list.Data[0].Attempts[0].ResponseStatusCode == 500 && list.Data[0].Attempts[0].Status == "Failed" &&
			list.Data[0].Attempts[1].ResponseStatusCode == 204 && list.Data[0].Attempts[1].Status == "Success" &&
			list.Data[0].ID == first.header.Get("webhook-id")
	}, 5*time.Second, 10*time.Millisecond)
	one := c.get("/notifications/webhooks/" + id + "/messages/" + first.header.Get("webhook-id"))
	assert.Equal(t, http.StatusOK, one.status)
	select {
	case d := <-got:
		t.Fatalf("a third delivery after a 2xx: %s", d.body)
	default:
	}
}

func TestWebhooksAreSentOnlyForSubscribedEventsAndGiveUpAfterTheSchedule(t *testing.T) {
	t.Parallel()
	ts, got := receiver(t, http.StatusGone)
	_, c := startServer(t, WithWebhookRetrySchedule(time.Millisecond, time.Millisecond))
	subscribe(t, c, ts.URL, webhook.EventUserDeleted)
	userID := c.createUser("quiet@hooli.example") // user.created: not subscribed
	require.Equal(t, http.StatusNoContent, c.del("/users/"+userID).status)
	ids := map[string]bool{}
	for range 3 {
		d := next(t, got)
		assert.Contains(t, string(d.body), `"eventTypeId":"user.deleted"`)
		ids[d.header.Get("webhook-id")] = true
	}
	assert.Len(t, ids, 1, "one message, three attempts")
	select {
	case d := <-got:
		t.Fatalf("a delivery after the schedule ran out: %s", d.body)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestWebhookTestMessageGoesToTheSubscriptions(t *testing.T) {
	t.Parallel()
	ts, got := receiver(t, http.StatusOK)
	_, c := startServer(t)
	_, secret := subscribe(t, c, ts.URL)
	r := c.post("/notifications/messages/test", map[string]any{"eventTypeId": webhook.EventConsentRevoked})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	d := next(t, got)
	v, err := webhook.NewVerifier(secret)
	require.NoError(t, err)
	require.NoError(t, v.Verify(d.header, d.body))
	assert.Contains(t, string(d.body), `"eventTypeId":"consent.revoked"`)
	c.post("/notifications/messages/test", map[string]any{"eventTypeId": "no.such"}).errBody(t, http.StatusBadRequest, "invalid-content")
}

// TestWebhookEventsHappenWithoutRequests checks that with a subscription
// the server moves jobs on by itself: a connection's transactions.updated
// is delivered while nobody reads the job.
func TestWebhookEventsHappenWithoutRequests(t *testing.T) {
	t.Parallel()
	ts, got := receiver(t, http.StatusOK)
	_, c := startServer(t, WithStepDuration(20*time.Millisecond))
	subscribe(t, c, ts.URL, webhook.EventConnectionCreated, webhook.EventConnectionActivated, webhook.EventTransactionsUpdated)
	userID := c.createUser("clock@hooli.example")
	c.connectLogin(userID, InstHooli, LoginGavinBelson, PasswordGavinBelson)
	var types []string
	for range 3 {
		d := next(t, got)
		var n struct {
			EventTypeID string `json:"eventTypeId"`
		}
		require.NoError(t, json.Unmarshal(d.body, &n))
		types = append(types, n.EventTypeID)
	}
	assert.Equal(t, []string{webhook.EventConnectionCreated, webhook.EventTransactionsUpdated, webhook.EventConnectionActivated}, types)
}

// TestCloseCutsShortADeliveryInFlight checks that Close does not wait for a
// receiver that stalls.
func TestCloseCutsShortADeliveryInFlight(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer func() {
		if release != nil {
			close(release)
		}
	}()
	srv := NewServer()
	c := newClient(t, srv)
	subscribe(t, c, ts.URL)
	c.createUser("stall@hooli.example")
	<-entered
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Error("Close waits for the stalled receiver")
		close(release) // lets the attempt end, so Close can return
		<-closed
		release = nil
	}
}

func TestWithWebhookRetryScheduleRefusesBadValues(t *testing.T) {
	t.Parallel()
	for _, waits := range [][]time.Duration{nil, {0}, {time.Second, -time.Second}, make([]time.Duration, 101)} {
		var ve *basiq.ValidationError
		func() {
			defer func() {
				err, _ := recover().(error)
				require.ErrorAs(t, err, &ve, "%v", waits)
			}()
			NewUnstartedServer(WithWebhookRetrySchedule(waits...)).Close()
		}()
		assert.Equal(t, "webhookRetrySchedule", ve.Field)
	}
	NewUnstartedServer(WithWebhookRetrySchedule(time.Millisecond)).Close()
}

// TestChangedBankPasswordInvalidatesTheConnectionOnRefresh checks the
// scenario behind connection.invalidated: the customer changes their bank
// password, the next refresh fails, and the webhook is told; new
// credentials work again.
func TestChangedBankPasswordInvalidatesTheConnectionOnRefresh(t *testing.T) {
	t.Parallel()
	ts, got := receiver(t, http.StatusOK)
	srv, c := startServer(t, WithStepDuration(5*time.Millisecond))
	userID := c.createUser("changed@hooli.example")
	jobID := c.connectLogin(userID, InstHooli, LoginGavinBelson, PasswordGavinBelson)
	connID := c.wait(jobID).connID()
	subscribe(t, c, ts.URL, webhook.EventConnectionInvalidated)

	assert.False(t, srv.ChangeBankPassword("nope"))
	require.True(t, srv.ChangeBankPassword(connID))
	r := c.post("/users/"+userID+"/connections/"+connID+"/refresh", nil)
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	d := next(t, got)
	assert.Contains(t, string(d.body), `"eventTypeId":"connection.invalidated"`)
	assert.Contains(t, string(d.body), "/users/"+userID+"/connections/"+connID)
	assert.Equal(t, "invalid", str(c.get("/users/"+userID+"/connections/"+connID).obj(t), "status"))

	r = c.post("/users/"+userID+"/connections/"+connID, map[string]any{"password": PasswordGavinBelson})
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	c.wait(str(r.obj(t), "id"))
	assert.Equal(t, "active", str(c.get("/users/"+userID+"/connections/"+connID).obj(t), "status"))
}

// TestWebhookQueueAndMessagesAreBounded checks that a receiver that stays
// down costs bounded memory: the messages kept and waiting are capped.
func TestWebhookQueueAndMessagesAreBounded(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // connections are refused from now on
	srv, c := startServer(t, WithWebhookRetrySchedule(time.Hour))
	id, _ := subscribe(t, c, downURL, webhook.EventUserCreated)
	for i := range webhookMaxMessages + 50 {
		srv.AddUser(strconv.Itoa(i) + "@hooli.example")
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	sub := srv.hooks[id]
	assert.Len(t, sub.messages, webhookMaxMessages)
	assert.LessOrEqual(t, len(sub.queue), webhookMaxMessages)
}

// TestAStalledReceiverFailsTheAttempt checks that an attempt the receiver
// does not answer in time is a failed attempt (status 0), retried with the
// same webhook-id. The bound is 10 s; the test shortens it.
func TestAStalledReceiverFailsTheAttempt(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var ids []string
	answered := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get(webhook.HeaderID))
		first := len(ids) == 1
		mu.Unlock()
		if first {
			// Stalls until the sender gives up; with the body read, the
			// server notices the closed connection.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
		close(answered)
	}))
	defer ts.Close()
	srv := NewServer(WithWebhookRetrySchedule(time.Millisecond), func(c *config) error {
		c.webhookTimeout = 50 * time.Millisecond
		return nil
	})
	defer srv.Close()
	c := newClient(t, srv)
	id, _ := subscribe(t, c, ts.URL, webhook.EventUserCreated)
	c.createUser("stalled@hooli.example")
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
		t.Fatal("no second attempt")
	}
	mu.Lock()
	assert.Len(t, ids, 2)
	assert.Equal(t, ids[0], ids[1])
	mu.Unlock()
	require.Eventually(t, func() bool {
		var m struct {
			Attempts []struct {
				ResponseStatusCode int    `json:"responseStatusCode"`
				Response           string `json:"response"`
			} `json:"attempts"`
		}
		c.get("/notifications/webhooks/"+id+"/messages/"+ids[0]).into(t, &m)
		return len(m.Attempts) == 2 && m.Attempts[0].ResponseStatusCode == 0 && m.Attempts[0].Response == "no answer" &&
			m.Attempts[1].ResponseStatusCode == http.StatusNoContent
	}, 5*time.Second, 5*time.Millisecond)
}

// A receiver started with httptest.NewTLSServer gets its deliveries: the
// certificate of a loopback test receiver is not checked.
func TestHTTPSLoopbackReceiverGetsDeliveries(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 10)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	_, c := startServer(t, WithWebhookRetrySchedule(time.Millisecond))
	r := c.post("/notifications/webhooks", map[string]any{"url": ts.URL + "/h", "subscribedEvents": []string{webhook.EventUserCreated}})
	if r.status != http.StatusCreated {
		return // refused at registration: the finding is fixed that way
	}
	c.createUser("tls@hooli.example")
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("an https loopback subscription is accepted but never delivered to (TLS verification fails)")
	}
}

// Each server copies DefaultWebhookRetrySchedule: changing the exported
// slice changes no running server and escapes no check.
func TestDefaultWebhookRetryScheduleIsCopiedByEachServer(t *testing.T) {
	t.Parallel()
	srv := NewUnstartedServer()
	defer srv.Close()
	// Checked without writing the package variable: the server's schedule
	// must not be the same backing array.
	assert.NotSame(t, &DefaultWebhookRetrySchedule[0], &srv.cfg.webhookRetries[0],
		"the server's schedule is DefaultWebhookRetrySchedule itself: changing the variable changes running servers")
}

// Close returns without working through the deliveries still queued
// behind a stalled receiver.
func TestCloseLeavesQueuedDeliveriesUnattempted(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(release) })
	srv := NewServer()
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	for i := range webhookMaxSubscriptions {
		subscribe(t, c, ts.URL+"/"+strconv.Itoa(i), webhook.EventUserCreated)
	}
	for i := range webhookMaxMessages {
		srv.AddUser(strconv.Itoa(i) + "@hooli.example")
	}
	start := time.Now()
	srv.Close()
	assert.Less(t, time.Since(start), 300*time.Millisecond, "Close with %d deliveries waiting", webhookMaxSubscriptions*webhookMaxMessages)
}

// Deliveries connect to loopback addresses only, whatever name led there
// (localhost resolved by a hosts file that says otherwise included).
func TestDeliveryConnectsToLoopbackAddressesOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": true, "127.9.9.9:443": true, "[::1]:8080": true,
		"10.0.0.1:80": false, "[::ffff:10.0.0.1]:80": false, "0.0.0.0:80": false, "[::]:80": false, "93.184.216.34:443": false,
		"not-an-address": false,
	} {
		err := loopbackOnly("tcp", addr, nil)
		if ok {
			assert.NoError(t, err, addr)
		} else {
			assert.Error(t, err, addr)
		}
	}
}
