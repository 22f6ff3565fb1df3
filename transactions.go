package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"time"
	"unicode/utf8"
)

// TransactionsService reads the transactions that a user's connections
// retrieved.
type TransactionsService service

// Transaction is one transaction, as GET /users/{userId}/transactions/{id}
// answers. Amount is negative for money out; see [Decimal].
type Transaction struct {
	ID string `json:"id"`
	// Status is [TransactionStatusPending] or [TransactionStatusPosted].
	Status      TransactionStatus `json:"status"`
	Description string            `json:"description"`
	Amount      Decimal           `json:"amount"`
	Balance     Decimal           `json:"balance"`
	// Account, Connection and Institution are ids; the API sends them as
	// strings or as objects with an id, and both are read.
	Account     string `json:"account"`
	Connection  string `json:"connection"`
	Institution string `json:"institution"`
	// Direction is [TransactionDirectionDebit] or
	// [TransactionDirectionCredit].
	Direction TransactionDirection `json:"direction"`
	// Class is the transaction's class, such as [TransactionClassPayment].
	Class TransactionClass `json:"class"`
	// SubClass is the finer classification, nil when the API gives none.
	SubClass *SubClass `json:"subClass,omitempty"`
	// TransactionDate and PostDate are zero when absent; PostDate is zero
	// while the transaction is pending.
	TransactionDate time.Time `json:"transactionDate"`
	PostDate        time.Time `json:"postDate"`
	Links           Links     `json:"links"`
}

// TransactionStatus says whether a transaction has been posted. A value
// the library does not know is kept as the API sent it; [TransactionStatus.Known]
// tells them apart.
type TransactionStatus string

// The transaction statuses the API defines.
const (
	// TransactionStatusPending: not posted yet; the transaction's PostDate
	// is zero.
	TransactionStatusPending TransactionStatus = "pending"
	// TransactionStatusPosted: posted to the account.
	TransactionStatusPosted TransactionStatus = "posted"
)

// transactionStatuses lists the statuses [TransactionStatus.Known] accepts.
var transactionStatuses = []TransactionStatus{TransactionStatusPending, TransactionStatusPosted}

// Known reports whether s is one of the statuses this library understands.
func (s TransactionStatus) Known() bool { return slices.Contains(transactionStatuses, s) }

// TransactionDirection says whether money left or entered the account. A
// value the library does not know is kept as the API sent it;
// [TransactionDirection.Known] tells them apart.
type TransactionDirection string

// The transaction directions the API defines.
const (
	// TransactionDirectionDebit: money out; the amount is negative.
	TransactionDirectionDebit TransactionDirection = "debit"
	// TransactionDirectionCredit: money in; the amount is positive.
	TransactionDirectionCredit TransactionDirection = "credit"
)

// transactionDirections lists the directions [TransactionDirection.Known]
// accepts.
var transactionDirections = []TransactionDirection{TransactionDirectionDebit, TransactionDirectionCredit}

// Known reports whether d is one of the directions this library understands.
func (d TransactionDirection) Known() bool { return slices.Contains(transactionDirections, d) }

// TransactionClass is the broad kind of a transaction; its SubClass is
// finer. A value the library does not know is kept as the API sent it;
// [TransactionClass.Known] tells them apart.
type TransactionClass string

// The transaction classes the API defines.
const (
	// TransactionClassBankFee: a fee the bank charged.
	TransactionClassBankFee TransactionClass = "bank-fee"
	// TransactionClassCashWithdrawal: cash taken out, at an ATM or a
	// counter.
	TransactionClassCashWithdrawal TransactionClass = "cash-withdrawal"
	// TransactionClassDirectCredit: money paid in by a third party, such as
	// a salary.
	TransactionClassDirectCredit TransactionClass = "direct-credit"
	// TransactionClassInterest: interest the account earned.
	TransactionClassInterest TransactionClass = "interest"
	// TransactionClassLoanInterest: interest charged on a loan.
	TransactionClassLoanInterest TransactionClass = "loan-interest"
	// TransactionClassLoanRepayment: a repayment of a loan.
	TransactionClassLoanRepayment TransactionClass = "loan-repayment"
	// TransactionClassPayment: a payment to a merchant or another party.
	TransactionClassPayment TransactionClass = "payment"
	// TransactionClassRefund: money returned by a merchant.
	TransactionClassRefund TransactionClass = "refund"
	// TransactionClassTransfer: money moved between accounts.
	TransactionClassTransfer TransactionClass = "transfer"
)

