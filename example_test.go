package basiq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

func ExampleNewClient() {
	// The key comes from WithAPIKey or, without it, $BASIQ_API_KEY.
	client, err := basiq.NewClient(
		basiq.WithAPIKey("YOUR-API-KEY"),
		basiq.WithMaxRetries(5),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.BaseURL())
	// Output: https://au-api.basiq.io/
}

func ExampleConnectionsService_Create() {
	// basiqtest plays the Basiq API; with a real key, use basiq.NewClient().
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "gavin@hooli.example"})
	if err != nil {
		log.Fatal(err)
	}
	// A token bank takes a user token, not a login: refused before posting.
	_, err = client.Connections.Create(ctx, user.ID, basiq.ConnectionParams{
		LoginID:     "gavinBelson",
		Password:    "hooli2016",
		Institution: basiq.InstitutionRef{ID: basiqtest.InstToken},
	})
	fmt.Println(errors.Is(err, basiq.ErrValidation))

	job, err := client.Connections.Create(ctx, user.ID, basiq.ConnectionParams{
		LoginID:     "gavinBelson",
		Password:    "hooli2016",
		Institution: basiq.InstitutionRef{ID: "AU00000"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job started, reused:", job.Reused)
	// Output:
	// true
	// job started, reused: false
}

func ExampleClient_WaitForJob() {
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	userID := srv.AddUser("gavin@hooli.example")
	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
		LoginID:     "gavinBelson",
		Password:    "hooli2016",
		Institution: basiq.InstitutionRef{ID: "AU00000"},
	})
	if err != nil {
		log.Fatal(err)
	}
	job, err = client.WaitForJob(ctx, job, basiq.WithPollInterval(10*time.Millisecond, 50*time.Millisecond))
	var jobErr *basiq.JobError
	if errors.As(err, &jobErr) {
		log.Fatalf("step %s failed: %s", jobErr.Step, jobErr.Code)
	}
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range job.Steps {
		fmt.Println(st.Title, st.Status)
	}
	fmt.Println("connected:", job.ConnectionID() != "")

	// A locked account fails verify-credentials with a typed error.
	job, err = client.Connections.Create(ctx, userID, basiq.ConnectionParams{
		LoginID:     "bighead",
		Password:    "password",
		Institution: basiq.InstitutionRef{ID: "AU00000"},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.WaitForJob(ctx, job, basiq.WithPollInterval(10*time.Millisecond, 50*time.Millisecond))
	if errors.As(err, &jobErr) {
		fmt.Println(jobErr.Step, jobErr.Code, jobErr.Detail)
	}
	// Output:
	// verify-credentials success
	// retrieve-accounts success
	// retrieve-transactions success
	// connected: true
	// verify-credentials invalid-credentials Account is locked
}

func ExampleJobsService_RespondMFA() {
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()
	fast := basiq.WithPollInterval(10*time.Millisecond, 50*time.Millisecond)

	userID := srv.AddUser("jared@hooli.example")
	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
		LoginID:     "jared",
		Password:    "django",
		Institution: basiq.InstitutionRef{ID: basiqtest.InstMFA},
	})
	if err != nil {
		log.Fatal(err)
	}
	for {
		job, err = client.WaitForJob(ctx, job, fast)
		var challenge *basiq.MFAChallenge
		if !errors.As(err, &challenge) {
			break
		}
		fmt.Println("the bank asks:", challenge.Questions)
		// Ask the customer; the sandbox code is 1234.
		if job, err = client.Jobs.RespondMFA(ctx, job.ID, "1234"); err != nil {
			log.Fatal(err)
		}
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(basiq.StepMFAChallenge, job.Step(basiq.StepMFAChallenge).Status)
	// Output:
	// the bank asks: [One-time code]
	// mfa-challenge success
}

func ExampleTransactionsService_List() {
	srv := basiqtest.NewServer(basiqtest.WithTransactionsPerAccount(40))
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	userID := srv.AddUser("gavin@hooli.example")
	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
		LoginID: "gavinBelson", Password: "hooli2016", Institution: basiq.InstitutionRef{ID: "AU00000"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if job, err = client.WaitForJob(ctx, job, basiq.WithPollInterval(10*time.Millisecond, 50*time.Millisecond)); err != nil {
		log.Fatal(err)
	}

	// Pages of 25 are fetched only as the loop reaches them.
	var count int
	var spent int64
	for tx, err := range client.Transactions.List(ctx, userID, &basiq.TransactionFilter{
		ConnectionID: job.ConnectionID(),
		Direction:    basiq.TransactionDirectionDebit,
		PageSize:     25,
	}) {
		if err != nil {
			log.Fatal(err)
		}
		cents, err := tx.Amount.MinorUnits(2) // exact: no float rounding
		if err != nil {
			log.Fatal(err)
		}
		count++
		spent -= cents
	}
	fmt.Println("debits:", count > 0, "all negative:", spent > 0)
	// Output: debits: true all negative: true
}
