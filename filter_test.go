package basiq

import (
	"net/url"
	"testing"
	"time"

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
