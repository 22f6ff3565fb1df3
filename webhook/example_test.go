package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/basiq-go/basiq/webhook"
)

// An endpoint that receives Basiq's notifications: verify, then hand the
// event on. Here the notification is signed with Sign, as Basiq would.
func ExampleHandler() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from Client.Webhooks.Create
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		fmt.Println("bad secret:", err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("POST /basiq/webhooks", webhook.Handler(v, func(ctx context.Context, n *webhook.Notification) error {
		// Read the event with client.Events.Get(ctx, n.EventID); deduplicate on n.ID.
		fmt.Println("received", n.EventTypeID, n.EventID)
		return nil
	}))

	body := `{"eventTypeId":"connection.created","eventId":"61b2f8b4","links":{"event":"https://au-api.basiq.io/events/61b2f8b4"}}`
	now := time.Now()
	sig, _ := webhook.Sign(secret, "msg_1", now, []byte(body))
	post := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/basiq/webhooks", strings.NewReader(body))
		req.Header.Set("webhook-id", "msg_1")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code
	}
	fmt.Println("answered", post(body))
	// The same headers with another body are refused before the function runs.
	fmt.Println("answered", post(strings.Replace(body, "created", "deleted", 1)))
	// Output:
	// received connection.created 61b2f8b4
	// answered 204
	// answered 400
}

// Verify checks a body and its headers directly, for frameworks with their
// own request types.
func ExampleVerifier_Verify() {
	v, _ := webhook.NewVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		webhook.WithClock(func() time.Time { return time.Unix(1614265330, 0) }))
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	fmt.Println(v.Verify(h, []byte(`{"test": 2432232314}`)))
	fmt.Println(v.Verify(h, []byte(`{"test": 1}`)))
	// Output:
	// <nil>
	// webhook: invalid signature
}
