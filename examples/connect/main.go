// Command connect runs the SDK's main flow: create a user, connect their bank,
// wait for the connection's job while printing each step as it changes, then
// list the accounts and the newest transactions.
//
// Without BASIQ_API_KEY it runs against basiqtest, the SDK's in-memory Basiq
// server, so it needs no key and no network. Its steps then take a few
// seconds each, as the live API's do, and the client waits with its default
// schedule, so what you see is what the live API gives; -fast makes the
// steps short and the polls frequent, for CI. With BASIQ_API_KEY set it
// talks to the live API, and deletes the user it created at the end unless
// -keep is given; Ctrl-C stops the run and still deletes it.
//
//	go run ./examples/connect
//	go run ./examples/connect -fast
//	go run ./examples/connect -login bighead -password password   # a failing login
//	go run ./examples/connect -institution AU00003 -mfa-code 1234  # a bank that asks for MFA
//	go run ./examples/connect -institution AU00001 -security-code 1234
//	go run ./examples/connect -institution AU00002 -secondary-login 12345678
//	go run ./examples/connect -h
//
// It exits 0 on success and with -h, 1 when the flow fails, and 2 on bad
// flags or arguments.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

func main() {
	// Ctrl-C ends the run's context, so the user it created is still
	// deleted; a second Ctrl-C stops the program at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv(basiq.EnvAPIKey))
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage marks bad flags or arguments: the usage was printed.
var errUsage = errors.New("usage")

// exitCode reports err on errOut and returns the exit status: 0 for
// success and for -h, 2 for a usage error, 1 otherwise.
func exitCode(err error, errOut io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(errOut, "connect:", err)
	return 1
}

// config is what the flags set.
type config struct {
	institution, user, email            string
	login, password, userToken, mfaCode string
	securityCode, secondaryLogin        string
	baseURL                             string
	timeout                             time.Duration
	keep, fast                          bool
}

// The durations of the in-memory server's job steps without -fast: a few
// seconds each, as the live API's take (Basiq's jobs take 3 to 30 s).
var realisticSteps = map[string]time.Duration{
	"verify-credentials":    3 * time.Second,
	"retrieve-accounts":     2 * time.Second,
	"retrieve-transactions": 4 * time.Second,
}

// sandbox returns the options of the in-memory server and of its client:
// steps of a few seconds and the client's default wait schedule, or, when
// fast, short steps and frequent polls.
func sandbox(fast bool) ([]basiqtest.Option, []basiq.Option) {
	if !fast {
		return []basiqtest.Option{basiqtest.WithStepDurations(func(_, step string) time.Duration { return realisticSteps[step] })}, nil
	}
	// Every wait of this client polls often: no option needs passing to
	// the code that waits.
	return []basiqtest.Option{basiqtest.WithStepDuration(400 * time.Millisecond)},
		[]basiq.Option{basiq.WithWaitDefaults(basiq.WithPollInterval(100*time.Millisecond, 500*time.Millisecond))}
}

// newFlagSet returns the flags, writing into cfg.
func newFlagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the usage itself, to the right stream
	fs.Usage = func() {}
	fs.StringVar(&cfg.institution, "institution", basiqtest.InstHooli, "institution id (AU00000 is the sandbox Hooli Bank)")
	fs.StringVar(&cfg.user, "user", "", "existing Basiq user id; empty creates a new user")
	fs.StringVar(&cfg.email, "email", "gavin@hooli.example", "email of the user created when -user is empty")
	fs.StringVar(&cfg.login, "login", "gavinBelson", "login id, for institutions with user authorization")
	fs.StringVar(&cfg.password, "password", "hooli2016", "password, for institutions with user authorization")
	fs.StringVar(&cfg.securityCode, "security-code", "", "security code, for institutions that ask for one (sandbox AU00001)")
	fs.StringVar(&cfg.secondaryLogin, "secondary-login", "", "secondary login id, for institutions that ask for one (sandbox AU00002)")
	fs.StringVar(&cfg.userToken, "user-token", "", "user token, for institutions with token authorization (-login and -password are then not sent)")
	fs.StringVar(&cfg.mfaCode, "mfa-code", "", "answer to an MFA challenge; empty asks on standard input if the bank asks")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "how long to wait for the connection")
	fs.BoolVar(&cfg.keep, "keep", false, "with "+basiq.EnvAPIKey+": keep the user this run created (by default it is deleted at the end)")
	fs.BoolVar(&cfg.fast, "fast", false, "without "+basiq.EnvAPIKey+": short job steps and frequent polls, for CI")
	fs.StringVar(&cfg.baseURL, "base-url", basiq.DefaultBaseURL, "with "+basiq.EnvAPIKey+": the API's base URL")
	return fs
}

// usage prints how to call the command and its flags.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: go run ./examples/connect [flags]\n\n"+
		"Connects a bank for a Basiq user and waits for the data. Without %s the\n"+
		"in-memory server basiqtest plays the API; with it, the live API is used.\n\nFlags:\n", basiq.EnvAPIKey)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parseFlags reads args. -h prints the usage to out and returns
