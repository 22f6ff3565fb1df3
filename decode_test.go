package basiq

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLenientTimeReadsEveryFormTheAPIUses checks each timestamp form the API
// has been seen to write, and that anything else decodes to the zero time
// rather than failing the whole resource.
func TestLenientTimeReadsEveryFormTheAPIUses(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]time.Time{
		`"2024-03-01T10:20:30Z"`:        time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC),
		`"2024-03-01T10:20:30.5+10:00"`: time.Date(2024, 3, 1, 0, 20, 30, 5e8, time.UTC),
		`"2024-03-01T10:20:30"`:         time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC),
		`"2024-03-01 10:20:30"`:         time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC),
		`"2024-03-01"`:                  time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		`"2024-03-01\u005410:20:30Z"`:   time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC),
		`"\u0032024-03-01T10:20:30Z"`:   time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC),
		`""`:                            {},
		`null`:                          {},
		`1709287200`:                    {},
		`"yesterday"`:                   {},
		`{"date":"2024-03-01"}`:         {},
		`"2024-13-01"`:                  {},
	} {
		var got struct {
			T lenientTime `json:"t"`
		}
		require.NoError(t, json.Unmarshal([]byte(`{"t":`+raw+`}`), &got), raw)
		assert.True(t, want.Equal(got.T.Time), "%s: got %v, want %v", raw, got.T.Time, want)
	}
}

// TestFlexIDReadsAnIDOrAnObject checks that a reference decodes from a bare
// id or an object with one, and that any other shape is an empty id rather
// than an error.
func TestFlexIDReadsAnIDOrAnObject(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		`"AU00000"`:                         "AU00000",
		`"a\"b"`:                            `a"b`,
		`{"id":"AU00000","links":{}}`:       "AU00000",
		` {"type":"institution","id":"x"} `: "x",
		`{"name":"no id"}`:                  "",
		`{"id":7}`:                          "",
		`null`:                              "",
		`7`:                                 "",
		`[]`:                                "",
		`""`:                                "",
	} {
		var got struct {
			ID flexID `json:"id"`
		}
		require.NoError(t, json.Unmarshal([]byte(`{"id":`+raw+`}`), &got), raw)
		assert.Equal(t, want, string(got.ID), raw)
	}
}

// jsonNames returns the JSON names of a struct type's fields ("-" and
// unexported fields left out).
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	return names
}

// TestWireStructsMatchTheirPublicTypes keeps each wire struct (the form a
// resource is decoded from in one pass) in step with its public type: a
// field added to one and not the other would be silently lost.
func TestWireStructsMatchTheirPublicTypes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		public, wire any
		// onlyPublic are public fields the wire form does not carry (they
		// are derived); onlyWire are the wire form's other spellings.
		onlyPublic, onlyWire []string
	}{
		{Job{}, jobWire{}, nil, nil},
		{Transaction{}, transactionWire{}, nil, nil},
		{StepResult{}, stepResultWire{}, []string{"questions", "items"}, []string{"details", "input"}},
	}
	for _, tc := range cases {
		pub, wire := jsonNames(reflect.TypeOf(tc.public)), jsonNames(reflect.TypeOf(tc.wire))
		for _, n := range tc.onlyPublic {
			assert.True(t, pub[n], "%T has no field %q", tc.public, n)
			delete(pub, n)
		}
		for _, n := range tc.onlyWire {
			assert.True(t, wire[n], "%T has no field %q", tc.wire, n)
			delete(wire, n)
		}
		assert.Equal(t, pub, wire, "%T and %T decode different fields", tc.public, tc.wire)
	}
}
