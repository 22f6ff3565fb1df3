package basiq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	txURL     = testBase + "/users/u1/transactions"
	getTxKey  = "GET " + txURL
	evilTxURL = "https://evil.test/users/u1/transactions"
	// txItemLimit bounds how many items a test reads, so that a loop that
	// never ends fails the test instead of hanging it.
	txItemLimit = 50
)

// txJSON is a minimal transaction with this id.
func txJSON(id string) string {
	return fmt.Sprintf(`{"type":"transaction","id":%q,"status":"posted","amount":"-1.00","account":"a1"}`, id)
}

// txPage renders one page of transactions with an optional next link.
func txPage(next string, ids ...string) string {
	items := make([]string, len(ids))
	for i, id := range ids {
		items[i] = txJSON(id)
	}
	links := `{}`
	if next != "" {
		links = fmt.Sprintf(`{"next":%q}`, next)
	}
	return fmt.Sprintf(`{"type":"list","count":%d,"size":%d,"data":[%s],"links":%s}`, len(ids), len(ids), strings.Join(items, ","), links)
}

// txPages answers GET /users/u1/transactions by its page query parameter:
// no page parameter is page 1. A missing page answers 404.
func txPages(pages map[string]httpmock.Responder) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		p := r.URL.Query().Get("page")
		if p == "" {
			p = "1"
		}
		if resp, ok := pages[p]; ok {
			return resp(r)
		}
		return jsonResp(http.StatusNotFound, `{"type":"list","data":[{"code":"resource-not-found"}]}`)(r)
	}
}

// threeTxPages links three pages: page 1 to page 2 by an absolute URL on
// the base URL, page 2 to page 3 by a relative link.
func threeTxPages() httpmock.Responder {
	return txPages(map[string]httpmock.Responder{
		"1": jsonResp(http.StatusOK, txPage("https://api.test/users/u1/transactions?page=2", "t1", "t2")),
		"2": jsonResp(http.StatusOK, txPage("/users/u1/transactions?page=3", "t3", "t4")),
		"3": jsonResp(http.StatusOK, txPage("", "t5")),
	})
}

// drainTx reads the sequence to its end (at most txItemLimit items) and
// returns the ids yielded and the errors, in order.
func drainTx(t *testing.T, seq func(func(Transaction, error) bool)) (ids []string, errs []error) {
	t.Helper()
	for tx, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(errs) > 0 {
			t.Errorf("item %q yielded after an error", tx.ID)
		}
		ids = append(ids, tx.ID)
		if len(ids) >= txItemLimit {
			t.Errorf("more than %d items: the iterator does not end", txItemLimit)
			break
		}
	}
	return ids, errs
}

func TestTransactionsListLazyPaging(t *testing.T) {
	t.Parallel()

	t.Run("pages fetched when reached", func(t *testing.T) {
		t.Parallel()
		c, mt, rec := setup(t, http.MethodGet, txURL, threeTxPages())

		seq := c.Transactions.List(t.Context(), "u1", nil)
		assert.Equal(t, 0, mt.GetTotalCallCount(), "building the sequence sends nothing")

		var ids []string
		wantPagesAt := []int{1, 1, 2, 2, 3} // pages fetched when item i is yielded
		for tx, err := range seq {
			require.NoError(t, err)
			require.Less(t, len(ids), len(wantPagesAt), "too many items")
			assert.Equal(t, wantPagesAt[len(ids)], calls(mt, getTxKey), "pages fetched when %s is yielded", tx.ID)
			ids = append(ids, tx.ID)
		}
		assert.Equal(t, []string{"t1", "t2", "t3", "t4", "t5"}, ids)
		assert.Equal(t, 3, calls(mt, getTxKey))
		assert.Equal(t, 1, calls(mt, postTokenKey), "one token for all pages")

		reqs := rec.all()
		require.Len(t, reqs, 3)
		assert.Empty(t, reqs[0].Query)
		assert.Equal(t, url.Values{"page": {"2"}}, reqs[1].Query)
		assert.Equal(t, url.Values{"page": {"3"}}, reqs[2].Query, "the relative link is resolved on the base URL")
		for _, r := range reqs {
			assert.Equal(t, "/users/u1/transactions", r.Path)
			assert.Equal(t, "Bearer tok-1", r.Auth)
		}
	})

	t.Run("first item needs only the first page", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, txURL, threeTxPages())
		for tx, err := range c.Transactions.List(t.Context(), "u1", nil) {
			require.NoError(t, err)
			assert.Equal(t, "t1", tx.ID)
			assert.Equal(t, 1, calls(mt, getTxKey))
			break
		}
		assert.Equal(t, 1, calls(mt, getTxKey), "breaking out stops fetching")
	})

	t.Run("break on the second page stops fetching", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, txURL, threeTxPages())
		var ids []string
		for tx, err := range c.Transactions.List(t.Context(), "u1", nil) {
			require.NoError(t, err)
			ids = append(ids, tx.ID)
			if tx.ID == "t3" {
				break
			}
		}
		assert.Equal(t, []string{"t1", "t2", "t3"}, ids)
		assert.Equal(t, 2, calls(mt, getTxKey))
	})

	t.Run("empty list", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, txURL, jsonResp(http.StatusOK, `{"type":"list","data":[],"links":{"self":"x"}}`))
		ids, errs := drainTx(t, c.Transactions.List(t.Context(), "u1", nil))
		assert.Empty(t, ids)
		assert.Empty(t, errs)
		assert.Equal(t, 1, calls(mt, getTxKey))
	})
}

func TestTransactionsListRepeatedNextLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		page2    string // page 2's next link
		wantGets int
	}{
		{"page links to itself", "https://api.test/users/u1/transactions?page=2", 2},
		{"page links to itself, relative", "/users/u1/transactions?page=2", 2},
		{"page links back to the first page", "https://api.test/users/u1/transactions", 2},
		{"relative link back to the first page", "users/u1/transactions", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodGet, txURL, txPages(map[string]httpmock.Responder{
				"1": jsonResp(http.StatusOK, txPage("https://api.test/users/u1/transactions?page=2", "t1", "t2")),
				"2": jsonResp(http.StatusOK, txPage(tc.page2, "t3", "t4")),
			}))

			ids, errs := drainTx(t, c.Transactions.List(ctx, "u1", nil))
			assert.Equal(t, []string{"t1", "t2", "t3", "t4"}, ids, "each item once")
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], ErrInvalidResponse)
			assert.Equal(t, tc.wantGets, calls(mt, getTxKey))
		})
	}
}

func TestTransactionsListForeignNextLink(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, next string }{
		{"another host", evilTxURL + "?page=2"},
		{"scheme-relative", "//evil.test/users/u1/transactions?page=2"},
		{"http on the same host", "http://api.test/users/u1/transactions?page=2"},
		{"another port", "https://api.test:8443/users/u1/transactions?page=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			failOnUnexpected(t, mt)
			mt.RegisterResponder(http.MethodGet, txURL, txPages(map[string]httpmock.Responder{
				"1": jsonResp(http.StatusOK, txPage(tc.next, "t1", "t2")),
			}))
			mt.RegisterResponder(http.MethodGet, evilTxURL, jsonResp(http.StatusOK, txPage("", "stolen")))

			ids, errs := drainTx(t, c.Transactions.List(t.Context(), "u1", nil))
			assert.Equal(t, []string{"t1", "t2"}, ids)
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], ErrInvalidResponse)
			assert.Equal(t, 0, calls(mt, "GET "+evilTxURL), "the token never goes to another origin")
			assert.Equal(t, 1, mt.GetTotalCallCount()-calls(mt, postTokenKey), "only the first page: %v", mt.GetCallCountInfo())
		})
	}
}

func TestTransactionsListFailingPage(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	page2Err := jsonResp(http.StatusInternalServerError,
		`{"type":"list","correlationId":"corr-500","data":[{"type":"error","code":"internal-server-error","title":"Internal Server Error"}]}`)
	var page2Calls atomic.Int32
	mt.RegisterResponder(http.MethodGet, txURL, txPages(map[string]httpmock.Responder{
		"1": jsonResp(http.StatusOK, txPage("/users/u1/transactions?page=2", "t1", "t2")),
		"2": func(r *http.Request) (*http.Response, error) { page2Calls.Add(1); return page2Err(r) },
		"3": jsonResp(http.StatusOK, txPage("", "never")),
	}))

	ids, errs := drainTx(t, c.Transactions.List(t.Context(), "u1", nil))
	assert.Equal(t, []string{"t1", "t2"}, ids)
	require.Len(t, errs, 1, "the error is yielded once")
	var apiErr *APIError
	require.ErrorAs(t, errs[0], &apiErr)
	assert.Equal(t, http.StatusInternalServerError, apiErr.StatusCode)
	assert.Equal(t, "corr-500", apiErr.CorrelationID)
	assert.Equal(t, int32(1+defaultMaxRetries), page2Calls.Load(), "a read is retried, then given up")
	assert.Equal(t, 1+1+defaultMaxRetries, calls(mt, getTxKey))
}

