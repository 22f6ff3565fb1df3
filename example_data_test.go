package basiq_test

// Examples of reading data: institutions with a filter, transactions over a
// date range, and the typed values of a transaction.

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

// The institutions whose authorization is a user token or a login with
// one-time codes, as GET /institutions?filter=institution.authorization.in(...)
// answers them.
func ExampleInstitutionsService_List() {
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()

	insts, err := client.Institutions.List(context.Background(), &basiq.InstitutionFilter{
		Authorization: []basiq.AuthorizationType{basiq.AuthToken, basiq.AuthUserMFA},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, in := range insts {
		fmt.Println(in.ID, in.Authorization)
	}
	// Output:
	// AU00003 user-mfa
	// AU19301 token
}

// The transactions posted in the last 30 days: PostedFrom and PostedTo bound
// the post date by calendar day, both ends included. Pending transactions
// have no post date yet, so a date range leaves them out.
func ExampleTransactionsService_List_dateRange() {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(10 * time.Millisecond))
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	userID := srv.AddUser("gavin@hooli.example")
	if _, err := connectHooli(ctx, client, userID, basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)); err != nil {
		log.Fatal(err)
	}

	to := time.Now()
	from := to.AddDate(0, 0, -30)
	var inRange, outside, pending int
	for tx, err := range client.Transactions.List(ctx, userID, &basiq.TransactionFilter{
		PostedFrom: from,
		PostedTo:   to,
	}) {
		if err != nil {
			log.Fatal(err)
		}
		day := tx.PostDate.Format(time.DateOnly)
		switch {
		case tx.PostDate.IsZero():
			pending++
		case day < from.Format(time.DateOnly) || day > to.Format(time.DateOnly):
			outside++
		default:
			inRange++
		}
	}
	fmt.Println("posted in the last 30 days:", inRange > 0)
	fmt.Println("outside the range:", outside, "pending:", pending)
	// Output:
	// posted in the last 30 days: true
	// outside the range: 0 pending: 0
}

// A transaction's Direction, Status and Class are typed: compare them with
// the constants. A value the API adds later is kept as sent, and Known
// reports false for it. A pending transaction has no post date: print
// something other than time.Time's zero day for it.
func ExampleTransactionClass() {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(10 * time.Millisecond))
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	userID := srv.AddUser("gavin@hooli.example")
	if _, err := connectHooli(ctx, client, userID, basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)); err != nil {
		log.Fatal(err)
	}

	var pending, fees, unknown int
	for tx, err := range client.Transactions.List(ctx, userID, nil) {
		if err != nil {
			log.Fatal(err)
		}
		switch {
		case !tx.Class.Known():
			unknown++ // a class this library does not know yet
		case tx.Class == basiq.TransactionClassBankFee:
			if fees++; fees == 1 {
				fmt.Println("first fee:", postDay(tx), tx.Description)
			}
		}
		if tx.Status == basiq.TransactionStatusPending {
			if pending++; pending == 1 {
				fmt.Println("newest:", postDay(tx), tx.Direction == basiq.TransactionDirectionDebit)
			}
		}
	}
	fmt.Println("pending:", pending > 0, "fees:", fees > 0, "unknown classes:", unknown)
	// Output:
	// newest: pending true
	// first fee: posted MONTHLY ACCOUNT FEE
	// pending: true fees: true unknown classes: 0
}

// postDay is "pending" for a transaction not posted yet (whose PostDate is
// zero) and "posted" otherwise; a program would print the date itself,
// tx.PostDate.Format(time.DateOnly), which changes from day to day.
func postDay(tx basiq.Transaction) string {
	if tx.PostDate.IsZero() {
		return "pending"
	}
	return "posted"
}
