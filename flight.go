package basiq

import (
	"context"
	"errors"
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
				return zero, ctx.Err()
			}
			if c.err != nil && ctx.Err() == nil && isContextErr(c.err) {
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

		c.val, c.err = fn(ctx)

		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
		return c.val, c.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
