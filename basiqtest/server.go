package basiqtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/basiq-go/basiq"
)

const (
	// DefaultAPIKey is the API key a Server accepts when no [WithAPIKey]
	// option is given. Like a key from the Basiq dashboard it is a base64
	// string, which the SDK sends as it is.
	DefaultAPIKey = "YmFzaXF0ZXN0LWtleTpiYXNpcXRlc3Qtc2VjcmV0"
	// DefaultTokenLifetime is how long an access token lives when no
	// [WithTokenLifetime] option is given.
	DefaultTokenLifetime = time.Hour
	// DefaultStepDuration is how long each job step takes when no
	// [WithStepDuration] option is given: short, so tests are fast.
	DefaultStepDuration = 50 * time.Millisecond
	// DefaultTransactionsPerAccount is how many transactions each account
	// gets when no [WithTransactionsPerAccount] option is given.
	DefaultTransactionsPerAccount = 120
	// UnstartedURL is the base of the absolute links (links.self,
	// links.next, ...) in the answers of a Server that is not listening:
	// one made by [NewUnstartedServer] and not started.
	UnstartedURL = "http://basiq.test"

	// ScopeServerAccess is the token scope for server-side calls: every
	// endpoint except POST /jobs/{id}/mfa.
	ScopeServerAccess = "SERVER_ACCESS"
	// ScopeClientAccess is the token scope for client-side calls: only
	// GET /jobs/{id}, POST /jobs/{id}/mfa and, bound to a user under 3.0,
	// the stand-in Consent UI.
	ScopeClientAccess = "CLIENT_ACCESS"
)

// maxBodyBytes bounds the request bodies the server reads.
const maxBodyBytes = 1 << 20

// Server is an in-memory Basiq API for tests, like [httptest.Server] is for
// HTTP. [NewServer] starts one on a loopback address; [Server.Client] returns
// an SDK client for it. All state lives in the Server; it is safe for
// concurrent use.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:port" without a
	// trailing slash; empty while the server is not listening.
	URL string
	// APIKey is the key POST /token accepts, exactly.
	APIKey string

	cfg       config
	handler   http.Handler
	mux       *http.ServeMux
	ts        *httptest.Server
	transport *http.Transport
	closed    chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	started    bool
	tokens     map[string]*token
	tokenCount map[string]int
	requests   []Request
	faults     []*faultState
	insts      []*Institution
	instByID   map[string]*Institution
	ids        map[string]struct{}
	users      map[string]*user
	conns      map[string]*connection
	jobs       map[string]*job
	accounts   map[string]*account
	txns       map[string]*transaction
	active     []*job
	seq        int64
	events     []*event
	consents   map[string]*consent
	authLinks  map[string]*authLink // by user id

	// Webhooks (webhooks.go): the subscriptions, in order of creation;
	// the delivery and clock goroutines run under hookCtx and are counted
	// by hookWG; hooksClosed is set once Close has begun.
	hooks        map[string]*subscription
	hookOrder    []string
	hookCtx      context.Context
	hookStop     context.CancelFunc
	hookWG       sync.WaitGroup
	hookClient   *http.Client
	hooksClosed  bool
	clockRunning bool
	clockWake    chan struct{}
}

// token is an access token the server issued.
type token struct {
	scope   string
	version string // the basiq-version it was issued under
	userID  string // the user a client token is bound to ("" if none)
	expires time.Time
	expired bool
}

