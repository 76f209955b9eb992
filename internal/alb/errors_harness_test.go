package alb

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

// updateErrors rewrites testdata/errors/*.{html,log} from what kumo produces.
var updateErrors = flag.Bool("update-errors", false, "rewrite the golden LB error pages and log lines under testdata/errors/")

// goldenErrorTime is the fixed clock of TestLBGeneratedErrors.
var goldenErrorTime = time.Date(2026, 4, 25, 16, 45, 16, 0, time.UTC)

// errorRequest is the request every row sends unless it brings its own.
const errorRequest = "GET /error/page?x=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"

// lbErrorCase is one row of TestLBGeneratedErrors: one LB-generated status
// and cause, with its golden page testdata/errors/<name>.html (the body,
// byte for byte) and golden log line testdata/errors/<name>.log.
type lbErrorCase struct {
	// name is <status>-<cause>, the golden files' stem.
	name   string
	status int
	// setup returns the listener (its modeled port is what the log shows)
	// and may adjust the Config (timeouts, attributes).
	setup func(t *testing.T) (*model.Listener, func(*Config))
	// request is the raw request; "" means errorRequest.
	request string
	// clientGone, when set, is closed by the target once the request
	// reached it; the client then closes its connection (460: logged,
	// never sent).
	clientGone func(t *testing.T) <-chan struct{}
	// connection is the expected Connection header ("" for none).
	connection string
	// contentType is the expected Content-Type ("" means text/html).
	contentType string
	// inFlight, when set, is called before setup; once reached is closed
	// (the request reached the target), act runs with the running load
	// balancer — e.g. a reload — and the response is read after it.
	inFlight func(t *testing.T) (reached <-chan struct{}, act func(t *testing.T, ru *running, cfg Config))
	// silent sends no request at all (the client only connects).
	silent bool
	// tracked serves the listener through a ConnListener, as the runtime
	// does (needed by the rules that watch the connection itself).
	tracked bool
}

// TestLBGeneratedErrors checks every LB-generated status (alb.md §2) byte
// for byte against its golden page and golden access-log line (§1.11),
// through real sockets, with a fixed clock. The inherently random log
// fields — the client's source port, the connection trace id and the
// random part of the trace id — are replaced by fixed values before the
// line is compared; everything else is as kumo wrote it.
func TestLBGeneratedErrors(t *testing.T) {
	rows := append(targetSideErrorRows(), connectTimeoutErrorRows()...)
	rows = append(rows, listenerSideErrorRows()...)
	rows = append(rows, unparsedErrorRows()...)
	seen := map[string]bool{}
	for _, tc := range rows {
		if seen[tc.name] {
			t.Fatalf("two rows named %s", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) { runErrorCase(t, tc) })
	}
}

func runErrorCase(t *testing.T, tc lbErrorCase) {
	var gone <-chan struct{}
	if tc.clientGone != nil {
		gone = tc.clientGone(t)
	}
	var reached <-chan struct{}
	var act func(*testing.T, *running, Config)
	if tc.inFlight != nil {
		reached, act = tc.inFlight(t)
	}
	l, adjust := tc.setup(t)
	cfg := Config{LB: loadBalancer(l), Now: func() time.Time { return goldenErrorTime }}
	if adjust != nil {
		adjust(&cfg)
	}
	var ru *running
	if tc.tracked {
		ru = startTracked(t, cfg)
	} else {
		ru = start(t, cfg)
	}
	conn, err := net.Dial("tcp", ru.addrs[l])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := tc.request
	if req == "" {
		req = errorRequest
	}
	if tc.silent {
		req = ""
	}
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	if reached != nil {
		select {
		case <-reached:
		case <-time.After(10 * time.Second):
			t.Fatal("the request never reached the target")
		}
		act(t, ru, cfg)
	}
	if gone != nil {
		select {
		case <-gone:
		case <-time.After(10 * time.Second):
			t.Fatal("the request never reached the target")
		}
		conn.Close()
	} else {
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		if resp.StatusCode != tc.status {
			t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
		}
		ct := tc.contentType
		if ct == "" {
			ct = "text/html"
		}
		for k, want := range map[string]string{
			"Server": ServerHeader, "Content-Type": ct, "Content-Length": strconv.Itoa(len(body)),
			"Date": goldenErrorTime.Format(http.TimeFormat), "Connection": tc.connection,
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		compareGolden(t, filepath.Join("testdata", "errors", tc.name+".html"), body)
	}
	rec := ru.sink.wait(t, 1)[0]
	if rec.ELBStatus != tc.status {
		t.Errorf("logged status %d, want %d", rec.ELBStatus, tc.status)
	}
	compareGolden(t, filepath.Join("testdata", "errors", tc.name+".log"), normalizedLogLine(rec))
}

var traceRandom = regexp.MustCompile(`(Root=1-[0-9a-f]{8}-)[0-9a-f]{24}`)

// normalizedLogLine is the record's access-log line with the client port,
// the conn trace id and the trace id's random part fixed.
func normalizedLogLine(rec *accesslog.ALBRecord) []byte {
	r := *rec
	if host, _, err := net.SplitHostPort(r.Client); err == nil {
		r.Client = host + ":50000"
	}
	if r.ConnTraceID != "" {
		r.ConnTraceID = "TID_00000000000000000000000000000000"
	}
	r.TraceID = traceRandom.ReplaceAllString(r.TraceID, "${1}000000000000000000000000")
	return r.AppendLine(nil)
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateErrors {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s (run with -update-errors to create): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs\n got %q\nwant %q", path, got, want)
	}
}
