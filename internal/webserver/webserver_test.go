package webserver

import (
	"bytes"
	"context"
	"image/gif"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
)

// start serves the web server of inst on a loopback socket and returns its
// base URL.
func start(t *testing.T, inst *model.Instance) string {
	t.Helper()
	srv, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: New(inst, Options{})}, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return "http://" + srv.Addr()
}

func client(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func do(t *testing.T, c *http.Client, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var etagRE = regexp.MustCompile(`^"([0-9a-f]+)-([0-9a-f]+)"$`)

func TestResponses(t *testing.T) {
	inst := &model.Instance{ID: "i-0123456789abcdef0", PrivateIP: "10.0.4.254"}
	base := start(t, inst)
	c := client(t)
	golden404, err := os.ReadFile("testdata/404.html")
	if err != nil {
		t.Fatal(err)
	}
	golden405, err := os.ReadFile("testdata/405-post.html")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		contentType string
		bodyHas     []string
		golden      []byte
		emptyBody   bool
		validators  bool
		allow       bool
	}{
		{name: "test page", method: "GET", path: "/", status: 200, contentType: "text/html; charset=UTF-8",
			bodyHas: []string{"Test Page", "i-0123456789abcdef0", "10.0.4.254", `src="/icons/apache_pb2.gif"`}, validators: true},
		{name: "index.html", method: "GET", path: "/index.html", status: 200, contentType: "text/html; charset=UTF-8",
			bodyHas: []string{"i-0123456789abcdef0"}, validators: true},
		{name: "query ignored", method: "GET", path: "/?x=1", status: 200, contentType: "text/html; charset=UTF-8", validators: true},
		{name: "icon", method: "GET", path: "/icons/apache_pb2.gif", status: 200, contentType: "image/gif", bodyHas: []string{"GIF89a"}, validators: true},
		{name: "HEAD page", method: "HEAD", path: "/", status: 200, contentType: "text/html; charset=UTF-8", emptyBody: true, validators: true},
		{name: "404", method: "GET", path: "/nope", status: 404, contentType: "text/html; charset=iso-8859-1", golden: golden404},
		{name: "404 icons dir", method: "GET", path: "/icons/", status: 404, contentType: "text/html; charset=iso-8859-1", golden: golden404},
		{name: "404 POST", method: "POST", path: "/nope", status: 404, contentType: "text/html; charset=iso-8859-1", golden: golden404},
		{name: "404 HEAD", method: "HEAD", path: "/nope", status: 404, contentType: "text/html; charset=iso-8859-1", emptyBody: true},
		{name: "405 POST", method: "POST", path: "/", status: 405, contentType: "text/html; charset=iso-8859-1", golden: golden405, allow: true},
		{name: "OPTIONS", method: "OPTIONS", path: "/", status: 200, emptyBody: true, allow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, c, tt.method, base+tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Server"); got != "Apache/2.4.62 ()" {
				t.Errorf("Server = %q", got)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := resp.Header.Get("Cache-Control"); got != "" {
				t.Errorf("Cache-Control = %q, want none", got)
			}
			for _, s := range tt.bodyHas {
				if !bytes.Contains(body, []byte(s)) {
					t.Errorf("body lacks %q", s)
				}
			}
			if tt.golden != nil && !bytes.Equal(body, tt.golden) {
				t.Errorf("body differs from golden:\n%s\nwant:\n%s", body, tt.golden)
			}
			if tt.emptyBody && len(body) != 0 {
				t.Errorf("body %q, want empty", body)
			}
			if tt.golden != nil && resp.ContentLength != int64(len(tt.golden)) {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(tt.golden))
			}
			if tt.allow && resp.Header.Get("Allow") != "GET,POST,OPTIONS,HEAD,TRACE" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if tt.validators {
				if resp.Header.Get("Accept-Ranges") != "bytes" {
					t.Errorf("Accept-Ranges = %q", resp.Header.Get("Accept-Ranges"))
				}
				lm, err := http.ParseTime(resp.Header.Get("Last-Modified"))
				if err != nil {
					t.Fatalf("Last-Modified %q: %v", resp.Header.Get("Last-Modified"), err)
				}
				m := etagRE.FindStringSubmatch(resp.Header.Get("ETag"))
				if m == nil {
					t.Fatalf("ETag %q not Apache style", resp.Header.Get("ETag"))
				}
				size, _ := strconv.ParseInt(m[1], 16, 64)
				if size != resp.ContentLength {
					t.Errorf("ETag size %d, Content-Length %d", size, resp.ContentLength)
				}
				usec, _ := strconv.ParseInt(m[2], 16, 64)
				if !time.UnixMicro(usec).Equal(lm) {
					t.Errorf("ETag mtime %v, Last-Modified %v", time.UnixMicro(usec).UTC(), lm)
				}
			}
		})
	}
}