// NewServer starts a Server on a loopback address. Close it when done,
// typically with t.Cleanup(srv.Close). It panics, with an error matching
// [basiq.ErrValidation], when an option is given a value it cannot use.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a Server that is not listening: its URL is
// empty and its answers' links start with [UnstartedURL]. Use it in-process
// through [Server.Handler], [Server.Transport] or [Server.Client] — for
// example inside a testing/synctest bubble, where the server's clock (time.Now)
// is the bubble's — or call [Server.Start]. Close it when done.
func NewUnstartedServer(opts ...Option) *Server {
	cfg := config{
		apiKey:        DefaultAPIKey,
		tokenLifetime: DefaultTokenLifetime,
		stepDuration:  DefaultStepDuration,
		txPerAccount:  DefaultTransactionsPerAccount,

		consentLifetime: DefaultConsentLifetime,
		webhookRetries:  slices.Clone(DefaultWebhookRetrySchedule),
		webhookTimeout:  webhookAttemptTimeout,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			panic(err) // a *basiq.ValidationError naming the option
		}
	}
	s := &Server{
		APIKey:     cfg.apiKey,
		cfg:        cfg,
		closed:     make(chan struct{}),
		tokens:     map[string]*token{},
		tokenCount: map[string]int{},
		ids:        map[string]struct{}{},
		users:      map[string]*user{},
		conns:      map[string]*connection{},
		jobs:       map[string]*job{},
		accounts:   map[string]*account{},
		txns:       map[string]*transaction{},
		consents:   map[string]*consent{},
		authLinks:  map[string]*authLink{},
		hooks:      map[string]*subscription{},
		clockWake:  make(chan struct{}, 1),
		// Deliveries follow no redirect (a 3xx is a failed attempt), keep
		// no connection past Close, and connect to loopback addresses only
		// (a name such as localhost is checked once resolved). Over https
		// the receiver's certificate is not checked: it is a test server
		// on this machine, such as httptest.NewTLSServer's.
		hookClient: &http.Client{
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second,
				DialContext:     (&net.Dialer{Timeout: 10 * time.Second, Control: loopbackOnly}).DialContext,
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test receivers only
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	s.hookCtx, s.hookStop = context.WithCancel(context.Background())
	s.insts, s.instByID = buildInstitutions(cfg.institutions)
	s.mux = s.routes()
	s.handler = http.HandlerFunc(s.serve)
	return s
}

// Start starts a server from [NewUnstartedServer] on a loopback address and
// sets URL. Call it before sending requests. It panics if the server was
// already started or closed.
func (s *Server) Start() {
	select {
	case <-s.closed:
		panic("basiqtest: Start after Close")
	default:
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		panic("basiqtest: Server already started")
	}
	s.started = true
	s.mu.Unlock()
	ts := httptest.NewUnstartedServer(s.handler)
	// The library never prints: net/http's own log lines go nowhere.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Start()
	s.mu.Lock()
	s.ts = ts
	s.URL = ts.URL
	s.mu.Unlock()
}

// Close stops the server. It ends pending Delay faults at once, stops
// webhook deliveries (cutting short one in flight) and waits for them and
// for every request being handled to finish, so no goroutine of the server
// outlives it. Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.stopWebhooks()
		s.mu.Lock()
		ts, tr := s.ts, s.transport
		s.mu.Unlock()
		if ts != nil {
			ts.Close()
		}
		if tr != nil {
			tr.CloseIdleConnections()
		}
	})
}

// Handler returns the server's API as an [http.Handler], for in-process use
// (with httptest.NewRecorder, or inside a testing/synctest bubble). It is the
// same handler the listening server runs: requests are recorded and faults
// apply. Links in its answers start with URL once the server is started, and
// with [UnstartedURL] before (with the request's origin through
// [Server.Transport]).
func (s *Server) Handler() http.Handler { return s.handler }

// Transport returns an [http.RoundTripper] that serves every request
// in-process through [Server.Handler], whatever its host: no socket, no
// goroutine. Until the server is started, links in the answers use the
// scheme and host of the request's URL, so a client following them stays on
// its own origin. A Drop fault makes RoundTrip fail as a dropped connection
// would.
func (s *Server) Transport() http.RoundTripper { return inProcess{h: s.handler} }

