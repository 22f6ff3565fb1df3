package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/basiq-go/basiq/webhook"
)

const handlerBody = `{"eventTypeId":"connection.created","eventId":"ev-secret-body-marker","links":{"event":"https://au-api.basiq.io/events/ev1"}}`

func TestHandlerAnswers(t *testing.T) {
	now := time.Unix(vectorTS, 0)
	good := func(t *testing.T) *http.Request {
		return notificationRequest(t, vectorSecret, "msg_h", now, handlerBody)
	}
	cases := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		fnErr      error
		wantStatus int
		wantCalled bool
	}{
		{"signed notification", good, nil, http.StatusNoContent, true},
		{"handler fails: Basiq retries", good, errors.New("database down: secret-marker"), http.StatusInternalServerError, true},
		{"missing signature", func(t *testing.T) *http.Request {
			r := good(t)
			r.Header.Del(webhook.HeaderSignature)
			return r
		}, nil, http.StatusBadRequest, false},
		{"bad signature", func(t *testing.T) *http.Request {
			r := good(t)
			r.Header.Set(webhook.HeaderSignature, "v1,"+strings.Repeat("A", 44))
			return r
		}, nil, http.StatusBadRequest, false},
		{"tampered body", func(t *testing.T) *http.Request {
			r := good(t)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(handlerBody, "created", "deleted", 1)))
			return r
		}, nil, http.StatusBadRequest, false},
		{"replayed an hour later", func(t *testing.T) *http.Request {
			return notificationRequest(t, vectorSecret, "msg_h", now.Add(-time.Hour), handlerBody)
		}, nil, http.StatusBadRequest, false},
		{"signed but not a notification", func(t *testing.T) *http.Request {
			return notificationRequest(t, vectorSecret, "msg_h", now, `["not", "an", "object"]`)
		}, nil, http.StatusBadRequest, false},
		{"body over the bound", func(t *testing.T) *http.Request {
			return notificationRequest(t, vectorSecret, "msg_h", now, `{"eventTypeId":"x","pad":"`+strings.Repeat("p", webhook.DefaultMaxBodyBytes)+`"}`)
		}, nil, http.StatusRequestEntityTooLarge, false},
		{"GET", func(t *testing.T) *http.Request { return httptest.NewRequest(http.MethodGet, "/hooks", nil) }, nil, http.StatusMethodNotAllowed, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var called atomic.Bool
			h := webhook.Handler(vectorVerifier(t), func(ctx context.Context, n *webhook.Notification) error {
				called.Store(true)
				assert.Equal(t, webhook.EventConnectionCreated, n.EventTypeID)
				assert.Equal(t, "msg_h", n.ID)
				return tc.fnErr
			})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req(t))
			assert.Equal(t, tc.wantStatus, w.Code)
			assert.Equal(t, tc.wantCalled, called.Load())
			out := w.Body.String() + strings.Join(headerValues(w.Header()), " ")
			assert.NotContains(t, out, "MfKQ9r8G")
			assert.NotContains(t, out, "secret-marker")
			assert.NotContains(t, out, "ev-secret-body-marker")
			assert.NotContains(t, out, "AAAAAAAA")
		})
	}
}

func TestHandlerRefusesUnsignedRequestsWithoutReadingTheBody(t *testing.T) {
	var called atomic.Bool
	h := webhook.Handler(vectorVerifier(t), func(context.Context, *webhook.Notification) error { called.Store(true); return nil })
	var read atomic.Int64
	r := httptest.NewRequest(http.MethodPost, "/hooks", readerFunc(func(p []byte) (int, error) {
		if read.Add(int64(len(p))) > 1<<20 {
			return 0, io.EOF
		}
		return len(p), nil
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Zero(t, read.Load())
	assert.False(t, called.Load())
}

func headerValues(h http.Header) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k)
		out = append(out, vs...)
	}
	return out
}

func TestHandlerWithoutVerifierOrFunctionAnswers500(t *testing.T) {
	v := vectorVerifier(t)
	for name, h := range map[string]http.Handler{
		"nil verifier":  webhook.Handler(nil, func(context.Context, *webhook.Notification) error { return nil }),
		"nil function":  webhook.Handler(v, nil),
		"zero Verifier": webhook.Handler(&webhook.Verifier{}, func(context.Context, *webhook.Notification) error { return nil }),
	} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			assert.NotPanics(t, func() {
				h.ServeHTTP(w, notificationRequest(t, vectorSecret, "m", time.Unix(vectorTS, 0), handlerBody))
			})
			assert.Equal(t, http.StatusInternalServerError, w.Code)
		})
	}
}

// Over a real connection, the body bound stops the read: a sender streaming
// far more than the bound gets 413 without the handler reading it all.
func TestHandlerOverHTTPRefusesAnEndlessBody(t *testing.T) {
	var called atomic.Bool
	srv := httptest.NewServer(webhook.Handler(vectorVerifier(t), func(context.Context, *webhook.Notification) error {
		called.Store(true)
		return nil
	}))
	defer srv.Close()
	var sent atomic.Int64
	body := io.MultiReader(strings.NewReader(`{"eventTypeId":"x","pad":"`), readerFunc(func(p []byte) (int, error) {
		if sent.Add(int64(len(p))) > 64<<20 {
			return 0, io.EOF
		}
		for i := range p {
			p[i] = 'p'
		}
		return len(p), nil
	}))
	req, err := http.NewRequest(http.MethodPost, srv.URL, body)
	require.NoError(t, err)
	req.Header.Set(webhook.HeaderID, "m")
	req.Header.Set(webhook.HeaderTimestamp, strconv.Itoa(vectorTS))
	req.Header.Set(webhook.HeaderSignature, vectorSig)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	}
	assert.False(t, called.Load())
	assert.Less(t, sent.Load(), int64(64<<20), "the server stopped reading early")
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
