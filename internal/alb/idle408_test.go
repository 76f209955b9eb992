package alb

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIdleTimeout408 checks the 408 of alb.md §2.1/§2.4: a client that
// connects to a plain-HTTP listener and sends nothing within the idle
// timeout gets the LB's 408 page with Connection: close, and the access log
// gets one line; a client that sends its request in time is served.
func TestIdleTimeout408(t *testing.T) {
	be := newBackend(t, "A", nil)
	l := httpListener(80, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))))
	ru := startTracked(t, Config{LB: loadBalancer(l), idleTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", ru.addrs[l])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	raw, err := io.ReadAll(c) // the LB speaks first, then closes
	if err != nil {
		t.Fatal(err)
	}
	const page = "<html>\r\n<head><title>408 Request Time-out</title></head>\r\n<body>\r\n<center><h1>408 Request Time-out</h1></center>\r\n</body>\r\n</html>\r\n"
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	if body != page || !strings.HasPrefix(head, "HTTP/1.1 408 Request Time-out\r\nServer: awselb/2.0\r\n") ||
		!strings.Contains(head, "\r\nConnection: close") || !strings.Contains(head, "\r\nContent-Length: "+strconv.Itoa(len(page))) {
		t.Fatalf("response %q", raw)
	}
	rec := ru.sink.wait(t, 1)[0]
	if rec.ELBStatus != 408 || rec.Request != "- - -" || rec.Target != "" || rec.SentBytes != int64(len(raw)) || rec.ReceivedBytes != 0 {
		t.Errorf("record %+v", rec)
	}
	if resp, body := get(t, &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}, "http://"+ru.addrs[l]+"/", nil); resp.StatusCode != 200 || body != "A" {
		t.Errorf("a prompt request: %d %q", resp.StatusCode, body)
	}
}
