// Package webhook verifies and receives the notifications Basiq posts to an
// application's endpoint when something happens to its users, connections,
// consents, accounts or transactions.
//
// Basiq signs each notification with the endpoint's secret (the Standard
// Webhooks scheme): the webhook-signature header holds base64 HMAC-SHA256
// signatures over "{webhook-id}.{webhook-timestamp}.{body}". An endpoint
// that acts on a notification without checking that signature lets anyone
// on the internet drive it; this package checks it, in constant time, and
// refuses timestamps more than five minutes away, which limits replays of a
// captured message to that window (deduplicate on [Notification.ID] to
// stop them).
//
// Receiving notifications takes three lines:
//
//	v, err := webhook.NewVerifier(secret) // the secret of the subscription
//	// handle err
//	mux.Handle("POST /basiq/webhooks", webhook.Handler(v, func(ctx context.Context, n *webhook.Notification) error {
//		return queue.Add(ctx, n.EventTypeID, n.EventID) // then read it with client.Events.Get
//	}))
//
// A notification is thin: it names the event (EventTypeID, EventID) and the
// application reads the event itself with the basiq client's Events.Get.
// Basiq delivers a message again after a failed delivery (any answer other
// than 2xx) with the same webhook-id, after 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h and 10 h, so a handler may see a message more than once.
//
// For tests, [Sign] computes the signature header of a message, and the
// basiqtest package's server delivers signed notifications to a loopback
// endpoint. The package depends on the standard library only.
package webhook
