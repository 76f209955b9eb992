package alb

import (
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// fixedClock is a settable clock for Config.Now.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

// newFixedClock starts at the current second (cookie jars drop cookies
// whose Expires has passed, so the clock must be near the real time).
func newFixedClock() *fixedClock {
	return &fixedClock{t: time.Now().UTC().Truncate(time.Second)}
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func noHealthCheck(tg *model.TargetGroup) *model.TargetGroup {
	tg.HealthCheck.Enabled = false
	return tg
}

func weightedForward(sticky time.Duration, tgs []*model.TargetGroup, weights ...int) []*model.Action {
	a := &model.Action{Type: model.ActionForward, Order: 1}
	for i, tg := range tgs {
		a.TargetGroups = append(a.TargetGroups, model.WeightedTargetGroup{TargetGroup: tg, Weight: weights[i]})
	}
	if sticky > 0 {
		a.TargetGroupStickiness = &model.TargetGroupStickiness{Duration: sticky}
	}
	return []*model.Action{a}
}

// TestWeightedForwardSplitAndStickyClient sends 4,000 requests through a
// 1:3 weighted forward and checks the split to within ±5 percentage points
// (alb.md §5.3), then checks that a client with cookies stays on its target
// group (AWSALBTG) and its target (AWSALB) across 100 requests (§5.3, §6.7).
func TestWeightedForwardSplitAndStickyClient(t *testing.T) {
	a1, a2 := newBackend(t, "A1", nil), newBackend(t, "A2", nil)
	b1, b2 := newBackend(t, "B1", nil), newBackend(t, "B2", nil)
	tgA := noHealthCheck(mkTG("tg-a", a1.target("10.0.1.1:80"), a2.target("10.0.1.2:80")))
	tgB := noHealthCheck(mkTG("tg-b", b1.target("10.0.2.1:80"), b2.target("10.0.2.2:80")))
	for _, tg := range []*model.TargetGroup{tgA, tgB} {
		tg.Attributes = map[string]string{"stickiness.enabled": "true", "stickiness.type": "lb_cookie"}
	}
	plain := httpListener(80, weightedForward(0, []*model.TargetGroup{tgA, tgB}, 1, 3))
	sticky := httpListener(8080, weightedForward(time.Hour, []*model.TargetGroup{tgA, tgB}, 1, 3))
	// The plain listener's groups have no stickiness (a weighted forward
	// without TargetGroupStickinessConfig cannot use sticky groups).
	tgA2 := noHealthCheck(mkTG("tg-a2", a1.target("10.0.1.1:80")))
	tgB2 := noHealthCheck(mkTG("tg-b2", b1.target("10.0.2.1:80")))
	plain.DefaultActions = weightedForward(0, []*model.TargetGroup{tgA2, tgB2}, 1, 3)
	clock := newFixedClock()
	ru := start(t, Config{LB: loadBalancer(plain, sticky), Now: clock.Now})

	const n, workers = 4000, 8
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := noRedirectClient()
			for i := 0; i < n/workers; i++ {
				resp, err := c.Get("http://" + ru.addrs[plain] + "/")
				if err != nil {
					errs <- err.Error()
					return
				}
				var buf [8]byte
				k, _ := resp.Body.Read(buf[:])
				resp.Body.Close()
				mu.Lock()
				count[string(buf[:k])]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if count["A1"]+count["B1"] != n {
		t.Fatalf("counts %v", count)
	}
	share := float64(count["B1"]) / n * 100
	if share < 70 || share > 80 {
		t.Fatalf("weight-3 group got %.1f%% of %d requests, want 75%% ± 5", share, n)
	}

	// A sticky client: cookies keep it on one group and one target.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	first, body := get(t, c, "http://"+ru.addrs[sticky]+"/", nil)
	cookies := first.Header.Values("Set-Cookie")
	expires := "Expires=" + clock.Now().Add(7*24*time.Hour).Format(http.TimeFormat)
	for _, prefix := range []string{"AWSALBTG=", "AWSALBTGCORS=", "AWSALB=", "AWSALBCORS="} {
		found := ""
		for _, sc := range cookies {
			if strings.HasPrefix(sc, prefix) {
				found = sc
			}
		}
		if found == "" {
			t.Fatalf("no %s cookie in %q", prefix, cookies)
		}
		if !strings.Contains(found, "; "+expires+"; Path=/") {
			t.Errorf("%s lacks the 7-day Expires: %q", prefix, found)
		}
		if strings.Contains(prefix, "CORS") != strings.HasSuffix(found, "; SameSite=None; Secure") {
			t.Errorf("%s SameSite/Secure: %q", prefix, found)
		}
	}
	for i := 0; i < 100; i++ {
		if _, b := get(t, c, "http://"+ru.addrs[sticky]+"/", nil); b != body {
			t.Fatalf("request %d went to %s, the sticky client started on %s", i, b, body)
		}
	}
	// A URL-encoded AWSALBTG value is invalid: logged, and a group re-picked.
	nrec := len(ru.sink.wait(t, 0))
	resp, _ := get(t, noRedirectClient(), "http://"+ru.addrs[sticky]+"/", map[string]string{"Cookie": "AWSALBTG=abc%3D%3D"})
	if resp.StatusCode != 200 || cookieValue(resp, "AWSALBTG") == "" {
		t.Fatalf("invalid AWSALBTG: %d, cookies %q", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if rec := ru.sink.wait(t, nrec+1)[nrec]; rec.ErrorReason != ErrorReasonTGCookieInvalid {
		t.Errorf("error_reason %q, want %s", rec.ErrorReason, ErrorReasonTGCookieInvalid)
	}
	// Without cookies the same listener spreads over both targets of a group.
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		_, b := get(t, noRedirectClient(), "http://"+ru.addrs[sticky]+"/", nil)
		seen[b] = true
	}
	if len(seen) < 3 {
		t.Fatalf("cookie-less clients saw only %v", seen)
	}
}

// TestLBCookieStickinessRepicksUnusableTarget checks lb_cookie stickiness
// (alb.md §6.7): the AWSALB cookie keeps a client on its target; a forged
// cookie, an expired binding or a target that turned unhealthy gets a new
// target and a rewritten cookie.
func TestLBCookieStickinessRepicksUnusableTarget(t *testing.T) {
	a, b := newBackend(t, "A", nil), newBackend(t, "B", nil)
	tg := mkTG("alb-tg", a.target("10.0.4.1:80"), b.target("10.0.4.2:80"))
	tg.Attributes = map[string]string{"stickiness.enabled": "true", "stickiness.type": "lb_cookie", "stickiness.lb_cookie.duration_seconds": "60"}
	l := httpListener(80, forward(tg))
	clock := newFixedClock()
	ru := start(t, Config{LB: loadBalancer(l), Now: clock.Now})
	ru.waitState(t, "10.0.4.1:80", StateHealthy)
	ru.waitState(t, "10.0.4.2:80", StateHealthy)
	url := "http://" + ru.addrs[l] + "/"
	c := noRedirectClient()
	resp, first := get(t, c, url, nil)
	cookie := cookieValue(resp, "AWSALB")
	for i := 0; i < 10; i++ {
		if _, got := get(t, c, url, map[string]string{"Cookie": "AWSALB=" + cookie}); got != first {
			t.Fatalf("sticky request %d went to %s, want %s", i, got, first)
		}
	}
	// A cross-origin request carries only AWSALBCORS.
	if _, got := get(t, c, url, map[string]string{"Cookie": "AWSALBCORS=" + cookie}); got != first {
		t.Fatalf("AWSALBCORS request went to %s, want %s", got, first)
	}
	// A reload keeps the cookie key: the binding survives.
	next, err := New(Config{LB: ru.lb.lb, Now: clock.Now}, ru.lb)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if next.sticky != ru.lb.sticky {
		t.Fatal("the stickiness key changed on reload")
	}
	// A forged value is ignored: requests balance again.
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		_, got := get(t, c, url, map[string]string{"Cookie": "AWSALB=" + cookie[:len(cookie)-2] + "AA"})
		seen[got] = true
	}
	if len(seen) != 2 {
		t.Fatalf("forged cookie still sticky: %v", seen)
	}
	// After the 60 s duration the binding ends.
	clock.Advance(61 * time.Second)
	seen = map[string]bool{}
	for i := 0; i < 4; i++ {
		_, got := get(t, c, url, map[string]string{"Cookie": "AWSALB=" + cookie})
		seen[got] = true
	}
	if len(seen) != 2 {
		t.Fatalf("expired binding still sticky: %v", seen)
	}
	// A fresh binding to the target that then turns unhealthy moves away.
	resp, first = get(t, c, url, nil)
	cookie = cookieValue(resp, "AWSALB")
	sick := a
	if first == "B" {
		sick = b
	}
	sick.hcStatus.Store(500)
	addr := map[string]string{"A": "10.0.4.1:80", "B": "10.0.4.2:80"}[first]
	ru.waitState(t, addr, StateUnhealthy)
	resp, got := get(t, c, url, map[string]string{"Cookie": "AWSALB=" + cookie})
	if got == first {
		t.Fatalf("cookie kept the client on unhealthy target %s", first)
	}
	if nc := cookieValue(resp, "AWSALB"); nc == "" || nc == cookie {
		t.Fatalf("cookie not rewritten after the re-pick: %q", nc)
	}
}

func cookieValue(resp *http.Response, name string) string {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// TestAppCookieStickiness checks app_cookie stickiness (alb.md §6.7): when
// the target sets the application cookie the load balancer adds
// AWSALBAPP-0..3; a client returning both cookies stays on the target; the
// AWSALBAPP cookie alone does not bind.
func TestAppCookieStickiness(t *testing.T) {
	handler := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" {
				http.SetCookie(w, &http.Cookie{Name: "session", Value: name})
			}
			_, _ = w.Write([]byte(name))
		}
	}
	a, b := newBackend(t, "A", handler("A")), newBackend(t, "B", handler("B"))
	tg := noHealthCheck(mkTG("alb-tg", a.target("10.0.4.1:80"), b.target("10.0.4.2:80")))
	tg.Attributes = map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "session"}
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	url := "http://" + ru.addrs[l]
	c := noRedirectClient()
	resp, _ := get(t, c, url+"/plain", nil)
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Fatalf("cookies without the application cookie: %q", v)
	}
	resp, first := get(t, c, url+"/login", map[string]string{"User-Agent": "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36"})
	var app string
	names := []string{}
	for _, sc := range resp.Header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(sc, "=")
		names = append(names, name)
		if strings.HasPrefix(sc, "AWSALBAPP-") && !strings.HasSuffix(sc, "; Path=/; SameSite=None; Secure") {
			t.Errorf("Chromium client: %q lacks SameSite=None; Secure", sc)
		}
	}
	if strings.Join(names, ",") != "session,AWSALBAPP-0,AWSALBAPP-1,AWSALBAPP-2,AWSALBAPP-3" {
		t.Fatalf("Set-Cookie names %v", names)
	}
	app = cookieValue(resp, "AWSALBAPP-0")
	if cookieValue(resp, "AWSALBAPP-1") != "_remove_" {
		t.Errorf("empty shard %q", cookieValue(resp, "AWSALBAPP-1"))
	}
	both := "session=" + first + "; AWSALBAPP-0=" + app
	for i := 0; i < 10; i++ {
		if _, got := get(t, c, url+"/x", map[string]string{"Cookie": both}); got != first {
			t.Fatalf("request %d with both cookies went to %s, want %s", i, got, first)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		_, got := get(t, c, url+"/x", map[string]string{"Cookie": "AWSALBAPP-0=" + app})
		seen[got] = true
	}
	if len(seen) != 2 {
		t.Fatalf("AWSALBAPP alone bound the client: %v", seen)
	}
}