// Client returns an SDK client for this server:
// basiq.NewClient(basiq.WithBaseURL(s.URL), basiq.WithAPIKey(s.APIKey),
// basiq.WithHTTPClient(c), opts...), where c is an HTTP client whose idle
// connections Close closes. Options given override these. On a server that
// is not listening the client uses base URL "https://basiq.test" (the SDK
// takes plain http only for loopback hosts) and [Server.Transport], so the
// links it follows are on https://basiq.test too. Client panics with
// NewClient's error (a *basiq.ValidationError for a bad option) if
// NewClient fails, which is a programming error, like httptest.
func (s *Server) Client(opts ...basiq.Option) *basiq.Client {
	s.mu.Lock()
	base := s.URL
	var hc *http.Client
	if s.ts != nil {
		if s.transport == nil {
			s.transport = &http.Transport{MaxIdleConnsPerHost: 100, IdleConnTimeout: 30 * time.Second}
		}
		hc = &http.Client{Transport: s.transport}
	} else {
		base = "https://basiq.test"
		hc = &http.Client{Transport: s.Transport()}
	}
	s.mu.Unlock()
	all := append([]basiq.Option{basiq.WithBaseURL(base), basiq.WithAPIKey(s.APIKey), basiq.WithHTTPClient(hc)}, opts...)
	c, err := basiq.NewClient(all...)
	if err != nil {
		panic(err) // NewClient's error, as NewServer panics with its options
	}
	return c
}

// ExpireTokens makes every access token issued so far expired: requests
// carrying one get 403 access-denied "Token has expired". Tokens issued
// afterwards are valid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expired = true
	}
}

// TokenRequests returns how many POST /token requests the server answered
// with 200, in every scope.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.tokenCount {
		n += c
	}
	return n
}

// TokenRequestsByScope returns how many POST /token requests for scope
// ([ScopeServerAccess] or [ScopeClientAccess]) the server answered with 200.
func (s *Server) TokenRequestsByScope(scope string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCount[scope]
}

// serve is the server's handler: it records the request, applies a fault if
// one matches, and otherwise routes the request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, bodyErr := readBody(r)
	idx := s.record(r, body)
	sw := &statusWriter{ResponseWriter: w}
	defer func() { s.setStatus(idx, sw.status) }()

	if f, ok := s.takeFault(r); ok {
		if s.applyFault(sw, w, r, f) {
			return
		}
	}
	if bodyErr != nil {
		s.writeErrors(sw, []apiError{errInvalidContent("The request body could not be read: " + bodyErr.Error())})
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// No route: find out whether another method would match.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusMethodNotAllowed {
			sw.Header().Set("Allow", rec.Header().Get("Allow"))
			s.writeErrors(sw, []apiError{{status: http.StatusMethodNotAllowed, code: "method-not-allowed",
				title: "Method not allowed", detail: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)}})
			return
		}
		s.writeErrors(sw, []apiError{errNotFound("Route not found: " + r.URL.Path)})
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// readBody reads and replaces the request body, bounded.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	limit := int64(maxBodyBytes)
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/statements") {
		limit = maxStatementBody
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// access says which token scopes a route accepts.
type access int

const (
	serverOnly access = iota // SERVER_ACCESS
	clientOnly               // CLIENT_ACCESS
	anyScope                 // either
	noAuth                   // no token (POST /token)
)

// call is one request as a route handler sees it, with the server locked.
type call struct {
	r    *http.Request
	now  time.Time
	base string
	tok  *token // nil on routes without a token
}

// v3 reports whether the request's token was issued under basiq-version 3.0.
func (c *call) v3() bool { return c.tok != nil && c.tok.version == version3 }

// version3 is Basiq's API version 3.0.
const version3 = "3.0"

// reply is what a route handler answers: a status and a JSON value, or
// errors.
type reply struct {
	status int
	body   any
	errs   []apiError
	allow  string // the Allow header of a 405
}

