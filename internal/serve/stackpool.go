package serve

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
)

// stackPoolIdle bounds the goroutines a StackPool keeps waiting for work:
// at the 32 KiB a handler's stack grows to, 128 of them hold 4 MiB.
const stackPoolIdle = 128

// StackPool runs functions on long-lived goroutines whose stacks have
// already grown, for callers that start on a new goroutine each time. The
// zero value is ready to use; a StackPool must not be copied after.
//
// Why: x/net/http2 and quic-go's http3 run every request's handler on a
// goroutine of its own, which starts with a small stack; the edge's hit
// path is deeper than that, so each HTTP/2 request paid for growing
// (copying) its stack once or twice: 13 % of kumo's CPU under h2load -m10
// against the bench stack.
// Run hands the function to a waiting goroutine (or a new one when none
// waits) and blocks until it returns, so the caller sees what it would
// have seen calling it: the return, a panic (raised again in the caller:
// http.ErrAbortHandler as it is, any other value as a *stackPanic that
// carries the stack it was raised on), or runtime.Goexit (called again in
// the caller).
type StackPool struct {
	mu     sync.Mutex
	idle   []*stackWorker
	closed bool // Close was called: no goroutine waits for work again
}

// stackWorker is one long-lived goroutine of a StackPool.
type stackWorker struct {
	job  chan func()
	done chan stackResult
}

// stackResult is how a function run by a stackWorker ended.
type stackResult struct {
	panicked bool
	value    any  // the panic's value: http.ErrAbortHandler or a *stackPanic
	goexit   bool // the function called runtime.Goexit (the worker ended)
}

// stackPanic is a panic that Run raises again in its caller: the value the
// function panicked with, and the stack of the pool's goroutine when it
// did (the caller's own stack no longer shows where).
type stackPanic struct {
	value any
	stack []byte
}

func (p *stackPanic) Error() string {
	return fmt.Sprintf("%v\n\n[panicked on a serve.StackPool goroutine]\n%s", p.value, p.stack)
}

// Unwrap returns the panic's value when it is an error.
func (p *stackPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// Run calls f on one of the pool's goroutines and returns when f does,
// panicking or calling runtime.Goexit as f did.
func (p *StackPool) Run(f func()) {
	w := p.get()
	w.job <- f
	res := <-w.done
	if res.goexit {
		runtime.Goexit() // w has ended: not put back
	}
	p.put(w) // w recovered any panic: it can wait for work again
	if res.panicked {
		panic(res.value)
	}
}

func (p *StackPool) get() *stackWorker {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return w
	}
	p.mu.Unlock()
	w := &stackWorker{job: make(chan func()), done: make(chan stackResult)}
	go w.loop()
	return w
}

// put keeps w waiting for work, or ends it when enough wait.
func (p *StackPool) put(w *stackWorker) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < stackPoolIdle {
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	close(w.job)
}

// Close ends the goroutines waiting for work. Run may still be called: it
// then runs each function on a goroutine that ends after it.
func (p *StackPool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, w := range idle {
		close(w.job)
	}
}

// loop runs the jobs it is given until its channel closes or a job calls
// runtime.Goexit.
func (w *stackWorker) loop() {
	for f := range w.job {
		w.done <- w.call(f)
	}
}

// call runs f and reports how it ended. On runtime.Goexit the deferred
// function sends the report itself, as the goroutine then ends.
func (w *stackWorker) call(f func()) (res stackResult) {
	returned := false
	defer func() {
		if returned {
			return
		}
		// Since Go 1.21 a panic always recovers a non-nil value (panic(nil)
		// is a *runtime.PanicNilError): nil means runtime.Goexit.
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				v = &stackPanic{value: v, stack: debug.Stack()}
			}
			res = stackResult{panicked: true, value: v}
			return
		}
		w.done <- stackResult{goexit: true}
	}()
	f()
	returned = true
	return res
}
