package basiq

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterBuilder(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time {
		d, err := time.Parse("2006-01-02", s)
		require.NoError(t, err)
		return d
	}
	sydney := time.FixedZone("AEST", 10*3600)

	tests := []struct {
		name       string
		build      func(b *filterBuilder)
		limit, max int
		wantFilter string   // "" means no filter parameter
		wantLimit  string   // "" means no limit parameter
		wantFields []string // non-nil: query fails with these *ValidationError fields
	}{
		{name: "empty", build: func(*filterBuilder) {}, max: 500},
		{
			name:       "eq quotes the value",
			build:      func(b *filterBuilder) { b.eq("accountId", "account.id", "a1") },
			wantFilter: "account.id.eq('a1')",
		},
		{
			name:       "eq skips an empty value",
			build:      func(b *filterBuilder) { b.eq("accountId", "account.id", "") },
			wantFilter: "",
		},
		{
			name: "conditions joined with commas, in order",
			build: func(b *filterBuilder) {
				b.eq("connectionId", "connection.id", "c1")
				b.eq("institutionId", "institution.id", "AU00000")
			},
			wantFilter: "connection.id.eq('c1'),institution.id.eq('AU00000')",
		},
		{
			name: "op with several values",
			build: func(b *filterBuilder) {
				b.op("authorization", "institution.authorization", "in", "user", "user-mfa")
			},
			wantFilter: "institution.authorization.in('user','user-mfa')",
		},
		{
			name:       "op without values adds nothing",
			build:      func(b *filterBuilder) { b.op("authorization", "institution.authorization", "in") },
			wantFilter: "",
		},
		{
			name: "grammar characters stay inside the quotes",
			build: func(b *filterBuilder) {
				b.eq("class", "transaction.class", "a,b).eq(c")
				b.eq("description", "transaction.description", `Café "Bar" & Grill`)
			},
			wantFilter: `transaction.class.eq('a,b).eq(c'),transaction.description.eq('Café "Bar" & Grill')`,
		},
		{
			name:       "single quote refused",
			build:      func(b *filterBuilder) { b.eq("accountId", "account.id", "a1') ,account.id.eq('a2") },
			wantFields: []string{"accountId"},
		},
		{
			name:       "newline refused",
			build:      func(b *filterBuilder) { b.eq("accountId", "account.id", "a1\n") },
			wantFields: []string{"accountId"},
		},
		{
			name:       "tab refused",
			build:      func(b *filterBuilder) { b.eq("accountId", "account.id", "a\t1") },
			wantFields: []string{"accountId"},
		},
		{
			name:       "NUL refused",
			build:      func(b *filterBuilder) { b.eq("accountId", "account.id", "a\x001") },
			wantFields: []string{"accountId"},
		},
		{
			name:       "DEL refused",
			build:      func(b *filterBuilder) { b.eq("accountId", "account.id", "a\x7f") },
			wantFields: []string{"accountId"},
		},
		{
			name:       "one bad value in a list refuses the condition",
			build:      func(b *filterBuilder) { b.op("authorization", "institution.authorization", "in", "user", "o'ther") },
			wantFields: []string{"authorization"},
		},
		{
			name: "every problem reported",
			build: func(b *filterBuilder) {
				b.eq("accountId", "account.id", "'")
				b.eq("connectionId", "connection.id", "ok")
				b.eq("class", "transaction.class", "\r")
			},
			limit: 501, max: 500,
			wantFields: []string{"accountId", "class", "limit"},
		},
		{
			name: "date range: both ends",
			build: func(b *filterBuilder) {
				b.dateRange("postDate", "transaction.postDate", day("2024-01-01"), day("2024-01-31"))
			},
			wantFilter: "transaction.postDate.bt('2024-01-01','2024-01-31')",
		},
		{
			name: "date range: one day",
			build: func(b *filterBuilder) {
				b.dateRange("postDate", "transaction.postDate", day("2024-02-29"), day("2024-02-29"))
			},
			wantFilter: "transaction.postDate.bt('2024-02-29','2024-02-29')",
		},
		{
			name: "date range: from only",
			build: func(b *filterBuilder) {
				b.dateRange("postDate", "transaction.postDate", day("2024-01-01"), time.Time{})
			},
			wantFilter: "transaction.postDate.gteq('2024-01-01')",
		},
		{
			name: "date range: to only",
			build: func(b *filterBuilder) {
				b.dateRange("postDate", "transaction.postDate", time.Time{}, day("2024-01-31"))
			},
			wantFilter: "transaction.postDate.lteq('2024-01-31')",
		},
		{
			name:       "date range: neither",
			build:      func(b *filterBuilder) { b.dateRange("postDate", "transaction.postDate", time.Time{}, time.Time{}) },
			wantFilter: "",
		},
		{
			name: "date range: only the date part, in the time's own zone",
			build: func(b *filterBuilder) {
				b.dateRange("postDate", "transaction.postDate",
					time.Date(2024, 3, 1, 0, 30, 0, 0, sydney), time.Date(2024, 3, 2, 23, 59, 0, 0, sydney))
			},
			wantFilter: "transaction.postDate.bt('2024-03-01','2024-03-02')",
		},
		{
			name: "date range: ends before it starts",
			build: func(b *filterBuilder) {
				b.dateRange("postDate", "transaction.postDate", day("2024-02-01"), day("2024-01-31"))
			},
			wantFields: []string{"postDate"},
		},
		{
			name: "raw appended unchanged, after the fields",
			build: func(b *filterBuilder) {
				b.raw("transaction.amount.gt('100')")
				b.eq("accountId", "account.id", "a1")
			},
			wantFilter: "transaction.amount.gt('100'),account.id.eq('a1')",
		},
		{
			name: "raw trimmed; blank raw ignored",
			build: func(b *filterBuilder) {
				b.eq("accountId", "account.id", "a1")
				b.raw("  account.status.eq('available')\n")
				b.raw("   ")
			},
			wantFilter: "account.id.eq('a1'),account.status.eq('available')",
		},
		{name: "limit 0 leaves the default", build: func(*filterBuilder) {}, limit: 0, max: 500},
		{name: "limit 1", build: func(*filterBuilder) {}, limit: 1, max: 500, wantLimit: "1"},
		{name: "limit at the maximum", build: func(*filterBuilder) {}, limit: 500, max: 500, wantLimit: "500"},
		{name: "limit past the maximum", build: func(*filterBuilder) {}, limit: 501, max: 500, wantFields: []string{"limit"}},
		{name: "negative limit", build: func(*filterBuilder) {}, limit: -1, max: 500, wantFields: []string{"limit"}},
		{
			name:       "filter and limit",
			build:      func(b *filterBuilder) { b.eq("status", "transaction.status", "posted") },
			limit:      50,
			max:        500,
			wantFilter: "transaction.status.eq('posted')",
			wantLimit:  "50",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b filterBuilder
			tc.build(&b)
			q, err := b.query(tc.limit, tc.max)
			if tc.wantFields != nil {
				assert.Equal(t, tc.wantFields, validationFields(t, err))
				assert.Nil(t, q)
				return
			}
			require.NoError(t, err)
			want := url.Values{}
			if tc.wantFilter != "" {
				want.Set("filter", tc.wantFilter)
			}
			if tc.wantLimit != "" {
				want.Set("limit", tc.wantLimit)
			}
			assert.Equal(t, want, q)
		})
	}
}

