// Package webserver is kumo's built-in stand-in for an EC2 instance: an
// Apache-httpd-like default site, as on the Amazon Linux instances of the
// reference case (cloudfront.md §1.7). It serves a test page that names the
// instance (so load balancing is visible), the /icons/apache_pb2.gif badge
// it references, and Apache's own 404 and 405 pages, with Apache's headers,
// validators, conditional GETs and ranges.
//
// Every response body is built once in New; requests only pick one.
package webserver

import (
	"bytes"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// serverHeader is the Server header of Apache httpd on Amazon Linux 2023
// (ServerTokens Full with an empty OS string). UNCONFIRMED: the exact
// version depends on the AMI; 2.4.62 is the brief's choice.
const serverHeader = "Apache/2.4.62 ()"

// iconModTime is the modification time of the icon file, fixed because
// the file comes from the httpd package, so every instance serves the same
// Last-Modified and ETag for it. UNCONFIRMED: the real package timestamp.
var iconModTime = time.Date(2024, time.July, 17, 0, 0, 0, 0, time.UTC)

// allowHeader is what Apache's default handler advertises for a static file.
// UNCONFIRMED: the order httpd prints the methods in.
const allowHeader = "GET,POST,OPTIONS,HEAD,TRACE"

const (
	pagePath = "/"
	// indexPath is DirectoryIndex's file, which serves the same page.
	// UNCONFIRMED whether the instance has a real index.html; kumo acts as
	// if it did.
	indexPath = "/index.html"
	iconPath  = "/icons/apache_pb2.gif"
)

// Options configure the web server.
type Options struct {
	// Logger receives debug lines per request; nil means slog.Default().
	Logger *slog.Logger
}

// resource is one static file.
type resource struct {
	body        []byte
	contentType string
	modTime     time.Time
	etag        string
}

// site is the handler of one instance.
type site struct {
	page     resource
	icon     resource
	notFound []byte
	log      *slog.Logger
}

// New returns the web server of inst. A nil inst serves a page that names
// no instance.
func New(inst *model.Instance, opt Options) http.Handler {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	var id, ip string
	if inst != nil {
		id, ip = inst.ID, inst.PrivateIP
	}
	// The page's mtime is when the instance (this server) was built, to
	// whole seconds as file systems report it to httpd.
	pageTime := time.Now().UTC().Truncate(time.Second)
	page := testPage(id, ip)
	icon, err := badgeGIF()
	s := &site{
		page:     resource{body: page, contentType: "text/html; charset=UTF-8", modTime: pageTime, etag: apacheETag(int64(len(page)), pageTime)},
		notFound: []byte(notFoundPage),
		log:      log,
	}
	if err != nil {
		// The badge is generated from constants; failing here is a kumo bug,
		// reported on every icon request instead of by a panic.
		log.Error("webserver: cannot build the icon", "err", err)
	} else {
		s.icon = resource{body: icon, contentType: "image/gif", modTime: iconModTime, etag: apacheETag(int64(len(icon)), iconModTime)}
	}
	return s
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Server", serverHeader)
	var res *resource
	switch r.URL.Path {
	case pagePath, indexPath:
		res = &s.page
	case iconPath:
		res = &s.icon
		if res.body == nil {
			http.Error(w, "kumo: the built-in icon could not be generated", http.StatusInternalServerError)
			return
		}
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.DebugContext(r.Context(), "webserver: request", "method", r.Method, "path", r.URL.Path, "found", res != nil)
	}
	if res == nil {
		s.writeNotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		optionsResponse(w)
		return
	default:
		methodNotAllowed(w, r)
		return
	}
	h.Set("Content-Type", res.contentType)
	h.Set("ETag", res.etag)
	// http.ServeContent sets Last-Modified and Accept-Ranges, answers
	// If-None-Match / If-Modified-Since with 304 and Range with 206, and
	// writes no body for HEAD.
	http.ServeContent(w, r, "", res.modTime, bytes.NewReader(res.body))
}

// apacheETag implements Apache httpd's default ETag (FileETag MTime Size):
// "<size in hex>-<mtime in microseconds, hex>".
func apacheETag(size int64, mtime time.Time) string {
	return `"` + strconv.FormatInt(size, 16) + "-" + strconv.FormatInt(mtime.UnixMicro(), 16) + `"`
}

// notFoundPage is Apache httpd 2.4's 404 page (196 bytes; ServerSignature
// Off, as on Amazon Linux).
const notFoundPage = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>404 Not Found</title>
</head><body>
<h1>Not Found</h1>
<p>The requested URL was not found on this server.</p>
</body></html>
`

// apacheErrorType is the Content-Type of Apache's built-in error pages.
const apacheErrorType = "text/html; charset=iso-8859-1"

// writeNotFound implements Apache's 404 for a path with no file, whatever
// the method.
func (s *site) writeNotFound(w http.ResponseWriter, r *http.Request) {
	writeApacheError(w, r, http.StatusNotFound, s.notFound)
}

// methodNotAllowed implements Apache's 405 for a static file asked with a
// method other than GET, HEAD or OPTIONS. UNCONFIRMED: real httpd echoes
// TRACE requests (TraceEnable On); kumo answers TRACE with 405 too.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", allowHeader)
	body := fmt.Sprintf(`<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>405 Method Not Allowed</title>
</head><body>
<h1>Method Not Allowed</h1>
<p>The requested method %s is not allowed for this URL.</p>
</body></html>
`, html.EscapeString(r.Method))
	writeApacheError(w, r, http.StatusMethodNotAllowed, []byte(body))
}

// optionsResponse implements Apache's answer to OPTIONS on a static file.
func optionsResponse(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Allow", allowHeader)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

func writeApacheError(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", apacheErrorType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// testPage renders the instance's test page, in the spirit of "Test Page
// for the Apache HTTP Server" on Amazon Linux, naming the instance.
func testPage(instanceID, privateIP string) []byte {
	if instanceID == "" {
		instanceID = "(no instance)"
	}
	if privateIP == "" {
		privateIP = "(no address)"
	}
	id, ip := html.EscapeString(instanceID), html.EscapeString(privateIP)
	return []byte(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test Page for the Apache HTTP Server</title>
<style>
body { font-family: sans-serif; margin: 0; background: #fff; color: #222; }
header { background: #232f3e; color: #fff; padding: 1.5em 2em; }
header h1 { margin: 0; font-weight: normal; }
main { padding: 1em 2em; max-width: 60em; }
.instance { border: 1px solid #ccc; background: #f6f6f6; padding: 0.8em 1em; }
code { font-size: 1.1em; }
footer { padding: 1em 2em; }
</style>
</head>
<body>
<header>
<h1>Test Page</h1>
<p>This page tests the operation of the Apache HTTP Server on this instance.</p>
</header>
<main>
<p class="instance">Served by instance <code>` + id + `</code> at private address <code>` + ip + `</code>.</p>
<h2>If you are a visitor</h2>
<p>Seeing this page means the web server works but the site has no content yet.
If you expected something else, please contact the site's administrator.</p>
<h2>If you are the administrator</h2>
<p>Put your content in <code>/var/www/html/</code>. Until an <code>index.html</code> exists there,
the server shows this page. The server's configuration lives in <code>/etc/httpd/conf/httpd.conf</code>.</p>
</main>
<footer>
<a href="https://httpd.apache.org/"><img src="/icons/apache_pb2.gif" alt="[ Powered by Apache ]" width="259" height="32"></a>
</footer>
</body>
</html>
`)
}
