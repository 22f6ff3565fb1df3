package basiq

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// MFAChallenge is the error [Client.WaitForJob] returns, beside the job, when a
// step waits for the customer to answer a multi-factor challenge from their
// bank. It matches [ErrMFARequired]; read it with errors.As, ask the customer,
// answer with [JobsService.RespondMFA], then wait for the job again.
type MFAChallenge struct {
	// JobID is the job waiting for the answer.
	JobID string
	// Step is the waiting step's title, usually [StepMFAChallenge].
	Step string
	// Method is how the bank asks: "token" (a one-time code) or
	// "security-questions".
	Method string
	// Description is the bank's instruction to show the customer.
	Description string
	// Questions are the prompts to answer, in order; RespondMFA takes one
	// answer per question.
	Questions []string
	// Expiry is how long the challenge stays open, when the API says.
	Expiry time.Duration
	// ResponseURL is the API's link for the answer (POST /jobs/{id}/mfa).
	ResponseURL string

	// forms are the spellings of the client's secrets, masked in Error;
	// hidden, as they are the secrets.
	forms hidden[[]string]
}

// Error describes the challenge; it holds no secret. The fields come from the
// server: the string carries them cleaned (one line, valid UTF-8, each
// bounded) and, for a challenge from [Client.WaitForJob], with the API key
// and the client's access tokens masked in every form an [APIError] masks,
// as [APIError.Error] does; the fields themselves are left as the API sent
// them.
func (e *MFAChallenge) Error() string {
	mask := func(s string) string { return maskForms(s, e.forms.value()) }
	var b strings.Builder
	fmt.Fprintf(&b, "basiq: job %s waits for an MFA answer at step %s", clean(mask(e.JobID), 100), clean(mask(e.Step), 100))
	if m := clean(mask(e.Method), 50); m != "" {
		fmt.Fprintf(&b, " (%s)", m)
	}
	if d := clean(mask(e.Description), 300); d != "" {
		fmt.Fprintf(&b, ": %s", d)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrMFARequired) true.
func (e *MFAChallenge) Is(target error) bool { return target == ErrMFARequired }

// mfaVersion is the first API version with the MFA endpoints.
const mfaVersion = "2.1"

// mfaBody is the wire form of an MFA answer.
type mfaBody struct {
	Response []string `json:"mfa-response"`
}

// RespondMFA answers a job's MFA challenge: POST /jobs/{id}/mfa with one answer
// per question (a one-time code is one answer). The API takes the answer only
// with a CLIENT_ACCESS token, which the client fetches and caches beside its
// server token, and from API version 2.1, which this call sends when the
// client is set to an earlier one. It first reads the job (GET /jobs/{id},
// one attempt of at most 2 s, so it never holds up the code) to know which
// challenge it answers. It returns the job; pass it to [Client.WaitForJob] to
// go on waiting: the challenge just answered is not reported again while the
// API still shows it, and a new one is. An answer is sent once, never
// repeated, not even after an answer refusing the access token (a one-time
// code may not be reused; if the customer's code is still valid, call
// RespondMFA again: a fresh token is fetched), and never appears in errors or
// logs. A 2xx answer that names no job is an error
// matching [ErrInvalidResponse]; the API may still have taken the answer, so
// wait on the job by its id rather than ask the customer again.
//
// On a client of API version 3.0 the answer goes with a CLIENT_ACCESS token
// of version 3.0 bound to the job's user, fetched for this call and kept
// nowhere ([Client.ClientToken]); the user is read from the job's
// links.source (/users/{userId}/connections/{id}). A job that names no user
// is refused, with an error matching [ErrValidation], before the answer is
// sent: use [JobsService.RespondMFAForUser].
func (s *JobsService) RespondMFA(ctx context.Context, jobID string, answers ...string) (*Job, error) {
	return s.respondMFA(ctx, "", jobID, answers)
}

// RespondMFAForUser is [JobsService.RespondMFA] for a caller who knows the
// job's user: on a 3.0 client the answer's token is bound to userID rather
// than to the user the job names. On 2.x, where the token is bound to no
// user, it is RespondMFA.
func (s *JobsService) RespondMFAForUser(ctx context.Context, userID, jobID string, answers ...string) (*Job, error) {
	if err := checkID("userId", userID); err != nil {
		return nil, err
	}
	return s.respondMFA(ctx, userID, jobID, answers)
}

// respondMFA answers a job's challenge; userID is the job's user, if known.
func (s *JobsService) respondMFA(ctx context.Context, userID, jobID string, answers []string) (*Job, error) {
	errs := []error{checkID("jobId", jobID)}
	if len(answers) == 0 {
		errs = append(errs, &ValidationError{Field: "mfa-response", Reason: "is required: give one answer per question of the challenge (a one-time code is one answer)"})
	}
	for _, a := range answers {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, &ValidationError{Field: "mfa-response", Reason: "holds an empty answer: give every question of the challenge a non-blank answer"})
			break
		}
	}
	if err := joinValidation(errs); err != nil {
		return nil, err
	}
	// The challenge being answered, so that a wait after this call does not
	// report it again while the API still shows it. The read is a hint: one
	// attempt, bounded, so that a slow or failing read never delays the
	// code, which expires. Without it the wait may report the answered
	// challenge once more.
	var answered string
	readCtx, cancel := context.WithTimeout(withoutResponse(ctx), hintTimeout)
	var before jobWire
	_, readErr := s.client.call(readCtx, http.MethodGet, pathf("jobs/%s", jobID), nil, &before, withNoRepeat())
	cancel()
	if readErr == nil {
		job := before.job()
		answered = pendingChallenge(&job)
		if userID == "" {
			userID = sourceUser(job.Links.Source)
		}
	}
	// An answer is sent once: not even a token refusal repeats it.
	opts := []requestOption{withScope(scopeClient), withSecrets(answers...), withNoRepeat()}
	if !versionAtLeast(s.client.version, mfaVersion) {
		opts = append(opts, withHeader("basiq-version", mfaVersion)) // the endpoint exists from 2.1
	}
	if versionAtLeast(s.client.version, v3) {
		// 3.0 binds every client token to a user.
		if userID == "" && readErr != nil {
			return nil, errorf("reading job %s to find the user its MFA token is bound to: %w", clean(jobID, 100), readErr)
		}
		if userID == "" {
			return nil, &ValidationError{Field: "userId", Reason: "is required on API version 3.0, which binds the MFA token to the job's user, and the job names none: use RespondMFAForUser"}
		}
		tok, err := s.client.ClientToken(ctx, userID)
		if err != nil {
			return nil, err
		}
		opts = append(opts, withBearer(tok.Value))
	}
	job := new(Job)
	if _, err := s.client.call(ctx, http.MethodPost, pathf("jobs/%s/mfa", jobID), mfaBody{Response: answers}, job, opts...); err != nil {
		return nil, err
	}
	job.answeredMFA = answered
	return job, nil
}
