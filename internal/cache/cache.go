// Package cache owns the edge's object store: one in-memory, byte-bounded
// map from a cache key to a stored HTTP response (status, headers, body, the
// time it was stored and its TTL), shared by every distribution of an edge
// and safe for concurrent use.
//
// The store is bounded by bytes, not entries: every entry is charged its
// key, headers and body, and the total never exceeds the store's limit.
// Eviction is otter's W-TinyLFU (github.com/maypok86/otter/v2), which keeps
// frequently used objects over a burst of one-off ones.
//
// The store keeps policy out: it never decides what is cacheable or for how
// long (package edge does, per cloudfront.md §4). Get returns expired entries
// too, so that stale content can be served and revalidated; DeleteFunc is the
// hook for invalidation; and entries are immutable once stored, so one entry
// can be handed to many requests at once.
//
// Each distribution (each deployment of one) reads and writes its own
// Partition, so two distributions never see each other's objects while they
// share one memory budget.
package cache

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/maypok86/otter/v2"
)

// Entry is one stored response. An Entry must not be modified after Put: it
// is shared by every request that reads it. To change one (a revalidation
// that updates headers), Put a new Entry; the Body slice may be shared.
type Entry struct {
	// Status is the HTTP status code that was stored (200, 404, 502, ...).
	Status int
	// Header holds the response headers as they are sent to viewers.
	Header http.Header
	// Body is the complete response body.
	Body []byte
	// Stored is when the response was stored (or last revalidated).
	Stored time.Time
	// TTL is how long the entry is fresh after Stored.
	TTL time.Duration
	// Error marks an error response (an origin or edge-generated 4xx/5xx
	// that was error-cached, cloudfront.md §4.4).
	Error bool
	// HeldUntil, when after Stored+TTL, is when a stale entry that is being
	// served because the origin failed must be asked for again
	// (cloudfront.md §4.3). Zero otherwise.
	HeldUntil time.Time
	// VaryNames, when set, makes this entry a variant index: the response
	// varies on these request headers and the variants are stored under
	// the key extended by their values (package edge builds those keys).
	VaryNames []string

	// derived is what the cache's user derived from the entry after it
	// was stored (Derived, SetDerived).
	derived atomic.Value
}

// Derived returns the value last given to SetDerived, or nil.
func (e *Entry) Derived() any { return e.derived.Load() }

// SetDerived keeps v with the entry, for its user's later requests
// (package edge: the response head serialised for serve's lean engine,
// built on the entry's first hit there). v must have the same concrete
// type on every call. Safe for concurrent use; the entry's other fields do
// not change once it is Put.
func (e *Entry) SetDerived(v any) { e.derived.Store(v) }

// Clone returns a copy of the entry's fields, without what was derived
// from it.
func (e *Entry) Clone() *Entry {
	return &Entry{Status: e.Status, Header: e.Header, Body: e.Body, Stored: e.Stored, TTL: e.TTL,
		Error: e.Error, HeldUntil: e.HeldUntil, VaryNames: e.VaryNames}
}

// Expires is when the entry stops being fresh.
func (e *Entry) Expires() time.Time { return e.Stored.Add(e.TTL) }

// Fresh reports whether the entry may still be served without asking the
// origin at time now.
func (e *Entry) Fresh(now time.Time) bool { return now.Before(e.Expires()) }

// entryOverhead approximates the fixed bytes an entry costs besides its
// key, headers and body (struct, map node, policy metadata).
const entryOverhead = 160