func TestTransactionsListInvalidArguments(t *testing.T) {
	t.Parallel()
	jan := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		userID     string
		f          *TransactionFilter
		wantFields []string
	}{
		{"empty user id", "", nil, []string{"userId"}},
		{"blank user id", " ", &TransactionFilter{}, []string{"userId"}},
		{"page size 501", "u1", &TransactionFilter{PageSize: 501}, []string{"limit"}},
		{"page size -1", "u1", &TransactionFilter{PageSize: -1}, []string{"limit"}},
		{"quote in a filter value", "u1", &TransactionFilter{AccountID: "a1'),account.id.eq('a2"}, []string{"accountId"}},
		{"control character in a filter value", "u1", &TransactionFilter{InstitutionID: "AU00000\n"}, []string{"institutionId"}},
		{"posted to before posted from", "u1", &TransactionFilter{PostedFrom: jan(31), PostedTo: jan(1)}, []string{"postDate"}},
		{"several problems, one error", "u1", &TransactionFilter{Status: "'", PageSize: 1000}, []string{"status", "limit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			var got []error
			for tx, err := range c.Transactions.List(t.Context(), tc.userID, tc.f) {
				assert.Equal(t, Transaction{}, tx)
				got = append(got, err)
				if len(got) > 3 {
					break
				}
			}
			require.Len(t, got, 1, "exactly one yield")
			assert.Equal(t, tc.wantFields, validationFields(t, got[0]))
			assert.Equal(t, 0, mt.GetTotalCallCount(), "no request: %v", mt.GetCallCountInfo())
		})
	}
}

func TestTransactionsListFilterQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		f          *TransactionFilter
		wantFilter string // "" means no filter parameter
		wantLimit  string // "" means no limit parameter
	}{
		{
			name: "every field",
			f: &TransactionFilter{
				AccountID: "a1", ConnectionID: "c1", InstitutionID: "AU00000",
				Status: "posted", Direction: "debit", Class: "payment",
				PostedFrom: time.Date(2024, 1, 1, 13, 14, 15, 0, time.UTC),
				PostedTo:   time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC),
				PageSize:   100,
				Raw:        "transaction.amount.lt('0')",
			},
			wantFilter: "account.id.eq('a1'),connection.id.eq('c1'),institution.id.eq('AU00000')," +
				"transaction.status.eq('posted'),transaction.direction.eq('debit'),transaction.class.eq('payment')," +
				"transaction.postDate.bt('2024-01-01','2024-01-31'),transaction.amount.lt('0')",
			wantLimit: "100",
		},
		{
			name:       "from only",
			f:          &TransactionFilter{PostedFrom: time.Date(2024, 2, 29, 23, 0, 0, 0, time.UTC)},
			wantFilter: "transaction.postDate.gteq('2024-02-29')",
		},
		{
			name:       "to only",
			f:          &TransactionFilter{PostedTo: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), PageSize: 500},
			wantFilter: "transaction.postDate.lteq('2024-03-01')",
			wantLimit:  "500",
		},
		{name: "page size only", f: &TransactionFilter{PageSize: 1}, wantLimit: "1"},
		{name: "empty filter", f: &TransactionFilter{}},
		{name: "nil filter", f: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, rec := setup(t, http.MethodGet, txURL, jsonResp(http.StatusOK, txPage("", "t1")))
			ids, errs := drainTx(t, c.Transactions.List(t.Context(), "u1", tc.f))
			require.Empty(t, errs)
			assert.Equal(t, []string{"t1"}, ids)

			reqs := rec.all()
			require.Len(t, reqs, 1)
			want := url.Values{}
			if tc.wantFilter != "" {
				want.Set("filter", tc.wantFilter)
			}
			if tc.wantLimit != "" {
				want.Set("limit", tc.wantLimit)
			}
			assert.Equal(t, want, reqs[0].Query)
		})
	}
}

func TestTransactionsListCancelled(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder(http.MethodGet, txURL, threeTxPages())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var (
		ids  []string
		errs []error
	)
	for tx, err := range c.Transactions.List(ctx, "u1", nil) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, tx.ID)
		if len(ids) == 1 {
			cancel()
		}
		require.Less(t, len(ids), txItemLimit)
	}
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.Canceled)
	// Nothing more is yielded once the context is cancelled, not even the
	// rest of the page already read, and the next page is not read.
	assert.Equal(t, []string{"t1"}, ids)
	assert.Equal(t, 1, calls(mt, getTxKey))
}

