//go:build harness

package basiq_test

// The concurrency harness (see BENCHMARKS.md, target 3):
//
//	go test -tags harness -run TestPerfConcurrency -v .
//
// 10,000 concurrent Client.WaitForJob calls, with the waiter's defaults
// (polls 1 s to 5 s apart), on one fresh client against basiqtest.NewServer
// over real loopback sockets. It counts the POST /token requests the server
// answered for that client (must be exactly one), the TCP connections the
// client dialled (a counting DialContext on the transport given with
// basiq.WithHTTPClient), the requests it sent and how many reused a
// connection (net/http/httptrace through the context), and samples the heap
// (runtime.ReadMemStats every 10 ms) for its peak (must be under 200 MB).
//
// The waiters share perfConcJobs distinct jobs (100 waiters per job):
// basiqtest recomputes every running job on every request under one lock,
// so 10,000 running jobs would make the server, not the client, the subject
// of the test. Each waiter still sends its own requests and decodes its own
// copy of every poll.
//
// The server is basiqtest.NewServer in a child process (this test binary
// re-run as TestPerfChildServer; it reports Server.TokenRequests on
// request), so the heap sampled is the client's alone. With -perf.inprocess
// it runs in this process instead, and the heap then includes basiqtest's
// state and its log of every request; the harness prints the live heap
// before the waiters start and after they end to show that share.
//
// Flags: -perf.waiters (default 10000), -perf.sample (default 10ms),
// -perf.clienttimeout (default 60s, as the SDK's own client; 0 for none),
// -perf.inprocess, -perf.heapprofile.

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basiq-go/basiq"
	"github.com/basiq-go/basiq/basiqtest"
)

var (
	perfFlagWaiters = flag.Int("perf.waiters", 10_000, "concurrent WaitForJob calls in TestPerfConcurrency")
	perfFlagSample  = flag.Duration("perf.sample", 10*time.Millisecond, "heap sampling period of the harnesses")
	perfFlagHeapPro = flag.String("perf.heapprofile", "", "write a heap profile to this file each time the sampled heap reaches a new peak")
	perfFlagTimeout = flag.Duration("perf.clienttimeout", 60*time.Second, "http.Client.Timeout of the measured client in TestPerfConcurrency (the SDK's default is 60s; 0 for none)")
	perfFlagInProc  = flag.Bool("perf.inprocess", false, "run the harnesses' basiqtest server in this process instead of a child process")
)

const (
	perfConcJobs = 100
	// perfConcStep is each job step's duration: jobs take 3 steps, 6 s,
	// so every waiter polls several times with the default intervals.
	perfConcStep = 2 * time.Second
)

// perfHeapSampler records the peak of the heap figures while it runs.
type perfHeapSampler struct {
	stop, done chan struct{}

	PeakHeapAlloc, PeakHeapInuse, PeakStackInuse, PeakSys uint64
	// PeakLive is the peak of the runtime's /gc/heap/live:bytes: the heap
	// marked live by the latest collection, garbage excluded.
	PeakLive       uint64
	PeakGoroutines int
	Samples        int
}

func perfStartHeapSampler(every time.Duration) *perfHeapSampler {
	s := &perfHeapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *perfHeapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if *perfFlagHeapPro != "" && ms.HeapInuse > s.PeakHeapInuse+s.PeakHeapInuse/10 {
		if f, err := os.Create(*perfFlagHeapPro); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	s.PeakHeapAlloc = max(s.PeakHeapAlloc, ms.HeapAlloc)
	s.PeakHeapInuse = max(s.PeakHeapInuse, ms.HeapInuse)
	s.PeakStackInuse = max(s.PeakStackInuse, ms.StackInuse)
	s.PeakSys = max(s.PeakSys, ms.Sys)
	s.PeakLive = max(s.PeakLive, perfLiveMetric())
	s.PeakGoroutines = max(s.PeakGoroutines, runtime.NumGoroutine())
	s.Samples++
}

// Stop takes a last sample and stops the sampler; the peaks are then final.
func (s *perfHeapSampler) Stop() {
	close(s.stop)
	<-s.done
	s.sample()
}

// perfLiveHeap is the heap's live bytes (HeapAlloc after a full
// collection).
func perfLiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// perfLiveMetric reads the runtime's live heap as of the last collection.
func perfLiveMetric() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func perfMB(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// perfConnCounter counts the connections a transport dials and how many are
// open at once.
type perfConnCounter struct {
	dialer                   net.Dialer
	dials, open, peak        atomic.Int64
	requests, reusedRequests atomic.Int64
}

// trace counts, through the requests' context, every request that got a
// connection and how many got one already used. (A counting RoundTripper
// around the transport would change what it measures: net/http treats an
// unknown RoundTripper with a Client.Timeout differently.)
func (c *perfConnCounter) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		c.requests.Add(1)
		if info.Reused {
			c.reusedRequests.Add(1)
		}
	}})
}

