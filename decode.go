package basiq

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode"
)

// Lenient decoding shared by the resource types: the API writes timestamps in
// several forms and references as an id or an object with one. Each helper
// decodes itself, so a struct using them decodes in one pass.

// lenientTime reads a timestamp in any of timeLayouts; anything else is zero.
type lenientTime struct{ time.Time }

func (t *lenientTime) UnmarshalJSON(b []byte) error {
	// The usual form, RFC 3339 in a string without escapes, is parsed from
	// the bytes as they are (no string copy); parseTime reads the others.
	if len(b) > 2 && b[0] == '"' && t.Time.UnmarshalJSON(b) == nil {
		return nil
	}
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

// answerDecoder is an answer type that decodes a 2xx body itself: send
// hands it the body instead of calling json.Unmarshal.
type answerDecoder interface {
	decodeAnswer(body []byte) error
}

// The fast path of job answers. Most are written the usual way: step
// results as objects, timestamps in RFC 3339. Such an answer decodes in one
// pass into a plain struct (no decoder of its own on any object, so no
// nested json.Unmarshal). The lenient decoders run only when that pass fails
// (another form: an array of results) or when [plainDecodeSafe] cannot rule
// out that the two ways give different results. decode_fuzz_test.go checks
// that both give the same result wherever the fast one is taken.
// (Transaction pages need no such path: their lenient fields read the usual
// forms without a nested decoder, a sub-class object through flatSubClass.)

// plainDecodeSafe reports whether a plain decode of body gives what the
// lenient one gives, for a field named key (ASCII letters only) that the
// plain struct holds as a pointer to a struct and the lenient one as a type
// with its own decoder, objects being the number of non-nil pointers the
// plain decode left. They differ only when one field receives two objects
// (a repeated key, or a repeated array whose elements encoding/json reuses):
// the plain decode merges the second into the first, the lenient decoder
// replaces. So every occurrence of the key must be a null or one of the
// objects counted; a key written with escapes or with a character that
// folds to an ASCII letter (U+017F, U+212A) could hide from the count, so
// such a body is not judged safe.
func plainDecodeSafe(body []byte, key string, objects int) bool {
	if bytes.Contains(body, []byte("\u017f")) || bytes.Contains(body, []byte("\u212a")) {
		return false
	}
	for rest := body; ; {
		i := bytes.Index(rest, []byte(`\u`))
		if i < 0 {
			break
		}
		if i+6 > len(rest) {
			return false
		}
		r, err := strconv.ParseUint(string(rest[i+2:i+6]), 16, 32)
		if err != nil || r < 0x80 && unicode.IsLetter(rune(r)) || r == 0x17f || r == 0x212a {
			return false
		}
		rest = rest[i+2:]
	}
	// A key starts with a quote and its first letter in either case: two
	// searches for those two bytes find every candidate.
	n, nulls := 0, 0
	k := []byte(key)
	for _, first := range [2]byte{key[0] | 0x20, key[0] &^ 0x20} {
		for rest := body; ; {
			i := bytes.Index(rest, []byte{'"', first})
			if i < 0 || i+len(k)+2 > len(rest) {
				break
			}
			rest = rest[i+1:]
			if rest[len(k)] != '"' || !bytes.EqualFold(rest[:len(k)], k) {
				continue
			}
			n++
			after := bytes.TrimLeft(rest[len(k)+1:], " \t\r\n")
			if len(after) > 0 && after[0] == ':' {
				if after = bytes.TrimLeft(after[1:], " \t\r\n"); bytes.HasPrefix(after, []byte("null")) {
					nulls++
				}
			}
		}
	}
	return n-nulls == objects
}
