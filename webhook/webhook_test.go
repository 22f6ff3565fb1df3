package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/basiq-go/basiq/webhook"
)

// The published test vector of the Standard Webhooks scheme.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeader() http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, vectorID)
	h.Set(webhook.HeaderTimestamp, strconv.Itoa(vectorTS))
	h.Set(webhook.HeaderSignature, vectorSig)
	return h
}

func clockAt(unix int64) webhook.VerifierOption {
	return webhook.WithClock(func() time.Time { return time.Unix(unix, 0) })
}

func vectorVerifier(t *testing.T, opts ...webhook.VerifierOption) *webhook.Verifier {
	t.Helper()
	v, err := webhook.NewVerifier(vectorSecret, append([]webhook.VerifierOption{clockAt(vectorTS)}, opts...)...)
	require.NoError(t, err)
	return v
}

func TestSignMatchesPublishedVector(t *testing.T) {
	sig, err := webhook.Sign(vectorSecret, vectorID, time.Unix(vectorTS, 0), []byte(vectorBody))
	require.NoError(t, err)
	assert.Equal(t, vectorSig, sig)
}

func TestVerifyAcceptsPublishedVector(t *testing.T) {
	assert.NoError(t, vectorVerifier(t).Verify(vectorHeader(), []byte(vectorBody)))
}

func TestVerifyAcceptsEverySecretForm(t *testing.T) {
	key := strings.TrimPrefix(vectorSecret, "whsec_")
	raw, err := base64.StdEncoding.DecodeString(key)
	require.NoError(t, err)
	// A key whose base64 needs padding, to tell padded from unpadded.
	odd := append(raw, 0x7f)
	padded := base64.StdEncoding.EncodeToString(odd)
	require.True(t, strings.HasSuffix(padded, "="))
	unpadded := strings.TrimRight(padded, "=")

	for _, secret := range []string{vectorSecret, key, " " + key + "\n", "whsec_" + padded, padded, unpadded, "whsec_" + unpadded} {
		t.Run(secret, func(t *testing.T) {
			v, err := webhook.NewVerifier(secret, clockAt(vectorTS))
			require.NoError(t, err)
			sig, err := webhook.Sign(secret, vectorID, time.Unix(vectorTS, 0), []byte(vectorBody))
			require.NoError(t, err)
			h := vectorHeader()
			h.Set(webhook.HeaderSignature, sig)
			assert.NoError(t, v.Verify(h, []byte(vectorBody)))
		})
	}
	// Padded and unpadded forms of one key are one key.
	a, err := webhook.Sign(padded, "m", time.Unix(1, 0), nil)
	require.NoError(t, err)
	b, err := webhook.Sign(unpadded, "m", time.Unix(1, 0), nil)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestVerifyRefusesWhatWasNotSigned(t *testing.T) {
	otherSig, err := webhook.Sign("whsec_"+base64.StdEncoding.EncodeToString([]byte("another key, 24 bytes!!!")),
		vectorID, time.Unix(vectorTS, 0), []byte(vectorBody))
	require.NoError(t, err)
	cases := []struct {
		name string
		edit func(h http.Header) http.Header
		body string
		want error
	}{
		{"tampered body", nil, `{"test": 2432232315}`, webhook.ErrInvalidSignature},
		{"body with a trailing newline", nil, vectorBody + "\n", webhook.ErrInvalidSignature},
		{"tampered id", func(h http.Header) http.Header { h.Set(webhook.HeaderID, vectorID+"x"); return h }, vectorBody, webhook.ErrInvalidSignature},
		{"tampered timestamp within tolerance", func(h http.Header) http.Header {
			h.Set(webhook.HeaderTimestamp, strconv.Itoa(vectorTS+1))
			return h
		}, vectorBody, webhook.ErrInvalidSignature},
		{"timestamp with a leading zero", func(h http.Header) http.Header {
			h.Set(webhook.HeaderTimestamp, "0"+strconv.Itoa(vectorTS))
			return h
		}, vectorBody, webhook.ErrInvalidSignature},
		{"signed with another secret", func(h http.Header) http.Header { h.Set(webhook.HeaderSignature, otherSig); return h }, vectorBody, webhook.ErrInvalidSignature},
		{"unknown version only", func(h http.Header) http.Header {
			h.Set(webhook.HeaderSignature, strings.Replace(vectorSig, "v1,", "v2,", 1))
			return h
		}, vectorBody, webhook.ErrInvalidSignature},
		{"asymmetric version only", func(h http.Header) http.Header {
			h.Set(webhook.HeaderSignature, strings.Replace(vectorSig, "v1,", "v1a,", 1))
			return h
		}, vectorBody, webhook.ErrInvalidSignature},
		{"bad base64", func(h http.Header) http.Header { h.Set(webhook.HeaderSignature, "v1,!!!not base64!!!"); return h }, vectorBody, webhook.ErrInvalidSignature},
		{"no comma", func(h http.Header) http.Header {
			h.Set(webhook.HeaderSignature, strings.Replace(vectorSig, ",", "", 1))
			return h
		}, vectorBody, webhook.ErrInvalidSignature},
		{"truncated signature", func(h http.Header) http.Header {
			h.Set(webhook.HeaderSignature, vectorSig[:len(vectorSig)-8])
			return h
		}, vectorBody, webhook.ErrInvalidSignature},
		{"empty signature", func(h http.Header) http.Header { h.Set(webhook.HeaderSignature, "v1,"); return h }, vectorBody, webhook.ErrInvalidSignature},
		{"missing id", func(h http.Header) http.Header { h.Del(webhook.HeaderID); return h }, vectorBody, webhook.ErrNoSignature},
		{"missing timestamp", func(h http.Header) http.Header { h.Del(webhook.HeaderTimestamp); return h }, vectorBody, webhook.ErrNoSignature},
		{"missing signature", func(h http.Header) http.Header { h.Del(webhook.HeaderSignature); return h }, vectorBody, webhook.ErrNoSignature},
		{"blank signature", func(h http.Header) http.Header { h.Set(webhook.HeaderSignature, "  "); return h }, vectorBody, webhook.ErrNoSignature},
		{"no headers at all", func(http.Header) http.Header { return nil }, vectorBody, webhook.ErrNoSignature},
	}
	v := vectorVerifier(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := vectorHeader()
			if tc.edit != nil {
				h = tc.edit(h)
			}
			err := v.Verify(h, []byte(tc.body))
			require.ErrorIs(t, err, tc.want)
			assert.NotContains(t, err.Error(), "MfKQ9r8G")
		})
	}
}

