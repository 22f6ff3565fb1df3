package basiq

import (
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Option configures a [Client]; pass options to [NewClient]. An option given
// a value it cannot use makes NewClient fail with an error matching
// [ErrValidation].
type Option func(*clientOptions) error

// clientOptions is what the options passed to NewClient set; NewClient
// builds the Client from it and keeps only what it uses at run time.
type clientOptions struct {
	apiKey       string
	baseURL      *url.URL
	httpClient   *http.Client
	version      string
	userAgent    string
	retryMax     int
	retryMin     time.Duration
	retryMaxWait time.Duration
	logger       *slog.Logger
	consentURL   *url.URL
	waitDefaults []WaitOption
}

// WithAPIKey sets the API key, exactly as the Basiq dashboard issues it. It is
// sent only to POST /token on the base URL, to obtain access tokens. Without
// this option the key is read from the BASIQ_API_KEY environment variable.
func WithAPIKey(key string) Option {
	return func(c *clientOptions) error {
		if strings.TrimSpace(key) == "" {
			return &ValidationError{Field: "apiKey", Reason: "must not be empty: give the key the Basiq dashboard issued"}
		}
		c.apiKey = key
		return nil
	}
}

// WithBaseURL sets the API's base URL (default [DefaultBaseURL]). It may carry a
// path prefix, such as a proxy's "https://proxy.example/basiq/". The scheme must
// be https, except for loopback hosts (127.0.0.1, ::1, localhost), where http is
// accepted for tests and local proxies.
func WithBaseURL(rawURL string) Option {
	return func(c *clientOptions) error {
		u, err := parseBaseURL(rawURL)
		if err != nil {
			return err
		}
		c.baseURL = u
		return nil
	}
}

// WithHTTPClient sets the HTTP client whose transport, timeout and cookie jar the
// Client uses. The Client works on a copy and adds its own redirect policy:
// redirects outside the base URL (another origin, or a path outside its prefix)
// and redirects of the token request or of a request carrying a bank password
// or MFA answer are not followed (the call ends with a [*RedirectError]), so
// credentials never leave the base URL. The default is a client with a 60 s
// timeout per attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *clientOptions) error {
		if hc == nil {
			return &ValidationError{Field: "httpClient", Reason: "must not be nil: give an *http.Client, or leave the option out for the default"}
		}
		c.httpClient = hc
		return nil
	}
}

// WithVersion sets the API version: the basiq-version header sent with every
// request and with every token request, which fixes the version of the
// tokens (default [DefaultVersion], "2.0"; "2.1" adds the MFA endpoints).
// "3.0" selects Basiq's consent flow: connections are made through the
// Consent UI ([Client.ConsentURL]) and [ConnectionsService.Create],
// [ConnectionsService.Update] and the [InstitutionsService] calls are refused
// before any request, with an error matching [errors.ErrUnsupported].
func WithVersion(v string) Option {
	return func(c *clientOptions) error {
		if strings.TrimSpace(v) == "" {
			return &ValidationError{Field: "version", Reason: "must not be empty: give an API version such as \"2.1\" or \"3.0\", or leave the option out for the default"}
		}
		c.version = v
		return nil
	}
}

// WithConsentBaseURL sets the address of Basiq's Consent UI that
// [Client.ConsentURL] links to (default [DefaultConsentURL]), for a test
// stand-in or a proxy. Like [WithBaseURL], the scheme must be https, except
// for loopback hosts, where http is accepted; it may not carry user
// information, a query or a fragment.
func WithConsentBaseURL(rawURL string) Option {
	return func(c *clientOptions) error {
		u, err := parseConsentURL(rawURL)
		if err != nil {
			return err
		}
		c.consentURL = u
		return nil
	}
}

// WithMaxRetries sets how many times a request that is safe to repeat is tried
// again after a network error or a 429, 500, 502, 503 or 504 answer (default 3).
// Zero turns retries off. A request carrying a bank password
// ([ConnectionsService.Create], [ConnectionsService.Update]) is repeated
// within this budget only after an answer showing it was not processed, and
// once more at most after an unknown outcome.
func WithMaxRetries(n int) Option {
	return func(c *clientOptions) error {
		if n < 0 {
			return &ValidationError{Field: "maxRetries", Reason: "must not be negative: give 0 to turn retries off"}
		}
		c.retryMax = n
		return nil
	}
}

// WithRetryWait sets the bounds of the wait between retries (default 500 ms to
// 10 s). Waits grow exponentially from min with jitter and never exceed max.
// A Retry-After header on a 429 or 503 answer is obeyed instead, even when it
// is longer than max: the retry waits at least that long (and at least min,
// so "0" or a date already past waits min), up to a ceiling of 60 seconds
// and never past the context's deadline. When the server asks for longer
// than that, the call returns the *APIError at once, without retrying, with
// [APIError.RetryAfter] set.
func WithRetryWait(min, max time.Duration) Option {
	return func(c *clientOptions) error {
		if min <= 0 || max < min {
			return &ValidationError{Field: "retryWait", Reason: "needs 0 < min <= max: give a positive min no larger than max"}
		}
		c.retryMin, c.retryMaxWait = min, max
		return nil
	}
}