func TestTransactionsGet(t *testing.T) {
	t.Parallel()
	c, _, rec := setup(t, "", "", jsonResp(http.StatusOK, `{"type":"transaction","id":"t1","status":"posted",
		"description":"HOOLI COFFEE","amount":"-42.50","balance":"1234.56",
		"account":{"type":"account","id":"a1"},"connection":"c1","institution":{"id":"AU00000"},
		"direction":"debit","class":"payment","subClass":{"code":"451","title":"Cafes"},
		"transactionDate":"2024-03-01","postDate":"2024-03-02T00:00:00Z",
		"links":{"self":"https://api.test/users/u1/transactions/t1"}}`))

	tx, err := c.Transactions.Get(t.Context(), "u1", "t1")
	require.NoError(t, err)
	require.NotNil(t, tx)
	assert.Equal(t, Transaction{
		ID: "t1", Status: "posted", Description: "HOOLI COFFEE",
		Amount: "-42.50", Balance: "1234.56",
		Account: "a1", Connection: "c1", Institution: "AU00000",
		Direction: "debit", Class: "payment",
		SubClass:        &SubClass{Code: "451", Title: "Cafes"},
		TransactionDate: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		PostDate:        time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC),
		Links:           Links{Self: "https://api.test/users/u1/transactions/t1"},
	}, *tx)

	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/users/u1/transactions/t1", reqs[0].Path)
}

func TestTransactionDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		fields       string
		wantSubClass *SubClass
		wantPostZero bool
	}{
		{"subClass object", `"subClass":{"code":"451","title":"Cafes"},"postDate":"2024-03-02"`, &SubClass{Code: "451", Title: "Cafes"}, false},
		{"subClass string", `"subClass":"Cafes","postDate":"2024-03-02 10:00:00"`, &SubClass{Title: "Cafes"}, false},
		{"subClass null", `"subClass":null,"postDate":"2024-03-02T10:00:00"`, nil, false},
		{"subClass empty string", `"subClass":""`, nil, true},
		{"subClass empty object", `"subClass":{}`, nil, true},
		{"subClass missing", `"status":"pending"`, nil, true},
		{"postDate empty", `"postDate":""`, nil, true},
		{"postDate null", `"postDate":null`, nil, true},
		{"postDate unreadable", `"postDate":"soon"`, nil, true},
	}
	for _, tc := range tests {
		var tx Transaction
		require.NoError(t, json.Unmarshal([]byte(`{"id":"t1",`+tc.fields+`}`), &tx), tc.name)
		assert.Equal(t, "t1", tx.ID, tc.name)
		assert.Equal(t, tc.wantSubClass, tx.SubClass, tc.name)
		assert.Equal(t, tc.wantPostZero, tx.PostDate.IsZero(), "%s: %v", tc.name, tx.PostDate)
	}

	// Ids given either way.
	var tx Transaction
	require.NoError(t, json.Unmarshal([]byte(`{"id":"t1","account":"a1","connection":{"id":"c1"},"institution":null,"amount":12.5}`), &tx))
	assert.Equal(t, "a1", tx.Account)
	assert.Equal(t, "c1", tx.Connection)
	assert.Empty(t, tx.Institution)
	assert.Equal(t, Decimal("12.5"), tx.Amount)

	// A subClass cannot leak from a previous decode into the same value.
	tx = Transaction{SubClass: &SubClass{Title: "old"}}
	require.NoError(t, json.Unmarshal([]byte(`{"id":"t2"}`), &tx))
	assert.Nil(t, tx.SubClass)
}

