package conformance

import (
	"context"
	"encoding/xml"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/tooltest"
)

// h2specKnownFailures are the h2spec cases kumo's viewer HTTPS listener
// fails, each with why. All four are choices of golang.org/x/net/http2,
// which serves kumo's HTTP/2 (serve.Server); h2spec v2.2.1 was run against
// kumo before and after serve gathered its HTTP/2 writes (h2Conn) and ran
// its handlers on pooled goroutines (stackPool), with these same results.
// The test fails on a failure not listed here (or in h2specTimingCases)
// and on a listed case that passes, so that the list stays exact (an
// upgrade of x/net that fixes one is then a one-line change here).
var h2specKnownFailures = map[string]string{
	"http2/4.2/3": "h2spec's HEADERS frame (five 4,000-byte fields, about 20 KB) exceeds the default " +
		"16,384 but not the 1 MiB that x/net/http2 advertises in SETTINGS_MAX_FRAME_SIZE, so it is answered",
	"http2/6.5.3/1": "x/net/http2 closes the connection (PROTOCOL_ERROR) on a SETTINGS frame " +
		"that carries one setting twice, which RFC 9113 allows, instead of acknowledging it",
	"http2/8.1.2.2/1": "x/net/http2 answers a request with a connection-specific header field " +
		"with 400 Bad Request instead of a stream error PROTOCOL_ERROR",
	"http2/8.1.2.2/2": "x/net/http2 answers a request whose TE is not \"trailers\" " +
		"with 400 Bad Request instead of a stream error PROTOCOL_ERROR",
}

// h2specTimingCases may pass or fail from one run to the next, each with
// why: the outcome depends on which of two goroutines gets there first, and
// either one is correct HTTP/2. They are logged, not held to an outcome.
var h2specTimingCases = map[string]string{
	"http2/6.9.1/3": "the request's HEADERS leave its body open, then two WINDOW_UPDATEs overflow " +
		"the stream's window; when the edge has answered the request before they are read, " +
		"x/net/http2 has reset the finished stream (its body unread) and ignores them, which " +
		"RFC 9113 allows for a closed stream, so h2spec sees that RST_STREAM, not FLOW_CONTROL_ERROR",
}

// h2specMinCases is how many cases h2spec v2.2.1 runs with -t (TLS); a run
// reporting fewer did not run the whole suite.
const h2specMinCases = 145

// TestH2Spec runs h2spec (HTTP/2 conformance, peers.md §3.2) against
// kumo's viewer HTTPS listener: TLS with ALPN h2, the edge answering from
// an origin on loopback (the cache-tests stack, whose LocalDefault routes
// a request without SNI, as h2spec sends to an IP address).
func TestH2Spec(t *testing.T) {
	h2spec := tooltest.Require(t, "h2spec")
	origin := startPlainOrigin(t)
	ep := startKumo(t, origin)
	host, port, err := net.SplitHostPort(ep.Viewer.HTTPS)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("viewer HTTPS address %q is not on 127.0.0.1", ep.Viewer.HTTPS)
	}

	dir := t.TempDir()
	report := filepath.Join(dir, "h2spec.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// -t: TLS, -k: the local CA is not trusted here, -o 2: seconds per case
	// (the cases that wait for kumo to do nothing wait this long).
	cmd := exec.CommandContext(ctx, h2spec, "-t", "-k", "-h", host, "-p", port, "-o", "2",
		"-P", "/h2spec", "-j", report)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	out, runErr := cmd.CombinedOutput() // non-zero whenever a case fails
	if ctx.Err() != nil {
		t.Fatalf("h2spec did not finish within 3 minutes:\n%s", out)
	}
	cases, err := readH2specReport(report)
	if err != nil {
		t.Fatalf("h2spec (%v) wrote no readable report: %v\n%s", runErr, err, out)
	}
	if len(cases) < h2specMinCases {
		t.Fatalf("h2spec ran %d cases, want at least %d:\n%s", len(cases), h2specMinCases, out)
	}
	failed := 0
	for _, c := range cases {
		_, known := h2specKnownFailures[c.id]
		if _, timing := h2specTimingCases[c.id]; timing {
			if c.failed {
				failed++
				t.Logf("h2spec %s (%s) failed this time (a timing case, see h2specTimingCases): %s", c.id, c.name, c.message)
			}
			continue
		}
		switch {
		case c.failed && !known:
			t.Errorf("h2spec %s (%s) fails: %s", c.id, c.name, c.message)
		case !c.failed && known:
			t.Errorf("h2spec %s (%s) passes now: remove it from h2specKnownFailures", c.id, c.name)
		}
		if c.failed {
			failed++
		}
	}
	for _, list := range []map[string]string{h2specKnownFailures, h2specTimingCases} {
		for id := range list {
			if !hasCase(cases, id) {
				t.Errorf("h2spec ran no case %s (listed as known)", id)
			}
		}
	}
	t.Logf("h2spec: %d cases, %d passed, %d failed (known: %d)", len(cases), len(cases)-failed, failed, len(h2specKnownFailures))
}

// h2specCase is one case of an h2spec JUnit report: its id is the
// section's package and the case's number in it ("http2/6.5.3/1").
type h2specCase struct {
	id, name, message string
	failed            bool
}

// readH2specReport reads h2spec's JUnit report (-j).
func readH2specReport(path string) ([]h2specCase, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Suites []struct {
			Package string `xml:"package,attr"`
			Cases   []struct {
				// h2spec puts the case's description in classname, and
				// what it expected and what came in an error's text.
				Name    string  `xml:"classname,attr"`
				Failure *string `xml:"failure"`
				Error   *string `xml:"error"`
				Skipped *string `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var cases []h2specCase
	for _, s := range doc.Suites {
		for i, tc := range s.Cases {
			c := h2specCase{id: s.Package + "/" + strconv.Itoa(i+1), name: tc.Name}
			switch {
			case tc.Failure != nil:
				c.failed, c.message = true, *tc.Failure
			case tc.Error != nil:
				c.failed, c.message = true, *tc.Error
			case tc.Skipped != nil:
				c.failed, c.message = true, "skipped "+*tc.Skipped
			}
			c.message = strings.ReplaceAll(strings.TrimSpace(c.message), "\n", "; ")
			cases = append(cases, c)
		}
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].id < cases[j].id })
	return cases, nil
}

func hasCase(cases []h2specCase, id string) bool {
	i := sort.Search(len(cases), func(i int) bool { return cases[i].id >= id })
	return i < len(cases) && cases[i].id == id
}

// startPlainOrigin serves a small cacheable body on 127.0.0.1 and an
// ephemeral port until the test ends, and returns the port.
func startPlainOrigin(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("h2spec origin body\n", 64)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(body))
	}), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}