// transactionClasses lists the classes [TransactionClass.Known] accepts.
var transactionClasses = []TransactionClass{
	TransactionClassBankFee, TransactionClassCashWithdrawal, TransactionClassDirectCredit,
	TransactionClassInterest, TransactionClassLoanInterest, TransactionClassLoanRepayment,
	TransactionClassPayment, TransactionClassRefund, TransactionClassTransfer,
}

// Known reports whether c is one of the classes this library understands.
func (c TransactionClass) Known() bool { return slices.Contains(transactionClasses, c) }

// SubClass is a transaction's finer classification.
type SubClass struct {
	Code  string `json:"code"`
	Title string `json:"title"`
}

// UnmarshalJSON reads ids given as strings or objects, a sub-class given as an
// object or a bare string, and dates leniently ("" or null while pending).
func (t *Transaction) UnmarshalJSON(b []byte) error {
	var w transactionWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*t = w.transaction()
	return nil
}

// transactionWire is a transaction as the API writes it; its lenient fields
// decode themselves, so a page decodes in one pass.
type transactionWire struct {
	ID              string               `json:"id"`
	Status          TransactionStatus    `json:"status"`
	Description     string               `json:"description"`
	Amount          Decimal              `json:"amount"`
	Balance         Decimal              `json:"balance"`
	Account         flexID               `json:"account"`
	Connection      flexID               `json:"connection"`
	Institution     flexID               `json:"institution"`
	Direction       TransactionDirection `json:"direction"`
	Class           TransactionClass     `json:"class"`
	SubClass        flexSubClass         `json:"subClass"`
	TransactionDate lenientTime          `json:"transactionDate"`
	PostDate        lenientTime          `json:"postDate"`
	Links           Links                `json:"links"`
}

func (w *transactionWire) transaction() Transaction {
	return Transaction{
		ID: w.ID, Status: w.Status, Description: w.Description, Amount: w.Amount, Balance: w.Balance,
		Account: string(w.Account), Connection: string(w.Connection), Institution: string(w.Institution),
		Direction: w.Direction, Class: w.Class, SubClass: w.SubClass.p,
		TransactionDate: w.TransactionDate.Time, PostDate: w.PostDate.Time, Links: w.Links,
	}
}

// flexSubClass reads a sub-class given as an object, a bare string or null.
type flexSubClass struct{ p *SubClass }

func (f *flexSubClass) UnmarshalJSON(b []byte) error {
	f.p = nil
	var sc SubClass
	switch {
	case len(b) == 0 || b[0] == 'n':
	case b[0] == '"':
		if title, ok := unquote(b); ok && title != "" {
			f.p = &SubClass{Title: title}
		}
		return nil
	default:
		if plain, ok := flatSubClass(b); ok {
			sc = plain // the usual form, read without a second decoder
		} else if json.Unmarshal(b, &sc) != nil {
			return nil
		}
		if sc != (SubClass{}) {
			f.p = &sc
		}
	}
	return nil
}

// flatSubClass reads the usual form of a sub-class, {"code":"...",
// "title":"..."}: an object of those keys, spelled so, with string values
// without escapes, in any order, repeated or not (the last wins, as with a
// decoder). Anything else reports false, for encoding/json to read.
func flatSubClass(b []byte) (SubClass, bool) {
	var sc SubClass
	b = skipSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return sc, false
	}
	b = skipSpace(b[1:])
	if len(b) > 0 && b[0] == '}' {
		return sc, len(skipSpace(b[1:])) == 0
	}
	for {
		var key, val []byte
		var ok bool
		if key, b, ok = plainString(skipSpace(b)); !ok {
			return sc, false
		}
		if b = skipSpace(b); len(b) == 0 || b[0] != ':' {
			return sc, false
		}
		if val, b, ok = plainString(skipSpace(b[1:])); !ok || !utf8.Valid(val) {
			return sc, false
		}
		switch string(key) {
		case "code":
			sc.Code = string(val)
		case "title":
			sc.Title = string(val)
		default:
			return sc, false
		}
		switch b = skipSpace(b); {
		case len(b) > 0 && b[0] == ',':
			b = b[1:]
		case len(b) > 0 && b[0] == '}':
			return sc, len(skipSpace(b[1:])) == 0
		default:
			return sc, false
		}
	}
}

// skipSpace drops JSON white space from the front of b.
func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

