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

func part(t *testing.T, maxBytes, maxEntry int64) *Partition {
	t.Helper()
	s, err := New(maxBytes, maxEntry)
	if err != nil {
		t.Fatal(err)
	}
	return s.Partition()
}

func TestGetPutDelete(t *testing.T) {
	s := part(t, 1<<20, 0)
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
	before := s.Store().Bytes()
	if err := s.Put("a", entry("hello, longer")); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 || s.Store().Bytes() != before+int64(len(", longer")) || s.Bytes() != s.Store().Bytes() {
		t.Fatalf("replace: len %d bytes %d/%d (before %d)", s.Len(), s.Bytes(), s.Store().Bytes(), before)
	}
	if !s.Delete("a") || s.Delete("a") || s.Len() != 0 || s.Store().Bytes() != 0 {
		t.Fatalf("delete: len %d bytes %d", s.Len(), s.Store().Bytes())
	}
}

// TestLookup: Lookup finds what Get finds from a key in a caller's buffer,
// keeps nothing of that buffer, and returns the stored key, which stays
// what it was when the buffer is reused; a miss returns no key.
func TestLookup(t *testing.T) {
	s := part(t, 1<<20, 0)
	if err := s.Put("/a\x000", entry("hello")); err != nil {
		t.Fatal(err)
	}
	other, _ := New(1<<20, 0)
	if err := other.Partition().Put("/a\x000", entry("other partition")); err != nil {
		t.Fatal(err)
	}
	buf := []byte("/a\x000")
	e, key, ok := s.Lookup(buf)
	if !ok || string(e.Body) != "hello" || key != "/a\x000" {
		t.Fatalf("Lookup = %v, %q, %v", e, key, ok)
	}
	copy(buf, "/b")
	if key != "/a\x000" {
		t.Fatalf("the returned key changed with the caller's buffer: %q", key)
	}
	if e, key, ok := s.Lookup(buf); ok || e != nil || key != "" {
		t.Fatalf("Lookup(%q) = %v, %q, %v; want a miss", buf, e, key, ok)
	}
	if n := testing.AllocsPerRun(100, func() { s.Lookup([]byte("/a\x000")) }); n != 0 {
		t.Errorf("Lookup: %v allocations, want 0", n)
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

// TestPartitionsAreSeparate: two partitions share the budget, not keys.
func TestPartitionsAreSeparate(t *testing.T) {
	s, err := New(1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.Partition(), s.Partition()
	if err := a.Put("/x", entry("a")); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("/x"); ok {
		t.Fatal("partition b sees partition a's key")
	}
	if err := b.Put("/x", entry("bb")); err != nil {
		t.Fatal(err)
	}
	if e, _ := a.Get("/x"); string(e.Body) != "a" {
		t.Fatalf("a's entry = %q", e.Body)
	}
	if s.Len() != 2 || s.Bytes() != a.Bytes()+b.Bytes() {
		t.Fatalf("store len %d bytes %d, partitions %d+%d", s.Len(), s.Bytes(), a.Bytes(), b.Bytes())
	}
	if n := a.Drop(); n != 1 || a.Len() != 0 || b.Len() != 1 {
		t.Fatalf("Drop removed %d; a %d b %d", n, a.Len(), b.Len())
	}
}

// TestBoundHoldsUnderManyDistinctKeys writes far more distinct objects than
// fit and checks after every write that the accounted bytes stay within the
// budget, and that an object used often survives the flood (W-TinyLFU).
func TestBoundHoldsUnderManyDistinctKeys(t *testing.T) {
	const budget = 256 << 10
	s, err := New(budget, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Partition()
	body := strings.Repeat("x", 1000)
	if err := p.Put("hot", entry(body)); err != nil {
		t.Fatal(err)
	}
	var written int64
	for i := range 5000 {
		for range 2 {
			p.Get("hot")
		}
		e := entry(body)
		k := fmt.Sprintf("/obj/%d", i)
		written += e.Size(k)
		if err := p.Put(k, e); err != nil {
			t.Fatal(err)
		}
		if got := s.Bytes(); got > budget {
			t.Fatalf("after %d puts: %d bytes accounted, budget %d", i+1, got, budget)
		}
	}
	if written < 10*budget {
		t.Fatalf("test wrote only %d bytes", written)
	}
	if s.Bytes() < budget/2 {
		t.Errorf("store holds only %d of %d bytes", s.Bytes(), budget)
	}
	if _, ok := p.Get("hot"); !ok {
		t.Error("the frequently used object was evicted by one-off objects")
	}
	if n := p.Bytes(); n != s.Bytes() {
		t.Errorf("partition bytes %d != store bytes %d", n, s.Bytes())
	}
}

func TestTooLarge(t *testing.T) {
	s := part(t, 1000, 500)
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
	s := part(t, 1<<20, 0)
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
	s := part(t, 64<<10, 0)
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
	if s.Store().Bytes() > 64<<10 {
		t.Fatalf("over budget: %d", s.Store().Bytes())
	}
}
