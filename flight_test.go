package basiq

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlightPanicReleasesWaiters(t *testing.T) {
	t.Parallel()
	var f flight[string, int]
	func() {
		defer func() { _ = recover() }()
		_, _ = f.do(context.Background(), "k", func(context.Context) (int, error) { panic("boom") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := f.do(ctx, "k", func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err, "the key is free again after a panic")
	assert.Equal(t, 7, v)
}

func TestFlightSharesFailuresThatAreNotTheRunnersContext(t *testing.T) {
	t.Parallel()
	var f flight[string, int]
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		runs.Add(1)
		<-release
		// A transport timeout looks like DeadlineExceeded but is not the
		// runner's context ending: waiters share it instead of refetching.
		return 0, context.DeadlineExceeded
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.do(context.Background(), "k", fn)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, int32(1), runs.Load())
}

func TestFlightWaiterRetriesWhenRunnerGaveUp(t *testing.T) {
	t.Parallel()
	var f flight[string, int]
	ctx1, cancel1 := context.WithCancel(context.Background())
	started := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := f.do(ctx1, "k", func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		first <- err
	}()
	<-started
	second := make(chan int, 1)
	go func() {
		v, _ := f.do(context.Background(), "k", func(context.Context) (int, error) { return 9, nil })
		second <- v
	}()
	time.Sleep(10 * time.Millisecond)
	cancel1()
	require.ErrorIs(t, <-first, context.Canceled)
	assert.Equal(t, 9, <-second)
}
