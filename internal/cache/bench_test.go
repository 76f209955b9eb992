package cache

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// benchEntry is a 1 KiB cached response with the headers a hit carries.
func benchEntry() *Entry {
	return &Entry{Status: http.StatusOK, Body: make([]byte, 1024), Stored: time.Now(), TTL: time.Hour,
		Header: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"1024"}, "Cache-Control": {"public, max-age=3600"}}}
}

// BenchmarkGetHit: the lookup of a cache hit (issue 6, item 2), in a store
// holding 10,000 objects.
func BenchmarkGetHit(b *testing.B) {
	s, err := New(64<<20, 0)
	if err != nil {
		b.Fatal(err)
	}
	p := s.Partition()
	e := benchEntry()
	for i := range 10000 {
		if err := p.Put("/obj-"+strconv.Itoa(i)+"\x000", e); err != nil {
			b.Fatal(err)
		}
	}
	const k = "/obj-4242\x000"
	b.ReportAllocs()
	for b.Loop() {
		got, ok := p.Get(k)
		if !ok || got != e {
			b.Fatal("not a hit")
		}
	}
}

// BenchmarkGetHitParallel is BenchmarkGetHit from GOMAXPROCS goroutines.
func BenchmarkGetHitParallel(b *testing.B) {
	s, err := New(64<<20, 0)
	if err != nil {
		b.Fatal(err)
	}
	p := s.Partition()
	e := benchEntry()
	const k = "/bench\x000"
	if err := p.Put(k, e); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := p.Get(k); !ok {
				b.Error("not a hit")
				return
			}
		}
	})
}
