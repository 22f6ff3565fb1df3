package basiq_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/basiq-go/basiq/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationWebhooksDeliverTheConsentFlowsEvents runs an application's
// webhook endpoint (webhook.Handler behind an httptest server) registered on
// basiqtest with Client.Webhooks.Create: connecting a bank through the 3.0
// Consent UI delivers connection.created and then transactions.updated,
// verified with the secret Create answered, and each event is read back
// with Events.Get. The handler fails the first delivery, which is retried
// with the same webhook-id; Messages lists both attempts.
func TestIntegrationWebhooksDeliverTheConsentFlowsEvents(t *testing.T) {
	t.Parallel()
	// The application: its webhook handler is installed once the secret is
	// known; nothing is delivered before.
	var hook atomic.Pointer[http.Handler]
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := hook.Load(); h != nil && r.URL.Path == "/basiq/webhooks" {
			(*h).ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusOK) // the Consent UI's redirect lands here
	}))
	t.Cleanup(app.Close)

	srv, _ := newServer(t, basiqtest.WithConsentRedirectURL(app.URL+"/basiq/callback"),
		basiqtest.WithWebhookRetrySchedule(20*time.Millisecond))
	client := srv.Client(basiq.WithVersion("3.0"), basiq.WithConsentBaseURL(srv.URL+"/consent/home"), fastRetry)
	ctx := testCtx(t)

	wh, err := client.Webhooks.Create(ctx, basiq.WebhookParams{
		Name: "app", URL: app.URL + "/basiq/webhooks",
		SubscribedEvents: []string{webhook.EventConnectionCreated, webhook.EventTransactionsUpdated},
	})
	require.NoError(t, err)
	require.NotEmpty(t, wh.SigningSecret())
	v, err := webhook.NewVerifier(wh.SigningSecret())
	require.NoError(t, err)

	type received struct {
		n      *webhook.Notification
		failed bool
	}
	got := make(chan received, 20)
	var calls atomic.Int32
	h := webhook.Handler(v, func(_ context.Context, n *webhook.Notification) error {
		failed := calls.Add(1) == 1 // the first delivery fails: Basiq must retry it
		got <- received{n: n, failed: failed}
		if failed {
			return errors.New("database unavailable")
		}
		return nil
	})
	hook.Store(&h)

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "hooks@hooli.example"})
	require.NoError(t, err)
	link, err := client.ConsentURL(ctx, user.ID, basiq.ConsentLinkParams{InstitutionID: basiqtest.InstHooli})
	require.NoError(t, err)
	browser := &http.Client{Timeout: 10 * time.Second}
	form := fillConsentForm(t, browser, link, basiqtest.InstHooli, basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson)
	res, err := browser.PostForm(srv.URL+"/consent/home", form)
	require.NoError(t, err)
	_ = res.Body.Close()

	// Nothing polls the job: the notifications say what happened.
	var order []string
	handled := map[string]*webhook.Notification{}
	var failedID string
	for len(handled) < 2 {
		var r received
		select {
		case r = <-got:
		case <-ctx.Done():
			t.Fatalf("notifications so far: %v", order)
		}
		order = append(order, r.n.EventTypeID)
		if r.failed {
			failedID = r.n.ID
			continue
		}
		handled[r.n.EventTypeID] = r.n
	}
	require.Len(t, order, 3)
	assert.Equal(t, webhook.EventConnectionCreated, order[0], "connection.created comes first")
	assert.Contains(t, order[1:], webhook.EventTransactionsUpdated)
	created := handled[webhook.EventConnectionCreated]
	require.NotNil(t, created)
	assert.Equal(t, failedID, created.ID, "the retry has the failed delivery's webhook-id")

	for typ, n := range handled {
		ev, err := client.Events.Get(ctx, n.EventID)
		require.NoError(t, err, typ)
		assert.Equal(t, typ, ev.Entity+"."+ev.EventType)
		assert.Equal(t, user.ID, ev.UserID)
		assert.Equal(t, srv.URL+"/events/"+n.EventID, n.Links.Event)
	}

	// The failed and the successful attempt are both listed, once the
	// second answer is recorded.
	require.Eventually(t, func() bool {
		msg, err := client.Webhooks.Message(ctx, wh.ID, created.ID)
		return err == nil && len(msg.Attempts) == 2 && msg.Attempts[1].Succeeded()
	}, 5*time.Second, 5*time.Millisecond)
	msgs, err := collectMessages(ctx, client, wh.ID)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	first := msgs[0]
	assert.Equal(t, created.ID, first.ID)
	assert.Equal(t, webhook.EventConnectionCreated, first.EventTypeID)
	require.Len(t, first.Attempts, 2)
	assert.Equal(t, http.StatusInternalServerError, first.Attempts[0].StatusCode)
	assert.False(t, first.Attempts[0].Succeeded())
	assert.Equal(t, http.StatusNoContent, first.Attempts[1].StatusCode)
	assert.False(t, first.Attempts[1].Timestamp.Before(first.Attempts[0].Timestamp))

	require.NoError(t, client.Webhooks.Delete(ctx, wh.ID))
	_, err = client.Webhooks.Get(ctx, wh.ID)
	require.ErrorIs(t, err, basiq.ErrNotFound)
}

// collectMessages gathers a webhook's messages.
func collectMessages(ctx context.Context, c *basiq.Client, webhookID string) ([]basiq.WebhookMessage, error) {
	var all []basiq.WebhookMessage
	for m, err := range c.Webhooks.Messages(ctx, webhookID) {
		if err != nil {
			return nil, err
		}
		all = append(all, m)
	}
	return all, nil
}

// Calls sharing one WithResponse context, some revealing a webhook secret
// while others record answers and build errors: race-free, and the
// recorded headers never hold a secret read.
func TestWithResponseSharedAcrossWebhookCallsHoldsNoSecret(t *testing.T) {
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()
	var resp basiq.Response
	ctx := basiq.WithResponse(context.Background(), &resp)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		secrets []string
	)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := client.Webhooks.Create(ctx, basiq.WebhookParams{URL: "http://127.0.0.1:1/hook", SubscribedEvents: []string{"user.created"}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			secrets = append(secrets, w.SigningSecret())
			mu.Unlock()
			if _, err := client.Webhooks.Get(ctx, w.ID); err != nil {
				t.Error(err)
			}
			_, _ = client.Webhooks.Get(ctx, "missing")
			_, _ = client.Webhooks.List(ctx)
		}()
	}
	wg.Wait()
	for name, vs := range resp.Header {
		for _, s := range secrets {
			for _, v := range vs {
				if s != "" && (strings.Contains(v, s) || strings.Contains(name, s)) {
					t.Errorf("secret in recorded header %s", name)
				}
			}
		}
	}
}
