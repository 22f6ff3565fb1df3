// Command connect runs the SDK's main flow: create a connection to a bank for
// a Basiq user, then wait for its job, printing each step as it changes.
//
// With BASIQ_API_KEY set it talks to the live API (and needs -user, an
// existing Basiq user id). Without a key it prints what it would do and how to
// give one.
//
//	go run ./examples/connect -h
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/basiq-go/basiq"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	institution := fs.String("institution", "AU00000", "institution id (AU00000 is the sandbox Hooli Bank)")
	user := fs.String("user", "", "Basiq user id to connect (live API)")
	login := fs.String("login", "gavinBelson", "login id, for institutions with user authorization")
	password := fs.String("password", "hooli2016", "password, for institutions with user authorization")
	userToken := fs.String("user-token", "", "user token, for institutions with token authorization (then -login and -password are ignored)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the job")
	if err := fs.Parse(args); err != nil {
		return err
	}
	params := basiq.ConnectionParams{Institution: basiq.InstitutionRef{ID: *institution}}
	if *userToken != "" {
		params.UserToken = *userToken
	} else {
		params.LoginID, params.Password = *login, *password
	}

	if os.Getenv(basiq.EnvAPIKey) == "" {
		fmt.Fprintf(out, "No %s set: not calling the API.\n", basiq.EnvAPIKey)
		fmt.Fprintf(out, "With a key this would:\n  1. exchange the key for a token (POST /token)\n  2. read institution %s and check the credentials against its authorization type\n  3. POST /users/{user}/connections with %v\n  4. wait for the job's steps and print each as it changes\n", *institution, params)
		fmt.Fprintf(out, "Run with: BASIQ_API_KEY=... go run ./examples/connect -user USER_ID\n")
		return nil
	}
	if *user == "" {
		return errors.New("-user is required with the live API")
	}
	client, err := basiq.NewClient()
	if err != nil {
		return err
	}
	return connect(ctx, client, *user, params, *timeout, out)
}

// connect creates the connection and waits for its job, printing progress.
func connect(ctx context.Context, client *basiq.Client, userID string, params basiq.ConnectionParams, timeout time.Duration, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	job, err := client.Connections.Create(ctx, userID, params)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "job %s created (reused: %t)\n", job.ID, job.Reused)
	seen := map[string]basiq.StepStatus{}
	job, err = client.WaitForJob(ctx, job, basiq.WithProgress(func(j *basiq.Job) {
		for _, st := range j.Steps {
			if seen[st.Title] != st.Status {
				seen[st.Title] = st.Status
				fmt.Fprintf(out, "%6.1fs  %-22s %s\n", time.Since(start).Seconds(), st.Title, st.Status)
			}
		}
	}))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "connection %s ready after %.1fs\n", job.ConnectionID(), time.Since(start).Seconds())
	return nil
}