// WithLogger sets a structured logger for request-level debug records (method,
// path, status, timing, retries). Without it, or with nil, the library logs
// nothing. Records never carry headers, bodies, credentials or tokens.
func WithLogger(l *slog.Logger) Option {
	return func(c *clientOptions) error {
		c.logger = l
		return nil
	}
}

// WithUserAgent sets the User-Agent header (default "basiq-go/" + [Version]).
func WithUserAgent(ua string) Option {
	return func(c *clientOptions) error {
		if strings.TrimSpace(ua) == "" {
			return &ValidationError{Field: "userAgent", Reason: "must not be empty: leave the option out for the default"}
		}
		c.userAgent = ua
		return nil
	}
}

// WithWaitDefaults sets wait options every [Client.WaitForJob] and
// [Client.WaitForJobs] call of the Client starts from, so that, for example,
// an application's tests make every wait fast
// (WithWaitDefaults(WithPollInterval(time.Millisecond, 10*time.Millisecond)))
// without passing options through the application's code. The options a
// call gives are applied after these and override them. Nil options are
// skipped; a bad option makes NewClient fail with its *ValidationError
// (matching [ErrValidation]). Given twice, the later replaces the earlier.
func WithWaitDefaults(opts ...WaitOption) Option {
	return func(c *clientOptions) error {
		var probe waitConfig
		kept := make([]WaitOption, 0, len(opts))
		for _, o := range opts {
			if o != nil {
				o(&probe)
				kept = append(kept, o)
			}
		}
		if err := joinValidation(probe.errs); err != nil {
			return err
		}
		c.waitDefaults = kept
		return nil
	}
}

// WaitOption configures one [Client.WaitForJob] call or, through
// [WithWaitDefaults], every wait of a Client. An option given a value it
// cannot use makes WaitForJob return an error matching [ErrValidation]
// before any request (NewClient, when given to WithWaitDefaults).
type WaitOption func(*waitConfig)

type waitConfig struct {
	minInterval, maxInterval time.Duration
	fixedBounds              bool
	expected                 *StepDurations
	progress                 func(*Job)
	untilStep                string
	errs                     []error
}

// refuse records a bad option value.
func (w *waitConfig) refuse(field, reason string) {
	w.errs = append(w.errs, &ValidationError{Field: field, Reason: reason})
}

// WithPollInterval replaces WaitForJob's default schedule with a plain
// backoff: the wait between polls starts at min, grows by half while no step
// changes, with jitter, comes back to min on a change, and never exceeds max.
// Like the default schedule it polls once just before the context's
// deadline rather than sleep through it.
func WithPollInterval(min, max time.Duration) WaitOption {
	return func(w *waitConfig) {
		if min <= 0 || max < min {
			w.refuse("pollInterval", "needs 0 < min <= max: give a positive min no larger than max")
			return
		}
		w.minInterval, w.maxInterval, w.fixedBounds = min, max, true
	}
}

// WithExpectedDurations gives WaitForJob the average durations of the job's
// steps (an institution's Stats.AverageDurationMs), in place of those the
// job's institution publishes. WaitForJob finds the institution by itself
// (from [Job.Institution] or the job's connection), so this is for durations
// the caller knows better. A negative or non-finite duration is refused; a
// step of zero or of more than a few minutes counts as unknown, and the
// job's own pace corrects the rest.
func WithExpectedDurations(d StepDurations) WaitOption {
	return func(w *waitConfig) {
		for _, ms := range []float64{d.VerifyCredentials, d.RetrieveAccounts, d.RetrieveTransactions, d.RetrieveMeta, d.Total} {
			if ms < 0 || math.IsNaN(ms) || math.IsInf(ms, 0) {
				w.refuse("expectedDurations", "holds a negative or non-finite duration: give milliseconds of 0 or more (0 for a step you do not know)")
				return
			}
		}
		w.expected = &d
	}
}

// WithProgress calls fn with the job each time a step's status changes, from
// the goroutine that called WaitForJob. fn should return quickly. To report
// each change within 2 s, WaitForJob then sleeps at most 1.8 s between
// polls, which costs requests on long jobs (see BENCHMARKS.md).
func WithProgress(fn func(*Job)) WaitOption {
	return func(w *waitConfig) {
		if fn == nil {
			w.refuse("progress", "must not be nil: give a function, or leave the option out")
			return
		}
		w.progress = fn
	}
}

// WithUntilStep makes WaitForJob return as soon as the step with this title has
// succeeded (for example [StepRetrieveAccounts], to show accounts before the
// transactions arrive), instead of waiting for every step. The default
// schedule then aims its polls at that step's end. A title the job does not
// have ends the wait as soon as the job's steps are known (at the first
// read, or at once for a job passed in with its steps), whether or not the
// job is done, with an error matching [ErrValidation] (Field "untilStep")
// rather than a wait for every step or a typo unnoticed.
func WithUntilStep(title string) WaitOption {
	return func(w *waitConfig) {
		if strings.TrimSpace(title) == "" {
			w.refuse("untilStep", "must name a step: give a step title such as StepRetrieveAccounts")
			return
		}
		w.untilStep = title
	}
}
