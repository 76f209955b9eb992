package edge

import (
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
)

// Compression size window (cloudfront.md §4.11): Content-Length from 1,000
// to 10,000,000 bytes.
const (
	compressMinBytes = 1000
	compressMaxBytes = 10_000_000
)

// compressibleTypes are the content types CloudFront compresses
// (cloudfront.md §4.11). They are matched on the media type, parameters
// ignored (UNCONFIRMED).
var compressibleTypes = map[string]bool{
	"application/dash+xml": true, "application/eot": true, "application/font": true,
	"application/font-sfnt": true, "application/javascript": true, "application/json": true,
	"application/opentype": true, "application/otf": true, "application/pkcs7-mime": true,
	"application/protobuf": true, "application/rss+xml": true, "application/truetype": true,
	"application/ttf": true, "application/vnd.apple.mpegurl": true, "application/vnd.mapbox-vector-tile": true,
	"application/vnd.ms-fontobject": true, "application/xhtml+xml": true, "application/xml": true,
	"application/x-font-opentype": true, "application/x-font-truetype": true, "application/x-font-ttf": true,
	"application/x-httpd-cgi": true, "application/x-javascript": true, "application/x-mpegurl": true,
	"application/x-opentype": true, "application/x-otf": true, "application/x-perl": true,
	"application/x-ttf": true, "font/eot": true, "font/opentype": true, "font/otf": true, "font/ttf": true,
	"image/svg+xml": true, "text/css": true, "text/csv": true, "text/html": true, "text/javascript": true,
	"text/js": true, "text/plain": true, "text/richtext": true, "text/tab-separated-values": true,
	"text/xml": true, "text/x-component": true, "text/x-java-source": true, "text/x-script": true,
	"vnd.apple.mpegurl": true,
}

// compressionEncoding implements the conditions of cloudfront.md §4.11: the
// encoding ("br" preferred, "gzip", or "" for none) the edge compresses an
// origin response with. It needs Compress on the behavior, gzip/br in the
// cache policy (not Accept-Encoding as a key header), a TTL > 0, a GET from
// a viewer that accepts the encoding, status 200/403/404, no
// Content-Encoding, a Content-Length of 1,000-10,000,000 bytes and a listed
// Content-Type.
func (t *txn) compressionEncoding(resp *http.Response, ttlSecs int64) string {
	b := t.beh
	if !b.m.Compress || !b.normalizeAE || b.cp.headers.has("Accept-Encoding") || ttlSecs <= 0 {
		return ""
	}
	if t.r.Method != http.MethodGet {
		return ""
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusForbidden, http.StatusNotFound:
	default:
		return ""
	}
	if len(resp.Header["Content-Encoding"]) > 0 {
		return ""
	}
	if resp.ContentLength < compressMinBytes || resp.ContentLength > compressMaxBytes {
		return ""
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !compressibleTypes[strings.ToLower(mt)] {
		return ""
	}
	switch ae := normalizeAcceptEncoding(t.r.Header.Values("Accept-Encoding"), b.cp.gzip, b.cp.br, t.r.ProtoMajor, t.r.ProtoMinor); ae {
	case "br,gzip", "br":
		return "br"
	case "gzip":
		return "gzip"
	}
	return ""
}

// compression decides the encoding of a response (compressionEncoding) and,
// when it compresses, rewrites the viewer headers: Content-Encoding set,
// Content-Length removed (the compressed body is streamed), the ETag
// weakened (weakETag) and Vary: Accept-Encoding added (UNCONFIRMED: the
// reference does not list the Vary CloudFront adds; RFC 9110 §12.5.3 asks
// for it).
func (t *txn) compression(resp *http.Response, h http.Header, ttlSecs int64) string {
	enc := t.compressionEncoding(resp, ttlSecs)
	if enc == "" {
		return ""
	}
	h["Content-Encoding"] = []string{enc}
	delete(h, "Content-Length")
	if etag, ok := h["Etag"]; ok && len(etag) > 0 {
		if w, ok := weakETag(etag[0]); ok {
			h["Etag"] = []string{w}
		} else {
			delete(h, "Etag")
		}
	}
	if !varyHas(h, "Accept-Encoding") {
		h["Vary"] = append(h["Vary"][:len(h["Vary"]):len(h["Vary"])], "Accept-Encoding")
	}
	return enc
}

// weakETag implements the ETag rule of cloudfront.md §4.11: a strong ETag
// "abc" becomes W/"abc", a weak one is kept, and an invalid one (neither
// `"` nor `W/` first) is removed (ok false).
func weakETag(etag string) (string, bool) {
	switch {
	case strings.HasPrefix(etag, `W/`):
		return etag, true
	case strings.HasPrefix(etag, `"`):
		return "W/" + etag, true
	}
	return "", false
}

// varyHas reports whether Vary lists name (or *).
func varyHas(h http.Header, name string) bool {
	for _, v := range h["Vary"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "*" || strings.EqualFold(tok, name) {
				return true
			}
		}
	}
	return false
}

// newEncoder returns a compressing writer for enc ("gzip" or "br") that
// writes to w. Close flushes it.
func newEncoder(enc string, w io.Writer) io.WriteCloser {
	if enc == "br" {
		return brotli.NewWriterLevel(w, 5)
	}
	zw, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	return zw
}