func TestIcon(t *testing.T) {
	base := start(t, &model.Instance{ID: "i-0aaaaaaaaaaaaaaaa", PrivateIP: "10.0.4.10"})
	c := client(t)
	resp, body := do(t, c, "GET", base+"/icons/apache_pb2.gif", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if len(body) != 4234 || resp.ContentLength != 4234 {
		t.Fatalf("icon is %d bytes (Content-Length %d), want 4234", len(body), resp.ContentLength)
	}
	img, err := gif.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 259 || b.Dy() != 32 {
		t.Errorf("icon bounds %v", b)
	}
	all, err := gif.DecodeAll(bytes.NewReader(body))
	if err != nil || len(all.Image) != 1 {
		t.Fatalf("DecodeAll: %v frames, %v", len(all.Image), err)
	}
	// The badge is not blank: it uses more than the background colour.
	colours := map[uint8]bool{}
	for _, px := range all.Image[0].Pix {
		colours[px] = true
	}
	if len(colours) < 3 {
		t.Errorf("icon uses %d colours", len(colours))
	}
	// The icon is the same on another instance (same validators too).
	base2 := start(t, &model.Instance{ID: "i-0bbbbbbbbbbbbbbbb", PrivateIP: "10.0.4.11"})
	resp2, body2 := do(t, c, "GET", base2+"/icons/apache_pb2.gif", nil)
	if !bytes.Equal(body, body2) || resp.Header.Get("ETag") != resp2.Header.Get("ETag") || resp.Header.Get("Last-Modified") != resp2.Header.Get("Last-Modified") {
		t.Error("icon differs between instances")
	}
}

func TestPageVariesByInstance(t *testing.T) {
	c := client(t)
	_, a := do(t, c, "GET", start(t, &model.Instance{ID: "i-0aaaaaaaaaaaaaaaa", PrivateIP: "10.0.4.10"})+"/", nil)
	_, b := do(t, c, "GET", start(t, &model.Instance{ID: "i-0bbbbbbbbbbbbbbbb", PrivateIP: "10.0.4.11"})+"/", nil)
	if bytes.Equal(a, b) || !bytes.Contains(b, []byte("i-0bbbbbbbbbbbbbbbb")) || bytes.Contains(b, []byte("i-0aaaaaaaaaaaaaaaa")) {
		t.Error("pages do not name their own instance")
	}
	// Instance values are HTML-escaped; a nil instance still serves a page.
	_, e := do(t, c, "GET", start(t, &model.Instance{ID: "<i>", PrivateIP: "&"})+"/", nil)
	if !bytes.Contains(e, []byte("&lt;i&gt;")) || bytes.Contains(e, []byte("<code><i></code>")) {
		t.Error("instance ID not escaped")
	}
	resp, n := do(t, c, "GET", start(t, nil)+"/", nil)
	if resp.StatusCode != 200 || !bytes.Contains(n, []byte("(no instance)")) {
		t.Errorf("nil instance: %d", resp.StatusCode)
	}
}

func TestConditionalAndRange(t *testing.T) {
	base := start(t, &model.Instance{ID: "i-0123456789abcdef0", PrivateIP: "10.0.4.254"})
	c := client(t)
	url := base + "/icons/apache_pb2.gif"
	first, full := do(t, c, "GET", url, nil)
	etag, lm := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
	lmTime, err := http.ParseTime(lm)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		hdr    map[string]string
		status int
		body   []byte
	}{
		{"If-None-Match match", map[string]string{"If-None-Match": etag}, 304, nil},
		{"If-None-Match list", map[string]string{"If-None-Match": `"x", ` + etag}, 304, nil},
		{"If-None-Match other", map[string]string{"If-None-Match": `"1-2"`}, 200, full},
		{"If-Modified-Since equal", map[string]string{"If-Modified-Since": lm}, 304, nil},
		{"If-Modified-Since earlier", map[string]string{"If-Modified-Since": lmTime.Add(-time.Hour).Format(http.TimeFormat)}, 200, full},
		{"Range first bytes", map[string]string{"Range": "bytes=0-5"}, 206, full[:6]},
		{"Range suffix", map[string]string{"Range": "bytes=-10"}, 206, full[len(full)-10:]},
		{"Range unsatisfiable", map[string]string{"Range": "bytes=5000-"}, 416, nil},
		{"If-Range stale", map[string]string{"Range": "bytes=0-5", "If-Range": `"1-2"`}, 200, full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, c, "GET", url, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.body != nil && !bytes.Equal(body, tt.body) {
				t.Errorf("body %d bytes, want %d", len(body), len(tt.body))
			}
			switch tt.status {
			case 304:
				if len(body) != 0 || resp.Header.Get("ETag") != etag {
					t.Errorf("304 body %d bytes, ETag %q", len(body), resp.Header.Get("ETag"))
				}
			case 206:
				want := "bytes " + strings.TrimPrefix(tt.hdr["Range"], "bytes=")
				if cr := resp.Header.Get("Content-Range"); !strings.HasSuffix(cr, "/4234") || (!strings.HasPrefix(tt.hdr["Range"], "bytes=-") && !strings.HasPrefix(cr, want)) {
					t.Errorf("Content-Range = %q", cr)
				}
			}
		})
	}
}

func TestPadGIF(t *testing.T) {
	g, err := badgeGIF()
	if err != nil {
		t.Fatal(err)
	}
	// Strip the padding back to a raw GIF by re-encoding, then pad to a
	// range of sizes: every size from the smallest possible works.
	img, err := gif.Decode(bytes.NewReader(g))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if err := gif.Encode(&raw, img, nil); err != nil {
		t.Fatal(err)
	}
	for size := raw.Len() + 5; size < raw.Len()+1200; size += 7 {
		p, err := padGIF(raw.Bytes(), size)
		if err != nil {
			t.Fatalf("pad to %d: %v", size, err)
		}
		if len(p) != size {
			t.Fatalf("pad to %d gave %d", size, len(p))
		}
		if _, err := gif.Decode(bytes.NewReader(p)); err != nil {
			t.Fatalf("padded to %d: %v", size, err)
		}
	}
	if _, err := padGIF(raw.Bytes(), raw.Len()+1); err == nil {
		t.Error("padding by 1 byte succeeded")
	}
	if _, err := padGIF([]byte("GIF89a"), 100); err == nil {
		t.Error("GIF without trailer accepted")
	}
}
