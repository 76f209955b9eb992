package edge

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"

	"github.com/kumo-dev/kumo/internal/model"
)

// compressOrigin serves a body of size bytes with the settings in the last
// path segment (an escaped query string, as the cache policy forwards no
// query): ct (Content-Type), status, ce (Content-Encoding), etag, cc.
func compressOrigin(w http.ResponseWriter, r *http.Request) {
	seg, _ := url.PathUnescape(path.Base(r.URL.EscapedPath()))
	q, _ := url.ParseQuery(seg)
	size, _ := strconv.Atoi(q.Get("size"))
	h := w.Header()
	h.Set("Content-Type", q.Get("ct"))
	if ce := q.Get("ce"); ce != "" {
		h.Set("Content-Encoding", ce)
	}
	if etag := q.Get("etag"); etag != "" {
		h.Set("ETag", etag)
	}
	cc := q.Get("cc")
	if cc == "" {
		cc = "max-age=600"
	}
	h.Set("Cache-Control", cc)
	h.Set("Content-Length", strconv.Itoa(size))
	status := http.StatusOK
	if s := q.Get("status"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	w.WriteHeader(status)
	_, _ = w.Write(bytes.Repeat([]byte("a"), size))
}

func decode(t *testing.T, enc string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	default:
		return body
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

func TestCompressGzipConditions(t *testing.T) {
	org := startOrigin(t, compressOrigin, nil)
	beh := policyBehavior(CachingOptimizedID, "")
	beh.Compress = true
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), beh))
	ev.res.Set("origin.example.com", org.addr)
	noCompress := policyBehavior(CachingOptimizedID, "")
	noCompress.PathPattern = "/plain/*"
	ev2 := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), noCompress))
	ev2.res.Set("origin.example.com", org.addr)
	for _, tc := range []struct {
		name, query, ae string
		off             bool // behavior without Compress
		wantEnc         string
		wantETag        string
	}{
		{"gzip", "ct=text/html&size=5000", "gzip", false, "gzip", ""},
		{"br preferred", "ct=text/html&size=5000", "gzip, br", false, "br", ""},
		{"br only", "ct=application/json&size=5000", "br", false, "br", ""},
		{"media type parameters ignored", "ct=text/html%3B+charset%3Dutf-8&size=5000", "gzip", false, "gzip", ""},
		{"viewer accepts neither", "ct=text/html&size=5000", "deflate", false, "", ""},
		{"q=0 refuses", "ct=text/html&size=5000", "gzip;q=0", false, "", ""},
		{"too small", "ct=text/html&size=999", "gzip", false, "", ""},
		{"smallest", "ct=text/html&size=1000", "gzip", false, "gzip", ""},
		{"too large", "ct=text/html&size=10000001", "gzip", false, "", ""},
		{"content type not listed", "ct=image/png&size=5000", "gzip", false, "", ""},
		{"already encoded", "ct=text/html&size=5000&ce=identity", "gzip", false, "identity", ""},
		{"status 404", "ct=text/html&size=5000&status=404", "gzip", false, "gzip", ""},
		{"status 403 with max-age", "ct=text/html&size=5000&status=403", "gzip", false, "gzip", ""},
		{"status 500", "ct=text/html&size=5000&status=500", "gzip", false, "", ""},
		{"Compress off", "ct=text/html&size=5000", "gzip", true, "", ""},
		{"strong ETag weakened", "ct=text/css&size=5000&etag=%22e1%22", "gzip", false, "gzip", `W/"e1"`},
		{"weak ETag kept", "ct=text/css&size=5000&etag=W/%22e2%22", "br", false, "br", `W/"e2"`},
		{"invalid ETag removed", "ct=text/css&size=5000&etag=e3", "gzip", false, "gzip", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, prefix := ev, "/c/"
			if tc.off {
				e, prefix = ev2, "/plain/"
			}
			url := "https://" + testDomain + prefix + strings.ReplaceAll(tc.name, " ", "-") + "/" + url.PathEscape(tc.query)
			hdr := http.Header{"Accept-Encoding": {tc.ae}}
			for i, want := range []string{xCacheMiss, xCacheHit} {
				r := e.do(e.client(true, false), "GET", url, hdr)
				if r.status >= 500 {
					return
				}
				if got := r.header.Get("Content-Encoding"); got != tc.wantEnc {
					t.Fatalf("request %d: Content-Encoding %q, want %q", i, got, tc.wantEnc)
				}
				size, _ := strconv.Atoi(strings.Split(strings.Split(tc.query, "size=")[1], "&")[0])
				if body := decode(t, strings.TrimPrefix(tc.wantEnc, "identity"), r.body); len(body) != size {
					t.Fatalf("request %d: decoded %d bytes, want %d", i, len(body), size)
				}
				if tc.wantEnc == "gzip" || tc.wantEnc == "br" {
					if r.header.Get("ETag") != tc.wantETag {
						t.Errorf("ETag %q, want %q", r.header.Get("ETag"), tc.wantETag)
					}
					if !varyHas(r.header, "Accept-Encoding") {
						t.Errorf("Vary %q", r.header.Get("Vary"))
					}
					xc := r.header.Get("X-Cache")
					if r.status >= 400 {
						want = xCacheError
					}
					if xc != want {
						t.Errorf("request %d: X-Cache %q, want %q", i, xc, want)
					}
				}
			}
		})
	}
}