func answer(status int, body any) reply { return reply{status: status, body: body} }
func fail(errs ...apiError) reply       { return reply{errs: errs} }
func (c *call) pv(name string) string   { return c.r.PathValue(name) }

// routes registers every endpoint.
func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	handle := func(pattern string, a access, h func(*call) reply) {
		m.HandleFunc(pattern, s.wrap(a, h))
	}
	// v2Only routes are not in 3.0: a 3.0 token gets what 3.0's routing
	// answers there, 405 with allow3 when 3.0 has the path with other
	// methods, 404 when it has not the path at all.
	v2Only := func(pattern string, a access, allow3 string, h func(*call) reply) {
		handle(pattern, a, func(c *call) reply {
			if !c.v3() {
				return h(c)
			}
			if allow3 == "" {
				return fail(errNotFound("Route not found in API version 3.0: " + c.r.URL.Path))
			}
			rep := fail(apiError{status: http.StatusMethodNotAllowed, code: "method-not-allowed", title: "Method not allowed",
				detail: fmt.Sprintf("%s is not allowed on %s in API version 3.0: connections are made through the Consent UI", c.r.Method, c.r.URL.Path)})
			rep.allow = allow3
			return rep
		})
	}
	handle("POST /token", noAuth, s.postToken)
	v2Only("GET /institutions", serverOnly, "", s.listInstitutions)
	v2Only("GET /institutions/{id}", serverOnly, "", s.getInstitution)
	handle("POST /users", serverOnly, s.createUser)
	handle("GET /users/{u}", serverOnly, s.getUser)
	handle("POST /users/{u}", serverOnly, s.updateUser)
	handle("DELETE /users/{u}", serverOnly, s.deleteUser)
	v2Only("POST /users/{u}/connections", serverOnly, "GET", s.createConnection)
	handle("GET /users/{u}/connections", serverOnly, s.listConnections)
	// The literal "refresh" is more specific than {c}: ServeMux picks it.
	handle("POST /users/{u}/connections/refresh", serverOnly, s.refreshAll)
	handle("GET /users/{u}/connections/{c}", serverOnly, s.getConnection)
	v2Only("POST /users/{u}/connections/{c}", serverOnly, "DELETE, GET", s.updateConnection)
	handle("DELETE /users/{u}/connections/{c}", serverOnly, s.deleteConnection)
	handle("POST /users/{u}/connections/{c}/refresh", serverOnly, s.refreshConnection)
	handle("GET /jobs/{id}", anyScope, s.getJob)
	handle("POST /jobs/{id}/mfa", clientOnly, s.answerMFA)
	handle("GET /users/{u}/jobs", serverOnly, s.listJobs)
	handle("GET /users/{u}/accounts", serverOnly, s.listAccounts)
	handle("GET /users/{u}/accounts/{a}", serverOnly, s.getAccount)
	handle("GET /users/{u}/transactions", serverOnly, s.listTransactions)
	handle("GET /users/{u}/transactions/{t}", serverOnly, s.getTransaction)
	handle("POST /users/{u}/connections/{c}/purge", serverOnly, s.purgeConnection)
	handle("POST /users/{u}/statements", serverOnly, s.uploadStatement)
	handle("POST /users/{u}/auth_link", serverOnly, s.createAuthLink)
	handle("GET /users/{u}/auth_link", serverOnly, s.getAuthLink)
	handle("DELETE /users/{u}/auth_link", serverOnly, s.deleteAuthLink)
	handle("GET /connectors", serverOnly, s.listConnectors)
	handle("GET /connectors/{id}/{method}", serverOnly, s.getConnector)
	handle("GET /users/{u}/consents", serverOnly, s.listConsents)
	handle("DELETE /users/{u}/consents/{id}", serverOnly, s.revokeConsent)
	handle("GET /events", serverOnly, s.listEvents)
	handle("GET /events/types", serverOnly, s.listEventTypes)
	handle("GET /events/{id}", serverOnly, s.getEvent)
	handle("POST /notifications/webhooks", serverOnly, s.createWebhook)
	handle("GET /notifications/webhooks", serverOnly, s.listWebhooks)
	handle("GET /notifications/webhooks/{id}", serverOnly, s.getWebhook)
	handle("POST /notifications/webhooks/{id}", serverOnly, s.updateWebhook)
	handle("DELETE /notifications/webhooks/{id}", serverOnly, s.deleteWebhook)
	handle("GET /notifications/webhooks/{id}/messages", serverOnly, s.listMessages)
	handle("GET /notifications/webhooks/{id}/messages/{mid}", serverOnly, s.getMessage)
	handle("POST /notifications/messages/test", serverOnly, s.sendTestMessage)
	// The stand-in Consent UI answers HTML, not Basiq's JSON.
	m.HandleFunc("GET /consent/home", s.consentForm)
	m.HandleFunc("POST /consent/home", s.consentSubmit)
	m.HandleFunc("GET /consent/done", s.consentDone)
	return m
}

