package upstream

import (
	"bufio"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// leanCases are response byte streams for the differential tests; lean
// says whether readLean is expected to take the head (for a GET) rather
// than leave it to http.ReadResponse.
var leanCases = []struct {
	name, in string
	lean     bool
}{
	{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true},
	{"content-length-next-response", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n\r\n", true},
	{"truncated-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true},
	{"zero-length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
	{"leading-zeros", "HTTP/1.1 200 OK\r\nContent-Length: 005\r\n\r\nhello", true},
	{"length-blanks", "HTTP/1.1 200 OK\r\nContent-Length: \t 5 \t\r\n\r\nhello", true},
	{"close-delimited", "HTTP/1.1 200 OK\r\n\r\nuntil the end", true},
	{"http10", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", true},
	{"http10-keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi", true},
	{"http10-close-kept", "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nhi", true},
	{"connection-close-dropped", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", true},
	{"connection-close-token", "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 2\r\n\r\nhi", true},
	{"connection-keep-alive", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nhi", true},
	{"no-reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", true},
	{"empty-reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", true},
	{"long-reason", "HTTP/1.1 404 Not  Found\there é\r\nContent-Length: 0\r\n\r\n", true},
	{"status-999", "HTTP/1.1 999 Odd\r\nContent-Length: 1\r\n\r\nx", true},
	{"no-content", "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", true},
	{"not-modified", "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n", true},
	{"not-modified-bad-length", "HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n", false},
	{"lower-case-keys", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\nx-custom-thing: 1\r\nSET-COOKIE: a=b\r\n\r\nhi", true},
	{"odd-keys", "HTTP/1.1 200 OK\r\nx-1abc: 1\r\n!#$%&'*+-.^_`|~: 2\r\nA--b: 3\r\nContent-Length: 0\r\n\r\n", true},
	{"long-key", "HTTP/1.1 200 OK\r\n" + strings.Repeat("ab-", 40) + ": v\r\nContent-Length: 0\r\n\r\n", true},
	{"duplicates", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX: 1\r\nset-cookie: b=2\r\nSet-Cookie: c=3\r\nContent-Length: 0\r\n\r\n", true},
	{"value-blanks", "HTTP/1.1 200 OK\r\nX-A:   spaced  \t\r\nX-B:\r\nX-C:\t\r\nX-D: a:b: c\r\nContent-Length: 0\r\n\r\n", true},
	{"obs-text", "HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9 \xff\r\nContent-Length: 0\r\n\r\n", true},
	{"pragma", "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n", true},
	{"pragma-cache-control", "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nCache-Control: max-age=1\r\nContent-Length: 0\r\n\r\n", true},
	{"trailer-unchunked", "HTTP/1.1 200 OK\r\nTrailer: X\r\nContent-Length: 0\r\n\r\n", true},
	{"same-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", false},
	{"conflicting-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", false},
	{"bad-length", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nhi", false},
	{"signed-length", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nhi", false},
	{"empty-length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nhi", false},
	{"huge-length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhi", false},
	{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", false},
	{"chunked-lower", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", false},
	{"interim", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"switching", "HTTP/1.1 101 Switching Protocols\r\n\r\n", false},
	{"status-0xx", "HTTP/1.1 099 Odd\r\n\r\n", false},
	{"http2", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"http09", "HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"two-spaces", "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"tab-after-code", "HTTP/1.1 200\tOK\r\nContent-Length: 0\r\n\r\n", false},
	{"short-code", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"bad-code", "HTTP/1.1 2x0 OK\r\n\r\n", false},
	{"control-in-reason", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n", false},
	{"bare-lf", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", false},
	{"bare-lf-header", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", false},
	{"cr-in-value", "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n", false},
	{"nul-in-value", "HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n", false},
	{"del-in-value", "HTTP/1.1 200 OK\r\nX: a\x7fb\r\nContent-Length: 0\r\n\r\n", false},
	{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", false},
	{"leading-space", "HTTP/1.1 200 OK\r\n X: a\r\nContent-Length: 0\r\n\r\n", false},
	{"space-before-colon", "HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n", false},
	{"no-colon", "HTTP/1.1 200 OK\r\nX\r\nContent-Length: 0\r\n\r\n", false},
	{"empty-key", "HTTP/1.1 200 OK\r\n: a\r\nContent-Length: 0\r\n\r\n", false},
	{"bad-key", "HTTP/1.1 200 OK\r\nX(y): a\r\nContent-Length: 0\r\n\r\n", false},
	{"utf8-key", "HTTP/1.1 200 OK\r\nX\xc3\xa9: a\r\nContent-Length: 0\r\n\r\n", false},
	{"incomplete-head", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", false},
	{"empty", "", false},
	{"garbage", "garbage\r\n\r\n", false},
	{"oversized-head", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\nContent-Length: 0\r\n\r\n", false},
}

// TestReadLeanMatchesReadResponse: every stream readLean takes, it reads
// as http.ReadResponse does; what it leaves, it leaves unconsumed.
func TestReadLeanMatchesReadResponse(t *testing.T) {
	for _, c := range leanCases {
		t.Run(c.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				lean := compareLean(t, c.in, method)
				if method == http.MethodGet && lean != c.lean {
					t.Errorf("readLean took the head: %v, want %v", lean, c.lean)
				}
			}
		})
	}
}

// FuzzReadResponse: readLean never disagrees with http.ReadResponse.
func FuzzReadResponse(f *testing.F) {
	for _, c := range leanCases {
		f.Add(c.in, false)
		f.Add(c.in, true)
	}
	f.Fuzz(func(t *testing.T, in string, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		compareLean(t, in, method)
	})
}

// compareLean reads in with readLean and with http.ReadResponse and fails
// t where they differ; it reports whether readLean took the head.
func compareLean(t testing.TB, in, method string) bool {
	t.Helper()
	req, err := http.NewRequest(method, "http://target.example/", nil)
	if err != nil {
		t.Fatal(err)
	}
	refSrc := strings.NewReader(in)
	refBR := bufio.NewReaderSize(refSrc, 4096)
	ref, refErr := http.ReadResponse(refBR, req)

	src := strings.NewReader(in)
	br := bufio.NewReaderSize(src, 4096)
	if _, err := br.Peek(1); err != nil {
		return false
	}
	buffered := br.Buffered()
	lr, n := readLean(br, req, nil)
	if lr == nil {
		if br.Buffered() != buffered {
			t.Fatalf("readLean declined %q but consumed %d bytes", in, buffered-br.Buffered())
		}
		return false
	}
	if refErr != nil {
		t.Fatalf("readLean took %q, which ReadResponse refuses: %v", in, refErr)
	}
	if refN := len(in) - refSrc.Len() - refBR.Buffered(); n != refN {
		t.Fatalf("%q: readLean's head is %d bytes, ReadResponse consumed %d", in, n, refN)
	}
	if _, err := br.Discard(n); err != nil {
		t.Fatal(err)
	}
	got := &lr.resp
	if d := responseDiff(got, ref); d != "" {
		t.Fatalf("%s %q: %s", method, in, d)
	}
	// Filling a spare that held another response gives the same.
	spare, _ := readLean(bufferedReader(spareHead), req, nil)
	again, _ := readLean(bufferedReader(in), req, spare)
	if again == nil {
		t.Fatalf("%s %q: readLean declined it with a spare", method, in)
	}
	if d := responseDiff(&again.resp, ref); d != "" {
		t.Fatalf("%s %q with a spare: %s", method, in, d)
	}
	if (got.Body == http.NoBody) != (ref.Body == http.NoBody) {
		t.Fatalf("%s %q: NoBody %v, ReadResponse's %v", method, in, got.Body == http.NoBody, ref.Body == http.NoBody)
	}
	if got.Body != http.NoBody {
		if g, w := readTrace(lr.body.readLean), readTrace(ref.Body.Read); g != w {
			t.Fatalf("%s %q: body reads\n%s\nReadResponse's\n%s", method, in, g, w)
		}
	}
	return true
}

// responseDiff describes how got differs from want in what a caller sees
// of a response head ("" for nothing).
func responseDiff(got, want *http.Response) string {
	type view struct {
		Status           string
		StatusCode       int
		Proto            string
		ProtoMajor       int
		ProtoMinor       int
		Header           http.Header
		ContentLength    int64
		TransferEncoding []string
		Close            bool
		Uncompressed     bool
		Trailer          http.Header
		Request          *http.Request
		TLS              bool
	}
	v := func(r *http.Response) view {
		return view{r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Header, r.ContentLength,
			r.TransferEncoding, r.Close, r.Uncompressed, r.Trailer, r.Request, r.TLS != nil}
	}
	g, w := v(got), v(want)
	if reflect.DeepEqual(g, w) {
		return ""
	}
	return fmt.Sprintf("readLean\n%+v\nReadResponse\n%+v", g, w)
}

// readTrace reads a body with reads of varying sizes to its first error
// and describes every read's result.
func readTrace(read func([]byte) (int, error)) string {
	var b strings.Builder
	sizes := []int{1, 0, 3, 7, 64}
	for i := 0; i < 10000; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := read(p)
		fmt.Fprintf(&b, "%q %v\n", p[:n], err)
		if err != nil {
			break
		}
	}
	return b.String()
}

// spareHead is a response whose Response and header map compareLean has
// readLean fill again.
const spareHead = "HTTP/1.0 404 Gone\r\nX-Stale: 1\r\nContent-Type: a\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n"

// bufferedReader is a bufio.Reader holding s (up to its 4096 bytes).
func bufferedReader(s string) *bufio.Reader {
	br := bufio.NewReaderSize(strings.NewReader(s), 4096)
	_, _ = br.Peek(1)
	return br
}
