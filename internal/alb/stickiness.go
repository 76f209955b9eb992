package alb

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// Stickiness cookie names (alb.md §5.3, §6.7).
const (
	CookieAWSALB       = "AWSALB"
	CookieAWSALBCORS   = "AWSALBCORS"
	CookieAWSALBTG     = "AWSALBTG"
	CookieAWSALBTGCORS = "AWSALBTGCORS"
	// CookieAWSALBAPPPrefix is followed by the shard number 0-3.
	CookieAWSALBAPPPrefix = "AWSALBAPP-"
)

// ErrorReasonTGCookieInvalid is the error_reason of a request whose
// AWSALBTG cookie could not be read (alb.md §1.7).
const ErrorReasonTGCookieInvalid = "AWSALBTGCookieInvalid"

// stickyCookieLifetime is the Expires of every stickiness cookie, refreshed
// on every response: 7 days (alb.md §6.7).
const stickyCookieLifetime = 7 * 24 * time.Hour

// appCookieShards is the number of AWSALBAPP-n cookies (alb.md §6.7).
const appCookieShards = 4

// appCookieRemoved is the value of an unused AWSALBAPP-n shard.
// UNCONFIRMED: AWS's value for empty shards is not in the reference; kumo
// writes "_remove_", as seen in public ALB response captures.
const appCookieRemoved = "_remove_"

// Cookie kinds, the first byte of a kumo stickiness cookie.
const (
	cookieKindLB  byte = 1
	cookieKindApp byte = 2
	cookieKindTG  byte = 3
)

// stickyKeys is the load balancer's secret for stickiness cookies; it is
// carried over on reload so clients stay sticky.
type stickyKeys struct {
	key [32]byte
}

func newStickyKeys(prev *LoadBalancer) stickyKeys {
	if prev != nil {
		return prev.sticky
	}
	var k stickyKeys
	_, _ = rand.Read(k.key[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return k
}

// groupTag is an 8-byte tag naming a target group (or, for AWSALBTG, a
// forward action's set of groups) inside a cookie.
func groupTag(s string) [8]byte {
	sum := sha256.Sum256([]byte(s))
	var t [8]byte
	copy(t[:], sum[:8])
	return t
}

// encodeSticky builds a cookie value: kind, expiry (unix seconds), tag and
// the sticky subject (a target's modeled address or a group index),
// authenticated with an HMAC so a client cannot point itself at a target
// (alb.md §6.7: the AWS cookies are encrypted and opaque; kumo's encoding
// is its own).
func (k *stickyKeys) encode(kind byte, expires time.Time, tag [8]byte, subject string) string {
	buf := make([]byte, 0, 1+8+8+len(subject)+16)
	buf = append(buf, kind)
	buf = binary.BigEndian.AppendUint64(buf, uint64(expires.Unix()))
	buf = append(buf, tag[:]...)
	buf = append(buf, subject...)
	m := hmac.New(sha256.New, k.key[:])
	m.Write(buf)
	buf = m.Sum(buf)[:len(buf)+16]
	return base64.RawURLEncoding.EncodeToString(buf)
}

// decode checks a cookie value and returns its expiry and subject; ok is
// false for a value that is malformed, forged, of another kind or tag.
func (k *stickyKeys) decode(v string, kind byte, tag [8]byte) (expires time.Time, subject string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) < 1+8+8+16 {
		return time.Time{}, "", false
	}
	body, mac := b[:len(b)-16], b[len(b)-16:]
	m := hmac.New(sha256.New, k.key[:])
	m.Write(body)
	if !hmac.Equal(m.Sum(nil)[:16], mac) || body[0] != kind || [8]byte(body[9:17]) != tag {
		return time.Time{}, "", false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0), string(body[17:]), true
}

// requestCookie returns the first value of the named cookie.
func requestCookie(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return v, true
			}
		}
	}
	return "", false
}

// stickyDecision is what stickiness decided for one request; the cookies
// are written on the response.
type stickyDecision struct {
	// lb_cookie / app_cookie on the chosen target group.
	kind    byte
	expires time.Time // end of the stickiness duration carried in the cookie
	// appIssued is true when the request came with a valid AWSALBAPP cookie.
	appIssued bool
	// AWSALBTG on a weighted forward.
	tgValue string
}

