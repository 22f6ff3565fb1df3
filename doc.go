// Package basiq is a client for the Basiq open-banking API: connect a
// customer's bank, wait for the data to arrive, and read it.
//
// One client serves both of Basiq's stories. With API version 2.x (the
// default, "2.0"; [WithVersion]) the application posts the customer's bank
// credentials itself: the sections from "Create a connection" on tell that
// story. With version 3.0, the one every new Basiq application gets, the
// customer connects through Basiq's hosted Consent UI: see "Basiq 3.0: the
// consent flow" below. Waiting for jobs and reading the data are the same in
// both.
//
// # Authenticate
//
// Create one [Client] per API key and share it between goroutines. The key
// comes from [WithAPIKey] or the BASIQ_API_KEY environment variable:
//
//	client, err := basiq.NewClient(basiq.WithAPIKey(key))
//
// The client exchanges the key for an access token at POST /token on first use,
// shares that one token between all goroutines, renews it in the background
// before it expires (going on with the current one meanwhile, and until it
// really expires if renewal fails), and fetches a fresh one once if the API
// says it has expired. The key is sent to nothing but POST /token on the base
// URL. A refused key is an [*APIError] matching [ErrUnauthorized].
//
// # Create a connection
//
// [ConnectionsService.Create] posts a user's bank credentials. Which
// credentials an institution takes depends on its [AuthorizationType]; Create
// reads the institution first (cached per client) and refuses, before posting
// anything, arguments that cannot work, with an error matching [ErrValidation]:
//
//	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
//		LoginID:     "gavinBelson",
//		Password:    "hooli2016",
//		Institution: basiq.InstitutionRef{ID: "AU00000"},
//	})
//
// # Wait for the job
//
// The API answers with a [Job] whose steps (verify-credentials,
// retrieve-accounts, retrieve-transactions, ...) run for 3 to 30 seconds.
// [Client.WaitForJob] polls it until every step has succeeded, and returns a
// [*JobError] as soon as one fails. It polls about every second while the
// credentials are checked, so a wrong password or an MFA challenge is
// reported within a second; after that it estimates the end from the
// institution's published step durations, the jobs it saw there and the
// job's own pace, so it asks rarely while the job cannot be done and often
// when it is about to be:
//
//	job, err = client.WaitForJob(ctx, job, basiq.WithProgress(func(j *basiq.Job) { ... }))
//	var jobErr *basiq.JobError
//	if errors.As(err, &jobErr) {
//		// jobErr.Step, jobErr.Code ("invalid-credentials", ...)
//	}
//	if err != nil {
//		return err
//	}
//	connectionID := job.ConnectionID() // empty until the job has run
//
// [WithWaitDefaults] gives every wait of a Client options to start from (a
// call's own options override them): a test can make every wait in the
// code it tests fast with one client option.
//
// # Answer an MFA challenge
//
// Some banks ask the customer for a one-time code or security answers after
// verify-credentials. WaitForJob then returns the job and an [*MFAChallenge]
// (matching [ErrMFARequired]) that says what the bank asks; answer with
// [JobsService.RespondMFA] and wait again:
//
//	job, err = client.WaitForJob(ctx, job)
//	var challenge *basiq.MFAChallenge
//	if errors.As(err, &challenge) {
//		job, err = client.Jobs.RespondMFA(ctx, job.ID, askCustomer(challenge.Questions)...)
//		// handle err, then:
//		job, err = client.WaitForJob(ctx, job)
//	}
//
// Wait on the job RespondMFA returns: it carries which challenge was
// answered, so the wait does not report it again while the API still shows
// it.
//
// # Read accounts and transactions
//
// [AccountsService.List] returns a user's accounts. [TransactionsService.List]
// is an iterator over every transaction, fetching pages only as the loop
// reaches them; filters such as [TransactionFilter] are typed and quoted:
//
//	for tx, err := range client.Transactions.List(ctx, userID, &basiq.TransactionFilter{
//		ConnectionID: job.ConnectionID(),
//		Direction:    basiq.TransactionDirectionDebit,
//	}) {
//		if err != nil {
//			return err
//		}
//		if tx.PostDate.IsZero() { // pending: not posted yet
//			fmt.Println("pending", tx.Amount, tx.Description)
//			continue
//		}
//		fmt.Println(tx.PostDate.Format(time.DateOnly), tx.Amount, tx.Description)
//	}
//
// A transaction's Direction, Status and Class are typed values
// ([TransactionDirection], [TransactionStatus], [TransactionClass]); an
// account's status is an [AccountStatus] and a connection's a
// [ConnectionStatus]. Compare them with the constants, such as
// [TransactionClassPayment]. A value the API adds later is read unchanged
// and its Known method reports false. In a filter (these, and an
// [AuthorizationType] in [InstitutionFilter] or [ConnectorFilter]), a value
// that is not one of the constants (a typo such as "debits") is refused with a
// [*ValidationError] before any request, instead of matching nothing; write
// a condition on a value the library does not know yet in the filter's Raw
// field, in Basiq's filter grammar.
//
// Money (balances, amounts) stays the API's decimal string in a [Decimal];
// read it exactly with [Decimal.Rat] or [Decimal.MinorUnits], never through a
// float.
//
// # Users and the rest of the lifecycle
//
// [UsersService] creates, reads, updates and deletes users. A connection can be
// read ([ConnectionsService.Get], [ConnectionsService.List]), refreshed
// ([ConnectionsService.Refresh], [ConnectionsService.RefreshAll]), given a new
// password ([ConnectionsService.Update]) and deleted. The calls that start a job
// return it with [Job.Reused] set when the API answered with a job already
// running.
//
// # Basiq 3.0: the consent flow
//
// With [WithVersion]("3.0") every token is a 3.0 token, and connections are
// made by the customer in Basiq's Consent UI: the API has no connection
// creation, so [ConnectionsService.Create] and [ConnectionsService.Update]
// are refused before any request with an error matching
// [errors.ErrUnsupported], as are the /institutions calls (use
// [ConnectorsService]). [Client.ConsentURL] builds the link to send the
// customer's browser to, with a fresh CLIENT_ACCESS token bound to the user
// ([Client.ClientToken]; never kept by the client, never shown in errors,
// logs or formatted values). The Consent UI redirects back to the URL set in
// Basiq's dashboard with the ids of the jobs it started;
// [ParseConsentRedirect] reads them, and [Client.WaitForJobs] waits for them
// all:
//
//	link, err := client.ConsentURL(ctx, userID, basiq.ConsentLinkParams{State: sessionID})
//	// redirect the browser to link; then, in the redirect URL's handler:
//	redirect, err := basiq.ParseConsentRedirect(r.URL)
//	// check redirect.State against the session, then:
//	jobs, err := client.WaitForJobs(ctx, redirect.JobIDs)
//
// The accounts and transactions are then read as in 2.x. 3.0 adds a user's
// consents ([ConsentsService]: list, revoke), [ConnectionsService.Purge] and
// the events Basiq records ([EventsService]: a lazy iterator with
// [EventFilter]). [AuthLinksService] (from 2.1) and [StatementsService]
// (a PDF or CSV statement, streamed and never repeated) serve both versions.
//
// # Receiving webhooks
//
// Basiq also pushes: it POSTs a signed notification to the application's
// endpoint when something happens, and the application reads the event.
// [WebhooksService.Create] subscribes an endpoint and answers the
// subscription's signing secret ([Webhook.SigningSecret]; held out of reach
// of fmt, logs and encoders). Receiving safely takes three lines with the
// webhook package: a verifier with that secret, its Handler at the
// endpoint (it answers 400 to anything not signed with the secret, and 500
// when fn fails, so that Basiq delivers again), and [EventsService.Get] for
// the event the notification names:
//
//	v, err := webhook.NewVerifier(hook.SigningSecret())
//	mux.Handle("POST /basiq/webhooks", webhook.Handler(v, func(ctx context.Context, n *webhook.Notification) error {
//		ev, err := client.Events.Get(ctx, n.EventID) // deduplicate on n.ID: retries repeat it
//		...
//	}))
//
// [WebhooksService.Messages] lists what was sent and each delivery attempt.
// basiqtest delivers signed notifications to a loopback endpoint for the
// events it records, with Basiq's retries on a schedule a test shortens.
//
// # Testing code that uses this library
//
// Three ways, each shown by a runnable example or test in this module:
//
//   - basiqtest.NewServer plays the Basiq API on a loopback address and its
//     Client method returns a client for it; short steps
//     (basiqtest.WithStepDuration) and a short [WithPollInterval] keep the
//     test fast; [WithWaitDefaults] sets that interval for every wait of
//     the client, without passing options through the code under test.
//   - Inside a testing/synctest bubble, basiqtest.NewUnstartedServer and its
//     Client method serve every request in-process: jobs can take the
//     seconds the live API's take and [Client.WaitForJob] keeps its default
//     schedule, but the bubble's clock jumps over every sleep, so a whole
//     connect-and-wait flow takes no real time.
//   - jarcoal/httpmock on a per-test transport (httpmock.NewMockTransport,
//     passed through [WithHTTPClient]), answering with the bodies
//     basiqtest.Fixtures renders (a token, an institution, a job started,
//     in progress, done, failed, waiting for MFA): they are rendered by
//     basiqtest's own code, so they have the shapes basiqtest serves.
//
// # Errors
//
// Every non-2xx answer is an [*APIError] carrying the status, Basiq's
// correlation id and error objects; match statuses with [errors.Is] and
// [ErrBadRequest], [ErrNotFound], [ErrUnauthorized], [ErrForbidden] or
// [ErrRateLimited].
// A failed job step is a [*JobError] ([ErrJobFailed]); a step waiting for
// the customer's MFA answer a [*MFAChallenge] ([ErrMFARequired]); a refused
// argument a [*ValidationError] ([ErrValidation]), whose message says what
// to do; a redirect the client does not follow a [*RedirectError]
// ([ErrRedirectRefused]); a 2xx answer that cannot be understood
// (the wrong shape, no id for the resource asked for, a list that does not
// end) matches [ErrInvalidResponse]. Every error string starts with
// "basiq: " once, however many layers it went through. Whatever a server
// sends, reading it costs bounded time and memory, and text from it reaches
// an error string on one line, escaped and bounded.
//
// # Response metadata
//
// No method returns the HTTP answer. A call made with a context from
// [WithResponse] records the status and headers of the last answer it
// received (after retries) into a [Response], on success and on an API
// error alike, without the body, cookies or headers that may carry a
// credential. Basiq's correlation id comes in the body of error answers
// only, so [Response.CorrelationID] is empty on success.
//
//	var resp basiq.Response
//	user, err := client.Users.Get(basiq.WithResponse(ctx, &resp), userID)
//	// resp.StatusCode, resp.Header, resp.CorrelationID
//
// # Retries, origins and secrets
//
// Requests that cannot create a duplicate (reads, deletes, token requests,
// user updates, and the connection calls that start jobs, which the API
// deduplicates) are retried on network
// errors and 429/500/502/503/504 answers, with exponential backoff, jitter and
// Retry-After obeyed up to 60 s and the context's deadline ([WithMaxRetries],
// [WithRetryWait], [APIError.RetryAfter]). A call carrying a bank password
// ([ConnectionsService.Create], [ConnectionsService.Update]) sends it to Basiq
// at most twice: it is repeated freely only when the first copy cannot have
// been processed, and once after an unknown outcome.
// Credentials go only to the base URL (its origin and path prefix): links and
// redirects elsewhere are not followed with them, the API key goes to POST
// /token alone (no redirect of it is followed), and http:// is accepted only
// for loopback hosts.
// Passwords, user tokens, security codes, the API key, access tokens,
// client tokens ([ClientToken]) and webhook signing secrets
// ([Webhook.SigningSecret]) never appear in errors, log records
// ([WithLogger]) or formatted values.
package basiq