func (c *perfConnCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.dials.Add(1)
	n := c.open.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return &perfCountedConn{Conn: conn, c: c}, nil
}

type perfCountedConn struct {
	net.Conn
	c    *perfConnCounter
	once sync.Once
}

func (cc *perfCountedConn) Close() error {
	cc.once.Do(func() { cc.c.open.Add(-1) })
	return cc.Conn.Close()
}

// perfConcResult is what one run measured.
type perfConcResult struct {
	Waiters, Jobs                  int
	Failed                         int
	FirstErr                       error
	InProcess                      bool
	TokenRequests                  int // as the server counted them
	Reused                         int64
	Requests, Dials, PeakOpenConns int64
	Elapsed                        time.Duration
	HeapBefore, HeapAfter          uint64 // live heap before the waiters start and after they end
	Peak                           *perfHeapSampler
}

// perfRunConcurrency runs n concurrent WaitForJob calls on one client whose
// transport is tr (dialling counted), over jobs distinct jobs.
func perfRunConcurrency(t *testing.T, n, jobs int, tr *http.Transport) perfConcResult {
	t.Helper()
	ps := perfStartServerWith(t, perfServerConfig{Step: perfConcStep, Child: !*perfFlagInProc})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Jobs are created by another client, so the measured client starts
	// cold: no token, no connection.
	setupHC := perfHTTPClient()
	defer setupHC.CloseIdleConnections()
	setup, err := basiq.NewClient(basiq.WithBaseURL(ps.URL), basiq.WithAPIKey(ps.APIKey), basiq.WithHTTPClient(setupHC))
	if err != nil {
		t.Fatal(err)
	}
	created := make([]*basiq.Job, jobs)
	for i := range created {
		user, err := setup.Users.Create(ctx, basiq.UserParams{Email: fmt.Sprintf("conc-%d@hooli.example", i)})
		if err != nil {
			t.Fatal(err)
		}
		job, err := setup.Connections.Create(ctx, user.ID, basiq.ConnectionParams{
			LoginID: basiqtest.LoginGavinBelson, Password: basiqtest.PasswordGavinBelson,
			Institution: basiq.InstitutionRef{ID: basiqtest.InstHooli},
		})
		if err != nil {
			t.Fatal(err)
		}
		created[i] = job
	}
	tokensBefore := ps.TokenRequests(t)

	cc := &perfConnCounter{dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}
	tr.DialContext = cc.dial
	defer tr.CloseIdleConnections()
	res := perfConcResult{Waiters: n, Jobs: jobs}
	res.HeapBefore = perfLiveHeap()
	// The client lives only in this function, so that the heap measured
	// after it no longer holds it.
	func() {
		client, err := basiq.NewClient(basiq.WithBaseURL(ps.URL), basiq.WithAPIKey(ps.APIKey),
			basiq.WithHTTPClient(&http.Client{Transport: tr, Timeout: *perfFlagTimeout}))
		if err != nil {
			t.Fatal(err)
		}
		tctx := cc.trace(ctx)
		sampler := perfStartHeapSampler(*perfFlagSample)
		start := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Int64
		var firstErr sync.Once
		for i := range n {
			job := *created[i%jobs]
			wg.Go(func() {
				final, err := client.WaitForJob(tctx, &job)
				if err == nil {
					for _, st := range final.Steps {
						if !st.Status.Done() {
							err = fmt.Errorf("job %s: step %s is %s", final.ID, st.Title, st.Status)
						}
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.Do(func() { res.FirstErr = err })
				}
			})
		}
		wg.Wait()
		res.Elapsed = time.Since(start)
		sampler.Stop()
		res.Peak = sampler
		res.Failed = int(failed.Load())
	}()
	res.TokenRequests = ps.TokenRequests(t) - tokensBefore
	res.Reused = cc.reusedRequests.Load()
	res.InProcess = ps.Srv != nil
	res.Requests, res.Dials, res.PeakOpenConns = cc.requests.Load(), cc.dials.Load(), cc.peak.Load()
	tr.CloseIdleConnections()
	res.HeapAfter = perfLiveHeap()
	return res
}

func (r perfConcResult) log(t *testing.T, name string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d waiters on %d jobs (%v steps), all done in %v; %d failed\n",
		name, r.Waiters, r.Jobs, perfConcStep, r.Elapsed.Round(time.Millisecond), r.Failed)
	where := "in a child process (heap figures are the client's alone)"
	if r.InProcess {
		where = "in this process (heap figures include basiqtest's state and request log)"
	}
	fmt.Fprintf(&b, "  server: basiqtest.NewServer over loopback, %s\n", where)
	fmt.Fprintf(&b, "  token requests: %d\n", r.TokenRequests)
	fmt.Fprintf(&b, "  requests sent: %d (%.2f per waiter), %d on a reused connection; TCP connections dialled: %d, at most %d open at once; %.1f requests per connection\n",
		r.Requests, float64(r.Requests)/float64(r.Waiters), r.Reused, r.Dials, r.PeakOpenConns, float64(r.Requests)/float64(max(r.Dials, 1)))
	fmt.Fprintf(&b, "  heap: peak HeapInuse %s, peak HeapAlloc %s, peak live (marked by a GC) %s; live heap before the waiters %s, after %s\n",
		perfMB(r.Peak.PeakHeapInuse), perfMB(r.Peak.PeakHeapAlloc), perfMB(r.Peak.PeakLive), perfMB(r.HeapBefore), perfMB(r.HeapAfter))
	fmt.Fprintf(&b, "  peak StackInuse %s, peak goroutines %d, peak Sys %s; %d samples\n",
		perfMB(r.Peak.PeakStackInuse), r.Peak.PeakGoroutines, perfMB(r.Peak.PeakSys), r.Peak.Samples)
	t.Log("\n" + b.String())
}

