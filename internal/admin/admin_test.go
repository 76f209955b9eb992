package admin

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAdminLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "10.0.0.1:0", ":0", "example.com:0"} {
		if _, err := Listen(addr, t.TempDir(), http.NotFoundHandler(), nil); err == nil || !strings.Contains(err.Error(), "loopback only") && !strings.Contains(err.Error(), "admin address") {
			t.Errorf("Listen(%q) = %v, want a loopback-only error", addr, err)
		}
	}
}

func TestAdminTokenRequired(t *testing.T) {
	dir := t.TempDir()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ping", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, 200, map[string]string{"pong": "yes"}) })
	s, err := Listen("127.0.0.1:0", dir, mux, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	st, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", st.Mode().Perm())
	}
	// Without the token: 401.
	resp, err := http.Get("http://" + s.Addr() + "/v1/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	// With the client: the route answers.
	c, err := NewClient(s.Addr(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := c.Do(context.Background(), "GET", "/v1/ping", nil, &out); err != nil || out["pong"] != "yes" {
		t.Fatalf("client: %v %v", out, err)
	}
	// A wrong token is refused with the endpoint's message.
	other := t.TempDir()
	if _, err := Listen("127.0.0.1:0", other, mux, nil); err != nil {
		t.Fatal(err)
	}
	bad, err := NewClient(s.Addr(), other)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Do(context.Background(), "GET", "/v1/ping", nil, nil); err == nil || !strings.Contains(err.Error(), "admin token") {
		t.Fatalf("wrong token: %v", err)
	}
}
