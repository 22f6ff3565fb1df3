// Command consent runs Basiq 3.0's consent flow: create a user, send them to
// the Consent UI, receive the redirect back with the ids of the jobs it
// started, wait for those jobs, then list the accounts, transactions and
// consents.
//
// Without BASIQ_API_KEY it runs against basiqtest, the SDK's in-memory Basiq
// server, and plays the customer itself: it opens the stand-in Consent UI,
// submits it with a sandbox login and follows the redirect to its own
// loopback listener, printing each step. With BASIQ_API_KEY set it talks to
// the live API: it prints the Consent UI link for you to open in a browser
// and waits for the redirect on a loopback listener (set the redirect URL in
// Basiq's dashboard to the address it prints).
//
//	go run ./examples/consent
//	go run ./examples/consent -login bighead -password password   # a failing login
//	BASIQ_API_KEY=... go run ./examples/consent -listen 127.0.0.1:8765
//	go run ./examples/consent -h
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Getenv(basiq.EnvAPIKey)); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "consent:", err)
		}
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	institution, email, login, password, listen string
	timeout                                     time.Duration
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("consent", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: go run ./examples/consent [flags]\n\n"+
			"Runs Basiq 3.0's consent flow. Without %s the in-memory server basiqtest\n"+
			"plays the API and this command plays the customer; with it, the live API is\n"+
			"used and you open the Consent UI link yourself.\n\nFlags:\n", basiq.EnvAPIKey)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.institution, "institution", basiqtest.InstHooli, "institution chosen in the stand-in Consent UI (no key only)")
	fs.StringVar(&cfg.email, "email", "gavin@hooli.example", "email of the user created")
	fs.StringVar(&cfg.login, "login", basiqtest.LoginGavinBelson, "login typed into the stand-in Consent UI (no key only)")
	fs.StringVar(&cfg.password, "password", basiqtest.PasswordGavinBelson, "password typed into the stand-in Consent UI (no key only)")
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8765", "loopback address of the redirect listener (with a key; the redirect URL is http://<listen>/callback)")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "how long to wait for the customer and the jobs")
	return cfg, fs.Parse(args)
}

func run(ctx context.Context, args []string, out io.Writer, apiKey string) error {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	listen := cfg.listen
	if apiKey == "" {
		listen = "127.0.0.1:0"
	}
	back, callback, err := listenForRedirect(ctx, listen)
	if err != nil {
		return err
	}

	var client *basiq.Client
	var waitOpts []basiq.WaitOption
	var srv *basiqtest.Server
	if apiKey == "" {
		srv = basiqtest.NewServer(basiqtest.WithStepDuration(300*time.Millisecond), basiqtest.WithConsentRedirectURL(callback))
		defer srv.Close()
		client = srv.Client(basiq.WithVersion("3.0"), basiq.WithConsentBaseURL(srv.URL+"/consent/home"))
		waitOpts = append(waitOpts, basiq.WithPollInterval(100*time.Millisecond, 500*time.Millisecond))
		fmt.Fprintf(out, "No %s set: using the in-memory Basiq server at %s\n", basiq.EnvAPIKey, srv.URL)
	} else {
		client, err = basiq.NewClient(basiq.WithAPIKey(apiKey), basiq.WithVersion("3.0"))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Using the Basiq API at %s\n", client.BaseURL())
	}

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: cfg.email})
	if err != nil {
		return fmt.Errorf("creating a user: %w", err)
	}
	fmt.Fprintf(out, "created user %s\n", user.ID)

	state := fmt.Sprintf("example-%d", time.Now().UnixNano())
	link, err := client.ConsentURL(ctx, user.ID, basiq.ConsentLinkParams{State: state})
	if err != nil {
		return fmt.Errorf("making the Consent UI link: %w", err)
	}
	if srv != nil {
		fmt.Fprintln(out, "opening the stand-in Consent UI as the customer's browser would")
		if err := playCustomer(ctx, srv.URL+"/consent/home", link, cfg); err != nil {
			return err
		}
		fmt.Fprintf(out, "submitted the Consent UI form for %s at %s\n", cfg.login, cfg.institution)
	} else {
		// The link carries a client token for this user until it expires:
		// it is printed here for you to open, not logged.
		fmt.Fprintf(out, "Set the redirect URL in Basiq's dashboard to %s, then open this link in a browser:\n\n  %s\n\nwaiting for the redirect...\n", callback, link)
	}

	var u *url.URL
	select {
	case u = <-back:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the redirect: %w", ctx.Err())
	}
	redirect, err := basiq.ParseConsentRedirect(u)
	if err != nil {
		return fmt.Errorf("reading the redirect: %w", err)
	}
	if redirect.State != state {
		return errors.New("the redirect's state is not the one sent: not our customer")
	}
	fmt.Fprintf(out, "redirected back with jobs %v\n", redirect.JobIDs)

	start := time.Now()
	seen := map[string]basiq.StepStatus{}
	progress := basiq.WithProgress(func(j *basiq.Job) {
		for _, st := range j.Steps {
			if key := j.ID + "/" + st.Title; seen[key] != st.Status {
				seen[key] = st.Status
				fmt.Fprintf(out, "%6.1fs  job %s  %-22s %s\n", time.Since(start).Seconds(), j.ID, st.Title, st.Status)
			}
		}
	})
	_, err = client.WaitForJobs(ctx, redirect.JobIDs, append([]basiq.WaitOption{progress}, waitOpts...)...)
	var jobErr *basiq.JobError
	if errors.As(err, &jobErr) {
		return fmt.Errorf("the bank refused: step %s failed with %s (%s)", jobErr.Step, jobErr.Code, jobErr.Detail)
	}
	if err != nil {
		return fmt.Errorf("waiting for the jobs: %w", err)
	}
	return listData(ctx, client, user.ID, out)
}