// flag.ErrHelp; a bad flag or any argument left over prints the problem and
// the usage to errOut and returns an error matching errUsage.
func parseFlags(args []string, out, errOut io.Writer) (config, error) {
	var cfg config
	fs := newFlagSet(&cfg)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(out, fs)
		return cfg, err
	case err != nil:
		fmt.Fprintln(errOut, "connect:", err)
		usage(errOut, fs)
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	case fs.NArg() > 0:
		fmt.Fprintf(errOut, "connect: unexpected argument %q: the command takes flags only\n", fs.Arg(0))
		usage(errOut, fs)
		return cfg, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer, apiKey string) (err error) {
	cfg, err := parseFlags(args, out, errOut)
	if err != nil {
		return err
	}
	var client *basiq.Client
	live := apiKey != ""
	if !live {
		srvOpts, clientOpts := sandbox(cfg.fast)
		srv := basiqtest.NewServer(srvOpts...)
		defer srv.Close()
		client = srv.Client(clientOpts...)
		fmt.Fprintf(out, "No %s set: using the in-memory Basiq server at %s\n", basiq.EnvAPIKey, srv.URL)
	} else {
		client, err = basiq.NewClient(basiq.WithAPIKey(apiKey), basiq.WithBaseURL(cfg.baseURL))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Using the Basiq API at %s\n", client.BaseURL())
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	userID := cfg.user
	if userID == "" {
		user, createErr := client.Users.Create(ctx, basiq.UserParams{Email: cfg.email})
		if createErr != nil {
			return fmt.Errorf("creating a user: %w", createErr)
		}
		userID = user.ID
		fmt.Fprintf(out, "created user %s\n", userID)
		if live && !cfg.keep {
			defer func() { err = errors.Join(err, deleteUser(ctx, client, userID, out)) }()
		}
	}
	return connect(ctx, client, userID, cfg, in, out)
}

// deleteUser deletes the user this run created, even when ctx has ended.
func deleteUser(ctx context.Context, client *basiq.Client, userID string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := client.Users.Delete(ctx, userID); err != nil {
		return fmt.Errorf("deleting user %s (use -keep to keep it): %w", userID, err)
	}
	fmt.Fprintf(out, "deleted user %s (use -keep to keep it)\n", userID)
	return nil
}

// connect is the flow itself: connection, job, accounts, transactions.
func connect(ctx context.Context, client *basiq.Client, userID string, cfg config, in io.Reader, out io.Writer) error {
	params := basiq.ConnectionParams{Institution: basiq.InstitutionRef{ID: cfg.institution}}
	if cfg.userToken != "" {
		params.UserToken = cfg.userToken
	} else {
		params.LoginID, params.Password = cfg.login, cfg.password
		params.SecurityCode, params.SecondaryLoginID = cfg.securityCode, cfg.secondaryLogin
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
	stdin := bufio.NewReader(in)
	for {
		job, err = client.WaitForJob(ctx, job, progress)
		var challenge *basiq.MFAChallenge
		if !errors.As(err, &challenge) {
			break
		}
		code, err := mfaAnswer(ctx, cfg.mfaCode, challenge, stdin, echoes(in), out)
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

	const shown = 8
	var n int
	var debits int64
	for tx, err := range client.Transactions.List(ctx, userID, &basiq.TransactionFilter{ConnectionID: connID}) {
		if err != nil {
			return fmt.Errorf("listing transactions: %w", err)
		}
		if n < shown {
			if n == 0 {
				fmt.Fprintln(out, "newest transactions:")
			}
			fmt.Fprintf(out, "  %-10s %12s  %s\n", postDate(tx), tx.Amount, tx.Description)
		}
		n++
		if cents, err := tx.Amount.MinorUnits(2); err == nil && cents < 0 {
			debits += cents
		}
	}
	fmt.Fprintf(out, "%d transactions, %d.%02d spent\n", n, -debits/100, -debits%100)
	return nil
}

// postDate is the day tx was posted, or "pending" for a transaction not
// posted yet (whose PostDate is zero).
func postDate(tx basiq.Transaction) string {
	if tx.PostDate.IsZero() {
		return "pending"
	}
	return tx.PostDate.Format(time.DateOnly)
}

// echoes reports whether in is a terminal, which echoes what is typed,
// line break included.
func echoes(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// mfaAnswer returns the -mfa-code flag, or asks on standard input. The
// prompt starts on its own line, and what follows it does too, whether or
// not the input echoes the answer's line break. The end of ctx (Ctrl-C)
// stops the wait for an answer.
func mfaAnswer(ctx context.Context, code string, ch *basiq.MFAChallenge, in *bufio.Reader, echoed bool, out io.Writer) (string, error) {
	fmt.Fprintf(out, "the bank asks: %s %v\n", ch.Description, ch.Questions)
	if code != "" {
		return code, nil
	}
	fmt.Fprint(out, "code: ")
	type answer struct {
		line string
		err  error
	}
	answers := make(chan answer, 1)
	go func() { // left blocked on the terminal if ctx ends first
		line, err := in.ReadString('\n')
		answers <- answer{line, err}
	}()
	var line string
	var err error
	select {
	case a := <-answers:
		line, err = a.line, a.err
	case <-ctx.Done():
		fmt.Fprintln(out)
		return "", fmt.Errorf("no MFA answer given: %w", context.Cause(ctx))
	}
	if !echoed {
		fmt.Fprintln(out)
	}
	if strings.TrimSpace(line) == "" {
		return "", fmt.Errorf("no MFA answer given (use -mfa-code): %w", err)
	}
	return strings.TrimSpace(line), nil
}
