//go:build harness

package basiq_test

// The streaming harness (see BENCHMARKS.md, target 4):
//
//	go test -tags harness -run TestPerfStreaming -v .
//
// Transactions.List over 10,000 and then 100,000 transactions (PageSize 500:
// 20 and 200 pages) from basiqtest.NewServer over loopback, the server in a
// child process (-perf.inprocess to keep it here), so the heap measured is
// the client's alone. Each total is iterated twice:
//
//   - "sampled": runtime.ReadMemStats and the runtime's live-heap metric
//     (/gc/heap/live:bytes) every -perf.sample (default 10 ms), their peaks
//     above the live heap before the loop. This includes garbage the collector has not yet
//     reclaimed, so it depends on GC pacing (GOGC) as well as on the SDK.
//   - "retained": two full collections in the middle of every page (a
//     pooled body buffer survives one), then HeapAlloc: what the iteration
//     keeps alive, the figure that must not grow with the total.
//
// The test fails if the retained peak at 100k exceeds 4 pages of JSON, or
// exceeds the 10k one by more than one page.

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

// perfStreamResult is one total's figures.
type perfStreamResult struct {
	Total, Pages           int
	Login                  string
	PageJSON               int // bytes of one 500-transaction page as served
	Base                   uint64
	SampledInuse           uint64 // peak HeapInuse while iterating, above Base
	SampledAlloc           uint64 // peak HeapAlloc while iterating, above Base
	SampledLive            uint64 // peak of /gc/heap/live:bytes, above Base
	Retained               uint64 // peak HeapAlloc after a GC mid-page, above Base
	ElapsedSampled         time.Duration
	PerTx                  time.Duration
	NumGC                  uint32
	AbsPeakInuse, AbsAlloc uint64
}

