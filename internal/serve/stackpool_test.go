package serve

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestStackPoolEndings: Run returns, panics and calls runtime.Goexit as the
// function it runs did, and the goroutine that ran a function that
// returned or panicked runs the next one.
func TestStackPoolEndings(t *testing.T) {
	var p StackPool
	defer p.Close()
	ran := false
	p.Run(func() { ran = true })
	if !ran {
		t.Fatal("Run returned without running f")
	}
	first := p.idle[0]

	recovered := func(f func()) (got any) {
		defer func() { got = recover() }()
		p.Run(f)
		return nil
	}
	if got := recovered(func() { panic(http.ErrAbortHandler) }); got != http.ErrAbortHandler {
		t.Fatalf("Run's panic: %v, want http.ErrAbortHandler itself", got)
	}
	for _, v := range []any{"text", 42} {
		got := recovered(func() { raise(v) })
		sp, ok := got.(*stackPanic)
		if !ok || sp.value != v {
			t.Fatalf("Run's panic: %#v, want a *stackPanic of %v", got, v)
		}
		// The stack is where the function panicked, on the pool's goroutine.
		if msg := sp.Error(); !strings.Contains(msg, "serve.raise(") || !strings.HasPrefix(msg, fmt.Sprint(v)) {
			t.Fatalf("the panic's text does not start with its value and show raise:\n%s", msg)
		}
	}
	var nilErr *runtime.PanicNilError
	if got := recovered(func() { panic(nil) }); !errors.As(got.(error), &nilErr) {
		t.Fatalf("Run's panic(nil): %v, want one that wraps a *runtime.PanicNilError", got)
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

// raise panics with v; its name shows in the stack a stackPanic carries.
//
//go:noinline
func raise(v any) { panic(v) }

// TestStackPoolBounds: at most stackPoolIdle goroutines wait, and after
// Close none does.
func TestStackPoolBounds(t *testing.T) {
	var p StackPool
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
