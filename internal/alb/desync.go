package alb

import (
	"fmt"
	"net/http"
	"strings"
)

// Desync classes (alb.md §1.8); Compliant is logged as "-".
const (
	DesyncCompliant  = ""
	DesyncAcceptable = "Acceptable"
	DesyncAmbiguous  = "Ambiguous"
	DesyncSevere     = "Severe"
)

// desyncClass is a request's classification and its reason code.
type desyncClass struct{ class, reason string }

// desyncMode implements routing.http.desync_mitigation_mode (alb.md §1.8):
// monitor, defensive (default) or strictest.
func desyncMode(attrs map[string]string) (string, error) {
	switch v := attrs["routing.http.desync_mitigation_mode"]; v {
	case "":
		return "defensive", nil
	case "monitor", "defensive", "strictest":
		return v, nil
	default:
		return "", fmt.Errorf("attribute routing.http.desync_mitigation_mode=%q: want monitor, defensive or strictest", v)
	}
}

// classifyDesync implements the classification of alb.md §1.8 for what
// reaches kumo behind Go's net/http server. Go's parser already refuses
// (before kumo's handler sees the request; the listener then answers with
// its own 400/501 page through serve.Plane.Reject, reject.go) everything the
// reference calls Severe — BadUri, BadMethod, BadVersion, BadHeader,
// BadContentLength, MultipleContentLength, BadTransferEncoding,
// MultipleTransferEncodingChunked — and AmbiguousUri and SpaceInUri (a
// control character or space in the request line); it merges
// DuplicateContentLength and drops Content-Length next to Transfer-Encoding
// (BothTeClPresent), so those cannot be observed either. What can reach the
// handler, and is classified here, HTTP/1.x only (the classifier is an
// HTTP/1 one):
//
//   - NonCompliantVersion (Acceptable): HTTP/1.2 … HTTP/1.9;
//   - GetHeadZeroContentLength (Acceptable): GET/HEAD with Content-Length: 0;
//   - NonCompliantHeader (Acceptable): a header value with a non-ASCII byte;
//   - UndefinedContentLengthSemantics (Ambiguous): GET/HEAD with a non-zero
//     Content-Length (aws/http-desync-guardian: Content-Length has no
//     defined meaning on GET/HEAD);
//   - UndefinedTransferEncodingSemantics (Ambiguous): GET/HEAD with a
//     chunked body;
//   - SuspiciousHeader (Ambiguous): a header name that normalises to
//     Content-Length or Transfer-Encoding (Content_Length, …).
//
// The most severe finding wins.
func classifyDesync(r *http.Request) desyncClass {
	if r.ProtoMajor != 1 {
		return desyncClass{}
	}
	best := desyncClass{}
	note := func(class, reason string) {
		if desyncRank(class) > desyncRank(best.class) {
			best = desyncClass{class, reason}
		}
	}
	getHead := r.Method == http.MethodGet || r.Method == http.MethodHead
	if r.ProtoMinor > 1 {
		note(DesyncAcceptable, "NonCompliantVersion")
	}
	if getHead {
		if cl, ok := r.Header["Content-Length"]; ok {
			if len(cl) == 1 && strings.TrimSpace(cl[0]) == "0" {
				note(DesyncAcceptable, "GetHeadZeroContentLength")
			} else {
				note(DesyncAmbiguous, "UndefinedContentLengthSemantics")
			}
		}
		if len(r.TransferEncoding) > 0 {
			note(DesyncAmbiguous, "UndefinedTransferEncodingSemantics")
		}
	}
	for k, vv := range r.Header {
		if suspiciousHeaderName(k) {
			note(DesyncAmbiguous, "SuspiciousHeader")
		}
		for _, v := range vv {
			if !isASCII(v) {
				note(DesyncAcceptable, "NonCompliantHeader")
			}
		}
	}
	return best
}

func desyncRank(class string) int {
	switch class {
	case DesyncAcceptable:
		return 1
	case DesyncAmbiguous:
		return 2
	case DesyncSevere:
		return 3
	}
	return 0
}

// suspiciousHeaderName reports a name that is not Content-Length or
// Transfer-Encoding but normalises to one of them ('_' read as '-').
func suspiciousHeaderName(k string) bool {
	if k == "Content-Length" || k == "Transfer-Encoding" {
		return false
	}
	n := strings.TrimSpace(k)
	return normalisesTo(n, "content-length") || normalisesTo(n, "transfer-encoding")
}

// normalisesTo reports whether name, lower-cased with '_' read as '-', is
// want (lower case) — without building the normalised name, as every
// header of every request is checked.
func normalisesTo(name, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// desyncBlocks implements the "block" cells of alb.md §1.8: monitor never
// blocks; defensive blocks Severe; strictest blocks everything not
// Compliant.
func desyncBlocks(mode, class string) bool {
	switch mode {
	case "defensive":
		return class == DesyncSevere
	case "strictest":
		return class != DesyncCompliant
	}
	return false
}

// desyncCloses implements "allow, then close" (alb.md §1.8): defensive mode
// lets Ambiguous requests through and closes the client connection after
// the response. kumo does not close the target connection: its requests to
// targets are re-serialised by Go's client, so the ambiguity does not
// travel on.
func desyncCloses(mode, class string) bool {
	return mode == "defensive" && class == DesyncAmbiguous
}
