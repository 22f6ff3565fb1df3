package webhook

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Handler returns an http.Handler for the endpoint Basiq posts notifications
// to. For each request it reads the body (bounded by the verifier), verifies
// it and calls fn with the request's context and the notification. It
// answers:
//
//   - 204 No Content when fn returns nil;
//   - 400 Bad Request to a missing or bad signature, a timestamp out of
//     range or a body that is not a notification, without calling fn;
//   - 413 Request Entity Too Large to a body over the bound, without calling
//     fn;
//   - 405 Method Not Allowed to a method other than POST;
//   - 500 Internal Server Error when fn returns an error, so that Basiq
//     delivers the message again later (with the same [Notification.ID]).
//
// Nothing it writes carries the secret, the body or fn's error: an
// application logs fn's errors itself. fn may run more than once for one
// message (Basiq retries until it gets a 2xx): deduplicate on
// [Notification.ID] where acting twice matters. Basiq expects a quick
// answer, so fn should hand slow work to a queue.
//
// A nil v or fn, or a Verifier not made by [NewVerifier], makes every
// request answer 500, since there is nothing safe to do with it. A panic in
// fn is not recovered here (net/http drops the connection, which Basiq
// counts as a failed delivery). Slow senders are bounded by the server: set
// ReadHeaderTimeout and ReadTimeout on the [http.Server].
func Handler(v *Verifier, fn func(ctx context.Context, n *Notification) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v == nil || v.mac == nil || fn == nil {
			reply(w, http.StatusInternalServerError, "webhook handler is not configured")
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reply(w, http.StatusMethodNotAllowed, "notifications are POSTed")
			return
		}
		// An unsigned request is refused before its body is read.
		for _, name := range [...]string{HeaderID, HeaderTimestamp, HeaderSignature} {
			if strings.TrimSpace(r.Header.Get(name)) == "" {
				reply(w, http.StatusBadRequest, ErrNoSignature.Error())
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, v.maxBody)
		n, err := v.Parse(r)
		switch {
		case errors.Is(err, ErrBodyTooLarge):
			reply(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		case errors.Is(err, ErrNoSignature), errors.Is(err, ErrInvalidSignature),
			errors.Is(err, ErrTimestampOutOfRange), errors.Is(err, ErrInvalidPayload):
			reply(w, http.StatusBadRequest, reason(err))
			return
		case err != nil:
			// The body could not be read: the connection failed.
			reply(w, http.StatusBadRequest, "body could not be read")
			return
		}
		if err := fn(r.Context(), n); err != nil {
			reply(w, http.StatusInternalServerError, "notification not handled")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// reason is the fixed text of the sentinel err matches: never the details,
// which hold header values a sender chose.
func reason(err error) string {
	for _, s := range []error{ErrNoSignature, ErrInvalidSignature, ErrTimestampOutOfRange, ErrInvalidPayload} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "bad request"
}

func reply(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}
