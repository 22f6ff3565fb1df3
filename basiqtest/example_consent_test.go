package basiqtest_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

// Basiq 3.0's consent flow against the stand-in Consent UI: the test plays
// the customer's browser, and the redirect carries the jobs to wait for.
func ExampleWithConsentRedirectURL() {
	srv := basiqtest.NewServer(basiqtest.WithStepDuration(10*time.Millisecond),
		basiqtest.WithConsentRedirectURL("https://app.example/basiq/callback"))
	defer srv.Close()
	client := srv.Client(basiq.WithVersion("3.0"), basiq.WithConsentBaseURL(srv.URL+"/consent/home"))
	ctx := context.Background()

	userID := srv.AddUser("gavin@hooli.example")
	link, err := client.ConsentURL(ctx, userID, basiq.ConsentLinkParams{State: "session-1"})
	if err != nil {
		log.Fatal(err)
	}

	// The customer opens the link and submits the form; the browser is sent
	// on to the redirect URL (not followed here: app.example is not real).
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(link)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	page, _ := url.Parse(link)
	res, err = browser.PostForm(srv.URL+"/consent/home", url.Values{
		"token": {page.Query().Get("token")}, "state": {"session-1"}, "institutionId": {basiqtest.InstHooli},
		"loginId": {basiqtest.LoginGavinBelson}, "password": {basiqtest.PasswordGavinBelson},
	})
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode)

	back, _ := url.Parse(res.Header.Get("Location"))
	redirect, err := basiq.ParseConsentRedirect(back)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Host+back.Path, redirect.State, len(redirect.JobIDs))
	jobs, err := client.WaitForJobs(ctx, redirect.JobIDs, basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(jobs[0].JobType, jobs[0].Steps[len(jobs[0].Steps)-1].Status)
	consents, err := client.Consents.List(ctx, userID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(consents), consents[0].Status)
	// Output:
	// 303
	// app.example/basiq/callback session-1 1
	// connection success
	// 1 active
}