// TestTransactionFilterRefusesValuesTheAPIDoesNotDefine checks that a typo
// in a direction, status or class ("debits") is refused before any
// request, instead of matching nothing and looking like an empty list, and
// that the error points at Raw.
func TestTransactionFilterRefusesValuesTheAPIDoesNotDefine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f         TransactionFilter
		wantField string
	}{
		{TransactionFilter{Direction: "debits"}, "direction"},
		{TransactionFilter{Direction: "Debit"}, "direction"},
		{TransactionFilter{Direction: "DEBIT"}, "direction"},
		{TransactionFilter{Direction: " credit"}, "direction"},
		{TransactionFilter{Direction: "unknown"}, "direction"},
		{TransactionFilter{Status: "settled"}, "status"},
		{TransactionFilter{Status: "Posted"}, "status"},
		{TransactionFilter{Status: "pending "}, "status"},
		{TransactionFilter{Class: "payments"}, "class"},
		{TransactionFilter{Class: "Payment"}, "class"},
		{TransactionFilter{Class: "bank_fee"}, "class"},
		{TransactionFilter{Class: "direct-cedit"}, "class"}, // a typo in Basiq's own 2.x file
		{TransactionFilter{Class: "fee"}, "class"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s=%q", tc.wantField, string(tc.f.Direction)+string(tc.f.Status)+string(tc.f.Class)), func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			var errs []error
			for _, err := range c.Transactions.List(t.Context(), "u1", &tc.f) {
				errs = append(errs, err)
			}
			require.Len(t, errs, 1)
			assert.Equal(t, []string{tc.wantField}, validationFields(t, errs[0]))
			assert.Contains(t, errs[0].Error(), "use Raw for a value this library does not know")
			assert.Equal(t, 0, mt.GetTotalCallCount(), "no request: %v", mt.GetCallCountInfo())
		})
	}
}

// TestTransactionFilterAcceptsEveryDefinedValue sends each constant as the
// filter condition the API expects.
func TestTransactionFilterAcceptsEveryDefinedValue(t *testing.T) {
	t.Parallel()
	type accepted struct {
		f    TransactionFilter
		want string
	}
	var tests []accepted
	for _, d := range []TransactionDirection{TransactionDirectionDebit, TransactionDirectionCredit} {
		tests = append(tests, accepted{TransactionFilter{Direction: d}, "transaction.direction.eq('" + string(d) + "')"})
	}
	for _, s := range []TransactionStatus{TransactionStatusPending, TransactionStatusPosted} {
		tests = append(tests, accepted{TransactionFilter{Status: s}, "transaction.status.eq('" + string(s) + "')"})
	}
	for _, c := range []TransactionClass{
		TransactionClassBankFee, TransactionClassCashWithdrawal, TransactionClassDirectCredit,
		TransactionClassInterest, TransactionClassLoanInterest, TransactionClassLoanRepayment,
		TransactionClassPayment, TransactionClassRefund, TransactionClassTransfer,
	} {
		tests = append(tests, accepted{TransactionFilter{Class: c}, "transaction.class.eq('" + string(c) + "')"})
	}
	for _, tc := range tests {
		q, err := tc.f.query()
		require.NoError(t, err, "%+v", tc.f)
		assert.Equal(t, tc.want, q.Get("filter"), "%+v", tc.f)
	}
	q, err := (&TransactionFilter{Direction: TransactionDirectionCredit, Status: TransactionStatusPosted, Class: TransactionClassRefund}).query()
	require.NoError(t, err)
	assert.Equal(t, "transaction.status.eq('posted'),transaction.direction.eq('credit'),transaction.class.eq('refund')", q.Get("filter"))
}

// TestTransactionFilterRawCarriesValuesTheLibraryDoesNotKnow checks the
// escape hatch the refusal points at: a value the library does not know
// goes through Raw unchanged and reaches the API.
func TestTransactionFilterRawCarriesValuesTheLibraryDoesNotKnow(t *testing.T) {
	t.Parallel()
	const raw = "transaction.class.eq('crypto-purchase'),transaction.direction.eq('unknown'),transaction.status.eq('reversed')"
	c, _, rec := setup(t, http.MethodGet, txURL, jsonResp(http.StatusOK, txPage("", "t1")))
	ids, errs := drainTx(t, c.Transactions.List(t.Context(), "u1", &TransactionFilter{Direction: TransactionDirectionDebit, Raw: raw}))
	require.Empty(t, errs)
	assert.Equal(t, []string{"t1"}, ids)
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, "transaction.direction.eq('debit'),"+raw, reqs[0].Query.Get("filter"))
}

