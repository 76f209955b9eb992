package edge

import (
	"net/http"
	"strconv"

	"github.com/kumo-dev/kumo/internal/cache"
	"github.com/kumo-dev/kumo/internal/serve"
)

// readyHead is a cached object's Hit response head, serialised on the
// object's first hit on serve's lean engine and kept with the entry
// (cache.Entry.SetDerived), so that every later hit is written from ready
// bytes (serve.ReadyWriter): the status line and every header line but Age
// and X-Amz-Cf-Id, which change with each response. Objects that are never
// hit there cost no memory for it.
type readyHead struct {
	// via and pop are the edge's header values it was built with: an Edge
	// of a reload with other values does not use it.
	via, pop string
	// plain is the head; withAlt adds the edge's Alt-Svc (altSvc), for a
	// distribution that offers HTTP/3 over HTTPS.
	plain, withAlt []byte
	altSvc         string
	// hasDate: the stored header has its own Date.
	hasDate     bool
	contentType string
}

// altSvc is e's Alt-Svc value, "" without HTTP/3.
func altSvcOf(e *Edge) string {
	if e.altSvc == nil {
		return ""
	}
	return e.altSvc[0]
}

// buildReady serialises ent's Hit head, or returns nil for an entry that is
// never answered from ready bytes (error responses, variant indexes).
func (e *Edge) buildReady(ent *cache.Entry) *readyHead {
	if ent.Error || ent.VaryNames != nil || ent.Status >= 400 {
		return nil
	}
	h := make(http.Header, len(ent.Header)+4)
	for k, v := range ent.Header {
		h[k] = v
	}
	delete(h, "Age")
	delete(h, "X-Amz-Cf-Id")
	if _, ok := h["Content-Length"]; !ok {
		h["Content-Length"] = []string{strconv.Itoa(len(ent.Body))}
	}
	hv := &e.hv
	h["X-Cache"], h["Via"], h["X-Amz-Cf-Pop"] = hv.hit, hv.via, hv.pop
	rh := &readyHead{via: hv.via[0], pop: hv.pop[0], plain: serve.AppendHead(nil, ent.Status, h),
		contentType: ent.Header.Get("Content-Type")}
	_, rh.hasDate = ent.Header["Date"]
	if e.altSvc != nil {
		h["Alt-Svc"] = e.altSvc
		rh.altSvc = e.altSvc[0]
		rh.withAlt = serve.AppendHead(nil, ent.Status, h)
	}
	return rh
}

// serveReady answers a Hit from ent's ready head when the response is
// exactly that head plus Age and X-Amz-Cf-Id: the viewer's writer is
// serve's lean engine, the object is whole (no 304, no range), and no
// response headers policy or custom error response applies. It reports
// whether it answered.
func (t *txn) serveReady(ent *cache.Entry, xCache string) bool {
	rw, ok := t.w.(serve.ReadyWriter)
	if !ok || xCache != xCacheHit || t.beh.rhp != nil {
		return false
	}
	rh, ok := ent.Derived().(*readyHead)
	if !ok || rh.via != t.e.hv.via[0] || rh.pop != t.e.hv.pop[0] || rh.altSvc != altSvcOf(t.e) {
		// Built on the object's first hit here (or again after a reload
		// changed the edge's headers).
		if rh = t.e.buildReady(ent); rh == nil {
			return false
		}
		ent.SetDerived(rh)
	}
	r := t.r
	if _, ok := r.Header["Range"]; ok {
		return false
	}
	if _, ok := r.Header["If-None-Match"]; ok {
		return false
	}
	if _, ok := r.Header["If-Modified-Since"]; ok {
		return false
	}
	head := rh.plain
	if t.https && t.e.altSvc != nil && http3Enabled(t.d.m.HTTPVersion) {
		head = rh.withAlt
	}
	x := append(t.scratch[:0], "Age: "...)
	x = strconv.AppendInt(x, ageSeconds(ent.Stored, t.start), 10)
	x = append(x, "\r\nX-Amz-Cf-Id: "...)
	x = append(x, t.ridBuf[:]...)
	x = append(x, "\r\n"...)
	t.result, t.respResult, t.detailed = resultHit, resultHit, resultHit
	t.wrote, t.status = true, ent.Status
	t.ready, t.readyCT, t.readyCL = true, rh.contentType, int64(len(ent.Body))
	n, err := rw.WriteReady(ent.Status, head, x, !rh.hasDate, ent.Body)
	// The whole response is written at once, so its first byte goes out
	// with its last: finish logs time-to-first-byte = time-taken (and
	// reads the clock once for both).
	t.headerBytes = int64(n)
	if r.Method != http.MethodHead {
		t.bodyBytes = int64(len(ent.Body))
	}
	if err != nil {
		t.bodyBytes = 0
		t.viewerGoneMidBody()
	}
	return true
}