// Size is what an entry stored under key is charged against the store's
// byte budget.
func (e *Entry) Size(key string) int64 {
	n := int64(entryOverhead + len(key) + len(e.Body))
	for k, vs := range e.Header {
		n += int64(len(k))
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	for _, v := range e.VaryNames {
		n += int64(len(v)) + 16
	}
	return n
}

// ErrTooLarge is returned by Put for an entry bigger than MaxEntryBytes.
var ErrTooLarge = errors.New("cache: entry larger than the per-entry limit")

// key is a partition's key: the partition number and the cache key.
type key struct {
	part uint64
	k    string
}

// Store is the byte-bounded object store of one edge.
type Store struct {
	c             *otter.Cache[key, *Entry]
	maxBytes      int64
	maxEntryBytes int64
	parts         atomic.Uint64
}

// New returns a Store that holds at most maxBytes (keys, headers and bodies
// counted, over all partitions) and refuses single entries larger than
// maxEntryBytes (0 means maxBytes/8; never more than 4 GiB, the most one
// entry can be charged).
func New(maxBytes, maxEntryBytes int64) (*Store, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("cache: capacity must be positive, got %d bytes", maxBytes)
	}
	if maxEntryBytes <= 0 {
		maxEntryBytes = maxBytes / 8
	}
	if maxEntryBytes > maxBytes {
		return nil, fmt.Errorf("cache: per-entry limit %d exceeds capacity %d", maxEntryBytes, maxBytes)
	}
	maxEntryBytes = min(maxEntryBytes, math.MaxUint32)
	c, err := otter.New(&otter.Options[key, *Entry]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(k key, e *Entry) uint32 {
			return uint32(min(e.Size(k.k), math.MaxUint32))
		},
		// Maintenance (eviction) runs in the writing goroutine, so the
		// budget holds when Put returns rather than some time later.
		Executor: func(fn func()) { fn() },
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &Store{c: c, maxBytes: maxBytes, maxEntryBytes: maxEntryBytes}, nil
}

// MaxBytes is the store's byte budget.
func (s *Store) MaxBytes() int64 { return s.maxBytes }

// MaxEntryBytes is the largest body (plus headers) one entry may have.
func (s *Store) MaxEntryBytes() int64 { return s.maxEntryBytes }

// Bytes is the number of bytes charged against the budget, over all
// partitions.
func (s *Store) Bytes() int64 { return int64(s.c.WeightedSize()) }

// Len is the number of stored entries, over all partitions.
func (s *Store) Len() int { return s.c.EstimatedSize() }

// Partition returns a new, empty partition of the store.
func (s *Store) Partition() *Partition {
	return &Partition{s: s, id: s.parts.Add(1)}
}

// Partition is one distribution's view of a Store: its own keys, the
// store's shared budget.
type Partition struct {
	s  *Store
	id uint64
}

// Store is the store the partition belongs to.
func (p *Partition) Store() *Store { return p.s }

// MaxEntryBytes is the largest body (plus headers) one entry may have.
func (p *Partition) MaxEntryBytes() int64 { return p.s.maxEntryBytes }

// Get returns the entry stored under k, fresh or not, and records the use.
// Callers check Entry.Fresh.
func (p *Partition) Get(k string) (*Entry, bool) {
	return p.s.c.GetIfPresent(key{p.id, k})
}

// Lookup is Get for a key built in a caller's buffer: k is read during the
// call only, never kept. On a hit it also returns the key the entry was
// stored under (a string equal to k, which the caller may keep), so that a
// hit costs no string of its own.
func (p *Partition) Lookup(k []byte) (*Entry, string, bool) {
	e, ok := p.s.c.GetEntry(key{p.id, unsafe.String(unsafe.SliceData(k), len(k))})
	if !ok {
		return nil, "", false
	}
	return e.Value, e.Key.k, true
}

// Put stores e under k, replacing any previous entry. Entries are evicted
// (W-TinyLFU) until the store is within its byte budget; a new entry that
// is used less than the ones it would displace may itself be the one
// evicted.
func (p *Partition) Put(k string, e *Entry) error {
	if e == nil {
		return errors.New("cache: nil entry")
	}
	if sz := e.Size(k); sz > p.s.maxEntryBytes {
		return fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, sz, p.s.maxEntryBytes)
	}
	p.s.c.Set(key{p.id, k}, e)
	if p.s.Bytes() > p.s.maxBytes {
		// Another goroutine held the maintenance lock: finish eviction
		// before returning, so the budget is never exceeded for long.
		p.s.c.CleanUp()
	}
	return nil
}

// Delete removes k and reports whether it was present.
func (p *Partition) Delete(k string) bool {
	_, ok := p.s.c.Invalidate(key{p.id, k})
	return ok
}

// DeleteFunc removes every entry of the partition whose key satisfies
// match and returns how many were removed (the basis for invalidations).
func (p *Partition) DeleteFunc(match func(key string) bool) int {
	n := 0
	for k := range p.s.c.Keys() {
		if k.part == p.id && match(k.k) {
			if _, ok := p.s.c.Invalidate(k); ok {
				n++
			}
		}
	}
	return n
}

// Drop removes every entry of the partition (a distribution that was
// replaced or deleted).
func (p *Partition) Drop() int {
	return p.DeleteFunc(func(string) bool { return true })
}

// Len is the number of entries in the partition.
func (p *Partition) Len() int {
	n := 0
	for k := range p.s.c.Keys() {
		if k.part == p.id {
			n++
		}
	}
	return n
}

// Bytes is the number of bytes the partition's entries are charged.
func (p *Partition) Bytes() int64 {
	var n int64
	for k, e := range p.s.c.All() {
		if k.part == p.id {
			n += e.Size(k.k)
		}
	}
	return n
}
