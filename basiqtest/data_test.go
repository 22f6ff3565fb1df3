package basiqtest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connected returns a server with one user connected to Hooli Bank as
// gavinBelson (3 accounts) and richard (2 accounts), jobs done.
func connected(t *testing.T, opts ...Option) (c *client, user, gavin, richard string) {
	t.Helper()
	_, c = startServer(t, append([]Option{WithStepDuration(0)}, opts...)...)
	user = c.createUser("a@b.example")
	gavin = c.job(c.connectLogin(user, InstHooli, LoginGavinBelson, PasswordGavinBelson)).connID()
	richard = c.job(c.connectLogin(user, InstMFAIntermittent, LoginRichard, PasswordRichard)).connID()
	return c, user, gavin, richard
}

var decimal = `^-?\d+\.\d\d$`

func TestAccounts(t *testing.T) {
	t.Parallel()
	c, user, gavin, richard := connected(t)
	r := c.get("/users/" + user + "/accounts")
	accts := list(t, r)
	assert.InDelta(t, len(accts), r.obj(t)["count"], 0)
	require.Len(t, accts, 5)
	for _, a := range accts {
		assert.Equal(t, "account", str(a, "type"))
		assert.Regexp(t, `^\d{6}-\d{9}$`, str(a, "accountNo"))
		assert.Equal(t, "AUD", str(a, "currency"))
		assert.Regexp(t, decimal, str(a, "balance"))
		assert.Regexp(t, decimal, str(a, "availableFunds"))
		assert.Equal(t, "available", str(a, "status"))
		assert.NotEmpty(t, str(a, "lastUpdated"))
		assert.NotEmpty(t, str(a, "class", "type"))
		assert.NotEmpty(t, str(a, "class", "product"))
		assert.Equal(t, c.base+"/users/"+user+"/accounts/"+str(a, "id"), str(a, "links", "self"))
		assert.Equal(t, a, c.get("/users/"+user+"/accounts/"+str(a, "id")).obj(t))
	}
	first := accts[0]
	assert.Equal(t, "Hooli Everyday", str(first, "name"))
	assert.Equal(t, map[string]any{"type": "transaction", "product": "Everyday Account"}, first["class"])
	assert.Equal(t, InstHooli, str(first, "institution"))
	assert.Equal(t, gavin, str(first, "connection"))
	card := accts[2]
	assert.Equal(t, "credit-card", str(card, "class", "type"))
	assert.True(t, strings.HasPrefix(str(card, "balance"), "-"), "a card owes money")

	get := func(filter string) []map[string]any {
		return list(t, c.get("/users/"+user+"/accounts?"+url.Values{"filter": {filter}}.Encode()))
	}
	assert.Len(t, get("connection.id.eq('"+gavin+"')"), 3)
	assert.Len(t, get("connection.id.eq('"+richard+"')"), 2)
	assert.Len(t, get("institution.id.eq('AU00004')"), 2)
	assert.Equal(t, []string{str(first, "id")}, ids(get("account.id.eq('"+str(first, "id")+"')")))
	assert.Empty(t, get("account.id.eq('"+str(first, "id")+"'),connection.id.eq('"+richard+"')"))
	c.get("/users/"+user+"/accounts?filter=account.name.eq('x')").errBody(t, http.StatusBadRequest, "parameter-not-valid")

	other := c.createUser("b@b.example")
	c.get("/users/"+other+"/accounts/"+str(first, "id")).errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/"+user+"/accounts/nope").errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/nope/accounts").errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/nope/accounts/x").errBody(t, http.StatusNotFound, "resource-not-found")
}

