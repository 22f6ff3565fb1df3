// Package basiqtest is an in-memory Basiq API server for tests, like
// net/http/httptest is for HTTP. It speaks the HTTP API the basiq package
// uses — tokens, institutions, users, connections, jobs, accounts and
// transactions, and for Basiq 3.0 a stand-in Consent UI, connectors,
// consents, auth links, statement uploads and events — with Basiq's sandbox
// banks and logins, so tests and examples run without a key or a network.
// Each token answers as Basiq does for the version it was issued under (see
// Basiq 3.0 below).
//
// # Start a server
//
// [NewServer] listens on a loopback address; [Server.Client] returns a
// [basiq.Client] for it:
//
//	srv := basiqtest.NewServer()
//	t.Cleanup(srv.Close)
//	client := srv.Client(basiq.WithRetryWait(time.Millisecond, 10*time.Millisecond))
//	userID := srv.AddUser("gavin@hooli.example") // or POST /users
//	job, err := client.Connections.Create(ctx, userID, basiq.ConnectionParams{
//		LoginID:     basiqtest.LoginGavinBelson,
//		Password:    basiqtest.PasswordGavinBelson,
//		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
//	})
//
// [NewUnstartedServer] gives a server that does not listen, for use
// in-process: [Server.Handler] answers with links on [UnstartedURL], and
// [Server.Transport] (which [Server.Client] then uses, with base URL
// https://basiq.test) with links on the origin each request was sent to.
//
// Without a server at all, [Fixtures] renders the bodies a test on a mock
// transport (jarcoal/httpmock) needs — a token, an institution, a job
// started, in progress, done, failed or waiting for MFA — with the code that
// renders the server's answers, so they have the shapes the server serves.
//
// Plain net/http works as well: get a token at POST /token with
// "Authorization: Basic " + [Server.APIKey], a basiq-version header and the
// form scope=SERVER_ACCESS, then send "Authorization: Bearer <token>".
//
// # Sandbox institutions and logins
//
// Every server knows [InstHooli] (Hooli Bank, "user"), [InstToken] ("token",
// user token [SandboxUserToken]), [InstSecurityCode] and [InstSecondaryLogin]
// ("user" banks that also require securityCode or secondaryLoginId),
// [InstMFA] ("user-mfa"), [InstMFAIntermittent] ("user-mfa-intermittent":
// asks on every second job of a connection, starting with the second) and
// [InstOther] ("other", refused). [WithInstitutions] adds more.
//
// The good logins ([LoginGavinBelson]/[PasswordGavinBelson], jared/django,
// richard/tabsnotspaces, Gilfoyle/PiedPiper, Whistler/ShowBox) connect at
// every bank with a user kind of authorization. [LoginBighead] fails
// verify-credentials with invalid-credentials ("Account is locked") and
// makes the connection "invalid"; [LoginErlich] fails with
// account-not-accessible-requires-user-action; [LoginJianYang] with
// service-unavailable; any other login with invalid-credentials. Other
// failures leave the connection's status as it was.
//
// POST /users/{id}/connections checks the institution's rules (user kinds
// need loginId and password and refuse userToken; token kinds need userToken
// and refuse loginId and password; captions make securityCode and
// secondaryLoginId required; "other" is refused) and answers 400 with every
// problem, each with source.pointer such as "/loginId".
//
// # Jobs and time
//
// Creating, updating or refreshing a connection starts a job with the steps
// verify-credentials, mfa-challenge (MFA banks only), retrieve-accounts and
// retrieve-transactions. Each timed step is pending, then in-progress for
// its duration ([WithStepDuration], default 50 ms; [WithStepDurations] per
// bank and step), then success or failed. Steps are computed from the job's
// start time on every request, with time.Now: there are no timers and no
// background goroutines, so inside a testing/synctest bubble, with
// [NewUnstartedServer] and [Server.Client] (or [Server.Transport]), jobs
// advance with the bubble's fake clock.
//
// Institutions publish these durations as stats.averageDurationMs. To test
// a client against jobs its estimates did not predict, [WithJobTiming]
// draws each job's step durations around the published averages (with a
// spread), slower or faster than them, or with totals unrelated to them;
// [WithoutStats] publishes no stats; [WithPublishedAverages] publishes wrong
// or absurd averages (an hour, 1e308, zero, negative); and
// [WithFailingLoginAfter] makes a wrong login fail after a chosen time.
// [Server.JobPlan] tells when each job's steps end, to measure how late a
// client noticed:
//
//	srv := basiqtest.NewUnstartedServer(
//		basiqtest.WithStepDuration(3*time.Second),
//		basiqtest.WithJobTiming(basiqtest.JobTiming{Seed: 1, Scale: 2, Spread: 0.35}),
//	)
//
// While a job is queued or running, creating the same connection (same
// user, institution and loginId or userToken), updating or refreshing it
// answers 200 with the running job instead of 202 with a new one. Creating
// it again after the job ended reuses the connection id with a new job.
//
// # MFA
//
// At an MFA bank, mfa-challenge stays in-progress, with this result, until
// answered (or for 120 s, after which it fails with job-timed-out):
//
//	{"type":"mfa","method":"token","description":"Enter the code sent to your phone",
//	 "input":[{"type":"text","question":"One-time code"}],"expiryMs":120000,
//	 "links":{"response":"<URL>/jobs/<id>/mfa"}}
//
// For method "security-questions" (which no sandbox bank uses) input would
// hold one {"type":"text","question":...} per question. Answer with
// POST /jobs/{id}/mfa {"mfa-response":["1234"]} and a CLIENT_ACCESS token:
// [MFACode] makes the step succeed and the rest of the job run from then; any
// other code fails it with invalid-credentials ("Incorrect one-time code").
// Answering a job that is not waiting gets 400.
//
// # Accounts and transactions
//
// When retrieve-accounts first succeeds a connection gets 2 or 3 accounts,
// and when retrieve-transactions first succeeds each account gets
// [WithTransactionsPerAccount] transactions (default 120), dated back over
// 90 days from that day, the newest two of each account pending (postDate
// null). The data is fixed by the institution and login (ids are not).
// Money is a decimal string ("-12.34"; negative is money out).
//
// GET /users/{id}/transactions is newest first, limit 1 to 500 (default
// 500), with count (all matching), size (this page) and links.next (an
// absolute URL with an opaque cursor) until the last page. Filters take
// field.eq('v'), in('a','b'), bt('a','b') (inclusive), gt, gteq, lt and
// lteq, comma for AND, values in single quotes (a quote doubled inside);
// date fields compare as YYYY-MM-DD. A filter that does not parse, or names
// an unknown field or operation, gets 400 parameter-not-valid.
//
// # Tokens and errors
//
// Tokens live [WithTokenLifetime] (default 1 h). An expired token gets 403
// access-denied "Token has expired" ([Server.ExpireTokens] expires them all);
// a missing or unknown one 401 invalid-authorization-token. SERVER_ACCESS
// tokens work everywhere except POST /jobs/{id}/mfa; CLIENT_ACCESS tokens
// only there and on GET /jobs/{id}; otherwise 403 forbidden-access. Each
// token keeps the basiq-version it was issued under: an MFA answer on a
// token issued under 1.0 or 2.0 gets 403 forbidden-access, since the
// endpoint exists from 2.1.
//
// # Basiq 3.0
//
// A token issued under basiq-version 3.0 gets 3.0's API. A CLIENT_ACCESS
// token must then be bound to a user (form field userId, of a user that
// exists; otherwise 400 parameter-not-supplied or 404): it reads that user's
// jobs only, answers their MFA challenges and opens the stand-in Consent UI,
// nothing else (403 forbidden-access). 3.0 has no credential flow and no
// institutions: POST /users/{id}/connections gets 405 method-not-allowed
// (Allow: GET) and POST /users/{id}/connections/{id} 405 (Allow: DELETE,
// GET), since 3.0 publishes those paths with other methods only; GET
// /institutions and /institutions/{id} get 404 resource-not-found, since 3.0
// has no such path. Jobs read with a 3.0 token carry jobType "connection".
//
// A stand-in Consent UI answers at srv.URL + "/consent/home": point a
// client at it with basiq.WithConsentBaseURL(srv.URL + "/consent/home") and
// [Client.ConsentURL] links to it. GET checks the token parameter (a
// CLIENT_ACCESS 3.0 token bound to a user that exists, not expired: 401 or
// 403 with a short HTML page otherwise) and answers a small HTML form
// (institution, login, password; security code, secondary login and user
// token for the banks that need them) carrying action, state and
// connectionId along. POST of the form connects the bank as POST
// /users/{id}/connections does in 2.x, with the sandbox logins' outcomes
// (or, with connectionId, updates that connection's credentials), gives the
// user an active consent if they have none, and redirects with 303 See Other
// to [WithConsentRedirectURL] with jobIds and state added to its query;
// without that option, to srv.URL + "/consent/done", a page showing them.
// Missing credentials show the form again with 400. A test drives it with a
// plain http.Client; a person can use it in a browser.
//
// GET /users/{id}/consents lists the user's consents (status active,
// revoked, or expired after [WithConsentLifetime]); DELETE
// /users/{id}/consents/{id} revokes an active one (400 otherwise) and
// deletes the user's connections, accounts and transactions, as a consent
// that does not retain data requires. [Server.AddConsent] adds one directly.
//
// Events are recorded for what happens: user.created, user.updated,
// user.deleted, connection.created, connection.activated,
// connection.invalidated, connection.deleted, consent.created,
// consent.revoked, transactions.updated. GET /events lists them oldest
// first (filters user.id, event.entity, event.type and event.id; one page),
// GET /events/{id} reads one, GET /events/types lists the types; events are
// kept 7 days. Consents and events answer tokens of every version.
//
// # Webhooks
//
// POST /notifications/webhooks registers a subscription (name,
// description, url, subscribedEvents; an empty or absent list means every
// type) and answers it with its secret, "whsec_" and the base64 of 24
// random bytes. The URL must be on this machine (127.0.0.0/8, ::1 or
// localhost, http or https): any other is refused with 400
// parameter-not-valid, and a delivery connects only to a loopback address
// (a name is checked once resolved), so the server never posts off the
// machine. Over https the receiver's certificate is not checked, so an
// httptest.NewTLSServer receiver works; an event
// type Basiq does not document is refused with 400 invalid-content. GET
// lists the subscriptions (without their secrets); GET, POST (url required,
// as in Basiq's schema; the fields given replace the subscription's) and
// DELETE /notifications/webhooks/{id} manage one. Subscriptions are active
// at once.
//
// From then on, every event the server records (the list above) is POSTed
// to each subscription that wants its type, as Basiq does: the body
// {"eventTypeId","eventId","links":{"event","eventEntity"}}, Content-Type
// application/json, and the headers webhook-id (the message id, the same on
// every retry), webhook-timestamp (Unix seconds of this attempt) and
// webhook-signature, signed with the subscription's secret by webhook.Sign.
// A 2xx answer delivers the message; any other answer, no answer within 10
// s, or no connection fails the attempt, and the message is sent again
// after each wait of [DefaultWebhookRetrySchedule] (Basiq's: 5 s up to 10
// h), which [WithWebhookRetrySchedule] shortens for tests; redirects are not
// followed and at most 64 KiB of an answer is read. Each subscription's
// messages go out in order, from one goroutine; a retry waits its turn
// without holding up the messages after it. GET
// /notifications/webhooks/{id}/messages lists a subscription's messages
// (its latest 1,000) with their attempts (status code, timestamp,
// Success or Failed), and .../messages/{id} reads one; POST
// /notifications/messages/test with {"eventTypeId"} sends a test message of
// that type to the subscriptions that want it (its event is not stored).
//
// While a subscription exists, jobs move on by themselves at the instants
// their steps end, so their events (connection.activated,
// transactions.updated, connection.invalidated) are delivered without a
// request to see them. [Server.ChangeBankPassword] plays a customer who
// changed their password at the bank: the connection's next refresh fails
// and connection.invalidated is recorded. [Server.Close] stops every
// delivery, cutting short one in flight, and waits for the goroutines.
//
// These answer both versions too. GET /connectors lists a "web" connector
// per institution, and "pdf" and "csv" connectors for [InstHooli] (filters
// connector.id, connector.method, connector.stage, connector.status,
// connector.institution.country, connector.institution.tier,
// connector.authorization.type); GET /connectors/{id}/{method} reads one.
// POST /users/{id}/connections/{id}/purge deletes an active connection's
// accounts and transactions (400 for a connection that is not active); the
// connection stays. POST, GET and DELETE /users/{id}/auth_link manage the
// user's one auth link (body mobile, else the user's; it expires after
// [AuthLinkLifetime], then GET answers 410; its public link is not served).
// POST /users/{id}/statements takes multipart institutionId and statement
// (a .pdf or .csv file, up to basiq.MaxStatementBytes, at an institution
// with that connector) and answers 202 with a job: a new connection whose
// verify-credentials reads the file (a PDF must start with %PDF-, a CSV be
// comma-separated text; otherwise it fails with bank-statement-not-supported)
// and whose other steps bring accounts and transactions fixed by the file's
// content.
//
// Errors
// are Basiq's list: {"type":"list","correlationId":...,"data":[{"type":
// "error","code","title","detail","source"}]}. An unknown path gets 404
// resource-not-found; a known path with the wrong method gets 405
// method-not-allowed with an Allow header.
//
// # Published shapes
//
// Answers follow Basiq's published OpenAPI files for each version (2.x:
// core-with-connection-create.yml and swagger.json; 3.0: core.yml and
// data.yml). TestConformance checks it, and lists each deliberate departure
// with its reason: a step that has not ended has result null, a pending
// transaction postDate null, a transaction without a subclass subClass
// null, jobs have an mfa-challenge step at MFA banks, transactions carry no
// enrich, and events carry no data in lists.
//
// # Faults and recorded requests
//
// [Server.InjectFault] makes the next requests matching a method and path
// (or a path prefix ending in "*") fail: a status with Retry-After, an HTML
// or raw body, a delay, or a dropped connection. [Server.Requests] returns
// every request with the Authorization credentials and the password,
// userToken, securityCode, mfa-response, token and secret fields masked.
package basiqtest
