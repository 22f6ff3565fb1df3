package basiqtest

import (
	"math"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/basiq-go/basiq"
)

// Option configures a [Server]; pass options to [NewServer]. An option
// given a value it cannot use makes NewServer and NewUnstartedServer panic
// with an error matching [basiq.ErrValidation] (a *basiq.ValidationError
// naming the option), as httptest.NewServer panics when it cannot listen:
// a test's set-up is wrong, and it says where.
type Option func(*config) error

// refuse is the error of an option given a value it cannot use.
func refuse(option, reason string) error {
	return &basiq.ValidationError{Field: option, Reason: reason}
}

type config struct {
	apiKey        string
	tokenLifetime time.Duration
	stepDuration  time.Duration
	stepDurations func(institutionID, step string) time.Duration
	txPerAccount  int
	institutions  []Institution

	// Job timing (WithJobTiming, WithoutStats, WithPublishedAverages,
	// WithFailingLoginAfter).
	timing    *JobTiming
	rng       *rand.Rand
	idRng     *rand.Rand // ids, when they must repeat
	noStats   bool
	published func(institutionID, step string) float64
	failAfter time.Duration

	// Basiq 3.0 (WithConsentRedirectURL, WithConsentLifetime).
	consentRedirect string
	consentLifetime time.Duration

	// webhookRetries are the waits before each further delivery of a
	// failed webhook message (WithWebhookRetrySchedule).
	webhookRetries []time.Duration
	// webhookTimeout bounds one delivery attempt (webhookAttemptTimeout;
	// shorter in this package's tests).
	webhookTimeout time.Duration
}

// WithWebhookRetrySchedule sets the waits before each further delivery of a
// webhook message whose delivery failed (a non-2xx answer, no answer within
// 10 s, or no connection), one per retry: after the last, the message is
// given up. The default is [DefaultWebhookRetrySchedule], Basiq's (5 s up to
// 10 h); a test shortens it, as in WithWebhookRetrySchedule(time.Millisecond)
// for one quick retry. No wait, a wait <= 0 or more than 100 waits are
// refused.
func WithWebhookRetrySchedule(waits ...time.Duration) Option {
	return func(c *config) error {
		switch {
		case len(waits) == 0:
			return refuse("webhookRetrySchedule", "give at least one wait")
		case len(waits) > 100:
			return refuse("webhookRetrySchedule", "at most 100 waits")
		}
		for _, d := range waits {
			if d <= 0 {
				return refuse("webhookRetrySchedule", "each wait must be positive")
			}
		}
		c.webhookRetries = append([]time.Duration(nil), waits...)
		return nil
	}
}

// DefaultConsentLifetime is how long a consent lasts when no
// [WithConsentLifetime] option is given: a year, as Basiq's longest.
const DefaultConsentLifetime = 365 * 24 * time.Hour

// WithConsentRedirectURL sets where the stand-in Consent UI sends the
// browser after a submitted form (303 See Other), with jobIds and state
// added to the URL's query, as Basiq's Consent UI redirects to the URL set in
// its dashboard. Without it the browser lands on the server's own
// srv.URL + "/consent/done" page. A URL that is not absolute http or https
// with a host, or that has a fragment, is refused.
func WithConsentRedirectURL(rawURL string) Option {
	return func(c *config) error {
		u, err := url.Parse(rawURL)
		switch {
		case err != nil:
			return refuse("consentRedirectURL", "is not a URL: give your app's callback, such as http://127.0.0.1:8080/callback")
		case u.Scheme != "http" && u.Scheme != "https":
			return refuse("consentRedirectURL", "must be an absolute http or https URL, such as http://127.0.0.1:8080/callback")
		case u.Host == "":
			return refuse("consentRedirectURL", "must have a host, such as http://127.0.0.1:8080/callback")
		case u.Fragment != "" || strings.Contains(rawURL, "#"):
			return refuse("consentRedirectURL", "must not have a fragment: remove what follows #")
		}
		c.consentRedirect = rawURL
		return nil
	}
}

// WithConsentLifetime sets how long a consent lasts before its status is
// "expired" (default [DefaultConsentLifetime]). A d <= 0 is refused.
func WithConsentLifetime(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return refuse("consentLifetime", "must be positive: give a duration such as 24 * time.Hour")
		}
		c.consentLifetime = d
		return nil
	}
}

