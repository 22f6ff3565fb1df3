package basiq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"slices"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

// fastWait keeps the examples' waits short against basiqtest's short steps.
var fastWait = basiq.WithPollInterval(10*time.Millisecond, 50*time.Millisecond)

func ExampleWithResponse() {
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()

	// resp receives the status and headers of the last answer of every
	// call made with ctx, on success and on failure; never the body.
	var resp basiq.Response
	ctx := basiq.WithResponse(context.Background(), &resp)

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "gavin@hooli.example"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", resp.StatusCode, resp.Header.Get("Content-Type"))

	if err := client.Users.Delete(ctx, user.ID); err != nil {
		log.Fatal(err)
	}
	_, err = client.Users.Get(ctx, user.ID)
	var apiErr *basiq.APIError
	if !errors.As(err, &apiErr) {
		log.Fatalf("want an API error, got %v", err)
	}
	// On an error answer, CorrelationID is Basiq's id for it, as in the
	// *APIError: quote it to Basiq support.
	fmt.Println("after delete:", resp.StatusCode, resp.CorrelationID == apiErr.CorrelationID, resp.CorrelationID != "")
	// Output:
	// created: 201 application/json
	// after delete: 404 true true
}

func ExampleWithProgress() {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(20 * time.Millisecond))
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	userID := srv.AddUser("gavin@hooli.example")
	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
		LoginID:     basiqtest.LoginGavinBelson,
		Password:    basiqtest.PasswordGavinBelson,
		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
	})
	if err != nil {
		log.Fatal(err)
	}

	// fn sees the job each time a step's status changes. Which in-between
	// statuses it sees depends on when the polls land, so this prints each
	// step once, when it first succeeds.
	var done []string
	progress := basiq.WithProgress(func(j *basiq.Job) {
		for _, st := range j.Steps {
			if st.Status == basiq.StepStatusSuccess && !slices.Contains(done, st.Title) {
				done = append(done, st.Title)
				fmt.Println("done:", st.Title)
			}
		}
	})
	if _, err := client.WaitForJob(ctx, job, progress, fastWait); err != nil {
		log.Fatal(err)
	}
	// Output:
	// done: verify-credentials
	// done: retrieve-accounts
	// done: retrieve-transactions
}

func ExampleUsersService_Create() {
	srv := basiqtest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	// A user needs an email or a mobile number; without either the call is
	// refused before any request.
	_, err := client.Users.Create(ctx, basiq.UserParams{FirstName: "Gavin"})
	fmt.Println("no contact refused:", errors.Is(err, basiq.ErrValidation))

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "gavin@hooli.example", FirstName: "Gavin"})
	if err != nil {
		log.Fatal(err)
	}
	got, err := client.Users.Get(ctx, user.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Email, got.FirstName)

	// Deleting a user deletes its connections, accounts and transactions.
	if err := client.Users.Delete(ctx, user.ID); err != nil {
		log.Fatal(err)
	}
	_, err = client.Users.Get(ctx, user.ID)
	fmt.Println("gone:", errors.Is(err, basiq.ErrNotFound))
	// Output:
	// no contact refused: true
	// gavin@hooli.example Gavin
	// gone: true
}

func ExampleConnectionsService_Refresh() {
	// Steps of 200 ms: the second Refresh below comes while the first
	// one's job still runs.
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(200 * time.Millisecond))
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	userID := srv.AddUser("gavin@hooli.example")
	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
		LoginID:     basiqtest.LoginGavinBelson,
		Password:    basiqtest.PasswordGavinBelson,
		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
	})
	if err != nil {
		log.Fatal(err)
	}
	if job, err = client.WaitForJob(ctx, job, fastWait); err != nil {
		log.Fatal(err)
	}
	connID := job.ConnectionID() // known once the job has run

	// Refresh starts a job that fetches the connection's latest data.
	var resp basiq.Response
	refresh, err := client.Connections.Refresh(basiq.WithResponse(ctx, &resp), userID, connID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("refresh started:", resp.StatusCode == http.StatusAccepted, "reused:", refresh.Reused)

	// Refreshing again while that job runs meets the same job (200).
	again, err := client.Connections.Refresh(ctx, userID, connID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same job:", again.ID == refresh.ID, "reused:", again.Reused)

	if refresh, err = client.WaitForJob(ctx, refresh, fastWait); err != nil {
		log.Fatal(err)
	}
	fmt.Println("refreshed connection:", refresh.ConnectionID() == connID)
	// Output:
	// refresh started: true reused: false
	// same job: true reused: true
	// refreshed connection: true
}
