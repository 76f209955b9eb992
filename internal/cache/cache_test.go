package cache

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func entry(body string) *Entry {
	return &Entry{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte(body), Stored: time.Unix(1000, 0), TTL: 10 * time.Second}
}

func TestGetPutDelete(t *testing.T) {
	s, err := New(1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("a"); ok {
		t.Fatal("empty store returned an entry")
	}
	if err := s.Put("a", entry("hello")); err != nil {
		t.Fatal(err)
	}
	e, ok := s.Get("a")
	if !ok || string(e.Body) != "hello" || e.Status != 200 {
		t.Fatalf("Get = %+v, %v", e, ok)
	}
	before := s.Bytes()
	if err := s.Put("a", entry("hello, longer")); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 || s.Bytes() != before+int64(len(", longer")) {
		t.Fatalf("replace: len %d bytes %d (before %d)", s.Len(), s.Bytes(), before)
	}
	if !s.Delete("a") || s.Delete("a") || s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("delete: len %d bytes %d", s.Len(), s.Bytes())
	}
}

func TestFresh(t *testing.T) {
	e := entry("x")
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{e.Stored, true},
		{e.Stored.Add(9999 * time.Millisecond), true},
		{e.Stored.Add(10 * time.Second), false},
		{e.Stored.Add(time.Hour), false},
	} {
		if got := e.Fresh(tc.at); got != tc.want {
			t.Errorf("Fresh(%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestLRUEviction(t *testing.T) {
	one := entry(strings.Repeat("x", 1000))
	sz := one.size("k0")
	s, err := New(3*sz, sz)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Put(fmt.Sprintf("k%d", i), entry(strings.Repeat("x", 1000))); err != nil {
			t.Fatal(err)
		}
	}
	s.Get("k0") // k1 is now the least recently used
	if err := s.Put("k3", entry(strings.Repeat("x", 1000))); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"k0": true, "k1": false, "k2": true, "k3": true} {
		if _, ok := s.Get(key); ok != want {
			t.Errorf("%s present = %v, want %v", key, ok, want)
		}
	}
	if s.Bytes() > 3*sz {
		t.Errorf("bytes %d over budget %d", s.Bytes(), 3*sz)
	}
}

func TestTooLarge(t *testing.T) {
	s, err := New(1000, 500)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put("big", entry(strings.Repeat("x", 600))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put big = %v, want ErrTooLarge", err)
	}
	if s.Len() != 0 {
		t.Fatal("too-large entry was stored")
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct{ max, entry int64 }{{0, 0}, {-1, 0}, {100, 200}} {
		if _, err := New(tc.max, tc.entry); err == nil {
			t.Errorf("New(%d, %d) succeeded", tc.max, tc.entry)
		}
	}
}

func TestDeleteFunc(t *testing.T) {
	s, _ := New(1<<20, 0)
	for _, k := range []string{"/images/a", "/images/b", "/index.html"} {
		if err := s.Put(k, entry(k)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.DeleteFunc(func(k string) bool { return strings.HasPrefix(k, "/images/") }); n != 2 {
		t.Fatalf("DeleteFunc removed %d, want 2", n)
	}
	if _, ok := s.Get("/index.html"); !ok || s.Len() != 1 {
		t.Fatal("DeleteFunc removed the wrong entries")
	}
}

func TestConcurrent(t *testing.T) {
	s, _ := New(64<<10, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprintf("k%d", (g*31+i)%97)
				if i%3 == 0 {
					_ = s.Put(k, entry(strings.Repeat("y", i)))
				} else if e, ok := s.Get(k); ok && e.Status != 200 {
					t.Error("bad entry")
				}
			}
		}()
	}
	wg.Wait()
	if s.Bytes() > 64<<10 {
		t.Fatalf("over budget: %d", s.Bytes())
	}
}
