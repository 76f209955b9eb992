package edge

import (
	"net/http"
	"sync"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestOriginTLSResumption: a new connection to an HTTPS origin resumes the
// TLS session of the previous one (the origin closes each connection, so
// every fetch dials and handshakes again).
func TestOriginTLSResumption(t *testing.T) {
	ca := newCA(t)
	cert, err := ca.Issue([]string{"origin.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var resumed []bool
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumed = append(resumed, r.TLS != nil && r.TLS.DidResume)
		mu.Unlock()
		w.Header().Set("Connection", "close")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok"))
	}, cert)
	ev := newEnv(t, ca, testStack(testOrigin("origin.example.com", model.OriginHTTPSOnly), policyBehavior(CachingDisabledID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	for i := range 3 {
		if r := ev.do(c, "GET", "https://"+testDomain+"/r", nil); r.status != 200 {
			t.Fatalf("request %d: %d %q", i, r.status, r.body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(resumed) != 3 || resumed[0] || !resumed[1] || !resumed[2] {
		t.Errorf("origin handshakes resumed: %v, want [false true true]", resumed)
	}
}
