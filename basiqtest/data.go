package basiqtest

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// account is one account of a connection.
type account struct {
	id, userID, connID, instID string
	accountNo, name            string
	classType, product         string
	balance, available         int64 // cents
	lastUpdated                time.Time
}

// transaction is one transaction of an account.
type transaction struct {
	id, userID, connID, accountID, instID string
	seq                                   int64
	status, description                   string
	amount, balance                       int64 // cents
	direction, class                      string
	subCode, subTitle                     string
	date, postDate                        string // YYYY-MM-DD; postDate "" while pending
}

// accountKinds are the accounts a connection can have, in order.
var accountKinds = []struct{ suffix, classType, product string }{
	{"Everyday", "transaction", "Everyday Account"},
	{"Saver", "savings", "Online Saver"},
	{"Platinum Card", "credit-card", "Platinum Credit Card"},
}

// loadAccounts gives cn its accounts when its retrieve-accounts step first
// succeeds (2 or 3, fixed by the institution and login), and marks them
// updated at later successes; s.mu must be held.
func (s *Server) loadAccounts(cn *connection, at time.Time) {
	if len(cn.accounts) > 0 {
		for _, aid := range cn.accounts {
			s.accounts[aid].lastUpdated = at
		}
		return
	}
	in := s.instByID[cn.instID]
	seed := cn.seed()
	rng := rand.New(rand.NewPCG(seed, 1))
	n := 2 + int(seed%2)
	for i := range n {
		k := accountKinds[i]
		a := &account{
			id: s.newID(), userID: cn.userID, connID: cn.id, instID: cn.instID,
			accountNo:   fmt.Sprintf("%06d-%09d", 100000+rng.IntN(900000), rng.IntN(1_000_000_000)),
			name:        in.ShortName + " " + k.suffix,
			classType:   k.classType,
			product:     k.product,
			lastUpdated: at,
		}
		switch k.classType {
		case "transaction":
			a.balance = 50_000 + rng.Int64N(450_000)
			a.available = a.balance
		case "savings":
			a.balance = 100_000 + rng.Int64N(2_900_000)
			a.available = a.balance
		default: // a credit card with a 5,000.00 limit
			a.balance = -(10_000 + rng.Int64N(290_000))
			a.available = 500_000 + a.balance
		}
		s.accounts[a.id] = a
		cn.accounts = append(cn.accounts, a.id)
	}
}

// txnKinds are the kinds of generated transactions: description, class,
// subclass, and the amount range in cents (negative: money out).
var txnKinds = []struct {
	desc, class, subCode, subTitle string
	lo, hi                         int64
}{
	{"WOOLWORTHS 1234 PALO ALTO", "payment", "411", "Supermarket and Grocery Stores", -20_000, -500},
	{"CAFE NERO HOOLI CAMPUS", "payment", "451", "Cafes, Restaurants and Takeaway Food Services", -4_000, -400},
	{"AMPOL HOOLI WAY", "payment", "400", "Fuel Retailing", -12_000, -3_000},
	{"TRANSFER TO PIED PIPER", "transfer", "", "", -100_000, -5_000},
	{"ATM WITHDRAWAL HOOLI XYZ", "cash-withdrawal", "", "", -30_000, -2_000},
	{"MONTHLY ACCOUNT FEE", "bank-fee", "", "", -1_000, -500},
	{"SALARY HOOLI INC", "transfer", "", "", 150_000, 450_000},
	{"INTEREST CREDIT", "interest", "", "", 10, 2_000},
	{"REFUND AVIATO STORE", "refund", "427", "Other Store-Based Retailing", 500, 10_000},
}

// pendingPerAccount is how many of an account's newest transactions are
// pending.
const pendingPerAccount = 2

