package basiq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/jarcoal/httpmock"
)

// explainError is how an application might tell the library's errors apart:
// errors.As for the typed errors whose fields it needs, errors.Is for the
// sentinels. Each error prints "basiq: " once, however many layers it went
// through, so err.Error() can be logged as it is.
func explainError(err error) string {
	var (
		invalid   *basiq.ValidationError
		challenge *basiq.MFAChallenge
		jobErr    *basiq.JobError
		redirect  *basiq.RedirectError
		apiErr    *basiq.APIError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &invalid):
		// Refused before anything was sent: a bug in the call.
		return "fix the call: " + invalid.Field
	case errors.Is(err, basiq.ErrValidation):
		return "fix the call"
	case errors.As(err, &challenge):
		// errors.Is(err, basiq.ErrMFARequired) also holds: ask the
		// customer, then answer with Jobs.RespondMFA.
		return fmt.Sprintf("ask the customer: %s %q", challenge.Method, challenge.Questions)
	case errors.As(err, &jobErr):
		// errors.Is(err, basiq.ErrJobFailed) also holds.
		return "the bank said no at " + jobErr.Step + ": " + jobErr.Code
	case errors.As(err, &redirect):
		// errors.Is(err, basiq.ErrRedirectRefused) also holds.
		return fmt.Sprintf("redirect %d to %s refused", redirect.StatusCode, redirect.Origin)
	case errors.Is(err, basiq.ErrInvalidResponse):
		return "the answer made no sense"
	case errors.Is(err, basiq.ErrNotFound):
		return "not found"
	case errors.Is(err, basiq.ErrUnauthorized):
		return "check the API key"
	case errors.As(err, &apiErr) && errors.Is(err, basiq.ErrBadRequest):
		return "the API refused a parameter: " + apiErr.Code()
	case errors.As(err, &apiErr) && apiErr.RetryAfter > 0:
		// ErrRateLimited (429) or a 503 asking for a pause longer than
		// the client waits by itself.
		return fmt.Sprintf("try again in %s (rate limited: %t)", apiErr.RetryAfter, errors.Is(err, basiq.ErrRateLimited))
	case errors.As(err, &apiErr):
		return fmt.Sprintf("API error %d", apiErr.StatusCode)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "gave up waiting"
	}
	return "network trouble"
}

// Each kind of failure, and how explainError tells it apart, against basiqtest
// (with faults injected) and, for a redirect, httpmock.
func Example_errorHandling() {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(10*time.Millisecond),
		basiqtest.WithFailingLoginAfter(10*time.Millisecond))
	defer srv.Close()
	client := srv.Client(basiq.WithWaitDefaults(basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)))
	ctx := context.Background()
	userID := srv.AddUser("gavin@hooli.example")

	// Refused before sending: an empty id.
	_, err := client.Users.Get(ctx, "")
	fmt.Println(explainError(err))
	fmt.Println(err)

	// 404, and an API key the API does not know.
	_, err = client.Users.Get(ctx, "no-such-user")
	fmt.Println(explainError(err))
	_, err = srv.Client(basiq.WithAPIKey("not-the-key")).Users.Get(ctx, userID)
	fmt.Println(explainError(err))

	// 400, and 429 asking for a pause longer than the client waits by
	// itself: the call returns at once with RetryAfter set.
	srv.InjectFault(basiqtest.Fault{Method: http.MethodPost, Path: "/users", Status: http.StatusBadRequest})
	_, err = client.Users.Create(ctx, basiq.UserParams{Email: "dinesh@hooli.example"})
	fmt.Println(explainError(err))
	srv.InjectFault(basiqtest.Fault{Path: "/users/" + userID, Status: http.StatusTooManyRequests, RetryAfter: "120"})
	_, err = client.Users.Get(ctx, userID)
	fmt.Println(explainError(err))

	// A 200 whose body is not the resource.
	srv.InjectFault(basiqtest.Fault{Path: "/users/" + userID, Body: "<html>down for maintenance</html>", HTML: true})
	_, err = client.Users.Get(ctx, userID)
	fmt.Println(explainError(err))

	// A job that fails (a wrong password), and one that waits for MFA.
	for _, p := range []basiq.ConnectionParams{
		{LoginID: basiqtest.LoginBighead, Password: basiqtest.PasswordBighead, Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli}},
		{LoginID: basiqtest.LoginGavinBelson, Password: basiqtest.PasswordGavinBelson, Institution: basiq.InstitutionRef{ID: basiqtest.InstMFA}},
	} {
		job, err := client.Connections.Create(ctx, userID, p)
		if err != nil {
			log.Fatal(err)
		}
		_, err = client.WaitForJob(ctx, job)
		fmt.Println(explainError(err))
	}

	// A redirect to another origin is never followed: credentials stay
	// with the base URL. Its message names the target's origin only.
	const base = "https://api.test"
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, base+"/token", httpmock.NewStringResponder(http.StatusOK, basiqtest.Fixtures{BaseURL: base}.Token()))
	mt.RegisterResponder(http.MethodGet, base+"/users/u1", func(*http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(http.StatusFound, "")
		resp.Header.Set("Location", "https://login.elsewhere.example/sso?session=abc")
		return resp, nil
	})
	mocked, err := basiq.NewClient(basiq.WithBaseURL(base), basiq.WithAPIKey("test-key"), basiq.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		log.Fatal(err)
	}
	_, err = mocked.Users.Get(ctx, "u1")
	fmt.Println(explainError(err))
	fmt.Println(err)

	// Output:
	// fix the call: userId
	// basiq: userId is required: pass an id the API returned, not an empty or blank string
	// not found
	// check the API key
	// the API refused a parameter: parameter-not-valid
	// try again in 2m0s (rate limited: true)
	// the answer made no sense
	// the bank said no at verify-credentials: invalid-credentials
	// ask the customer: token ["One-time code"]
	// redirect 302 to https://login.elsewhere.example refused
	// basiq: GET /users/u1: redirect to another origin not followed: https://login.elsewhere.example
}