// plainString reads a JSON string without escapes (and so without control
// characters, which JSON refuses raw) at the front of b: its contents and
// what follows it.
func plainString(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, b, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 || bytes.ContainsFunc(b[1:end+1], func(r rune) bool { return r == '\\' || r < 0x20 }) {
		return nil, b, false
	}
	return b[1 : end+1], b[end+2:], true
}

// MaxTransactionsPageSize is the largest page the API serves.
const MaxTransactionsPageSize = 500

// TransactionFilter narrows [TransactionsService.List]. Conditions are joined
// with AND; empty fields are left out. Values are quoted, and a value with a
// quote or control character is refused, so input cannot change the filter's
// meaning.
type TransactionFilter struct {
	AccountID     string
	ConnectionID  string
	InstitutionID string
	// Status, Direction and Class keep the transactions with this value.
	// A value that is not one of the constants of its type (such as
	// "debits" for a Direction) is refused with a *ValidationError before
	// any request, rather than matching nothing. For a value this library
	// does not know yet, write the condition in Raw instead, such as
	// transaction.class.eq('new-class').
	Status    TransactionStatus
	Direction TransactionDirection
	Class     TransactionClass
	// PostedFrom and PostedTo bound the post date, inclusive, by calendar day
	// (only the date part is used). Either may be zero.
	PostedFrom, PostedTo time.Time
	// PageSize is how many transactions each request asks for, 1 to 500; 0
	// leaves the API's default (500).
	PageSize int
	// Raw is a filter in Basiq's grammar, appended unchanged: the way to
	// filter on a value this library does not know.
	Raw string
}

// List iterates a user's transactions: GET /users/{userId}/transactions,
// narrowed by f (nil for all). Pages are fetched lazily through links.next:
// the next page is requested only when the loop reaches it, and breaking out
// of the loop stops fetching. A problem ends the sequence with one non-nil
// error: invalid arguments (before any request), a failed request, or an
// answer that would keep the loop going forever, matching
// [ErrInvalidResponse]: a next link that repeats or leaves the base URL (its
// origin or path prefix), 3 pages in a row with no transaction but a next
// link, or more than 10,000 pages (5 million transactions at the default page
// size; every list method has these bounds).
//
//	for tx, err := range client.Transactions.List(ctx, userID, nil) {
//		if err != nil {
//			return err
//		}
//		if tx.PostDate.IsZero() { // pending: not posted yet
//			fmt.Println("pending", tx.Amount, tx.Description)
//			continue
//		}
//		fmt.Println(tx.PostDate.Format(time.DateOnly), tx.Amount, tx.Description)
//	}
func (s *TransactionsService) List(ctx context.Context, userID string, f *TransactionFilter) iter.Seq2[Transaction, error] {
	path, err := transactionsPath(userID, f)
	if err != nil {
		return func(yield func(Transaction, error) bool) { yield(Transaction{}, err) }
	}
	return paginateAs(ctx, s.client, path, (*transactionWire).transaction, maxListPages)
}

func transactionsPath(userID string, f *TransactionFilter) (string, error) {
	if err := checkID("userId", userID); err != nil {
		return "", err
	}
	q, err := f.query()
	if err != nil {
		return "", err
	}
	return withQuery(pathf("users/%s/transactions", userID), q), nil
}

// query returns the filter's query values, page size included; a nil
// filter has none.
func (f *TransactionFilter) query() (url.Values, error) {
	var b filterBuilder
	limit := 0
	if f != nil {
		b.eq("accountId", "account.id", f.AccountID)
		b.eq("connectionId", "connection.id", f.ConnectionID)
		b.eq("institutionId", "institution.id", f.InstitutionID)
		oneOf(&b, "status", "transaction.status", f.Status, transactionStatuses)
		oneOf(&b, "direction", "transaction.direction", f.Direction, transactionDirections)
		oneOf(&b, "class", "transaction.class", f.Class, transactionClasses)
		b.dateRange("postDate", "transaction.postDate", f.PostedFrom, f.PostedTo)
		b.raw(f.Raw)
		limit = f.PageSize
	}
	return b.query(limit, MaxTransactionsPageSize)
}

// Get returns one transaction: GET /users/{userId}/transactions/{id}.
func (s *TransactionsService) Get(ctx context.Context, userID, transactionID string) (*Transaction, error) {
	if err := checkIDs("userId", userID, "transactionId", transactionID); err != nil {
		return nil, err
	}
	t := new(Transaction)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("users/%s/transactions/%s", userID, transactionID), nil, t); err != nil {
		return nil, err
	}
	return t, nil
}

func (x *Transaction) resourceID() string { return x.ID }