// perfSDKDefaultTransport is the transport NewClient builds when no
// WithHTTPClient is given: http.DefaultTransport cloned, 100 idle
// connections per host, no cap on connections per host.
func perfSDKDefaultTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 100
	tr.MaxConnsPerHost = 100
	return tr
}

// TestPerfConcurrency is target 3 with the SDK's default transport settings
// (at most 100 connections per host, all kept idle between requests). A
// second run, for comparison only, lifts the cap on connections per host.
// The runtime never frees a goroutine's descriptor, so the second run
// starts with the first one's (about 20 MB for 40,000 goroutines) on its
// heap; for exact figures run each on its own:
//
//	go test -tags harness -run TestPerfConcurrency/sdk-default-transport -v .
//	go test -tags harness -run TestPerfConcurrency/unlimited-conns-per-host -v .
func TestPerfConcurrency(t *testing.T) {
	check := func(t *testing.T, r perfConcResult) {
		if r.Failed > 0 {
			t.Errorf("%d of %d waits failed; first: %v", r.Failed, r.Waiters, r.FirstErr)
		}
		if r.TokenRequests != 1 {
			t.Errorf("token requests: %d, want exactly 1", r.TokenRequests)
		}
		if r.Peak.PeakHeapInuse >= 200<<20 {
			t.Errorf("peak heap %s, want under 200 MB", perfMB(r.Peak.PeakHeapInuse))
		}
	}
	t.Run("sdk-default-transport", func(t *testing.T) {
		r := perfRunConcurrency(t, *perfFlagWaiters, perfConcJobs, perfSDKDefaultTransport())
		r.log(t, "SDK default transport (MaxIdleConnsPerHost 100, MaxConnsPerHost 100)")
		check(t, r)
	})
	t.Run("unlimited-conns-per-host", func(t *testing.T) {
		// For comparison: not the SDK's setting, so only reported.
		tr := perfSDKDefaultTransport()
		tr.MaxConnsPerHost = 0
		r := perfRunConcurrency(t, *perfFlagWaiters, perfConcJobs, tr)
		r.log(t, "comparison: MaxConnsPerHost unlimited (MaxIdleConnsPerHost 100)")
	})
}