// TestCompressNeedsTTL: CachingDisabled (TTL 0) never compresses.
func TestCompressNeedsTTL(t *testing.T) {
	org := startOrigin(t, compressOrigin, nil)
	beh := policyBehavior(CachingDisabledID, "")
	beh.Compress = true
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), beh))
	ev.res.Set("origin.example.com", org.addr)
	r := ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/n/"+url.PathEscape("ct=text/html&size=5000"), http.Header{"Accept-Encoding": {"gzip"}})
	if r.header.Get("Content-Encoding") != "" || len(r.body) != 5000 {
		t.Errorf("CachingDisabled: Content-Encoding %q, %d bytes", r.header.Get("Content-Encoding"), len(r.body))
	}
}

// TestCompressCachedPerEncoding: gzip, br and identity viewers each get
// their own cached copy (the normalised Accept-Encoding is in the key).
func TestCompressCachedPerEncoding(t *testing.T) {
	org := startOrigin(t, compressOrigin, nil)
	beh := policyBehavior(CachingOptimizedID, "")
	beh.Compress = true
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), beh))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/e/" + url.PathEscape("ct=text/plain&size=4000")
	for i, tc := range []struct{ ae, enc, xcache string }{
		{"gzip", "gzip", xCacheMiss}, {"br", "br", xCacheMiss}, {"identity", "", xCacheMiss},
		{"deflate, gzip", "gzip", xCacheHit}, {"br;q=1", "br", xCacheHit}, {"identity", "", xCacheHit},
	} {
		r := ev.do(c, "GET", url, http.Header{"Accept-Encoding": {tc.ae}})
		if r.header.Get("Content-Encoding") != tc.enc || r.header.Get("X-Cache") != tc.xcache {
			t.Errorf("request %d (%s): %q %s", i, tc.ae, r.header.Get("Content-Encoding"), r.header.Get("X-Cache"))
		}
		if got := decode(t, tc.enc, r.body); len(got) != 4000 {
			t.Errorf("request %d: %d bytes decoded", i, len(got))
		}
		if tc.xcache == xCacheHit && r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
			t.Errorf("request %d: hit Content-Length %q for %d bytes", i, r.header.Get("Content-Length"), len(r.body))
		}
	}
	if n := org.hits.Load(); n != 3 {
		t.Errorf("origin hits %d, want 3", n)
	}
}

func TestWeakETag(t *testing.T) {
	for in, want := range map[string]string{`"a"`: `W/"a"`, `W/"a"`: `W/"a"`, `a`: ""} {
		got, ok := weakETag(in)
		if got != want || ok != (want != "") {
			t.Errorf("weakETag(%q) = %q %v", in, got, ok)
		}
	}
}