// stickyTarget implements lb_cookie and app_cookie stickiness on the
// request side (alb.md §6.7): a valid cookie whose duration has not run out
// and whose target still takes traffic picks that target; otherwise the
// algorithm picks and a new cookie will be issued.
func (ex *exchange) stickyTarget(r *http.Request, tg *targetGroup, now time.Time) *target {
	o := &tg.opts
	var kind byte
	var name string
	switch o.sticky {
	case StickinessLBCookie:
		kind, name = cookieKindLB, CookieAWSALB
	case StickinessAppCookie:
		kind, name = cookieKindApp, CookieAWSALBAPPPrefix+"0"
	default:
		return tg.pickTarget(now)
	}
	lb := ex.l.lb
	ex.sticky.kind = kind
	v, ok := requestCookie(r, name)
	if !ok && kind == cookieKindLB {
		v, ok = requestCookie(r, CookieAWSALBCORS) // cross-origin requests carry only the CORS copy
	}
	if ok && (kind != cookieKindApp || hasAppCookie(r, o.appCookie)) {
		if exp, addr, ok := lb.sticky.decode(v, kind, groupTag(tg.model.ARN)); ok && now.Before(exp) {
			if t := tg.targetByAddr(addr); t != nil && stickyUsable(tg, t) {
				ex.sticky.expires = exp
				ex.sticky.appIssued = kind == cookieKindApp
				return t
			}
		}
	}
	ex.sticky.expires = stickyExpiry(now, o.stickyDuration)
	return tg.pickTarget(now)
}

// stickyExpiry is when a new stickiness binding ends. UNCONFIRMED (alb.md
// §6.7 does not say whether the duration slides): kumo counts the duration
// from the first pick; refreshed cookies keep the original end.
func stickyExpiry(now time.Time, d time.Duration) time.Time {
	return now.Add(d)
}

// hasAppCookie reports whether the request carries the application cookie
// (alb.md §6.7: the client must return both cookies).
func hasAppCookie(r *http.Request, name string) bool {
	_, ok := requestCookie(r, name)
	return ok
}

// stickyUsable reports whether a sticky target still takes requests: it is
// routable, or the group fails open and it is a fail-open candidate
// (alb.md §6.7: a cookie naming an unhealthy or deregistered target is
// re-picked).
func stickyUsable(tg *targetGroup, t *target) bool {
	if routable(t) {
		return true
	}
	healthy := 0
	for _, o := range tg.targets {
		if routable(o) {
			healthy++
		}
	}
	return tg.opts.failOpen(healthy, len(tg.targets)) && t.failOpenNow()
}

func (tg *targetGroup) targetByAddr(addr string) *target {
	for _, t := range tg.targets {
		if t.model.Addr == addr {
			return t
		}
	}
	return nil
}

// setStickyCookies implements the response side of stickiness (alb.md
// §5.3, §6.7): AWSALB and AWSALBCORS on every response of an lb_cookie
// group; AWSALBAPP-0..3 when the target set the application cookie (or the
// request was already bound by one); AWSALBTG and AWSALBTGCORS on a sticky
// weighted forward. Every cookie expires in 7 days (Expires, not Max-Age).
func (ex *exchange) setStickyCookies(h http.Header, r *http.Request, tg *targetGroup, t *target, now time.Time) {
	if ex.sticky.tgValue == "" && ex.sticky.kind != cookieKindLB && ex.sticky.kind != cookieKindApp {
		return // no stickiness: no cookie, and no expiry to format
	}
	lb := ex.l.lb
	exp := now.Add(stickyCookieLifetime).UTC().Format(http.TimeFormat)
	if ex.sticky.tgValue != "" {
		h.Add("Set-Cookie", CookieAWSALBTG+"="+ex.sticky.tgValue+"; Expires="+exp+"; Path=/")
		h.Add("Set-Cookie", CookieAWSALBTGCORS+"="+ex.sticky.tgValue+"; Expires="+exp+"; Path=/; SameSite=None; Secure")
	}
	switch ex.sticky.kind {
	case cookieKindLB:
		v := lb.sticky.encode(cookieKindLB, ex.sticky.expires, groupTag(tg.model.ARN), t.model.Addr)
		h.Add("Set-Cookie", CookieAWSALB+"="+v+"; Expires="+exp+"; Path=/")
		h.Add("Set-Cookie", CookieAWSALBCORS+"="+v+"; Expires="+exp+"; Path=/; SameSite=None; Secure")
	case cookieKindApp:
		if !ex.sticky.appIssued && !setsCookie(h, tg.opts.appCookie) {
			return
		}
		v := lb.sticky.encode(cookieKindApp, ex.sticky.expires, groupTag(tg.model.ARN), t.model.Addr)
		attrs := "; Expires=" + exp + "; Path=/" + appCookieSameSite(r.Header.Get("User-Agent"))
		for i := 0; i < appCookieShards; i++ {
			val := appCookieRemoved
			if i == 0 {
				val = v
			}
			h.Add("Set-Cookie", CookieAWSALBAPPPrefix+strconv.Itoa(i)+"="+val+attrs)
		}
	}
}

