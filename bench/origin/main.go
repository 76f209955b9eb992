// Command origin is the origin server of bench/run.sh: a small, fixed HTTP/1.1
// server on a loopback address that every system under test (kumo, nginx,
// Varnish, HAProxy) fetches from.
//
//	GET /1k, /c/<anything>  1 KiB, Cache-Control: public, max-age=3600
//	GET /100k               100 KiB, Cache-Control: public, max-age=3600
//	GET /nc/<anything>      1 KiB, Cache-Control: no-store (the miss and
//	                        pass-through scenarios)
//	GET /                   200 "ok" (health checks)
//
// Bodies are built once at start; a request does no work beyond writing them.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// object is a ready response: its body and its header values.
type object struct {
	body         []byte
	length       string
	cacheControl string
}

func newObject(size int, cacheControl string) object {
	return object{body: bytes.Repeat([]byte("k"), size), length: strconv.Itoa(size), cacheControl: cacheControl}
}

const cacheable = "public, max-age=3600"

func main() {
	listen := flag.String("listen", "127.0.0.1:18081", "loopback address to serve on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatalf("origin: -listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("origin: -listen %q is not a loopback address", *listen)
	}
	small := newObject(1024, cacheable)
	large := newObject(100*1024, cacheable)
	nostore := newObject(1024, "no-store")
	ok := newObject(2, "no-store")
	copy(ok.body, "ok")

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o object
		switch p := r.URL.Path; {
		case p == "/1k" || strings.HasPrefix(p, "/c/"):
			o = small
		case p == "/100k":
			o = large
		case strings.HasPrefix(p, "/nc/"):
			o = nostore
		case p == "/":
			o = ok
		default:
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{o.length}
		h["Cache-Control"] = []string{o.cacheControl}
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(o.body)
		}
	})
	srv := &http.Server{Addr: *listen, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "origin: serving on %s\n", *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("origin: %v", err)
	}
}
