package basiq

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
)

// Lenient decoding shared by the resource types: the API writes timestamps in
// several forms and references as an id or an object with one. Each helper
// decodes itself, so a struct using them decodes in one pass.

// lenientTime reads a timestamp in any of timeLayouts; anything else is zero.
type lenientTime struct{ time.Time }

func (t *lenientTime) UnmarshalJSON(b []byte) error {
	t.Time = parseTime(b)
	return nil
}

// timeLayouts are the timestamp forms the API has been seen to use.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

func parseTime(raw json.RawMessage) time.Time {
	s, ok := unquote(raw)
	if !ok || s == "" {
		return time.Time{}
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// unquote reads a JSON string, without a decoder when it has no escapes.
func unquote(raw []byte) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && !slices.Contains(raw[1:n-1], '\\') {
		return string(raw[1 : n-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// flexID reads a reference given as "id" or {"id": "..."}.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	*f = flexID(idOf(b))
	return nil
}

// idOf reads a reference given as "id" or {"id": "..."}.
func idOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		s, _ := unquote(raw)
		return s
	}
	var obj struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.ID
	}
	return ""
}

// flexString reads a value given as a string or as a number (Basiq's 3.0
// examples write a mobile number as a number): a number is kept as its
// digits as written. null and other kinds read as "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
	default:
		*f = ""
	}
	return nil
}