// loadTransactions gives cn's accounts their transactions when its
// retrieve-transactions step first succeeds; s.mu must be held. The
// transactions are fixed by the institution and login, and dated back from
// the day of at over 90 days, newest first.
func (s *Server) loadTransactions(cn *connection, at time.Time) {
	if cn.txnsLoaded {
		return
	}
	cn.txnsLoaded = true
	u := s.users[cn.userID]
	day := at.UTC().Truncate(24 * time.Hour)
	n := s.cfg.txPerAccount
	for ai, aid := range cn.accounts {
		a := s.accounts[aid]
		rng := rand.New(rand.NewPCG(cn.seed(), uint64(ai)+2))
		bal := a.balance
		for i := range n {
			k := txnKinds[rng.IntN(len(txnKinds))]
			amount := k.lo + rng.Int64N(k.hi-k.lo+1)
			date := day.AddDate(0, 0, -i*90/n)
			s.seq++
			t := &transaction{
				id: s.newID(), userID: cn.userID, connID: cn.id, accountID: a.id, instID: cn.instID,
				seq: s.seq, status: "posted", description: k.desc, amount: amount, balance: bal,
				direction: "debit", class: k.class, subCode: k.subCode, subTitle: k.subTitle,
				date: date.Format(time.DateOnly),
			}
			if amount > 0 {
				t.direction = "credit"
			}
			if i < pendingPerAccount {
				t.status = "pending"
			} else {
				post := date.AddDate(0, 0, rng.IntN(2))
				if post.After(day) {
					post = day
				}
				t.postDate = post.Format(time.DateOnly)
			}
			bal -= amount
			s.txns[t.id] = t
			u.txns = append(u.txns, t)
		}
	}
	slices.SortStableFunc(u.txns, compareTxns)
}

