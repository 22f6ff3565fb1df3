package basiq

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// filterBuilder writes Basiq's filter grammar: conditions such as
// connection.id.eq('abc') joined by commas (AND). Every value is quoted; a
// value that could end its quotes early (a single quote) or carries control
// characters is refused with a *ValidationError, so no input can change what
// the filter means.
type filterBuilder struct {
	parts []string
	errs  []error
}

func quoteFilterValue(field, v string) (string, error) {
	if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r == '\'' || unicode.IsControl(r) }) {
		return "", &ValidationError{Field: field, Reason: "must not contain a quote or control characters, which a filter value cannot carry: remove them"}
	}
	return "'" + v + "'", nil
}

// op adds path.op('v1','v2',...) when any value is given; field names the
// argument in errors.
func (b *filterBuilder) op(field, path, op string, values ...string) {
	if len(values) == 0 {
		return
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		q, err := quoteFilterValue(field, v)
		if err != nil {
			b.errs = append(b.errs, err)
			return
		}
		quoted[i] = q
	}
	b.parts = append(b.parts, path+"."+op+"("+strings.Join(quoted, ",")+")")
}

// eq adds path.eq('v') when v is not empty.
func (b *filterBuilder) eq(field, path, v string) {
	if v != "" {
		b.op(field, path, "eq", v)
	}
}

// dateRange adds a condition on a date: bt when both ends are set, gteq or
// lteq when one is. Dates are written as YYYY-MM-DD.
func (b *filterBuilder) dateRange(field, path string, from, to time.Time) {
	const day = "2006-01-02"
	switch {
	case !from.IsZero() && !to.IsZero():
		// Judge the range on the calendar days sent, not the instants.
		f, t := from.Format(day), to.Format(day)
		if t < f {
			b.errs = append(b.errs, &ValidationError{Field: field, Reason: "ends before it starts: give a start no later than the end, in calendar days"})
			return
		}
		b.op(field, path, "bt", f, t)
	case !from.IsZero():
		b.op(field, path, "gteq", from.Format(day))
	case !to.IsZero():
		b.op(field, path, "lteq", to.Format(day))
	}
}

// oneOf adds path.eq('v') when v is not empty, and refuses a v that is not
// one of the values the library knows: a typo would otherwise match nothing
// and look like an empty list. Raw remains for any other value.
func oneOf[T ~string](b *filterBuilder, field, path string, v T, known []T) {
	if v != "" && !slices.Contains(known, v) {
		b.errs = append(b.errs, unknownValue(field, known))
		return
	}
	b.eq(field, path, string(v))
}

// anyOf adds path.in('v1','v2',...) when values is not empty, and refuses
// values (with one error for the field) when any is not one of the values
// the library knows, as oneOf does.
func anyOf[T ~string](b *filterBuilder, field, path string, values, known []T) {
	strs := make([]string, len(values))
	for i, v := range values {
		if !slices.Contains(known, v) {
			b.errs = append(b.errs, unknownValue(field, known))
			return
		}
		strs[i] = string(v)
	}
	b.op(field, path, "in", strs...)
}

// unknownValue is the error for a filter value that is not one of known.
func unknownValue[T ~string](field string, known []T) error {
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = string(k)
	}
	return &ValidationError{Field: field,
		Reason: fmt.Sprintf("must be one of %s; use Raw for a value this library does not know", strings.Join(names, ", "))}
}

// raw appends a filter the caller wrote, unchanged.
func (b *filterBuilder) raw(s string) {
	if s = strings.TrimSpace(s); s != "" {
		b.parts = append(b.parts, s)
	}
}

// query returns the query for the filter and page size, or the validation
// errors found. A limit of 0 leaves the API's default.
func (b *filterBuilder) query(limit, maxLimit int) (url.Values, error) {
	if limit < 0 || limit > maxLimit {
		b.errs = append(b.errs, &ValidationError{Field: "limit", Reason: "must be between 1 and " + strconv.Itoa(maxLimit) + ": give 0 for the API's default page size"})
	}
	if err := joinValidation(b.errs); err != nil {
		return nil, err
	}
	q := url.Values{}
	if len(b.parts) > 0 {
		q.Set("filter", strings.Join(b.parts, ","))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q, nil
}

// withQuery appends an encoded query to a path.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
