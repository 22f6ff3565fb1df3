//go:build harness

package basiq_test

// The waiter simulation at full size (see BENCHMARKS.md, "The waiter"):
//
//	go test -tags harness -run TestPerfWaiterSimulation -v .
//
// It runs every scenario of waiter_test.go's simulation with -perf.jobs jobs
// for each of -perf.seeds seeds from -perf.seed0 (default 1, 2, 3; the
// schedule's constants were tuned on these, so confirm a change on others,
// e.g. -perf.seed0 4), side by side with a fixed 1 s poller, and
// prints the table BENCHMARKS.md shows; then the figures after the client
// has seen 5 and 50 jobs at each bank, and the cost of WithProgress and of a
// bare job (id and links only, as a caller builds one). It fails if a target
// of the issue is missed.

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/basiq-go/basiq"
)

var (
	perfFlagJobs  = flag.Int("perf.jobs", 500, "jobs per scenario and seed in the waiter simulation")
	perfFlagSeeds = flag.Int("perf.seeds", 3, "seeds per scenario in the waiter simulation")
	perfFlagSeed0 = flag.Int("perf.seed0", 1, "first seed of the waiter simulation: seeds seed0..seed0+N-1")
)

// simProgressWaiter is WaitForJob with WithProgress set.
var simProgressWaiter = simPoller{Name: "WaitForJob+progress", Wait: func(ctx context.Context, c *basiq.Client, job *basiq.Job) (*basiq.Job, error) {
	return c.WaitForJob(ctx, job, basiq.WithProgress(func(*basiq.Job) {}))
}}

// simBareWaiter is WaitForJob on a job the caller built from its id, with no
// institution: the waiter reads the connection to find the bank.
var simBareWaiter = simPoller{Name: "WaitForJob, bare job", Wait: func(ctx context.Context, c *basiq.Client, job *basiq.Job) (*basiq.Job, error) {
	return c.WaitForJob(ctx, &basiq.Job{ID: job.ID})
}}

func TestPerfWaiterSimulation(t *testing.T) {
	start := time.Now()
	var seeds []uint64
	for s := range *perfFlagSeeds {
		seeds = append(seeds, uint64(*perfFlagSeed0+s))
	}
	n := *perfFlagJobs
	var rows, detect, extra []string
	var missed []string
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	for i := range simScenarios(0) {
		sc, fixed := simRunSeeds(t, i, seeds, n, simFixedPoller)
		_, cand := simRunSeeds(t, i, seeds, n, simDefaultWaiter)
		missed = append(missed, simTargets(sc, fixed, cand)...)
		if sc.Outcome == simWrongPass || sc.Outcome == simAsksMFA {
			detect = append(detect, fmt.Sprintf("| %s | %.2f | %.2f | %s / %s | %s / %s |", sc.Name,
				fixed.GetsPerJob(), cand.GetsPerJob(),
				ms(simPercentile(fixed.Lags, 50)), ms(simPercentile(fixed.Lags, 95)),
				ms(simPercentile(cand.Lags, 50)), ms(simPercentile(cand.Lags, 95))))
			continue
		}
		rows = append(rows, simRow(sc, fixed, cand))
		if i == 0 {
			for _, p := range []simPoller{simProgressWaiter, simBareWaiter} {
				_, r := simRunSeeds(t, i, seeds, n, p)
				extra = append(extra, fmt.Sprintf("| %s | %.2f | %.2f | %s / %s / %s |", p.Name, r.GetsPerJob(),
					r.GetsPerJob()/fixed.GetsPerJob(), ms(simPercentile(r.Lags, 50)), ms(simPercentile(r.Lags, 95)), ms(simPercentile(r.Lags, 99))))
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d jobs per scenario and seed, seeds %v\n\n%s\n%s\n\n", n, seeds, simHeader, strings.Join(rows, "\n"))
	fmt.Fprintf(&b, "| scenario | fixed GETs/job | WaitForJob GETs/job | fixed detection p50 / p95 | WaitForJob detection p50 / p95 |\n|---|---|---|---|---|\n%s\n\n", strings.Join(detect, "\n"))
	fmt.Fprintf(&b, "Scenario %q with options:\n\n| waiter | GETs/job | ratio to fixed | lag p50 / p95 / p99 |\n|---|---|---|---|\n%s\n\n", simScenarios(0)[0].Name, strings.Join(extra, "\n"))

	// Learning: jobs one after another at each bank, through one client, on
	// the first seed.
	const rounds = 55
	fmt.Fprintf(&b, "| scenario | fixed GETs/job | WaitForJob jobs 1-5 | jobs 6-10 (after 5) | jobs 51-55 (after 50) |\n|---|---|---|---|---|\n")
	for _, i := range []int{0, 1, 3, 4} {
		sc := simScenarios(seeds[0])[i]
		fixed := simRunSequential(t, sc, rounds, simFixedPoller)
		cand := simRunSequential(t, sc, rounds, simDefaultWaiter)
		per := func(g []int, from, to int) float64 {
			s := 0
			for _, x := range g[from:to] {
				s += x
			}
			return float64(s) / float64((to-from)*len(simBanks()))
		}
		f := per(fixed, 0, rounds)
		fmt.Fprintf(&b, "| %s | %.2f | %.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) |\n", sc.Name, f,
			per(cand, 0, 5), per(cand, 0, 5)/f, per(cand, 5, 10), per(cand, 5, 10)/f, per(cand, 50, 55), per(cand, 50, 55)/f)
	}
	t.Log("\n" + b.String())
	t.Logf("simulated in %v of real time", time.Since(start).Round(time.Millisecond))
	for _, m := range missed {
		t.Errorf("target missed: %s", m)
	}
}
