// Package admin owns kumo's admin HTTP endpoint and its client. The endpoint
// binds to a loopback address only and requires a bearer token that is kept
// in the state directory (mode 0600), so that only the user who runs kumo can
// use it. Commands such as `kumo invalidate` and `kumo targets` find a running
// kumo through <state-dir>/endpoints.json and talk to it here.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TokenFile is the name of the token file in the state directory.
const TokenFile = "admin-token"

// Server is the admin endpoint.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan error
}

// Listen starts the admin endpoint on addr, which must be a loopback
// address, serving h to requests that carry the token of stateDir (created
// on first use).
func Listen(addr, stateDir string, h http.Handler, log *slog.Logger) (*Server, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	token, err := loadOrCreateToken(stateDir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{ln: ln, done: make(chan error, 1), srv: &http.Server{
		Handler:           requireToken(token, h),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the endpoint, waiting for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.done <- http.ErrServerClosed
	return err
}

// checkLoopback refuses any address that is not on a loopback interface:
// the admin endpoint is never reachable from another machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("admin address %q: the admin endpoint binds to loopback only (127.0.0.0/8, ::1, localhost)", addr)
	}
	return nil
}

func loadOrCreateToken(stateDir string) (string, error) {
	path := filepath.Join(stateDir, TokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); len(t) >= 32 {
			return t, nil
		}
		return "", fmt.Errorf("admin token %s is malformed; remove it and restart kumo", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	token := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadOrCreateToken(stateDir) // another kumo wrote it first
	}
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return token, nil
}

func requireToken(token string, h http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			WriteError(w, http.StatusUnauthorized, "missing or wrong admin token (kumo commands read it from the state directory)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// errorBody is the JSON shape of every admin error.
type errorBody struct {
	Error string `json:"error"`
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError answers with a JSON error.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, errorBody{Error: msg})
}

// Client talks to a running kumo's admin endpoint.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the endpoint at addr, with the token of
// stateDir.
func NewClient(addr, stateDir string) (*Client, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(stateDir, TokenFile))
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	return &Client{base: "http://" + addr, token: strings.TrimSpace(string(b)), http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Do sends method path with body in (JSON, may be nil) and decodes the JSON
// answer into out (may be nil). A non-2xx answer is an error carrying the
// endpoint's message.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("kumo admin endpoint %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("kumo admin endpoint: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e errorBody
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("kumo: %s", e.Error)
		}
		return fmt.Errorf("kumo admin endpoint: %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("kumo admin endpoint: decoding %s: %w", path, err)
	}
	return nil
}
