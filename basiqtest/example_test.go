package basiqtest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

// A test connects a sandbox bank through the SDK and waits for the job.
func Example() {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(10 * time.Millisecond))
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
	job, err = client.WaitForJob(ctx, job, basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range job.Steps {
		fmt.Println(st.Title, st.Status)
	}

	// A locked account fails verify-credentials.
	job, err = client.Connections.Create(ctx, userID, basiq.ConnectionParams{
		LoginID:     basiqtest.LoginBighead,
		Password:    basiqtest.PasswordBighead,
		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.WaitForJob(ctx, job, basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond))
	var jobErr *basiq.JobError
	if errors.As(err, &jobErr) {
		fmt.Println(jobErr.Step, jobErr.Code, jobErr.Detail)
	}
	// Output:
	// verify-credentials success
	// retrieve-accounts success
	// retrieve-transactions success
	// verify-credentials invalid-credentials Account is locked
}

// Faults make the next matching requests fail, here with 503 and a
// Retry-After header.
func ExampleServer_InjectFault() {
	srv := basiqtest.NewServer()
	defer srv.Close()
	srv.InjectFault(basiqtest.Fault{Method: http.MethodGet, Path: "/institutions*", Status: http.StatusServiceUnavailable, RetryAfter: "1"})

	resp, err := http.Get(srv.URL + "/institutions/AU00000")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"))

	// Used up: the next request is handled (and wants a token).
	resp, err = http.Get(srv.URL + "/institutions/AU00000")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 503 1
	// 401
}

// Requests shows what the server received, with secrets masked.
func ExampleServer_Requests() {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(0))
	defer srv.Close()
	client := srv.Client()
	userID := srv.AddUser("a@b.example")
	_, err := client.Connections.Create(context.Background(), userID, basiq.ConnectionParams{
		LoginID:     basiqtest.LoginJared,
		Password:    basiqtest.PasswordJared,
		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range srv.Requests() {
		path := strings.ReplaceAll(r.Path, userID, "{userId}")
		fmt.Println(r.Method, path, r.Status, r.Header.Get("Authorization"))
		if r.Body != "" {
			fmt.Println("  ", r.Body)
		}
	}
	// Output:
	// POST /token 200 Basic [REDACTED]
	//    scope=SERVER_ACCESS
	// GET /institutions/AU00000 200 Bearer [REDACTED]
	// POST /users/{userId}/connections 202 Bearer [REDACTED]
	//    {"institution":{"id":"AU00000"},"loginId":"jared","password":"[REDACTED]"}
}
