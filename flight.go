package basiq

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// flight lets concurrent callers that need the same thing share one call: the
// first caller for a key runs fn, the others wait for its result. A waiter
// whose own context is done returns at once; when the running call failed only
// because its caller's context ended, a waiter still alive runs fn itself.
type flight[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*flightCall[V]
}

type flightCall[V any] struct {
	done chan struct{}
	val  V
	err  error
	// abandoned is true when the call failed because its runner's context
	// ended: a waiter still alive runs the call again.
	abandoned bool
}

func (f *flight[K, V]) do(ctx context.Context, key K, fn func(context.Context) (V, error)) (V, error) {
	for {
		f.mu.Lock()
		if c, ok := f.calls[key]; ok {
			f.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				var zero V
				return zero, fmt.Errorf("basiq: waiting for a shared request: %w", ctx.Err())
			}
			if c.abandoned && ctx.Err() == nil {
				continue
			}
			return c.val, c.err
		}
		if f.calls == nil {
			f.calls = make(map[K]*flightCall[V])
		}
		c := &flightCall[V]{done: make(chan struct{})}
		f.calls[key] = c
		f.mu.Unlock()
		f.run(ctx, key, c, fn)
		return c.val, c.err
	}
}

// run calls fn for c and always releases the waiters, even if fn panics.
func (f *flight[K, V]) run(ctx context.Context, key K, c *flightCall[V], fn func(context.Context) (V, error)) {
	defer func() {
		if c.err != nil && ctx.Err() != nil {
			c.abandoned = true
		}
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.err = errFlightPanicked // replaced when fn returns
	c.val, c.err = fn(ctx)
}

// errFlightPanicked is what waiters see when the shared call panicked.
var errFlightPanicked = errors.New("basiq: shared request did not complete")
