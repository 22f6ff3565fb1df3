package basiq_test

// Per-call overhead benchmarks (see BENCHMARKS.md): the SDK against a
// hand-written net/http GET plus encoding/json decode of the same URL, on the
// same basiqtest server over loopback, with the same bearer token and the
// same transport settings.
//
//	go test -run '^$' -bench . -benchmem -count 5 .
//
// By default the server runs in this process, so B/op and allocs/op include
// the server's own work (identical for both sides: the difference is the
// client's). With BASIQ_PERF_SERVER=child the server runs in a child
// process (this test binary re-executed) and the figures are the client's
// alone:
//
//	BASIQ_PERF_SERVER=child go test -run '^$' -bench . -benchmem -count 5 .

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

// perfTxPerAccount is how many transactions each account gets in the
// transaction benchmarks: the Hooli sandbox login used has 2 or 3 accounts,
// so a full list is a few 500-transaction pages.
const perfTxPerAccount = 1000

// perfServer is a basiqtest server for the benchmarks and harnesses: in
// this process, or in a child process (this test binary re-run as
// TestPerfChildServer), where its memory and CPU are not this process's.
type perfServer struct {
	URL    string
	APIKey string
	// Srv is the server when it runs in this process.
	Srv *basiqtest.Server

	stdin  io.WriteCloser
	stdout *bufio.Scanner
}

// perfServerConfig configures a perfServer.
type perfServerConfig struct {
	TxPerAccount int           // basiqtest.WithTransactionsPerAccount
	Step         time.Duration // basiqtest.WithStepDuration
	Child        bool          // run it in a child process
}

// perfStartServer starts the benchmarks' server: perfTxPerAccount
// transactions per account, in a child process when
// BASIQ_PERF_SERVER=child.
func perfStartServer(tb testing.TB) *perfServer {
	tb.Helper()
	return perfStartServerWith(tb, perfServerConfig{TxPerAccount: perfTxPerAccount, Step: time.Millisecond,
		Child: os.Getenv("BASIQ_PERF_SERVER") == "child"})
}

// perfStartServerWith starts a server configured by cfg, closed when tb
// ends.
func perfStartServerWith(tb testing.TB, cfg perfServerConfig) *perfServer {
	tb.Helper()
	if !cfg.Child {
		srv := basiqtest.NewServer(basiqtest.WithTransactionsPerAccount(cfg.TxPerAccount), basiqtest.WithStepDuration(cfg.Step))
		tb.Cleanup(srv.Close)
		return &perfServer{URL: srv.URL, APIKey: srv.APIKey, Srv: srv}
	}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestPerfChildServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BASIQ_PERF_CHILD=1",
		"BASIQ_PERF_CHILD_TX="+strconv.Itoa(cfg.TxPerAccount), "BASIQ_PERF_CHILD_STEP="+cfg.Step.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	ps := &perfServer{APIKey: basiqtest.DefaultAPIKey, stdin: stdin, stdout: bufio.NewScanner(stdout)}
	tb.Cleanup(func() {
		stdin.Close()
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
	})
	ps.URL = ps.childLine(tb, "PERF-SERVER-URL ")
	return ps
}

// childLine reads the child's output up to a line with prefix and returns
// the rest of that line.
func (ps *perfServer) childLine(tb testing.TB, prefix string) string {
	tb.Helper()
	for ps.stdout.Scan() {
		if v, ok := strings.CutPrefix(ps.stdout.Text(), prefix); ok {
			return v
		}
	}
	tb.Fatalf("child server: no %q line: %v", prefix, ps.stdout.Err())
	return ""
}

// TokenRequests is the server's Server.TokenRequests, wherever it runs.
func (ps *perfServer) TokenRequests(tb testing.TB) int {
	tb.Helper()
	if ps.Srv != nil {
		return ps.Srv.TokenRequests()
	}
	if _, err := io.WriteString(ps.stdin, "tokens\n"); err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.Atoi(ps.childLine(tb, "PERF-SERVER-TOKENS "))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestPerfChildServer is the child process of a perfServer: it serves
// basiqtest until its stdin closes, and answers "tokens" lines with the
// server's token request count. Run on its own it skips.
func TestPerfChildServer(t *testing.T) {
	if os.Getenv("BASIQ_PERF_CHILD") != "1" {
		t.Skip("the child server of the benchmarks and harnesses; runs only as their child process")
	}
	tx, err := strconv.Atoi(os.Getenv("BASIQ_PERF_CHILD_TX"))
	if err != nil {
		tx = perfTxPerAccount
	}
	step, err := time.ParseDuration(os.Getenv("BASIQ_PERF_CHILD_STEP"))
	if err != nil {
		step = time.Millisecond
	}
	srv := basiqtest.NewServer(basiqtest.WithTransactionsPerAccount(tx), basiqtest.WithStepDuration(step))
	defer srv.Close()
	fmt.Printf("PERF-SERVER-URL %s\n", srv.URL)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "tokens" {
			fmt.Printf("PERF-SERVER-TOKENS %d\n", srv.TokenRequests())
		}
	}
}

