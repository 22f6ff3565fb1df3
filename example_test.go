package basiq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/basiq-go/basiq"
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
	client, err := basiq.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	job, err := client.Connections.Create(ctx, "USER-ID", basiq.ConnectionParams{
		LoginID:     "gavinBelson",
		Password:    "hooli2016",
		Institution: basiq.InstitutionRef{ID: "AU00000"},
	})
	if errors.Is(err, basiq.ErrValidation) {
		log.Fatalf("fix the arguments: %v", err) // nothing was posted
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job", job.ID, "reused:", job.Reused)
}

func ExampleClient_WaitForJob() {
	client, err := basiq.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	job, err := client.Connections.Create(ctx, "USER-ID", basiq.ConnectionParams{
		LoginID:     "gavinBelson",
		Password:    "hooli2016",
		Institution: basiq.InstitutionRef{ID: "AU00000"},
	})
	if err != nil {
		log.Fatal(err)
	}
	job, err = client.WaitForJob(ctx, job, basiq.WithProgress(func(j *basiq.Job) {
		for _, st := range j.Steps {
			fmt.Printf("%s: %s\n", st.Title, st.Status)
		}
	}))
	var jobErr *basiq.JobError
	if errors.As(err, &jobErr) {
		log.Fatalf("step %s failed: %s", jobErr.Step, jobErr.Code)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected:", job.ConnectionID())
}