// WithAPIKey sets the API key POST /token accepts (default [DefaultAPIKey]).
// The key must arrive exactly as given, as the SDK sends it. An empty key is
// refused.
func WithAPIKey(key string) Option {
	return func(c *config) error {
		if strings.TrimSpace(key) == "" {
			return refuse("apiKey", "must not be blank: give any non-blank key, or leave the option out for the default")
		}
		c.apiKey = key
		return nil
	}
}

// WithTokenLifetime sets how long access tokens live (default
// [DefaultTokenLifetime]). POST /token reports it in expires_in as whole
// seconds, at least 1; the token itself expires after exactly d. A d <= 0
// is refused.
func WithTokenLifetime(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return refuse("tokenLifetime", "must be positive: give a duration such as time.Hour")
		}
		c.tokenLifetime = d
		return nil
	}
}

// WithStepDuration sets how long each timed job step (verify-credentials,
// retrieve-accounts, retrieve-transactions) takes (default
// [DefaultStepDuration]). Zero makes jobs finish as soon as they start; a
// negative d is refused.
func WithStepDuration(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return refuse("stepDuration", "must not be negative: give 0 for steps that end at once")
		}
		c.stepDuration = d
		return nil
	}
}

// WithStepDurations sets the duration of each job step per institution and
// step title ("verify-credentials", "retrieve-accounts",
// "retrieve-transactions"; "retrieve-meta" for the institution's stats
// only). A result <= 0 falls back to [WithStepDuration]'s. fn is called
// with the server locked when a job starts and when institutions are read:
// it must not call the server. A nil fn is refused.
func WithStepDurations(fn func(institutionID, step string) time.Duration) Option {
	return func(c *config) error {
		if fn == nil {
			return refuse("stepDurations", "must not be nil: give a function, or use WithStepDuration")
		}
		c.stepDurations = fn
		return nil
	}
}

// WithTransactionsPerAccount sets how many transactions each account gets
// when its connection's retrieve-transactions step first succeeds (default
// [DefaultTransactionsPerAccount]). A negative n is refused.
func WithTransactionsPerAccount(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return refuse("transactionsPerAccount", "must not be negative: give 0 for accounts without transactions")
		}
		c.txPerAccount = n
		return nil
	}
}

// WithInstitutions adds institutions to the sandbox ones; one with the id of
// a sandbox institution replaces it. An added institution behaves by its
// Authorization like the sandbox bank of that kind: the sandbox logins work
// at user kinds, [SandboxUserToken] at token kinds, and MFA kinds ask for
// [MFACode]. An institution without an id is refused.
func WithInstitutions(extra ...Institution) Option {
	return func(c *config) error {
		for _, in := range extra {
			if strings.TrimSpace(in.ID) == "" {
				return refuse("institutions", "holds an institution without an id: give each one an id, such as AU00000")
			}
		}
		c.institutions = append(c.institutions, extra...)
		return nil
	}
}

// duration returns the duration of step at institution inst.
func (c *config) duration(inst, step string) time.Duration {
	if c.stepDurations != nil {
		if d := c.stepDurations(inst, step); d > 0 {
			return d
		}
	}
	return c.stepDuration
}

// JobTiming draws each job's step durations around the averages the server
// publishes, for [WithJobTiming]. The published averages stay those of
// [WithStepDuration] and [WithStepDurations]; the jobs' real durations depart
// from them as set here, so a client can be tested against banks whose
// statistics are right on average, biased, or unrelated to the jobs.
type JobTiming struct {
	// Seed makes the draws repeatable: two servers with the same options
	// that start the same jobs in the same order draw the same durations.
	Seed uint64
	// Scale multiplies every step's duration: 2 makes jobs run at half the
	// published pace (twice as long), 0.5 at twice the pace. Zero counts
	// as 1; a Scale below 0 or above 1000 is refused.
	Scale float64
	// Spread is the sigma of a log-normal factor, rescaled to mean 1, drawn
	// for each step of each job separately (0.35 makes a step's duration
	// vary by about ±35%). Zero draws no factor; a Spread below 0 or above
	// 3 is refused.
	Spread float64
	// TotalMin and TotalMax, when TotalMax > 0, ignore the averages' sum:
	// each job's total is drawn uniformly between them and shared among its
	// steps in the proportions of the averages (after Spread). Negative
	// bounds, or TotalMin above a positive TotalMax, are refused.
	TotalMin, TotalMax time.Duration
}

// Bounds on JobTiming, so that no draw overflows a time.Duration.
const (
	maxTimingScale  = 1000
	maxTimingSpread = 3
)