// perfHTTPClient is an HTTP client with the SDK's default settings
// (NewClient without WithHTTPClient): http.DefaultTransport cloned, 100
// idle connections per host, a 60 s timeout. Both sides of each comparison
// get one of these.
func perfHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 100
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// perfTransports are the two HTTP set-ups the SDK side is measured on: the
// client NewClient builds when given none (its per-attempt limit on the
// request's context), and a caller's http.Client with Timeout set, passed
// with WithHTTPClient (perfHTTPClient: net/http enforces its Timeout). The
// hand-written side always uses perfHTTPClient.
var perfTransports = []struct {
	name string
	hc   func() *http.Client // nil: the SDK's default transport
}{
	{"transport=sdk-default", nil},
	{"transport=caller-timeout", perfHTTPClient},
}

// perfFixture is what the benchmarks share: a user whose connection job has
// finished (so its data is loaded), an SDK client and a hand-written one,
// each with its own token already fetched.
type perfFixture struct {
	srv    *perfServer
	userID string
	jobID  string
	sdk    *basiq.Client
	base   *perfBaseline
	txns   int // transactions the user has
}

// perfSetup builds a perfFixture; all of it happens before any timer runs.
func perfSetup(tb testing.TB) *perfFixture {
	tb.Helper()
	return perfSetupWith(tb, perfHTTPClient)
}