func TestQuoteFilterValue(t *testing.T) {
	t.Parallel()
	q, err := quoteFilterValue("f", "abc 123-ÄÖ")
	require.NoError(t, err)
	assert.Equal(t, "'abc 123-ÄÖ'", q)

	q, err = quoteFilterValue("f", "")
	require.NoError(t, err)
	assert.Equal(t, "''", q)

	for _, bad := range []string{"'", "a'b", "\x00", "\x1f", "\x7f", "a\r\nb"} {
		q, err := quoteFilterValue("myField", bad)
		assert.Empty(t, q)
		assert.Equal(t, []string{"myField"}, validationFields(t, err), "%q", bad)
		assert.NotContains(t, err.Error(), bad, "the value is not quoted back")
	}
}

func TestWithQuery(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "users/u1/accounts", withQuery("users/u1/accounts", nil))
	assert.Equal(t, "users/u1/accounts", withQuery("users/u1/accounts", url.Values{}))
	assert.Equal(t, "users/u1/transactions?filter=account.id.eq%28%27a+b%27%29&limit=10",
		withQuery("users/u1/transactions", url.Values{"filter": {"account.id.eq('a b')"}, "limit": {"10"}}))
}

// TestFilterDateRangeComparesCalendarDays: the range is by calendar day ("only
// the date part is used"), so it is judged on the dates it sends.
func TestFilterDateRangeComparesCalendarDays(t *testing.T) {
	t.Parallel()
	var b filterBuilder
	b.dateRange("postDate", "transaction.postDate",
		time.Date(2024, 1, 31, 15, 0, 0, 0, time.UTC), time.Date(2024, 1, 31, 9, 0, 0, 0, time.UTC))
	q, err := b.query(0, 500)
	require.NoError(t, err, "one calendar day is a valid range")
	assert.Equal(t, "transaction.postDate.bt('2024-01-31','2024-01-31')", q.Get("filter"))

	var b2 filterBuilder
	b2.dateRange("postDate", "transaction.postDate",
		time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 31, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)))
	q, err = b2.query(0, 500)
	if err == nil {
		assert.NotEqual(t, "transaction.postDate.bt('2024-02-01','2024-01-31')", q.Get("filter"),
			"an inverted range must not be sent")
	}
}

