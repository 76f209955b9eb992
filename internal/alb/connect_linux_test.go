//go:build linux

package alb

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

// fullBacklogAddr returns a loopback address whose listen backlog is full,
// so that new TCP connections hang in SYN_SENT: a real connect timeout.
func fullBacklogAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skipf("bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skipf("listen: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Skipf("getsockname: %v", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue (never accepted) until a dial times out.
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr
			}
			t.Skipf("filling backlog: %v", err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill the listen backlog")
	return ""
}

func TestTargetConnectTimeout504(t *testing.T) {
	addr := fullBacklogAddr(t)
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.1.107", Addr: "10.0.1.107:80", Local: addr})
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l), connectTimeout: 300 * time.Millisecond})
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/", map[string]string{"User-Agent": "curl/7.58.0"})
	golden(t, resp, body, 504, "testdata/504.html")
	checkRecord(t, ru.sink.wait(t, 1)[0], accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, Target: "10.0.1.107:80",
		RequestProcessingTime: -1, TargetProcessingTime: -1, ResponseProcessingTime: -1,
		ELBStatus: 504, Request: "GET http://127.0.0.1:80/ HTTP/1.1", UserAgent: "curl/7.58.0",
		TargetGroupARN: testTGARN, ActionsExecuted: "forward",
	})
}