func TestVerifyRefusesOtherSpellingsOfTheSignature(t *testing.T) {
	v := vectorVerifier(t)
	b64 := strings.TrimPrefix(vectorSig, "v1,")
	require.True(t, strings.HasSuffix(b64, "E="))
	// The last character's low bits are padding: F, G and H decode to the
	// same bytes as E, but are not the signature Basiq writes.
	for _, alt := range []string{"F=", "G=", "H="} {
		sig := "v1," + b64[:len(b64)-2] + alt
		assert.ErrorIs(t, v.Verify(headerWithSig(sig), []byte(vectorBody)), webhook.ErrInvalidSignature, sig)
	}
	for _, sig := range []string{"V1," + b64, "v1, " + b64, "v1," + b64 + "==", "v1," + strings.NewReplacer("+", "-", "/", "_").Replace(b64), `"` + vectorSig + `"`} {
		assert.ErrorIs(t, v.Verify(headerWithSig(sig), []byte(vectorBody)), webhook.ErrInvalidSignature, sig)
	}
	// Without its padding it is still Basiq's signature.
	assert.NoError(t, v.Verify(headerWithSig(strings.TrimRight(vectorSig, "=")), []byte(vectorBody)))
}

func headerWithSig(sig string) http.Header {
	h := vectorHeader()
	h.Set(webhook.HeaderSignature, sig)
	return h
}

