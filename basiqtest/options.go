package basiqtest

import "time"

// Option configures a [Server]; pass options to [NewServer].
type Option func(*config)

type config struct {
	apiKey        string
	tokenLifetime time.Duration
	stepDuration  time.Duration
	stepDurations func(institutionID, step string) time.Duration
	txPerAccount  int
	institutions  []Institution
}

// WithAPIKey sets the API key POST /token accepts (default [DefaultAPIKey]).
// The key must arrive exactly as given, as the SDK sends it. An empty key
// keeps the default.
func WithAPIKey(key string) Option {
	return func(c *config) {
		if key != "" {
			c.apiKey = key
		}
	}
}

// WithTokenLifetime sets how long access tokens live (default
// [DefaultTokenLifetime]). POST /token reports it in expires_in as whole
// seconds, at least 1; the token itself expires after exactly d. A d <= 0
// keeps the default.
func WithTokenLifetime(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.tokenLifetime = d
		}
	}
}

// WithStepDuration sets how long each timed job step (verify-credentials,
// retrieve-accounts, retrieve-transactions) takes (default
// [DefaultStepDuration]). Zero makes jobs finish as soon as they start; a
// negative d counts as zero.
func WithStepDuration(d time.Duration) Option {
	return func(c *config) { c.stepDuration = max(d, 0) }
}

// WithStepDurations sets the duration of each job step per institution and
// step title ("verify-credentials", "retrieve-accounts",
// "retrieve-transactions"; "retrieve-meta" for the institution's stats
// only). A result <= 0 falls back to [WithStepDuration]'s. fn is called
// with the server locked when a job starts and when institutions are read:
// it must not call the server.
func WithStepDurations(fn func(institutionID, step string) time.Duration) Option {
	return func(c *config) { c.stepDurations = fn }
}

// WithTransactionsPerAccount sets how many transactions each account gets
// when its connection's retrieve-transactions step first succeeds (default
// [DefaultTransactionsPerAccount]). A negative n counts as zero.
func WithTransactionsPerAccount(n int) Option {
	return func(c *config) { c.txPerAccount = max(n, 0) }
}

// WithInstitutions adds institutions to the sandbox ones; one with the id of
// a sandbox institution replaces it. An added institution behaves by its
// Authorization like the sandbox bank of that kind: the sandbox logins work
// at user kinds, [SandboxUserToken] at token kinds, and MFA kinds ask for
// [MFACode].
func WithInstitutions(extra ...Institution) Option {
	return func(c *config) { c.institutions = append(c.institutions, extra...) }
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