// listData prints the user's accounts, transaction count and consents.
func listData(ctx context.Context, client *basiq.Client, userID string, out io.Writer) error {
	accounts, err := client.Accounts.List(ctx, userID, nil)
	if err != nil {
		return fmt.Errorf("listing accounts: %w", err)
	}
	fmt.Fprintf(out, "%d accounts:\n", len(accounts))
	for _, a := range accounts {
		fmt.Fprintf(out, "  %-24s %-12s %12s %s\n", a.Name, a.AccountNo, a.Balance, a.Currency)
	}
	n := 0
	for _, err := range client.Transactions.List(ctx, userID, nil) {
		if err != nil {
			return fmt.Errorf("listing transactions: %w", err)
		}
		n++
	}
	fmt.Fprintf(out, "%d transactions\n", n)
	consents, err := client.Consents.List(ctx, userID)
	if err != nil {
		return fmt.Errorf("listing consents: %w", err)
	}
	for _, c := range consents {
		fmt.Fprintf(out, "consent %s %s, expires %s\n", c.ID, c.Status, c.ExpiryDate.Format(time.DateOnly))
	}
	return nil
}

// listenForRedirect serves http://<addr>/callback on a loopback address
// until ctx ends, and sends the first redirect's URL on the channel. It
// returns the callback's URL.
func listenForRedirect(ctx context.Context, addr string) (<-chan *url.URL, string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("-listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, "", fmt.Errorf("-listen %q: the redirect listener takes loopback addresses only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	back := make(chan *url.URL, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		select {
		case back <- r.URL:
		default:
		}
		_, _ = io.WriteString(w, "Thank you: you can close this page.\n")
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	return back, "http://" + ln.Addr().String() + "/callback", nil
}

// hiddenInput matches the hidden inputs of the stand-in Consent UI's form.
var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// playCustomer opens the stand-in Consent UI link, fills in its form and
// submits it, following the redirect to the listener as a browser would.
func playCustomer(ctx context.Context, formURL, link string, cfg config) error {
	browser := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return err
	}
	res, err := browser.Do(req)
	if err != nil {
		return fmt.Errorf("opening the Consent UI: %w", err)
	}
	page, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		return fmt.Errorf("opening the Consent UI: status %d", res.StatusCode)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	form.Set("institutionId", cfg.institution)
	form.Set("loginId", cfg.login)
	form.Set("password", cfg.password)
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, formURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = browser.Do(req)
	if err != nil {
		return fmt.Errorf("submitting the Consent UI: %w", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("submitting the Consent UI: status %d", res.StatusCode)
	}
	return nil
}