// perfSetupWith builds a perfFixture whose SDK client uses sdkHTTP's
// client, or the SDK's default transport when sdkHTTP is nil.
func perfSetupWith(tb testing.TB, sdkHTTP func() *http.Client) *perfFixture {
	tb.Helper()
	ps := perfStartServer(tb)
	ctx := context.Background()

	setupHC := perfHTTPClient()
	tb.Cleanup(setupHC.CloseIdleConnections)
	setup, err := basiq.NewClient(basiq.WithBaseURL(ps.URL), basiq.WithAPIKey(ps.APIKey), basiq.WithHTTPClient(setupHC))
	if err != nil {
		tb.Fatal(err)
	}
	user, err := setup.Users.Create(ctx, basiq.UserParams{Email: "perf@hooli.example"})
	if err != nil {
		tb.Fatal(err)
	}
	job, err := setup.Connections.Create(ctx, user.ID, basiq.ConnectionParams{
		LoginID: basiqtest.LoginGavinBelson, Password: basiqtest.PasswordGavinBelson,
		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := setup.WaitForJob(ctx, job, basiq.WithPollInterval(10*time.Millisecond, 50*time.Millisecond)); err != nil {
		tb.Fatal(err)
	}

	f := &perfFixture{srv: ps, userID: user.ID, jobID: job.ID}
	sdkOpts := []basiq.Option{basiq.WithBaseURL(ps.URL), basiq.WithAPIKey(ps.APIKey)}
	if sdkHTTP != nil {
		sdkHC := sdkHTTP()
		tb.Cleanup(sdkHC.CloseIdleConnections)
		sdkOpts = append(sdkOpts, basiq.WithHTTPClient(sdkHC))
	}
	f.sdk, err = basiq.NewClient(sdkOpts...)
	if err != nil {
		tb.Fatal(err)
	}
	f.base = perfNewBaseline(tb, ps)

	// Warm both sides up (token, connection, first decode) and check that
	// they read the same thing.
	sj, err := f.sdk.Jobs.Get(ctx, f.jobID)
	if err != nil {
		tb.Fatal(err)
	}
	var bj perfBaseJob
	if err := f.base.getJob(ctx, f.jobID, &bj); err != nil {
		tb.Fatal(err)
	}
	if sj.ID != bj.ID || len(sj.Steps) != len(bj.Steps) || sj.Links.Self != bj.Links.Self {
		tb.Fatalf("SDK and baseline disagree: %+v vs %+v", sj, bj)
	}
	n, err := perfSDKListAll(ctx, f.sdk, f.userID)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := f.base.listAll(ctx, f.userID)
	if err != nil {
		tb.Fatal(err)
	}
	if n != m || n == 0 {
		tb.Fatalf("SDK listed %d transactions, baseline %d", n, m)
	}
	f.txns = n
	return f
}

// perfBaseline is the hand-written client: net/http and encoding/json, the
// same headers the SDK sends, one bearer token fetched once.
type perfBaseline struct {
	hc    *http.Client
	base  string
	token string
}

func perfNewBaseline(tb testing.TB, ps *perfServer) *perfBaseline {
	tb.Helper()
	hc := perfHTTPClient()
	tb.Cleanup(hc.CloseIdleConnections)
	req, err := http.NewRequest(http.MethodPost, ps.URL+"/token", strings.NewReader(url.Values{"scope": {"SERVER_ACCESS"}}.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Basic "+ps.APIKey)
	req.Header.Set("basiq-version", basiq.DefaultVersion)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		tb.Fatalf("baseline token: status %d, %v", resp.StatusCode, err)
	}
	return &perfBaseline{hc: hc, base: ps.URL, token: tok.AccessToken}
}

// perfBaseJob carries what basiq.Job carries, decoded by encoding/json
// alone (no custom UnmarshalJSON).
type perfBaseJob struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Steps   []struct {
		Title  string `json:"title"`
		Status string `json:"status"`
		Result *struct {
			Type   string `json:"type"`
			URL    string `json:"url"`
			Code   string `json:"code"`
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"result"`
	} `json:"steps"`
	Links struct {
		Self   string `json:"self"`
		Source string `json:"source"`
	} `json:"links"`
}

// perfBaseTx carries what basiq.Transaction carries.
type perfBaseTx struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Description string `json:"description"`
	Amount      string `json:"amount"`
	Balance     string `json:"balance"`
	Account     string `json:"account"`
	Connection  string `json:"connection"`
	Institution string `json:"institution"`
	Direction   string `json:"direction"`
	Class       string `json:"class"`
	SubClass    *struct {
		Code  string `json:"code"`
		Title string `json:"title"`
	} `json:"subClass"`
	TransactionDate time.Time `json:"transactionDate"`
	PostDate        time.Time `json:"postDate"`
	Links           struct {
		Self    string `json:"self"`
		Account string `json:"account"`
	} `json:"links"`
}

type perfBasePage struct {
	Data  []perfBaseTx `json:"data"`
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
}

// get is the hand-written request path: GET, check the status, decode.
func (p *perfBaseline) get(ctx context.Context, rawURL string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("basiq-version", basiq.DefaultVersion)
	req.Header.Set("User-Agent", "basiq-go/"+basiq.Version)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", rawURL, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	return nil
}

func (p *perfBaseline) getJob(ctx context.Context, id string, v *perfBaseJob) error {
	return p.get(ctx, p.base+"/jobs/"+url.PathEscape(id), v)
}

// listAll reads every transaction of a user, 500 a page, following
// links.next; it returns how many it saw.
func (p *perfBaseline) listAll(ctx context.Context, userID string) (int, error) {
	n := 0
	for next := p.base + "/users/" + url.PathEscape(userID) + "/transactions?limit=500"; next != ""; {
		var pg perfBasePage
		if err := p.get(ctx, next, &pg); err != nil {
			return n, err
		}
		for i := range pg.Data {
			perfSinkTx = pg.Data[i].Amount
			n++
		}
		next = pg.Links.Next
	}
	return n, nil
}

// perfSinkTx keeps the loops' reads from being optimised away.
var perfSinkTx string

// perfSDKListAll reads every transaction of a user through the SDK, 500 a
// page.
func perfSDKListAll(ctx context.Context, c *basiq.Client, userID string) (int, error) {
	n := 0
	for tx, err := range c.Transactions.List(ctx, userID, &basiq.TransactionFilter{PageSize: basiq.MaxTransactionsPageSize}) {
		if err != nil {
			return n, err
		}
		perfSinkTx = string(tx.Amount)
		n++
	}
	return n, nil
}

func BenchmarkJobsGet(b *testing.B) {
	for _, tr := range perfTransports {
		b.Run(tr.name, func(b *testing.B) {
			f := perfSetupWith(b, tr.hc)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := f.sdk.Jobs.Get(ctx, f.jobID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJobsGetBaseline(b *testing.B) {
	f := perfSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var j perfBaseJob
		if err := f.base.getJob(ctx, f.jobID, &j); err != nil {
			b.Fatal(err)
		}
	}
}

// perfReportPerTx reports ns, bytes and allocations per transaction.
func perfReportPerTx(b *testing.B, start time.Time, before *runtime.MemStats, perOp int) {
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	n := float64(b.N) * float64(perOp)
	b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/tx")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/tx")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/tx")
	b.ReportMetric(float64(perOp), "tx/op")
}

func BenchmarkTransactionsList(b *testing.B) {
	for _, tr := range perfTransports {
		b.Run(tr.name, func(b *testing.B) {
			f := perfSetupWith(b, tr.hc)
			ctx := context.Background()
			b.ReportAllocs()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if n, err := perfSDKListAll(ctx, f.sdk, f.userID); err != nil || n != f.txns {
					b.Fatalf("listed %d of %d: %v", n, f.txns, err)
				}
			}
			b.StopTimer()
			perfReportPerTx(b, start, &ms, f.txns)
		})
	}
}

func BenchmarkTransactionsListBaseline(b *testing.B) {
	f := perfSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if n, err := f.base.listAll(ctx, f.userID); err != nil || n != f.txns {
			b.Fatalf("listed %d of %d: %v", n, f.txns, err)
		}
	}
	b.StopTimer()
	perfReportPerTx(b, start, &ms, f.txns)
}

// perfSideBySide runs sdk and base alternately, in one loop, on one server,
// swapping which goes first every iteration, and reports each one's mean
// time per call (divided by per) and their ratio. Noise that comes and
// goes (the other core busy, a GC) hits both alike.
func perfSideBySide(b *testing.B, per int, unit string, sdk, base func() error) {
	var tSDK, tBase time.Duration
	i := 0
	b.ResetTimer()
	for b.Loop() {
		first, second := sdk, base
		d1, d2 := &tSDK, &tBase
		if i%2 == 1 {
			first, second, d1, d2 = base, sdk, &tBase, &tSDK
		}
		i++
		t0 := time.Now()
		if err := first(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := second(); err != nil {
			b.Fatal(err)
		}
		*d1 += t1.Sub(t0)
		*d2 += time.Since(t1)
	}
	b.StopTimer()
	n := float64(b.N) * float64(per)
	b.ReportMetric(float64(tSDK.Nanoseconds())/n, "sdk-ns/"+unit)
	b.ReportMetric(float64(tBase.Nanoseconds())/n, "base-ns/"+unit)
	b.ReportMetric(float64(tSDK)/float64(tBase), "ratio")
}

// BenchmarkPerfJobsGetSideBySide interleaves Jobs.Get and the hand-written
// GET, once per SDK transport (perfTransports): its "ratio" metric is the
// per-call overhead target (<= 1.03).
func BenchmarkPerfJobsGetSideBySide(b *testing.B) {
	for _, tr := range perfTransports {
		b.Run(tr.name, func(b *testing.B) {
			f := perfSetupWith(b, tr.hc)
			ctx := context.Background()
			perfSideBySide(b, 1, "call",
				func() error { _, err := f.sdk.Jobs.Get(ctx, f.jobID); return err },
				func() error { var j perfBaseJob; return f.base.getJob(ctx, f.jobID, &j) })
		})
	}
}

// BenchmarkPerfTransactionsListSideBySide does the same for a whole
// Transactions.List, per transaction (target <= 0.95).
func BenchmarkPerfTransactionsListSideBySide(b *testing.B) {
	for _, tr := range perfTransports {
		b.Run(tr.name, func(b *testing.B) {
			f := perfSetupWith(b, tr.hc)
			ctx := context.Background()
			check := func(n int, err error) error {
				if err == nil && n != f.txns {
					err = errors.New("listed " + strconv.Itoa(n) + " of " + strconv.Itoa(f.txns))
				}
				return err
			}
			perfSideBySide(b, f.txns, "tx",
				func() error { return check(perfSDKListAll(ctx, f.sdk, f.userID)) },
				func() error { return check(f.base.listAll(ctx, f.userID)) })
		})
	}
}
