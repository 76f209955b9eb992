package serve

import (
	"errors"
	"net/http"
	"runtime"
	"sync"
	"testing"
)

// TestStackPoolEndings: Run returns, panics and calls runtime.Goexit as the
// function it runs did, and the goroutine that ran a function that
// returned or panicked runs the next one.
func TestStackPoolEndings(t *testing.T) {
	var p stackPool
	defer p.Close()
	ran := false
	p.Run(func() { ran = true })
	if !ran {
		t.Fatal("Run returned without running f")
	}
	first := p.idle[0]

	for _, v := range []any{http.ErrAbortHandler, "text", 42} {
		got := func() (got any) {
			defer func() { got = recover() }()
			p.Run(func() { panic(v) })
			return nil
		}()
		if got != v {
			t.Fatalf("Run's panic: %v, want %v", got, v)
		}
	}
	var nilErr *runtime.PanicNilError
	got := func() (got any) {
		defer func() { got = recover() }()
		p.Run(func() { panic(nil) })
		return nil
	}()
	if err, ok := got.(error); !ok || !errors.As(err, &nilErr) {
		t.Fatalf("Run's panic(nil): %v, want a *runtime.PanicNilError", got)
	}
	if len(p.idle) != 1 || p.idle[0] != first {
		t.Fatalf("after returns and panics the pool holds %d goroutines, not the first one", len(p.idle))
	}

	// Goexit: the caller's goroutine exits (its deferred calls run), and
	// the pool's goroutine is not reused.
	exited, after := make(chan bool), false
	go func() {
		defer func() { exited <- !after }()
		p.Run(runtime.Goexit)
		after = true
	}()
	if !<-exited {
		t.Fatal("Run returned after runtime.Goexit")
	}
	if len(p.idle) != 0 {
		t.Fatal("the goroutine that called runtime.Goexit went back to the pool")
	}
	p.Run(func() {}) // a new one
	if len(p.idle) != 1 {
		t.Fatalf("the pool holds %d goroutines, want 1", len(p.idle))
	}
}

// TestStackPoolBounds: at most stackPoolIdle goroutines wait, and after
// Close none does.
func TestStackPoolBounds(t *testing.T) {
	var p stackPool
	n := stackPoolIdle + 20
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	var done sync.WaitGroup
	for range n {
		done.Go(func() {
			p.Run(func() {
				started.Done()
				release.Wait()
			})
		})
	}
	started.Wait() // n functions run at once, each on its own goroutine
	release.Done()
	done.Wait()
	if len(p.idle) != stackPoolIdle {
		t.Fatalf("%d goroutines wait, want %d", len(p.idle), stackPoolIdle)
	}
	p.Close()
	if len(p.idle) != 0 {
		t.Fatalf("%d goroutines wait after Close", len(p.idle))
	}
	p.Run(func() {})
	if len(p.idle) != 0 {
		t.Fatal("a goroutine went back to the pool after Close")
	}
}