func TestVerifyAcceptsAnyMatchingV1AmongSeveral(t *testing.T) {
	v := vectorVerifier(t)
	for _, header := range []string{
		"v1,Zm9vYmFy " + vectorSig,
		vectorSig + " v1,Zm9vYmFy",
		"v2,abc v1a,xyz " + vectorSig + " garbage",
		"  " + vectorSig + "  ",
	} {
		h := vectorHeader()
		h.Set(webhook.HeaderSignature, header)
		assert.NoError(t, v.Verify(h, []byte(vectorBody)), header)
	}
}

func TestVerifyRefusesTimestampsOutOfTolerance(t *testing.T) {
	cases := []struct {
		name    string
		offset  time.Duration // message time minus clock
		opts    []webhook.VerifierOption
		wantErr bool
	}{
		{"now", 0, nil, false},
		{"4m59s old", -299 * time.Second, nil, false},
		{"4m59s ahead", 299 * time.Second, nil, false},
		{"5m01s old", -301 * time.Second, nil, true},
		{"5m01s ahead", 301 * time.Second, nil, true},
		{"a day old", -24 * time.Hour, nil, true},
		{"a year ahead", 365 * 24 * time.Hour, nil, true},
		{"1m old, tolerance 30s", -time.Minute, []webhook.VerifierOption{webhook.WithTolerance(30 * time.Second)}, true},
		{"1h old, tolerance 2h", -time.Hour, []webhook.VerifierOption{webhook.WithTolerance(2 * time.Hour)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msgTime := time.Unix(vectorTS, 0).Add(tc.offset)
			v, err := webhook.NewVerifier(vectorSecret, append([]webhook.VerifierOption{clockAt(vectorTS)}, tc.opts...)...)
			require.NoError(t, err)
			sig, err := webhook.Sign(vectorSecret, vectorID, msgTime, []byte(vectorBody))
			require.NoError(t, err)
			h := vectorHeader()
			h.Set(webhook.HeaderTimestamp, strconv.FormatInt(msgTime.Unix(), 10))
			h.Set(webhook.HeaderSignature, sig)
			err = v.Verify(h, []byte(vectorBody))
			if tc.wantErr {
				assert.ErrorIs(t, err, webhook.ErrTimestampOutOfRange)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func TestVerifyRefusesSignedTimestampsThatAreNotNumbers(t *testing.T) {
	v := vectorVerifier(t)
	for _, ts := range []string{"soon", "1614265330.5", "-1", "99999999999999999999999", "+1614265330"} {
		sig := signRaw(t, vectorSecret, vectorID, ts, vectorBody)
		h := vectorHeader()
		h.Set(webhook.HeaderTimestamp, ts)
		h.Set(webhook.HeaderSignature, sig)
		err := v.Verify(h, []byte(vectorBody))
		assert.Error(t, err, ts)
		assert.True(t, errors.Is(err, webhook.ErrInvalidSignature) || errors.Is(err, webhook.ErrTimestampOutOfRange), "%q: %v", ts, err)
	}
}

// signRaw signs with a timestamp string Sign cannot produce.
func signRaw(t *testing.T, secret, id, ts, body string) string {
	t.Helper()
	return schemeSignature(secret, id+"."+ts+"."+body)
}

// schemeSignature computes a v1 entry from the scheme's formula, apart from
// the package's own code.
func schemeSignature(secret, signed string) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestNewVerifierRefusesBadSecretsAndOptions(t *testing.T) {
	for _, secret := range []string{"", "   ", "whsec_", "whsec_!!!!", "not base64 at all", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=="} {
		t.Run("secret "+secret, func(t *testing.T) {
			v, err := webhook.NewVerifier(secret)
			assert.Nil(t, v)
			require.ErrorIs(t, err, webhook.ErrInvalidSecret)
			if strings.TrimPrefix(strings.TrimSpace(secret), "whsec_") != "" {
				assert.NotContains(t, err.Error(), strings.TrimPrefix(secret, "whsec_"))
			}
			_, err = webhook.Sign(secret, "m", time.Now(), nil)
			assert.ErrorIs(t, err, webhook.ErrInvalidSecret)
		})
	}
	for name, opt := range map[string]webhook.VerifierOption{
		"zero tolerance":     webhook.WithTolerance(0),
		"negative tolerance": webhook.WithTolerance(-time.Second),
		"nil clock":          webhook.WithClock(nil),
		"zero body bound":    webhook.WithMaxBodyBytes(0),
		"nil option":         nil,
	} {
		t.Run(name, func(t *testing.T) {
			v, err := webhook.NewVerifier(vectorSecret, opt)
			assert.Nil(t, v)
			assert.ErrorIs(t, err, webhook.ErrInvalidOption)
		})
	}
}

func TestVerifierNeverShowsItsSecret(t *testing.T) {
	v := vectorVerifier(t)
	key := strings.TrimPrefix(vectorSecret, "whsec_")
	raw, _ := base64.StdEncoding.DecodeString(key)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("verifier", "v", v)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("verifier", "v", v)
	outs := []string{logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%p"} {
		outs = append(outs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, *v))
	}
	for _, out := range outs {
		assert.NotContains(t, out, key)
		assert.NotContains(t, out, fmt.Sprintf("%x", raw))
		assert.NotContains(t, out, string(raw))
	}
	for _, out := range []string{fmt.Sprintf("%v", *v), fmt.Sprintf("%+v", *v), fmt.Sprintf("%#v", *v)} {
		assert.Contains(t, out, "[REDACTED]", "a Verifier value formats as the pointer does")
	}
	var nilV *webhook.Verifier
	assert.NotPanics(t, func() { _ = fmt.Sprint(nilV) })
	assert.ErrorIs(t, nilV.Verify(vectorHeader(), []byte(vectorBody)), webhook.ErrInvalidSecret)
}

func notificationRequest(t *testing.T, secret, id string, ts time.Time, body string) *http.Request {
	t.Helper()
	sig, err := webhook.Sign(secret, id, ts, []byte(body))
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(body))
	r.Header.Set(webhook.HeaderID, id)
	r.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	r.Header.Set(webhook.HeaderSignature, sig)
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestParseDecodesNotifications(t *testing.T) {
	v := vectorVerifier(t)
	at := time.Unix(vectorTS, 0)
	cases := []struct {
		name, body string
		want       webhook.Notification
	}{
		{"basiq's shape", `{"eventTypeId":"connection.created","eventId":"ev1","links":{"event":"https://au-api.basiq.io/events/ev1","eventEntity":"https://au-api.basiq.io/users/u1/connections/c1"}}`,
			webhook.Notification{EventTypeID: "connection.created", EventID: "ev1"}},
		{"links as a list of one", `{"eventTypeId":"user.deleted","eventId":"ev2","links":[{"event":"https://au-api.basiq.io/events/ev2"}]}`,
			webhook.Notification{EventTypeID: "user.deleted", EventID: "ev2"}},
		{"unknown type passed on", `{"eventTypeId":"statement.created","eventId":"ev3","extra":{"a":[1,2]}}`,
			webhook.Notification{EventTypeID: "statement.created", EventID: "ev3"}},
		{"links of an odd shape ignored", `{"eventTypeId":"user.created","eventId":"ev4","links":"nope"}`,
			webhook.Notification{EventTypeID: "user.created", EventID: "ev4"}},
		// Signed, so passed on for the application to judge: refusing would
		// make Basiq retry it for hours and then disable the endpoint.
		{"no event type", `{"eventId":"ev5"}`, webhook.Notification{EventID: "ev5"}},
		{"fields of other types left empty", `{"eventTypeId":7,"eventId":{"a":1}}`, webhook.Notification{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := v.Parse(notificationRequest(t, vectorSecret, "msg_1", at, tc.body))
			require.NoError(t, err)
			assert.Equal(t, "msg_1", n.ID)
			assert.True(t, at.Equal(n.Timestamp))
			assert.Equal(t, tc.want.EventTypeID, n.EventTypeID)
			assert.Equal(t, tc.want.EventID, n.EventID)
		})
	}
	n, err := v.Parse(notificationRequest(t, vectorSecret, "msg_1", at, cases[0].body))
	require.NoError(t, err)
	assert.Equal(t, "https://au-api.basiq.io/events/ev1", n.Links.Event)
	assert.Equal(t, "https://au-api.basiq.io/users/u1/connections/c1", n.Links.EventEntity)
}

func TestParseRefusesBodiesThatAreNotNotifications(t *testing.T) {
	v := vectorVerifier(t)
	for _, body := range []string{``, `null`, `[]`, `"x"`, `{"eventTypeId":"a"`, `7`, `{"eventTypeId":"a"}x`} {
		_, err := v.Parse(notificationRequest(t, vectorSecret, "msg_1", time.Unix(vectorTS, 0), body))
		assert.ErrorIs(t, err, webhook.ErrInvalidPayload, body)
	}
	_, err := v.Parse(nil)
	assert.ErrorIs(t, err, webhook.ErrNoSignature)
}

func TestParseBoundsTheBody(t *testing.T) {
	v := vectorVerifier(t, webhook.WithMaxBodyBytes(100))
	body := `{"eventTypeId":"user.created","eventId":"` + strings.Repeat("x", 100) + `"}`
	_, err := v.Parse(notificationRequest(t, vectorSecret, "msg_1", time.Unix(vectorTS, 0), body))
	assert.ErrorIs(t, err, webhook.ErrBodyTooLarge)

	exact := `{"eventTypeId":"user.created","eventId":"` + strings.Repeat("x", 100-43) + `"}`
	require.Len(t, exact, 100)
	_, err = v.Parse(notificationRequest(t, vectorSecret, "msg_1", time.Unix(vectorTS, 0), exact))
	assert.NoError(t, err)
}

func TestEventTypesAreTheDocumentedSet(t *testing.T) {
	types := webhook.EventTypes()
	assert.Len(t, types, 15)
	assert.Contains(t, types, "connection.created")
	assert.Contains(t, types, "transactions.updated")
	assert.Contains(t, types, "consent.reminder")
	types[0] = "changed"
	assert.Equal(t, webhook.EventAccountUpdated, webhook.EventTypes()[0], "each call returns a new slice")
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorID, strconv.Itoa(vectorTS), vectorSig, []byte(vectorBody))
	f.Add("", "", "", []byte(nil))
	f.Add("id", "1614265330", "v1,", []byte("{}"))
	f.Add("id", "-9223372036854775808", "v1,AAAA v1a,BBBB v2", []byte("x"))
	f.Add("id", "9223372036854775807", "v1,====", []byte("x"))
	v, err := webhook.NewVerifier(vectorSecret, clockAt(vectorTS))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, ts)
		h.Set(webhook.HeaderSignature, sig)
		err := v.Verify(h, body)
		if err == nil {
			// Only a real signature over exactly these bytes passes.
			want := schemeSignature(vectorSecret, id+"."+ts+"."+string(body))
			found := false
			for _, e := range strings.Fields(sig) {
				got, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e, "v1,"))
				if err != nil {
					got, err = base64.RawStdEncoding.DecodeString(strings.TrimPrefix(e, "v1,"))
				}
				if err == nil && strings.HasPrefix(e, "v1,") && "v1,"+base64.StdEncoding.EncodeToString(got) == want {
					found = true
				}
			}
			if !found {
				t.Fatalf("accepted a signature it did not make: %q", sig)
			}
			return
		}
		if !errors.Is(err, webhook.ErrNoSignature) && !errors.Is(err, webhook.ErrInvalidSignature) && !errors.Is(err, webhook.ErrTimestampOutOfRange) {
			t.Fatalf("error matches no sentinel: %v", err)
		}
		if strings.Contains(err.Error(), "MfKQ9r8G") {
			t.Fatalf("error carries the secret: %v", err)
		}
	})
}