// FuzzFilter builds filters from any values and checks that the query
// parses back to exactly the conditions asked for, or the value is refused
// with a ValidationError. Seeds: the f.Add calls and testdata/fuzz/FuzzFilter.
func FuzzFilter(f *testing.F) {
	day := func(s string) int64 {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			panic(err)
		}
		return d.Unix()
	}
	f.Add("acc-1", "posted", "payment", "user", "user-mfa", day("2024-01-01"), day("2024-03-31"), 500)
	f.Add("", "", "", "", "", int64(0), int64(0), 0)
	f.Add("a1') ,account.id.eq('a2", "", "", "", "", int64(0), int64(0), 0)
	f.Add("a1\n", "pending\x00", "x\x7f", "", "", int64(0), int64(0), 0)
	f.Add("a,b).eq(c", `Café "Bar" & Grill`, `back\slash`, "", "token", int64(0), day("2024-03-31"), 1)
	f.Add("", "", "", "'", "user", day("2024-03-31"), int64(0), 0)
	f.Add("acc-1", "", "", "", "", day("2024-03-31"), day("2024-01-01"), 501)
	f.Add("acc-1", "", "", "", "", day("2024-03-31"), day("2024-03-31"), -1)
	f.Add(" ", "\u00a0", "\u2028", "\u200b", "\\", int64(1), int64(-1), 0)

	f.Fuzz(func(t *testing.T, account, status, class, in1, in2 string, fromSec, toSec int64, limit int) {
		const maxLimit = 500
		var from, to time.Time
		if fromSec != 0 {
			from = time.Unix(fromSec, 0).UTC()
		}
		if toSec != 0 {
			to = time.Unix(toSec, 0).UTC()
		}
		var (
			b       filterBuilder
			want    []fuzzCond
			invalid bool
			given   []string // every value passed, for the leak check
		)
		refused := func(v string) bool {
			return !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r == '\'' || unicode.IsControl(r) })
		}
		for _, e := range []struct{ field, path, v string }{
			{"accountId", "account.id", account},
			{"status", "transaction.status", status},
			{"class", "transaction.class", class},
		} {
			b.eq(e.field, e.path, e.v)
			if e.v != "" {
				want = append(want, fuzzCond{e.path, "eq", []string{e.v}})
				invalid = invalid || refused(e.v)
				given = append(given, e.v)
			}
		}
		var ins []string
		for _, v := range []string{in1, in2} {
			if v != "" {
				ins = append(ins, v)
				invalid = invalid || refused(v)
				given = append(given, v)
			}
		}
		b.op("authorization", "institution.authorization", "in", ins...)
		if len(ins) > 0 {
			want = append(want, fuzzCond{"institution.authorization", "in", ins})
		}
		b.dateRange("postDate", "transaction.postDate", from, to)
		const dayLayout = "2006-01-02"
		sane := func(t time.Time) bool { return t.IsZero() || (t.Year() >= 0 && t.Year() <= 9999) }
		reversed := false
		switch {
		case !from.IsZero() && !to.IsZero():
			fy, fm, fd := from.Date()
			ty, tm, td := to.Date()
			reversed = ty < fy || (ty == fy && (tm < fm || (tm == fm && td < fd)))
			want = append(want, fuzzCond{"transaction.postDate", "bt", []string{from.Format(dayLayout), to.Format(dayLayout)}})
		case !from.IsZero():
			want = append(want, fuzzCond{"transaction.postDate", "gteq", []string{from.Format(dayLayout)}})
		case !to.IsZero():
			want = append(want, fuzzCond{"transaction.postDate", "lteq", []string{to.Format(dayLayout)}})
		}
		invalid = invalid || reversed || limit < 0 || limit > maxLimit

		q, err := b.query(limit, maxLimit)
		if err != nil {
			if !errors.Is(err, ErrValidation) {
				t.Fatalf("query error %v does not match ErrValidation", err)
			}
			leaves := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				leaves = j.Unwrap()
			}
			for _, l := range leaves {
				var ve *ValidationError
				if !errors.As(l, &ve) || ve.Field == "" || ve.Reason == "" {
					t.Fatalf("query error %#v is not a *ValidationError", l)
				}
			}
			msg := err.Error()
			for _, v := range given {
				if len(v) >= 8 && strings.Contains(msg, v) {
					t.Fatalf("validation error %q quotes the value %q", msg, v)
				}
			}
			if !invalid && sane(from) && sane(to) {
				t.Fatalf("query refused valid input: %v", err)
			}
			return
		}
		if invalid && sane(from) && sane(to) {
			t.Fatalf("query accepted invalid input: filter %q, limit %d", q.Get("filter"), limit)
		}
		if limit > 0 && q.Get("limit") != strconv.Itoa(limit) {
			t.Fatalf("limit = %q, want %d", q.Get("limit"), limit)
		}
		if limit == 0 && q.Has("limit") {
			t.Fatalf("limit %q for 0", q.Get("limit"))
		}
		// The query survives encoding and decoding.
		back, perr := url.ParseQuery(q.Encode())
		if perr != nil || back.Get("filter") != q.Get("filter") {
			t.Fatalf("filter does not survive URL encoding: %q, %v", q.Get("filter"), perr)
		}

		got, perr := fuzzParseFilter(q.Get("filter"))
		if perr != nil {
			t.Fatalf("filter %q does not parse back: %v", q.Get("filter"), perr)
		}
		if len(got) != len(want) {
			t.Fatalf("filter %q has %d conditions, want %d", q.Get("filter"), len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.path != w.path || g.op != w.op || !slices.Equal(g.values, w.values) {
				t.Fatalf("condition %d = %+v, want %+v (filter %q)", i, g, w, q.Get("filter"))
			}
			for _, v := range g.values {
				if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
					// Found by fuzzing: quoteFilterValue refuses only ASCII
					// control characters; C1 controls (U+0080-U+009F, such
					// as NEL) and bytes that are not UTF-8 pass.
					t.Fatalf("filter value %q has a control character or is not UTF-8", v)
				}
			}
		}
	})
}