func TestTransactions(t *testing.T) {
	t.Parallel()
	c, user, gavin, _ := connected(t, WithTransactionsPerAccount(40))
	r := c.get("/users/" + user + "/transactions")
	txns := list(t, r)
	m := r.obj(t)
	require.Len(t, txns, 5*40)
	assert.InDelta(t, 200, m["count"], 0)
	assert.InDelta(t, 200, m["size"], 0)
	assert.Equal(t, c.base+"/users/"+user+"/transactions", str(m, "links", "self"))
	assert.Nil(t, dig(m, "links", "next"))

	pending := 0
	prev := "9999"
	perAccount := map[string][]map[string]any{}
	for _, tx := range txns {
		assert.Equal(t, "transaction", str(tx, "type"))
		assert.Regexp(t, decimal, str(tx, "amount"))
		assert.Regexp(t, decimal, str(tx, "balance"))
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT00:00:00Z$`, str(tx, "transactionDate"))
		assert.LessOrEqual(t, str(tx, "transactionDate"), prev, "newest first")
		prev = str(tx, "transactionDate")
		neg := strings.HasPrefix(str(tx, "amount"), "-")
		assert.Equal(t, map[bool]string{true: "debit", false: "credit"}[neg], str(tx, "direction"))
		assert.NotEmpty(t, str(tx, "class"))
		assert.NotEmpty(t, str(tx, "description"))
		if sc := tx["subClass"]; sc != nil {
			assert.NotEmpty(t, str(tx, "subClass", "code"))
			assert.NotEmpty(t, str(tx, "subClass", "title"))
		}
		switch str(tx, "status") {
		case "pending":
			pending++
			assert.Contains(t, tx, "postDate")
			assert.Nil(t, tx["postDate"])
		case "posted":
			assert.GreaterOrEqual(t, str(tx, "postDate"), str(tx, "transactionDate"))
		default:
			t.Fatalf("status %q", str(tx, "status"))
		}
		assert.Equal(t, c.base+"/users/"+user+"/transactions/"+str(tx, "id"), str(tx, "links", "self"))
		perAccount[str(tx, "account")] = append(perAccount[str(tx, "account")], tx)
	}
	assert.Equal(t, 5*pendingPerAccount, pending)
	assert.Len(t, perAccount, 5)

	// Running balances: each is the older one plus the amount.
	for _, list := range perAccount {
		for i := 0; i+1 < len(list); i++ {
			assert.Equal(t, cents(parseCents(t, str(list[i+1], "balance"))+parseCents(t, str(list[i], "amount"))), str(list[i], "balance"))
		}
	}
	// The newest balance is the account's.
	acct := c.get("/users/" + user + "/accounts/" + str(txns[0], "account")).obj(t)
	assert.Equal(t, str(acct, "balance"), str(perAccount[str(acct, "id")][0], "balance"))

	one := txns[7]
	assert.Equal(t, one, c.get("/users/"+user+"/transactions/"+str(one, "id")).obj(t))
	assert.Equal(t, gavin, str(c.get("/users/"+user+"/transactions/"+str(txns[0], "id")).obj(t), "connection"))
	c.get("/users/"+user+"/transactions/nope").errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/"+c.createUser("b@b.example")+"/transactions/"+str(one, "id")).errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/nope/transactions").errBody(t, http.StatusNotFound, "resource-not-found")
	c.get("/users/nope/transactions/x").errBody(t, http.StatusNotFound, "resource-not-found")
}

func parseCents(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	w, err := strconv.ParseInt(strings.TrimPrefix(whole, "-"), 10, 64)
	require.NoError(t, err)
	f, err := strconv.ParseInt(frac, 10, 64)
	require.NoError(t, err)
	v := w*100 + f
	if neg {
		v = -v
	}
	return v
}

func TestDataIsDeterministic(t *testing.T) {
	t.Parallel()
	strip := func(items []map[string]any, keys ...string) []map[string]any {
		for _, it := range items {
			for _, k := range keys {
				delete(it, k)
			}
		}
		return items
	}
	var accounts, txns [][]map[string]any
	for range 2 {
		synctest.Test(t, func(t *testing.T) {
			_, c := inProcessServer(t, WithStepDuration(0), WithTransactionsPerAccount(10))
			user := c.createUser("a@b.example")
			c.connectLogin(user, InstHooli, LoginGavinBelson, PasswordGavinBelson)
			accounts = append(accounts, strip(list(t, c.get("/users/"+user+"/accounts")), "id", "connection", "links"))
			txns = append(txns, strip(list(t, c.get("/users/"+user+"/transactions")), "id", "connection", "account", "links"))
		})
	}
	assert.Equal(t, accounts[0], accounts[1])
	assert.Equal(t, txns[0], txns[1])
	assert.Len(t, txns[0], 30)
	assert.Equal(t, "2000-01-01T00:00:00Z", str(txns[0][0], "transactionDate"))

	// Another login gets other data.
	_, c := startServer(t, WithStepDuration(0), WithTransactionsPerAccount(10))
	user := c.createUser("a@b.example")
	c.connectLogin(user, InstHooli, LoginJared, PasswordJared)
	assert.NotEqual(t, accounts[0], strip(list(t, c.get("/users/"+user+"/accounts")), "id", "connection", "links"))
}

func TestTransactionsPaging(t *testing.T) {
	t.Parallel()
	c, user, gavin, _ := connected(t, WithTransactionsPerAccount(45))
	all := ids(list(t, c.get("/users/"+user+"/transactions")))
	require.Len(t, all, 225)

	page := func(link string) (items []map[string]any, count, size int, next string) {
		r := c.get(link)
		m := r.obj(t)
		return list(t, r), int(m["count"].(float64)), int(m["size"].(float64)), str(m, "links", "next")
	}
	var got []string
	link := "/users/" + user + "/transactions?limit=50"
	pages := 0
	for link != "" {
		items, count, size, next := page(link)
		pages++
		assert.Equal(t, 225, count)
		assert.Equal(t, len(items), size)
		got = append(got, ids(items)...)
		if next != "" {
			assert.Equal(t, 50, size)
			assert.True(t, strings.HasPrefix(next, c.base+"/users/"+user+"/transactions?"), next)
			u, err := url.Parse(next)
			require.NoError(t, err)
			assert.Equal(t, "50", u.Query().Get("limit"))
			assert.NotEmpty(t, u.Query().Get("cursor"))
		} else {
			assert.Equal(t, 25, size)
		}
		link = next
	}
	assert.Equal(t, 5, pages)
	assert.Equal(t, all, got, "every transaction once, in order")

	// The filter goes along with next.
	link = "/users/" + user + "/transactions?" + url.Values{"limit": {"100"}, "filter": {"connection.id.eq('" + gavin + "')"}}.Encode()
	got = nil
	for link != "" {
		items, count, _, next := page(link)
		assert.Equal(t, 135, count)
		for _, it := range items {
			assert.Equal(t, gavin, str(it, "connection"))
		}
		got = append(got, ids(items)...)
		link = next
	}
	assert.Len(t, got, 135)

	// Exactly a page: no next.
	_, _, size, next := page("/users/" + user + "/transactions?limit=225")
	assert.Equal(t, 225, size)
	assert.Empty(t, next)

	for _, bad := range []string{"0", "501", "-1", "ten", ""} {
		e := c.get("/users/"+user+"/transactions?limit="+bad).errBody(t, http.StatusBadRequest, "parameter-not-valid")
		assert.Equal(t, "limit", e.Data[0].Source["parameter"])
	}
	for _, bad := range []string{"!!!", "bm90LWEtY3Vyc29y", "MjAwMC0wMS0wMXx4"} {
		e := c.get("/users/"+user+"/transactions?cursor="+bad).errBody(t, http.StatusBadRequest, "parameter-not-valid")
		assert.Equal(t, "cursor", e.Data[0].Source["parameter"])
	}
	_, _, size, _ = page("/users/" + user + "/transactions?limit=500")
	assert.Equal(t, 225, size)
}

func TestTransactionsDefaultLimit(t *testing.T) {
	t.Parallel()
	c, user, _, _ := connected(t, WithTransactionsPerAccount(101))
	r := c.get("/users/" + user + "/transactions")
	m := r.obj(t)
	assert.InDelta(t, 505, m["count"], 0)
	assert.InDelta(t, 500, m["size"], 0)
	next := str(m, "links", "next")
	require.NotEmpty(t, next)
	r = c.get(next)
	assert.InDelta(t, 5, r.obj(t)["size"], 0)
	assert.Nil(t, dig(r.obj(t), "links", "next"))
}

func TestTransactionFilters(t *testing.T) {
	t.Parallel()
	c, user, gavin, richard := connected(t, WithTransactionsPerAccount(30))
	all := list(t, c.get("/users/"+user+"/transactions"))
	require.Len(t, all, 150)
	get := func(filter string) []string {
		t.Helper()
		return ids(list(t, c.get("/users/"+user+"/transactions?"+url.Values{"filter": {filter}}.Encode())))
	}
	where := func(keep func(tx map[string]any) bool) []string {
		var out []string
		for _, tx := range all {
			if keep(tx) {
				out = append(out, str(tx, "id"))
			}
		}
		if out == nil {
			return []string{}
		}
		return out
	}
	day := func(tx map[string]any, field string) string { return dayPart(str(tx, field)) }
	// Pick dates from the data, so ranges are neither empty nor everything.
	var dates []string
	for _, tx := range all {
		if d := day(tx, "postDate"); d != "" && !slices.Contains(dates, d) {
			dates = append(dates, d)
		}
	}
	require.Greater(t, len(dates), 10)
	hi, lo := dates[3], dates[len(dates)-4]
	acct := str(all[0], "account")

	tests := []struct {
		filter string
		want   []string
	}{
		{"account.id.eq('" + acct + "')", where(func(tx map[string]any) bool { return str(tx, "account") == acct })},
		{"connection.id.eq('" + richard + "')", where(func(tx map[string]any) bool { return str(tx, "connection") == richard })},
		{"institution.id.eq('AU00000')", where(func(tx map[string]any) bool { return str(tx, "connection") == gavin })},
		{"transaction.status.eq('pending')", where(func(tx map[string]any) bool { return str(tx, "status") == "pending" })},
		{"transaction.direction.eq('credit')", where(func(tx map[string]any) bool { return str(tx, "direction") == "credit" })},
		{"transaction.class.eq('payment')", where(func(tx map[string]any) bool { return str(tx, "class") == "payment" })},
		{"transaction.class.in('bank-fee','interest')", where(func(tx map[string]any) bool {
			return str(tx, "class") == "bank-fee" || str(tx, "class") == "interest"
		})},
		{"transaction.postDate.eq('" + hi + "')", where(func(tx map[string]any) bool { return day(tx, "postDate") == hi })},
		{"transaction.postDate.gt('" + lo + "')", where(func(tx map[string]any) bool { d := day(tx, "postDate"); return d != "" && d > lo })},
		{"transaction.postDate.gteq('" + lo + "')", where(func(tx map[string]any) bool { d := day(tx, "postDate"); return d != "" && d >= lo })},
		{"transaction.postDate.lt('" + hi + "')", where(func(tx map[string]any) bool { d := day(tx, "postDate"); return d != "" && d < hi })},
		{"transaction.postDate.lteq('" + hi + "')", where(func(tx map[string]any) bool { d := day(tx, "postDate"); return d != "" && d <= hi })},
		{"transaction.postDate.bt('" + lo + "','" + hi + "')", where(func(tx map[string]any) bool {
			d := day(tx, "postDate")
			return d != "" && d >= lo && d <= hi
		})},
		// Timestamps compare by their day.
		{"transaction.postDate.eq('" + hi + "T12:00:00Z')", where(func(tx map[string]any) bool { return day(tx, "postDate") == hi })},
		{"transaction.transactionDate.lt('" + lo + "')", where(func(tx map[string]any) bool { return day(tx, "transactionDate") < lo })},
		// Comma is AND.
		{"connection.id.eq('" + gavin + "'),transaction.direction.eq('debit'),transaction.postDate.gteq('" + lo + "')",
			where(func(tx map[string]any) bool {
				d := day(tx, "postDate")
				return str(tx, "connection") == gavin && str(tx, "direction") == "debit" && d != "" && d >= lo
			})},
		{"transaction.status.eq('pending'),transaction.status.eq('posted')", []string{}},
		{"transaction.description.eq('x')", nil},
		{"transaction.postDate.between('a','b')", nil},
		{"transaction.postDate.bt('a')", nil},
		{"transaction.status.eq(pending)", nil},
		{"transaction.status.eq('pending'", nil},
		{"transaction.status.eq('pending') transaction.class.eq('x')", nil},
		{"transaction.status.eq('pending'),", nil},
		{"eq('x')", nil},
		{"transaction.status.('x')", nil},
	}
	for _, tt := range tests {
		if tt.want == nil {
			e := c.get("/users/"+user+"/transactions?"+url.Values{"filter": {tt.filter}}.Encode()).errBody(t, http.StatusBadRequest, "parameter-not-valid")
			assert.Equal(t, "filter", e.Data[0].Source["parameter"], tt.filter)
			continue
		}
		got := get(tt.filter)
		assert.Equal(t, tt.want, got, tt.filter)
		if !strings.Contains(tt.filter, "'pending'),") {
			assert.NotEmpty(t, got, tt.filter)
			assert.Less(t, len(got), len(all), tt.filter)
		}
	}

	// Two filter parameters are ANDed too.
	r := c.get("/users/" + user + "/transactions?filter=" + url.QueryEscape("transaction.status.eq('pending')") +
		"&filter=" + url.QueryEscape("connection.id.eq('"+gavin+"')"))
	assert.Len(t, list(t, r), 3*pendingPerAccount)
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	cls, err := parseFilter(` a.b.eq('it''s') , c.in('x','', 'y z') ,d.bt('1','2')`)
	require.NoError(t, err)
	assert.Equal(t, []clause{
		{field: "a.b", op: "eq", args: []string{"it's"}},
		{field: "c", op: "in", args: []string{"x", "", "y z"}},
		{field: "d", op: "bt", args: []string{"1", "2"}},
	}, cls)
	cls, err = parseFilter("   ")
	require.NoError(t, err)
	assert.Empty(t, cls)
	for _, bad := range []string{"a.eq('x'')", "a.eq('x')x", "a.eq('x'),", "a b.eq('x')", "a.eq", ".eq('x')", "a.('x')", "a.eq()", "a.eq('x' 'y')"} {
		_, err := parseFilter(bad)
		assert.Error(t, err, bad)
	}
	// Values with commas and parentheses stay whole.
	cls, err = parseFilter("a.in('x,y','(z)')")
	require.NoError(t, err)
	assert.Equal(t, []string{"x,y", "(z)"}, cls[0].args)
}

func TestNoTransactions(t *testing.T) {
	t.Parallel()
	c, user, _, _ := connected(t, WithTransactionsPerAccount(0))
	r := c.get("/users/" + user + "/transactions")
	assert.Empty(t, list(t, r))
	assert.InDelta(t, 0, r.obj(t)["count"], 0)
	assert.Len(t, list(t, c.get("/users/"+user+"/accounts")), 5)
}

func TestDataDatesFollowTheJob(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithStepDuration(10*time.Hour), WithTokenLifetime(48*time.Hour), WithTransactionsPerAccount(90))
		user := c.createUser("a@b.example")
		c.connectLogin(user, InstHooli, LoginJared, PasswordJared)
		time.Sleep(30 * time.Hour)
		txns := list(t, c.get("/users/"+user+"/transactions"))
		// retrieve-transactions ended at 30 h: day 2 of the bubble.
		assert.Equal(t, "2000-01-02T00:00:00Z", str(txns[0], "transactionDate"))
		assert.Equal(t, "1999-10-05T00:00:00Z", str(txns[len(txns)-1], "transactionDate"))
	})
}