// wrap turns a route handler into an http.HandlerFunc: it locks the server,
// checks the token, brings jobs up to date, runs h and writes its reply.
func (s *Server) wrap(a access, h func(*call) reply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		now := time.Now()
		var rep reply
		if tok, e, denied := s.authorize(r, a, now); denied {
			rep = fail(e)
		} else {
			s.settle(now)
			rep = h(&call{r: r, now: now, base: s.linkBase(r), tok: tok})
		}
		var body []byte
		if rep.errs == nil && rep.body != nil {
			var err error
			if body, err = json.Marshal(rep.body); err != nil {
				rep = fail(apiError{status: http.StatusInternalServerError, code: "internal-server-error",
					title: "Internal server error", detail: err.Error()})
			}
		}
		s.mu.Unlock()
		if rep.errs != nil {
			if rep.allow != "" {
				w.Header().Set("Allow", rep.allow)
			}
			s.writeErrors(w, rep.errs)
			return
		}
		if body == nil {
			w.WriteHeader(rep.status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		_, _ = w.Write(body)
	}
}

// originKey marks, in a request's context, the scheme and host an
// in-process request was sent to.
type originKey struct{}

// linkBase is the base of absolute links in the answer to r: the server's
// URL; before it is started, the origin an in-process request was sent to
// through Transport, or else UnstartedURL. s.mu must be held.
func (s *Server) linkBase(r *http.Request) string {
	if s.URL != "" {
		return s.URL
	}
	if origin, ok := r.Context().Value(originKey{}).(string); ok && origin != "://" {
		return origin
	}
	return UnstartedURL
}

// authorize checks the bearer token against the route's scopes; s.mu must be
// held. It returns the token, and the error to answer and whether there is
// one.
func (s *Server) authorize(r *http.Request, a access, now time.Time) (*token, apiError, bool) {
	if a == noAuth {
		return nil, apiError{}, false
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	t, known := s.tokens[tok]
	if !strings.EqualFold(scheme, "Bearer") || tok == "" || !known {
		return nil, apiError{status: http.StatusUnauthorized, code: "invalid-authorization-token",
			title:  "Invalid authorization token",
			detail: "The Authorization header is missing or does not carry a valid bearer token."}, true
	}
	if t.expired || !now.Before(t.expires) {
		return nil, apiError{status: http.StatusForbidden, code: "access-denied",
			title: "Access denied", detail: "Token has expired"}, true
	}
	switch {
	case a == serverOnly && t.scope != ScopeServerAccess:
		return nil, errForbidden("SERVER_ACCESS token required"), true
	case a == clientOnly && t.scope != ScopeClientAccess:
		return nil, errForbidden("CLIENT_ACCESS token required"), true
	case a == clientOnly && (t.version == "1.0" || t.version == "2.0"):
		// The only client-only route is the MFA answer, from version 2.1;
		// a token's version is fixed when it is issued.
		return nil, errForbidden("a token issued under basiq-version 2.1 or later is required"), true
	}
	return t, apiError{}, false
}

// ownJob reports whether the call's token may read or answer j: a client
// token bound to a user reaches that user's jobs only.
func (c *call) ownJob(j *job) bool {
	return c.tok == nil || c.tok.scope != ScopeClientAccess || c.tok.userID == "" || c.tok.userID == j.userID
}

// postToken is POST /token: the API key for an access token.
func (s *Server) postToken(c *call) reply {
	scheme, key, _ := strings.Cut(c.r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Basic") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(s.APIKey)) != 1 {
		return fail(apiError{status: http.StatusNotFound, code: "resource-not-found",
			title: "Unable to authenticate", detail: "Unable to authenticate with the API key given."})
	}
	version := c.r.Header.Get("basiq-version")
	switch v := version; {
	case v == "":
		return fail(apiError{status: http.StatusBadRequest, code: "parameter-not-supplied",
			title: "Required header not supplied", detail: "The basiq-version header is required.", parameter: "basiq-version"})
	case !slices.Contains([]string{"1.0", "2.0", "2.1", "3.0"}, v):
		return fail(apiError{status: http.StatusBadRequest, code: "parameter-not-valid",
			title: "Header value not valid", detail: "basiq-version must be 1.0, 2.0, 2.1 or 3.0.", parameter: "basiq-version"})
	}
	scope := c.r.PostFormValue("scope")
	if scope != ScopeServerAccess && scope != ScopeClientAccess {
		return fail(apiError{status: http.StatusBadRequest, code: "parameter-not-valid",
			title: "Parameter not valid", detail: "scope must be SERVER_ACCESS or CLIENT_ACCESS.", parameter: "scope"})
	}
	// On 3.0 a client token must name a userId, which binds it to that
	// user. Before 3.0 a userId is accepted and ignored, as it always was.
	userID := ""
	if scope == ScopeClientAccess && version == version3 {
		userID = c.r.PostFormValue("userId")
		switch {
		case userID == "":
			return fail(apiError{status: http.StatusBadRequest, code: "parameter-not-supplied",
				title: "Required parameter not supplied", detail: "A CLIENT_ACCESS token must be bound to a userId in API version 3.0.", parameter: "userId"})
		case userID != "" && s.users[userID] == nil:
			return fail(errNotFound("User not found: " + userID))
		}
	}
	tok := randomHex(32)
	life := s.cfg.tokenLifetime
	s.tokens[tok] = &token{scope: scope, version: version, userID: userID, expires: c.now.Add(life)}
	s.tokenCount[scope]++
	secs := int(life / time.Second)
	if secs < 1 {
		secs = 1
	}
	return answer(http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": secs})
}

// inProcess is the RoundTripper of [Server.Transport].
type inProcess struct{ h http.Handler }

// errDropped is what an in-process round trip returns for a Drop fault.
var errDropped = fmt.Errorf("basiqtest: connection dropped by fault: %w", io.ErrUnexpectedEOF)

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	// Links in the answer are on the origin the caller used.
	r := req.Clone(context.WithValue(ctx, originKey{}, req.URL.Scheme+"://"+req.URL.Host))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "192.0.2.1:1234"
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	dropped := func() (dropped bool) {
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler { //nolint:errorlint // sentinel panic value
					panic(v)
				}
				dropped = true
			}
		}()
		t.h.ServeHTTP(rec, r)
		return false
	}()
	if dropped {
		return nil, errDropped
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newID returns a fresh opaque id, unique in this server; s.mu must be held.
func (s *Server) newID() string {
	for {
		id := randomHex(8)
		if s.cfg.idRng != nil {
			id = fmt.Sprintf("%016x", s.cfg.idRng.Uint64())
		}
		if _, dup := s.ids[id]; !dup {
			s.ids[id] = struct{}{}
			return id
		}
	}
}