// fuzzCond is one condition of a parsed filter.
type fuzzCond struct {
	path, op string
	values   []string
}

// fuzzParseFilter parses Basiq's filter grammar as this library writes it:
// conditions path.op('v',...) joined by commas; a value is everything between
// a pair of single quotes and may hold neither a quote nor an ASCII control
// character.
func fuzzParseFilter(s string) ([]fuzzCond, error) {
	var out []fuzzCond
	if s == "" {
		return nil, nil
	}
	for {
		open := strings.IndexByte(s, '(')
		if open < 0 {
			return nil, fmt.Errorf("no '(' in %q", s)
		}
		head := s[:open]
		dot := strings.LastIndexByte(head, '.')
		if dot <= 0 || dot == len(head)-1 || strings.ContainsAny(head, "',) ") {
			return nil, fmt.Errorf("bad path.op %q", head)
		}
		c := fuzzCond{path: head[:dot], op: head[dot+1:]}
		s = s[open+1:]
		for {
			if !strings.HasPrefix(s, "'") {
				return nil, fmt.Errorf("value does not start with a quote: %q", s)
			}
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated value: %q", s)
			}
			v := s[1 : 1+end]
			if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return nil, fmt.Errorf("control character in value %q", v)
			}
			c.values = append(c.values, v)
			s = s[2+end:]
			if strings.HasPrefix(s, ",") {
				s = s[1:]
				continue
			}
			if !strings.HasPrefix(s, ")") {
				return nil, fmt.Errorf("value not followed by ',' or ')': %q", s)
			}
			s = s[1:]
			break
		}
		out = append(out, c)
		if s == "" {
			return out, nil
		}
		if !strings.HasPrefix(s, ",") {
			return nil, fmt.Errorf("condition not followed by ',': %q", s)
		}
		s = s[1:]
	}
}
