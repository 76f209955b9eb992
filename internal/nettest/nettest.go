// Package nettest owns the loopback network fixtures kumo's tests use to make
// the ways a connection fails happen for real: an address that refuses, an
// address whose SYNs are dropped (a connect timeout), and a server that
// accepts and never answers (a read timeout). Everything binds 127.0.0.1 on
// an ephemeral port and is released by t.Cleanup.
package nettest

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// RefusedAddr returns a loopback address nothing listens on: a connection to
// it is refused.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// SilentAddr returns the address of a server that accepts connections,
// reads whatever arrives and never answers.
func SilentAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// SYNDroppingAddr returns a loopback address where a TCP connect hangs until
// it times out: a listening socket with a backlog of 0 that never accepts,
// its queue filled first, so that the kernel drops further SYNs. It skips
// the test on a kernel that does not behave so.
func SYNDroppingAddr(t testing.TB) string {
	t.Helper()
	fd, port, err := listenBacklog0()
	if err != nil {
		t.Skipf("a listen backlog of 0 is not available here: %v", err)
	}
	t.Cleanup(func() { closeFD(fd) })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr
			}
			t.Fatalf("filling the backlog of %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skipf("SYNs to %s are not dropped on this kernel", addr)
	return ""
}