// compareTxns orders transactions newest first: by date, latest first, then
// in generation order.
func compareTxns(a, b *transaction) int {
	if c := strings.Compare(b.date, a.date); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// cents formats an amount in cents as a decimal string, such as "-12.34".
func cents(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// dateTime formats a YYYY-MM-DD date as the API's timestamp at midnight UTC.
func dateTime(d string) string { return d + "T00:00:00Z" }

// accountJSON is the wire form of an account.
type accountJSON struct {
	Type           string           `json:"type"`
	ID             string           `json:"id"`
	AccountNo      string           `json:"accountNo"`
	Name           string           `json:"name"`
	Currency       string           `json:"currency"`
	Class          accountClassJSON `json:"class"`
	Balance        string           `json:"balance"`
	AvailableFunds string           `json:"availableFunds"`
	LastUpdated    string           `json:"lastUpdated"`
	Status         string           `json:"status"`
	Institution    string           `json:"institution"`
	Connection     string           `json:"connection"`
	// Published in both versions' files: accountHolder (null: the sandbox
	// banks give none), ownership, creditLimit (credit cards), the dates
	// the transactions cover.
	AccountHolder        *string          `json:"accountHolder"`
	IsOwned              bool             `json:"isOwned"`
	AccountOwnership     string           `json:"accountOwnership"`
	CreditLimit          *string          `json:"creditLimit"`
	TransactionIntervals []intervalJSON   `json:"transactionIntervals"`
	Links                accountLinksJSON `json:"links"`
}

type intervalJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type accountLinksJSON struct {
	Self         string `json:"self"`
	Transactions string `json:"transactions"`
	Connection   string `json:"connection"`
	Institution  string `json:"institution"`
}

type accountClassJSON struct {
	Type    string `json:"type"`
	Product string `json:"product"`
}

func (s *Server) accountView(c *call, a *account) accountJSON {
	userBase := c.base + "/users/" + a.userID
	out := accountJSON{
		Type: "account", ID: a.id, AccountNo: a.accountNo, Name: a.name, Currency: "AUD",
		Class:   accountClassJSON{Type: a.classType, Product: a.product},
		Balance: cents(a.balance), AvailableFunds: cents(a.available),
		LastUpdated: timestamp(a.lastUpdated), Status: "available",
		Institution: a.instID, Connection: a.connID,
		IsOwned: true, AccountOwnership: "ONE_PARTY", TransactionIntervals: []intervalJSON{},
		Links: accountLinksJSON{
			Self:         userBase + "/accounts/" + a.id,
			Transactions: userBase + "/transactions?" + url.Values{"filter": {"account.id.eq('" + a.id + "')"}}.Encode(),
			Connection:   userBase + "/connections/" + a.connID,
			Institution:  c.base + "/institutions/" + a.instID,
		},
	}
	if a.classType == "credit-card" {
		limit := cents(a.available - a.balance)
		out.CreditLimit = &limit
	}
	// The transactions' dates, newest first: one interval from the oldest.
	var from, to string
	if u := s.users[a.userID]; u != nil {
		for _, t := range u.txns {
			if t.accountID != a.id {
				continue
			}
			if to == "" || t.date > to {
				to = t.date
			}
			if from == "" || t.date < from {
				from = t.date
			}
		}
	}
	if from != "" {
		out.TransactionIntervals = []intervalJSON{{From: from, To: to}}
	}
	return out
}

// transactionJSON is the wire form of a transaction.
type transactionJSON struct {
	Type            string               `json:"type"`
	ID              string               `json:"id"`
	Status          string               `json:"status"`
	Description     string               `json:"description"`
	Amount          string               `json:"amount"`
	Balance         string               `json:"balance"`
	Account         string               `json:"account"`
	Connection      string               `json:"connection"`
	Institution     string               `json:"institution"`
	Direction       string               `json:"direction"`
	Class           string               `json:"class"`
	SubClass        *subClassJSON        `json:"subClass"`
	TransactionDate string               `json:"transactionDate"`
	PostDate        *string              `json:"postDate"`
	Currency        string               `json:"currency"`
	Reference       string               `json:"reference"`
	Links           transactionLinksJSON `json:"links"`
}

type subClassJSON struct {
	Code  string `json:"code"`
	Title string `json:"title"`
}

type transactionLinksJSON struct {
	Self        string `json:"self"`
	Account     string `json:"account"`
	Connection  string `json:"connection"`
	Institution string `json:"institution"`
}

func (s *Server) transactionView(c *call, t *transaction) transactionJSON {
	userBase := c.base + "/users/" + t.userID
	out := transactionJSON{
		Type: "transaction", ID: t.id, Status: t.status, Description: t.description,
		Amount: cents(t.amount), Balance: cents(t.balance),
		Account: t.accountID, Connection: t.connID, Institution: t.instID,
		Direction: t.direction, Class: t.class, TransactionDate: dateTime(t.date),
		Currency: "AUD", Reference: "",
		Links: transactionLinksJSON{Self: userBase + "/transactions/" + t.id, Account: userBase + "/accounts/" + t.accountID,
			Connection: userBase + "/connections/" + t.connID, Institution: c.base + "/institutions/" + t.instID},
	}
	if t.subCode != "" {
		out.SubClass = &subClassJSON{Code: t.subCode, Title: t.subTitle}
	}
	if t.postDate != "" {
		v := dateTime(t.postDate)
		out.PostDate = &v
	}
	return out
}

// listJSON is a list answer.
type listJSON[T any] struct {
	Type       string     `json:"type"`
	Count      int        `json:"count"`
	TotalCount *int       `json:"totalCount,omitempty"`
	Size       *int       `json:"size,omitempty"`
	Data       []T        `json:"data"`
	Links      *listLinks `json:"links,omitempty"`
}

type listLinks struct {
	Self string `json:"self"`
	Next string `json:"next,omitempty"`
}

// accountFields are the fields GET /users/{u}/accounts filters on.
var accountFields = fieldSet[*account]{
	"account.id":     func(a *account) (string, bool) { return a.id, true },
	"connection.id":  func(a *account) (string, bool) { return a.connID, true },
	"institution.id": func(a *account) (string, bool) { return a.instID, true },
}

// listAccounts is GET /users/{u}/accounts.
func (s *Server) listAccounts(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	match, r, bad := parseFilterParam(c, accountFields)
	if bad {
		return r
	}
	data := []accountJSON{}
	for _, cid := range u.conns {
		for _, aid := range s.conns[cid].accounts {
			if a := s.accounts[aid]; match(a) {
				data = append(data, s.accountView(c, a))
			}
		}
	}
	return answer(http.StatusOK, listJSON[accountJSON]{Type: "list", Count: len(data), Data: data,
		Links: &listLinks{Self: c.base + c.r.URL.RequestURI()}})
}

// getAccount is GET /users/{u}/accounts/{a}.
func (s *Server) getAccount(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	a, found := s.accounts[c.pv("a")]
	if !found || a.userID != u.id {
		return fail(errNotFound("Account not found: " + c.pv("a")))
	}
	return answer(http.StatusOK, s.accountView(c, a))
}

// transactionFields are the fields GET /users/{u}/transactions filters on.
var transactionFields = fieldSet[*transaction]{
	"account.id":                  func(t *transaction) (string, bool) { return t.accountID, true },
	"connection.id":               func(t *transaction) (string, bool) { return t.connID, true },
	"institution.id":              func(t *transaction) (string, bool) { return t.instID, true },
	"transaction.id":              func(t *transaction) (string, bool) { return t.id, true },
	"transaction.postDate":        func(t *transaction) (string, bool) { return t.postDate, t.postDate != "" },
	"transaction.transactionDate": func(t *transaction) (string, bool) { return t.date, true },
	"transaction.status":          func(t *transaction) (string, bool) { return t.status, true },
	"transaction.direction":       func(t *transaction) (string, bool) { return t.direction, true },
	"transaction.class":           func(t *transaction) (string, bool) { return t.class, true },
}

// Paging of GET /users/{u}/transactions.
const (
	defaultLimit = 500
	maxLimit     = 500
)

// listTransactions is GET /users/{u}/transactions: newest first, paged by
// limit with an opaque cursor in links.next.
func (s *Server) listTransactions(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	q := c.r.URL.Query()
	limit := defaultLimit
	if v, set := q["limit"]; set {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil || n < 1 || n > maxLimit {
			return fail(errInvalidParam("limit", fmt.Sprintf("limit must be a whole number from 1 to %d.", maxLimit)))
		}
		limit = n
	}
	match, r, bad := parseFilterParam(c, transactionFields)
	if bad {
		return r
	}
	var after *transaction
	if v := q.Get("cursor"); v != "" {
		cur, err := parseCursor(v)
		if err != nil {
			return fail(errInvalidParam("cursor", "cursor is not valid: use links.next as given."))
		}
		after = cur
	}
	total := 0
	data := []transactionJSON{}
	var last *transaction
	more := false
	for _, t := range u.txns {
		if !match(t) {
			continue
		}
		total++
		if after != nil && compareTxns(t, after) <= 0 {
			continue
		}
		if len(data) == limit {
			more = true
			continue
		}
		data = append(data, s.transactionView(c, t))
		last = t
	}
	size := len(data)
	links := &listLinks{Self: c.base + c.r.URL.RequestURI()}
	if more {
		next := url.Values{"limit": {strconv.Itoa(limit)}, "cursor": {cursorFor(last)}}
		if f, set := q["filter"]; set {
			next["filter"] = f
		}
		links.Next = c.base + "/users/" + u.id + "/transactions?" + next.Encode()
	}
	return answer(http.StatusOK, listJSON[transactionJSON]{Type: "list", Count: total, Size: &size, Data: data, Links: links})
}

// cursorFor is the cursor of the page after t.
func cursorFor(t *transaction) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.date + "|" + strconv.FormatInt(t.seq, 10)))
}

// parseCursor reads a cursor into the sort key of the last transaction
// shown.
func parseCursor(v string) (*transaction, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, err
	}
	date, seq, found := strings.Cut(string(raw), "|")
	if _, err := time.Parse(time.DateOnly, date); !found || err != nil {
		return nil, fmt.Errorf("bad cursor date")
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil {
		return nil, err
	}
	return &transaction{date: date, seq: n}, nil
}

// getTransaction is GET /users/{u}/transactions/{t}.
func (s *Server) getTransaction(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	t, found := s.txns[c.pv("t")]
	if !found || t.userID != u.id {
		return fail(errNotFound("Transaction not found: " + c.pv("t")))
	}
	return answer(http.StatusOK, s.transactionView(c, t))
}