// perfPickLogin finds a sandbox login whose Hooli connection has a number
// of accounts that divides total, so that the server can be given an exact
// number of transactions per account.
func perfPickLogin(t *testing.T, total int) (login, password string, accounts int) {
	t.Helper()
	srv := basiqtest.NewServer(basiqtest.WithTransactionsPerAccount(0), basiqtest.WithStepDuration(time.Millisecond))
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	for _, lp := range [][2]string{
		{basiqtest.LoginGavinBelson, basiqtest.PasswordGavinBelson}, {basiqtest.LoginJared, basiqtest.PasswordJared},
		{basiqtest.LoginRichard, basiqtest.PasswordRichard}, {basiqtest.LoginGilfoyle, basiqtest.PasswordGilfoyle},
		{basiqtest.LoginWhistler, basiqtest.PasswordWhistler},
	} {
		userID := srv.AddUser(lp[0] + "@hooli.example")
		job, err := c.Connections.Create(ctx, userID, basiq.ConnectionParams{LoginID: lp[0], Password: lp[1],
			Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitForJob(ctx, job, basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		accts, err := c.Accounts.List(ctx, userID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(accts); n > 0 && total%n == 0 {
			return lp[0], lp[1], n
		}
	}
	t.Fatalf("no sandbox login has a number of accounts dividing %d", total)
	return "", "", 0
}

func perfRunStreaming(t *testing.T, total int) perfStreamResult {
	t.Helper()
	const pageSize = basiq.MaxTransactionsPageSize
	login, password, accounts := perfPickLogin(t, total)
	ps := perfStartServerWith(t, perfServerConfig{TxPerAccount: total / accounts, Step: time.Millisecond, Child: !*perfFlagInProc})
	ctx := context.Background()

	hc := perfHTTPClient()
	defer hc.CloseIdleConnections()
	client, err := basiq.NewClient(basiq.WithBaseURL(ps.URL), basiq.WithAPIKey(ps.APIKey), basiq.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	user, err := client.Users.Create(ctx, basiq.UserParams{Email: "stream@hooli.example"})
	if err != nil {
		t.Fatal(err)
	}
	job, err := client.Connections.Create(ctx, user.ID, basiq.ConnectionParams{LoginID: login, Password: password,
		Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.WaitForJob(ctx, job, basiq.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	// The size of one page as served, read with the hand-written client.
	base := perfNewBaseline(t, ps)
	pageJSON := perfPageBytes(t, base, ps.URL+"/users/"+user.ID+"/transactions?limit=500")
	base.hc.CloseIdleConnections()

	filter := &basiq.TransactionFilter{PageSize: pageSize}
	r := perfStreamResult{Total: total, Pages: (total + pageSize - 1) / pageSize, Login: login, PageJSON: pageJSON}

	// Pass 1: sampled, the collector left to its own pacing.
	r.Base = perfStreamLiveHeap()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	sampler := perfStartHeapSampler(*perfFlagSample)
	start := time.Now()
	n := 0
	for tx, err := range client.Transactions.List(ctx, user.ID, filter) {
		if err != nil {
			t.Fatal(err)
		}
		perfSinkTx = string(tx.Amount)
		n++
	}
	r.ElapsedSampled = time.Since(start)
	sampler.Stop()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	r.NumGC = ms1.NumGC - ms0.NumGC
	if n != total {
		t.Fatalf("listed %d transactions, want %d", n, total)
	}
	r.PerTx = r.ElapsedSampled / time.Duration(n)
	above := func(v uint64) uint64 { return v - min(v, r.Base) }
	r.SampledInuse, r.SampledAlloc = above(sampler.PeakHeapInuse), above(sampler.PeakHeapAlloc)
	r.AbsPeakInuse, r.AbsAlloc = sampler.PeakHeapInuse, sampler.PeakHeapAlloc
	r.SampledLive = above(sampler.PeakLive)

	// Pass 2: retained, a full collection in the middle of every page.
	r.Base = perfStreamLiveHeap()
	n = 0
	var peak uint64
	for tx, err := range client.Transactions.List(ctx, user.ID, filter) {
		if err != nil {
			t.Fatal(err)
		}
		perfSinkTx = string(tx.Amount)
		n++
		if n%pageSize == pageSize/2 {
			peak = max(peak, perfStreamLiveHeap())
		}
	}
	if n != total {
		t.Fatalf("listed %d transactions, want %d", n, total)
	}
	r.Retained = above(peak)
	return r
}

// perfPageBytes is the size of the body at rawURL.
func perfPageBytes(t *testing.T, p *perfBaseline, rawURL string) int {
	t.Helper()
	var m rawJSONSize
	if err := p.get(context.Background(), rawURL, &m); err != nil {
		t.Fatal(err)
	}
	return int(m)
}

// rawJSONSize decodes nothing and remembers how many bytes it was given.
type rawJSONSize int

func (s *rawJSONSize) UnmarshalJSON(b []byte) error { *s = rawJSONSize(len(b)); return nil }

func TestPerfStreaming(t *testing.T) {
	var rs []perfStreamResult
	for _, total := range []int{10_000, 100_000} {
		rs = append(rs, perfRunStreaming(t, total))
	}
	var b strings.Builder
	where := "a child process"
	if *perfFlagInProc {
		where = "this process (figures include the server's heap)"
	}
	fmt.Fprintf(&b, "server in %s; PageSize 500; one page is %d bytes of JSON\n", where, rs[0].PageJSON)
	fmt.Fprintf(&b, "%8s %6s | %-44s | %s\n", "total", "pages", "sampled peak above the live heap before", "retained (GC mid-page)")
	fmt.Fprintf(&b, "%8s %6s | %10s %10s %10s %5s %6s | %10s %7s\n", "", "", "HeapInuse", "HeapAlloc", "live", "GCs", "ns/tx", "HeapAlloc", "pages")
	for _, r := range rs {
		fmt.Fprintf(&b, "%8d %6d | %10s %10s %10s %5d %6d | %10s %7.2f\n", r.Total, r.Pages,
			perfMB(r.SampledInuse), perfMB(r.SampledAlloc), perfMB(r.SampledLive), r.NumGC, r.PerTx.Nanoseconds(),
			perfMB(r.Retained), float64(r.Retained)/float64(r.PageJSON))
	}
	fmt.Fprintf(&b, "absolute peaks: 10k HeapInuse %s HeapAlloc %s; 100k HeapInuse %s HeapAlloc %s\n",
		perfMB(rs[0].AbsPeakInuse), perfMB(rs[0].AbsAlloc), perfMB(rs[1].AbsPeakInuse), perfMB(rs[1].AbsAlloc))
	t.Log("\n" + b.String())

	small, big := rs[0], rs[1]
	if limit := uint64(4 * big.PageJSON); big.Retained > limit {
		t.Errorf("retained heap at 100k: %s, more than 4 pages (%s)", perfMB(big.Retained), perfMB(limit))
	}
	if big.Retained > small.Retained+uint64(big.PageJSON) {
		t.Errorf("retained heap grows with the total: %s at 10k, %s at 100k", perfMB(small.Retained), perfMB(big.Retained))
	}
}

// perfStreamLiveHeap is the live heap with the client's pooled body buffers
// left out: a buffer back in its sync.Pool survives one collection (in the
// pool's victim cache) and is freed by the second, so two are run. What the
// iteration itself holds survives both.
func perfStreamLiveHeap() uint64 {
	runtime.GC()
	return perfLiveHeap()
}