// setsCookie reports whether the response headers set the named cookie.
func setsCookie(h http.Header, name string) bool {
	for _, sc := range h["Set-Cookie"] {
		if k, _, ok := strings.Cut(sc, "="); ok && strings.TrimSpace(k) == name {
			return true
		}
	}
	return false
}

// appCookieSameSite implements the AWSALBAPP SameSite rule (alb.md §6.7):
// "; SameSite=None; Secure" only for Chromium 80 or later.
func appCookieSameSite(ua string) string {
	i := strings.Index(ua, "Chrome/")
	if i < 0 {
		return ""
	}
	v := ua[i+len("Chrome/"):]
	j := 0
	for j < len(v) && v[j] >= '0' && v[j] <= '9' {
		j++
	}
	if n, err := strconv.Atoi(v[:j]); err == nil && n >= 80 {
		return "; SameSite=None; Secure"
	}
	return ""
}

// chooseTargetGroup implements the forward action's group choice (alb.md
// §5.3): one group, or a weighted random choice proportional to Weight
// (weight 0 gets nothing); with TargetGroupStickinessConfig a valid
// AWSALBTG cookie keeps the client on its group, and a new one is issued.
func (ex *exchange) chooseTargetGroup(r *http.Request, a *action, now time.Time) *targetGroup {
	if len(a.groups) == 1 {
		return a.groups[0]
	}
	if a.tgSticky == 0 {
		return a.weightedGroup()
	}
	lb := ex.l.lb
	idx := -1
	exp := time.Time{}
	v, ok := requestCookie(r, CookieAWSALBTG)
	if !ok {
		v, ok = requestCookie(r, CookieAWSALBTGCORS) // cross-origin requests carry only the CORS copy
	}
	if ok {
		e, s, ok := lb.sticky.decode(v, cookieKindTG, a.tag)
		if n, err := strconv.Atoi(s); ok && err == nil && n >= 0 && n < len(a.groups) && a.weights[n] > 0 && now.Before(e) {
			idx, exp = n, e
		} else if !ok && malformedStickyCookie(v) {
			ex.rec.ErrorReason = ErrorReasonTGCookieInvalid
		}
	}
	if idx < 0 {
		g := a.weightedGroup()
		for i, x := range a.groups {
			if x == g {
				idx = i
			}
		}
		exp = stickyExpiry(now, a.tgSticky)
	}
	ex.sticky.tgValue = lb.sticky.encode(cookieKindTG, exp, a.tag, strconv.Itoa(idx))
	return a.groups[idx]
}

// malformedStickyCookie reports whether a stickiness cookie value cannot
// be one the load balancer wrote (for example a URL-encoded value; alb.md
// §5.3, §1.7 AWSALBTGCookieInvalid). A well-formed value of another forward
// action is merely ignored.
func malformedStickyCookie(v string) bool {
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err != nil
}

// weightedGroup is a weighted random choice proportional to Weight.
func (a *action) weightedGroup() *targetGroup {
	if len(a.groups) == 1 {
		return a.groups[0]
	}
	n := mrand.IntN(a.totalWeight)
	for i, w := range a.weights {
		if n < w {
			return a.groups[i]
		}
		n -= w
	}
	return a.groups[len(a.groups)-1]
}

// compileGroupStickiness implements the forward-action stickiness rules of
// alb.md §5.3 and §6.7: TargetGroupStickinessConfig (1 s – 7 days) on a
// weighted forward, required there when a member group has stickiness on;
// app_cookie stickiness cannot be used with weighted target groups.
func (a *action) compileGroupStickiness(ma *model.Action) error {
	weighted := len(a.groups) > 1
	var arns []string
	for _, g := range a.groups {
		arns = append(arns, g.model.ARN)
		if weighted && g.opts.sticky == StickinessAppCookie {
			return fmt.Errorf("target group %s uses app_cookie stickiness, which cannot be used in a weighted forward", g.model.Name)
		}
		if weighted && g.opts.sticky != "" && ma.TargetGroupStickiness == nil {
			return fmt.Errorf("target group %s has stickiness on, so this weighted forward needs TargetGroupStickinessConfig enabled", g.model.Name)
		}
	}
	if s := ma.TargetGroupStickiness; s != nil {
		if s.Duration < time.Second || s.Duration > 604800*time.Second {
			return fmt.Errorf("TargetGroupStickinessConfig DurationSeconds %d: want 1-604800", int64(s.Duration/time.Second))
		}
		a.tgSticky = s.Duration
		a.tag = groupTag(strings.Join(arns, "\n"))
	}
	return nil
}