// TestTransactionUnknownValuesDecodeUnchanged checks that a direction,
// status or class the library does not know is read as the API sent it,
// never refused, on a page and on its own, and that Known says so.
func TestTransactionUnknownValuesDecodeUnchanged(t *testing.T) {
	t.Parallel()
	const odd = `{"type":"transaction","id":"t1","status":"reversed","direction":"sideways","class":"crypto-purchase","amount":"-1.00"}`
	const usual = `{"type":"transaction","id":"t2","status":"posted","direction":"debit","class":"payment","amount":"-1.00"}`
	page := `{"type":"list","data":[` + odd + `,` + usual + `],"links":{}}`

	var single Transaction
	require.NoError(t, json.Unmarshal([]byte(odd), &single))
	c, _, _ := setup(t, http.MethodGet, txURL, jsonResp(http.StatusOK, page))
	var listed []Transaction
	for tx, err := range c.Transactions.List(t.Context(), "u1", nil) {
		require.NoError(t, err)
		listed = append(listed, tx)
	}
	require.Len(t, listed, 2)

	for _, tx := range []Transaction{single, listed[0]} {
		assert.Equal(t, TransactionStatus("reversed"), tx.Status)
		assert.Equal(t, TransactionDirection("sideways"), tx.Direction)
		assert.Equal(t, TransactionClass("crypto-purchase"), tx.Class)
		assert.False(t, tx.Status.Known())
		assert.False(t, tx.Direction.Known())
		assert.False(t, tx.Class.Known())
	}
	assert.Equal(t, TransactionStatusPosted, listed[1].Status)
	assert.Equal(t, TransactionDirectionDebit, listed[1].Direction)
	assert.Equal(t, TransactionClassPayment, listed[1].Class)
	assert.True(t, listed[1].Status.Known())
	assert.True(t, listed[1].Direction.Known())
	assert.True(t, listed[1].Class.Known())
	assert.False(t, TransactionStatus("").Known(), "an absent value is not a known one")
}

// TestTransactionValuesHaveTheirTypes pins the field types: the typed
// values are what a caller compares with the constants.
func TestTransactionValuesHaveTheirTypes(t *testing.T) {
	t.Parallel()
	// Compile-time: each field holds its type.
	var tx Transaction
	var f TransactionFilter
	var _ TransactionDirection = tx.Direction
	var _ TransactionStatus = tx.Status
	var _ TransactionClass = tx.Class
	f.Direction, f.Status, f.Class = tx.Direction, tx.Status, tx.Class

	for _, tc := range []struct {
		of    reflect.Type
		field string
		want  reflect.Type
	}{
		{reflect.TypeFor[Transaction](), "Direction", reflect.TypeFor[TransactionDirection]()},
		{reflect.TypeFor[Transaction](), "Status", reflect.TypeFor[TransactionStatus]()},
		{reflect.TypeFor[Transaction](), "Class", reflect.TypeFor[TransactionClass]()},
		{reflect.TypeFor[transactionWire](), "Direction", reflect.TypeFor[TransactionDirection]()},
		{reflect.TypeFor[transactionWire](), "Status", reflect.TypeFor[TransactionStatus]()},
		{reflect.TypeFor[transactionWire](), "Class", reflect.TypeFor[TransactionClass]()},
		{reflect.TypeFor[TransactionFilter](), "Direction", reflect.TypeFor[TransactionDirection]()},
		{reflect.TypeFor[TransactionFilter](), "Status", reflect.TypeFor[TransactionStatus]()},
		{reflect.TypeFor[TransactionFilter](), "Class", reflect.TypeFor[TransactionClass]()},
	} {
		sf, ok := tc.of.FieldByName(tc.field)
		require.True(t, ok, "%v.%s", tc.of, tc.field)
		assert.Equal(t, tc.want, sf.Type, "%v.%s", tc.of, tc.field)
		assert.Equal(t, reflect.String, sf.Type.Kind(), "%v.%s", tc.of, tc.field)
	}
}

// TestTransactionValuesCoverTheSpec checks that every direction, status
// and class Basiq's published files list has a constant that Known accepts.
func TestTransactionValuesCoverTheSpec(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"v2/swagger.json", "v3/data.yml"} {
		for _, v := range specEnum(t, file, "TransactionData", "direction") {
			assert.True(t, TransactionDirection(v).Known(), "%s: direction %q", file, v)
		}
		for _, v := range specEnum(t, file, "TransactionData", "status") {
			assert.True(t, TransactionStatus(v).Known(), "%s: status %q", file, v)
		}
	}
	// The 2.x file spells one class "direct-cedit"; 3.0's spells it right.
	for _, v := range specEnum(t, "v3/data.yml", "TransactionData", "class") {
		assert.True(t, TransactionClass(v).Known(), "class %q", v)
	}
	assert.Contains(t, specEnum(t, "v2/swagger.json", "TransactionData", "class"), "direct-cedit",
		"the 2.x file's typo is fixed: read its classes here too")
}
