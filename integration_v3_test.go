package basiq_test

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Integration test of Basiq 3.0's consent flow: the client against
// basiqtest over loopback, with the stand-in Consent UI driven as a browser
// would drive it.

// hiddenInput matches the hidden inputs of the stand-in Consent UI's form.
var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// fillConsentForm opens the Consent UI link as a browser would, and returns
// the form's hidden fields with the institution and credentials filled in.
func fillConsentForm(t *testing.T, browser *http.Client, link, institutionID, login, password string) url.Values {
	t.Helper()
	res, err := browser.Get(link)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(body), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	require.NotEmpty(t, form.Get("token"), "the form carries the token")
	form.Set("institutionId", institutionID)
	form.Set("loginId", login)
	form.Set("password", password)
	return form
}

func TestIntegrationConsentFlowV3(t *testing.T) {
	t.Parallel()
	// The application's redirect URL: a loopback listener that records
	// where the browser arrives.
	arrived := make(chan *url.URL, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- r.URL:
		default:
		}
		_, _ = io.WriteString(w, "back in the app")
	}))
	t.Cleanup(app.Close)

	srv, _ := newServer(t, basiqtest.WithConsentRedirectURL(app.URL+"/basiq/callback"))
	client := srv.Client(basiq.WithVersion("3.0"), basiq.WithConsentBaseURL(srv.URL+"/consent/home"),
		basiq.WithRetryWait(time.Millisecond, 10*time.Millisecond))
	ctx := testCtx(t)

	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "gavin@hooli.example"})
	require.NoError(t, err)

	link, err := client.ConsentURL(ctx, user.ID, basiq.ConsentLinkParams{State: "session-42", InstitutionID: basiqtest.InstHooli})
	require.NoError(t, err)

	browser := &http.Client{Timeout: 10 * time.Second} // follows the 303 as a browser does
	form := fillConsentForm(t, browser, link, basiqtest.InstHooli, basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson)
	assert.Equal(t, "session-42", form.Get("state"))
	res, err := browser.PostForm(srv.URL+"/consent/home", form)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var back *url.URL
	select {
	case back = <-arrived:
	default:
		t.Fatal("the browser did not arrive at the redirect URL")
	}
	assert.Equal(t, "/basiq/callback", back.Path)

	redirect, err := basiq.ParseConsentRedirect(back)
	require.NoError(t, err)
	assert.Equal(t, "session-42", redirect.State)
	require.Len(t, redirect.JobIDs, 1)

	jobs, err := client.WaitForJobs(ctx, redirect.JobIDs, fast)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, "connection", jobs[0].JobType)

	accounts, err := client.Accounts.List(ctx, user.ID, nil)
	require.NoError(t, err)
	require.NotEmpty(t, accounts)
	n := 0
	for tx, err := range client.Transactions.List(ctx, user.ID, nil) {
		require.NoError(t, err)
		require.NotEmpty(t, tx.ID)
		n++
	}
	assert.Positive(t, n)

	consents, err := client.Consents.List(ctx, user.ID)
	require.NoError(t, err)
	require.Len(t, consents, 1)
	assert.Equal(t, basiq.ConsentStatus("active"), consents[0].Status)

	var types []string
	for ev, err := range client.Events.List(ctx, &basiq.EventFilter{UserID: user.ID}) {
		require.NoError(t, err)
		types = append(types, ev.Entity+"."+ev.EventType)
	}
	assert.Subset(t, types, []string{"user.created", "connection.created", "consent.created", "connection.activated", "transactions.updated"})

	require.NoError(t, client.Consents.Delete(ctx, user.ID, consents[0].ID))
	consents, err = client.Consents.List(ctx, user.ID)
	require.NoError(t, err)
	assert.Equal(t, basiq.ConsentStatus("revoked"), consents[0].Status)

	require.NoError(t, client.Users.Delete(ctx, user.ID))
	_, err = client.Users.Get(ctx, user.ID)
	var apiErr *basiq.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)

	// No request carried the client token or the password in the clear.
	for _, r := range srv.Requests() {
		assert.NotContains(t, r.RawQuery+r.Body, basiqtest.PasswordGavinBelson)
		assert.NotContains(t, r.RawQuery+r.Body, form.Get("token"))
	}
}
