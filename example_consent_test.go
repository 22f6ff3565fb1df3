package basiq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/basiq-go/basiq"
)

// fakeTokenServer stands in for Basiq's POST /token (basiqtest does not
// speak 3.0 yet): it answers a client token named after the user it is
// bound to.
func fakeTokenServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" || r.ParseForm() != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "client-token-for-" + r.PostForm.Get("userId"),
			"token_type":   "Bearer",
			"expires_in":   3600,
		})
	}))
}

func ExampleClient_ConsentURL() {
	srv := fakeTokenServer()
	defer srv.Close()
	// With a real key: basiq.NewClient(basiq.WithVersion("3.0")).
	client, err := basiq.NewClient(
		basiq.WithAPIKey("YOUR-API-KEY"),
		basiq.WithBaseURL(srv.URL),
		basiq.WithVersion("3.0"),
	)
	if err != nil {
		log.Fatal(err)
	}
	link, err := client.ConsentURL(context.Background(), "user-1", basiq.ConsentLinkParams{
		Action:        basiq.ConsentConnect,
		State:         "session 42",
		InstitutionID: "AU00000",
	})
	if err != nil {
		log.Fatal(err)
	}
	// Send the customer's browser to the link (and never log it: it
	// carries a bearer token for the user).
	fmt.Println(link)

	// 3.0 has no connection creation through the API.
	_, err = client.Connections.Create(context.Background(), "user-1", basiq.ConnectionParams{})
	fmt.Println(errors.Is(err, errors.ErrUnsupported))
	// Output:
	// https://consent.basiq.io/home?action=connect&institutionId=AU00000&state=session+42&token=client-token-for-user-1
	// true
}

func ExampleParseConsentRedirect() {
	// In the handler of the redirect URL set in Basiq's dashboard, this is
	// r.URL.
	u, err := url.Parse("https://app.example/basiq/done?jobIds=61723,61724&state=session+42")
	if err != nil {
		log.Fatal(err)
	}
	redirect, err := basiq.ParseConsentRedirect(u)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(redirect.JobIDs, redirect.State)
	// Then: jobs, err := client.WaitForJobs(ctx, redirect.JobIDs)

	// The customer left the Consent UI: no jobs.
	u, _ = url.Parse("https://app.example/basiq/done?error=access_denied&state=session+42")
	_, err = basiq.ParseConsentRedirect(u)
	fmt.Println(errors.Is(err, basiq.ErrValidation))
	fmt.Println(err)
	// Output:
	// [61723 61724] session 42
	// true
	// basiq: jobIds is missing from the redirect, which carries no job ids: the Consent UI reported error "access_denied"
}
