package basiq_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/basiq-go/basiq/webhook"
)

// Subscribe an endpoint, receive a notification safely, read its event.
// basiqtest delivers to loopback endpoints; Basiq to your public https URL.
func ExampleWebhooksService_Create() {
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	received := make(chan *webhook.Notification, 1)
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	defer app.Close()

	hook, err := client.Webhooks.Create(ctx, basiq.WebhookParams{
		URL:              app.URL + "/basiq/webhooks",
		SubscribedEvents: []string{webhook.EventUserCreated},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The three lines: a verifier with the subscription's secret, its
	// handler at the endpoint, and the event read with Events.Get.
	v, err := webhook.NewVerifier(hook.SigningSecret())
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("POST /basiq/webhooks", webhook.Handler(v, func(ctx context.Context, n *webhook.Notification) error {
		received <- n
		return nil
	}))

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "gavin@hooli.example"})
	if err != nil {
		log.Fatal(err)
	}
	n := <-received
	ev, err := client.Events.Get(ctx, n.EventID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.EventTypeID, ev.UserID == user.ID)
	fmt.Println(hook.Status, strings.Contains(fmt.Sprint(hook), hook.SigningSecret()))
	// Output:
	// user.created true
	// active false
}
