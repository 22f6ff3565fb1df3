package basiq

import (
	"encoding/json"
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