// WithJobTiming makes each job's step durations random draws around the
// published averages; see [JobTiming]. Without it every job's steps take
// exactly the published averages. [Server.JobPlan] reports what each job
// drew. The server's ids (users, connections, jobs...) are then drawn from
// the same seed too, so a run that makes the same requests in the same order
// repeats exactly.
func WithJobTiming(t JobTiming) Option {
	return func(c *config) error {
		switch {
		case t.Scale < 0 || t.Scale > maxTimingScale || math.IsNaN(t.Scale):
			return refuse("jobTiming", "has a Scale outside 0 to 1000: give 1 (or 0) for the published averages")
		case t.Spread < 0 || t.Spread > maxTimingSpread || math.IsNaN(t.Spread):
			return refuse("jobTiming", "has a Spread outside 0 to 3: give 0 for no spread")
		case t.TotalMin < 0 || t.TotalMax < 0 || (t.TotalMax > 0 && t.TotalMin > t.TotalMax):
			return refuse("jobTiming", "needs 0 <= TotalMin <= TotalMax: give a TotalMin no larger than TotalMax, or 0 for no bound")
		}
		if t.Scale == 0 {
			t.Scale = 1
		}
		c.timing = &t
		c.rng = rand.New(rand.NewPCG(t.Seed, 0x9e3779b97f4a7c15))
		c.idRng = rand.New(rand.NewPCG(t.Seed, 0x2545f4914f6cdd1d))
		return nil
	}
}

// WithoutStats makes institutions publish no statistics ("stats": null), as
// some real institutions do. Jobs still take the durations set by the other
// options.
func WithoutStats() Option {
	return func(c *config) error {
		c.noStats = true
		return nil
	}
}

// WithPublishedAverages overrides the averages institutions publish in
// stats.averageDurationMs, in milliseconds, per institution and step title
// ("verify-credentials", "retrieve-accounts", "retrieve-transactions",
// "retrieve-meta"), without changing how long jobs take: use it to publish
// wrong or absurd averages (an hour, 1e308, zero, negative). A value that
// JSON cannot carry (NaN, ±Inf) is published as 0. fn is called with the
// server locked: it must not call the server. A nil fn is refused.
func WithPublishedAverages(fn func(institutionID, step string) float64) Option {
	return func(c *config) error {
		if fn == nil {
			return refuse("publishedAverages", "must not be nil: give a function, or leave the option out")
		}
		c.published = fn
		return nil
	}
}

// WithFailingLoginAfter makes verify-credentials of a job whose credentials
// are wrong ([LoginBighead], an unknown login, a bad user token...) fail d
// after the job starts, instead of after the step's usual duration. Zero
// keeps the usual duration; a negative d is refused.
func WithFailingLoginAfter(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return refuse("failingLoginAfter", "must not be negative: give 0 to keep the step's usual duration")
		}
		c.failAfter = d
		return nil
	}
}

// jobDurations draws the durations of a job's timed steps at inst; the
// server's lock must be held (the draws share one generator).
func (c *config) jobDurations(inst string) (verify, accounts, transactions time.Duration) {
	base := [3]time.Duration{c.duration(inst, stepVerify), c.duration(inst, stepAccounts), c.duration(inst, stepTransactions)}
	t := c.timing
	if t == nil {
		return base[0], base[1], base[2]
	}
	var out [3]float64
	var sum, baseSum float64
	for i, d := range base {
		f := t.Scale
		if t.Spread > 0 {
			f *= math.Exp(c.rng.NormFloat64()*t.Spread - t.Spread*t.Spread/2)
		}
		out[i] = float64(d) * f
		sum += out[i]
		baseSum += float64(d)
	}
	if t.TotalMax > 0 && baseSum > 0 {
		lo, hi := float64(min(t.TotalMin, t.TotalMax)), float64(t.TotalMax)
		total := lo + c.rng.Float64()*(hi-lo)
		if sum <= 0 {
			sum = 1
		}
		for i := range out {
			out[i] *= total / sum
		}
	}
	round := func(f float64) time.Duration { return time.Duration(math.Round(f/1e6) * 1e6) }
	return round(out[0]), round(out[1]), round(out[2])
}

// publishedMs is the average institution inst publishes for step, in
// milliseconds.
func (c *config) publishedMs(inst, step string) float64 {
	if c.published != nil {
		v := c.published(inst, step)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		return v
	}
	return float64(c.duration(inst, step)) / 1e6
}
