// Command webhooks receives Basiq's signed notifications while a bank is
// connected: it starts a local receiver (webhook.Handler with the
// subscription's secret), registers it with Client.Webhooks.Create,
// connects a sandbox bank, and prints each notification as it arrives with
// the event it announces (read with Client.Events.Get). It stops once the
// connection is active (exit 0) or invalidated (exit 1).
//
// It runs against basiqtest, the SDK's in-memory Basiq server, which
// delivers webhooks to loopback addresses: no key and no network needed.
// Basiq's own servers cannot reach a loopback receiver (they POST to a
// public https URL), so BASIQ_API_KEY is ignored here; against the live API
// the same three lines (NewVerifier, Handler, Events.Get) serve the public
// URL registered with Webhooks.Create.
//
//	go run ./examples/webhooks
//	go run ./examples/webhooks -login bighead -password password   # connection.invalidated
//	go run ./examples/webhooks -h
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/basiq-go/basiq/webhook"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv(basiq.EnvAPIKey))
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage marks bad flags or arguments: the usage was printed.
var errUsage = errors.New("usage")

// exitCode reports err on errOut and returns the exit status: 0 for
// success and -h, 2 for bad flags, 1 otherwise.
func exitCode(err error, errOut io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(errOut, "webhooks:", err)
	return 1
}

// config is what the flags set.
type config struct {
	institution, login, password string
	step, timeout                time.Duration
}

// parseFlags reads args. -h prints the usage to out and returns
// flag.ErrHelp; bad flags or arguments print it to errOut and return an
// error matching errUsage.
func parseFlags(args []string, out, errOut io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("webhooks", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the usage is printed below, to the right stream
	fs.Usage = func() {}
	fs.StringVar(&cfg.institution, "institution", basiqtest.InstHooli, "institution id (AU00000 is the sandbox Hooli Bank)")
	fs.StringVar(&cfg.login, "login", basiqtest.LoginGavinBelson, "sandbox login id")
	fs.StringVar(&cfg.password, "password", basiqtest.PasswordGavinBelson, "sandbox password")
	fs.DurationVar(&cfg.step, "step", 300*time.Millisecond, "how long each job step takes on the in-memory server")
	fs.DurationVar(&cfg.timeout, "timeout", time.Minute, "how long to wait for the notifications")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: go run ./examples/webhooks [flags]\n\n"+
			"Registers a local webhook receiver on the in-memory Basiq server, connects a\n"+
			"sandbox bank and prints each signed notification as it arrives.\n\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(out)
		return cfg, err
	case err != nil:
		fmt.Fprintln(errOut, err)
		usage(errOut)
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	case fs.NArg() > 0:
		usage(errOut)
		return cfg, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case cfg.step < 0 || cfg.timeout <= 0:
		usage(errOut)
		return cfg, fmt.Errorf("%w: -step must not be negative and -timeout must be positive", errUsage)
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, out, errOut io.Writer, apiKey string) error {
	cfg, err := parseFlags(args, out, errOut)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if apiKey != "" {
		fmt.Fprintf(out, "%s is set but not used: Basiq's servers cannot reach a loopback receiver.\n", basiq.EnvAPIKey)
	}

	// The receiver: a loopback listener whose handler is set once the
	// subscription's secret is known.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	notes := make(chan *webhook.Notification, 64)
	var mu sync.Mutex
	var handler http.Handler = http.NotFoundHandler()
	receiver := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handler
		mu.Unlock()
		h.ServeHTTP(w, r)
	})}
	go func() { _ = receiver.Serve(ln) }()
	defer receiver.Close()

	srv := basiqtest.NewServer(basiqtest.WithStepDuration(cfg.step), basiqtest.WithWebhookRetrySchedule(100*time.Millisecond, time.Second))
	defer srv.Close() // stops the deliveries before the receiver closes
	client := srv.Client()
	fmt.Fprintf(out, "in-memory Basiq server at %s, receiver at http://%s/webhooks\n", srv.URL, ln.Addr())

	hook, err := client.Webhooks.Create(ctx, basiq.WebhookParams{Name: "example", URL: "http://" + ln.Addr().String() + "/webhooks"})
	if err != nil {
		return fmt.Errorf("registering the receiver: %w", err)
	}
	fmt.Fprintf(out, "registered webhook %s (%s)\n", hook.ID, hook.Status)

	// Receiving safely: verify with the subscription's secret, hand the
	// notification on quickly, read the event afterwards.
	v, err := webhook.NewVerifier(hook.SigningSecret())
	if err != nil {
		return err
	}
	mu.Lock()
	handler = webhook.Handler(v, func(ctx context.Context, n *webhook.Notification) error {
		select {
		case notes <- n:
			return nil
		case <-ctx.Done():
			return ctx.Err() // answered 500: Basiq sends it again
		}
	})
	mu.Unlock()

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "gavin@hooli.example"})
	if err != nil {
		return fmt.Errorf("creating a user: %w", err)
	}
	fmt.Fprintf(out, "created user %s\n", user.ID)
	job, err := client.Connections.Create(ctx, user.ID, basiq.ConnectionParams{
		LoginID: cfg.login, Password: cfg.password, Institution: basiq.InstitutionRef{ID: cfg.institution},
	})
	if err != nil {
		return fmt.Errorf("connecting %s: %w", cfg.institution, err)
	}
	fmt.Fprintf(out, "connecting %s (job %s); waiting for notifications, not polling\n", cfg.institution, job.ID)

	start := time.Now()
	seen := map[string]bool{}
	for {
		var n *webhook.Notification
		select {
		case n = <-notes:
		case <-ctx.Done():
			return fmt.Errorf("waiting for notifications: %w", ctx.Err())
		}
		if seen[n.ID] {
			continue // a retry of a message already handled
		}
		seen[n.ID] = true
		ev, err := client.Events.Get(ctx, n.EventID)
		if err != nil {
			return fmt.Errorf("reading event %s: %w", n.EventID, err)
		}
		fmt.Fprintf(out, "%6.2fs  %-22s event %s (%s %s, user %s)\n", time.Since(start).Seconds(), n.EventTypeID, ev.ID, ev.Entity, ev.EventType, ev.UserID)
		switch n.EventTypeID {
		case webhook.EventConnectionActivated:
			fmt.Fprintln(out, "the connection is active: done")
			return nil
		case webhook.EventConnectionInvalidated:
			return errors.New("the bank refused the credentials: connection.invalidated")
		}
	}
}
