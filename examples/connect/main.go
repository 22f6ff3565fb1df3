// Command connect runs the SDK's main flow: create a user, connect their bank,
// wait for the connection's job while printing each step as it changes, then
// list the accounts and count the transactions.
//
// Without BASIQ_API_KEY it runs against basiqtest, the SDK's in-memory Basiq
// server, so it needs no key and no network. With BASIQ_API_KEY set it talks
// to the live API.
//
//	go run ./examples/connect
//	go run ./examples/connect -login bighead -password password   # a failing login
//	go run ./examples/connect -institution AU00003 -mfa-code 1234  # a bank that asks for MFA
//	go run ./examples/connect -h
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Getenv(basiq.EnvAPIKey)); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "connect:", err)
		}
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	institution, user, email            string
	login, password, userToken, mfaCode string
	timeout                             time.Duration
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: go run ./examples/connect [flags]\n\n"+
			"Connects a bank for a Basiq user and waits for the data. Without %s the\n"+
			"in-memory server basiqtest plays the API; with it, the live API is used.\n\nFlags:\n", basiq.EnvAPIKey)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.institution, "institution", basiqtest.InstHooli, "institution id (AU00000 is the sandbox Hooli Bank)")
	fs.StringVar(&cfg.user, "user", "", "existing Basiq user id; empty creates a new user")
	fs.StringVar(&cfg.email, "email", "gavin@hooli.example", "email of the user created when -user is empty")
	fs.StringVar(&cfg.login, "login", "gavinBelson", "login id, for institutions with user authorization")
	fs.StringVar(&cfg.password, "password", "hooli2016", "password, for institutions with user authorization")
	fs.StringVar(&cfg.userToken, "user-token", "", "user token, for institutions with token authorization (-login and -password are then not sent)")
	fs.StringVar(&cfg.mfaCode, "mfa-code", "", "answer to an MFA challenge; empty asks on standard input if the bank asks")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "how long to wait for the connection")
	return cfg, fs.Parse(args)
}

func run(ctx context.Context, args []string, in io.Reader, out io.Writer, apiKey string) error {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	var client *basiq.Client
	var waitOpts []basiq.WaitOption
	if apiKey == "" {
		srv := basiqtest.NewServer(basiqtest.WithStepDuration(400 * time.Millisecond))
		defer srv.Close()
		client = srv.Client()
		waitOpts = append(waitOpts, basiq.WithPollInterval(100*time.Millisecond, 500*time.Millisecond))
		fmt.Fprintf(out, "No %s set: using the in-memory Basiq server at %s\n", basiq.EnvAPIKey, srv.URL)
	} else {
		client, err = basiq.NewClient(basiq.WithAPIKey(apiKey))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Using the Basiq API at %s\n", client.BaseURL())
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	return connect(ctx, client, cfg, bufio.NewReader(in), out, waitOpts)
}

// connect is the flow itself: user, connection, job, accounts, transactions.
func connect(ctx context.Context, client *basiq.Client, cfg config, in *bufio.Reader, out io.Writer, waitOpts []basiq.WaitOption) error {
	userID := cfg.user
	if userID == "" {
		user, err := client.Users.Create(ctx, basiq.UserParams{Email: cfg.email})
		if err != nil {
			return fmt.Errorf("creating a user: %w", err)
		}
		userID = user.ID
		fmt.Fprintf(out, "created user %s\n", userID)
	}

	params := basiq.ConnectionParams{Institution: basiq.InstitutionRef{ID: cfg.institution}}
	if cfg.userToken != "" {
		params.UserToken = cfg.userToken
	} else {
		params.LoginID, params.Password = cfg.login, cfg.password
	}
	start := time.Now()
	job, err := client.Connections.Create(ctx, userID, params)
	if err != nil {
		return fmt.Errorf("creating the connection: %w", err)
	}
	fmt.Fprintf(out, "job %s started (reused: %t)\n", job.ID, job.Reused)

	seen := map[string]basiq.StepStatus{}
	progress := basiq.WithProgress(func(j *basiq.Job) {
		for _, st := range j.Steps {
			if seen[st.Title] != st.Status {
				seen[st.Title] = st.Status
				fmt.Fprintf(out, "%6.1fs  %-22s %s\n", time.Since(start).Seconds(), st.Title, st.Status)
			}
		}
	})
	opts := append([]basiq.WaitOption{progress}, waitOpts...)
	for {
		job, err = client.WaitForJob(ctx, job, opts...)
		var challenge *basiq.MFAChallenge
		if !errors.As(err, &challenge) {
			break
		}
		code, err := mfaAnswer(cfg.mfaCode, challenge, in, out)
		if err != nil {
			return err
		}
		if job, err = client.Jobs.RespondMFA(ctx, job.ID, code); err != nil {
			return fmt.Errorf("answering the MFA challenge: %w", err)
		}
	}
	var jobErr *basiq.JobError
	if errors.As(err, &jobErr) {
		return fmt.Errorf("the bank refused: step %s failed with %s (%s)", jobErr.Step, jobErr.Code, jobErr.Detail)
	}
	if err != nil {
		return err
	}
	connID := job.ConnectionID()
	fmt.Fprintf(out, "connection %s ready after %.1fs\n", connID, time.Since(start).Seconds())

	accounts, err := client.Accounts.List(ctx, userID, &basiq.AccountFilter{ConnectionID: connID})
	if err != nil {
		return fmt.Errorf("listing accounts: %w", err)
	}
	fmt.Fprintf(out, "%d accounts:\n", len(accounts))
	for _, a := range accounts {
		fmt.Fprintf(out, "  %-24s %-12s %12s %s\n", a.Name, a.AccountNo, a.Balance, a.Currency)
	}

	var n int
	var debits int64
	for tx, err := range client.Transactions.List(ctx, userID, &basiq.TransactionFilter{ConnectionID: connID}) {
		if err != nil {
			return fmt.Errorf("listing transactions: %w", err)
		}
		n++
		if cents, err := tx.Amount.MinorUnits(2); err == nil && cents < 0 {
			debits += cents
		}
	}
	fmt.Fprintf(out, "%d transactions, %d.%02d spent\n", n, -debits/100, -debits%100)
	return nil
}

// mfaAnswer returns the -mfa-code flag, or asks on standard input.
func mfaAnswer(code string, ch *basiq.MFAChallenge, in *bufio.Reader, out io.Writer) (string, error) {
	fmt.Fprintf(out, "the bank asks: %s %v\n", ch.Description, ch.Questions)
	if code != "" {
		return code, nil
	}
	fmt.Fprint(out, "code: ")
	line, err := in.ReadString('\n')
	if strings.TrimSpace(line) == "" {
		return "", fmt.Errorf("no MFA answer given (use -mfa-code): %w", err)
	}
	return strings.TrimSpace(line), nil
}
