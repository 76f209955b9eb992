// Package cache owns the edge's object store: an in-memory, byte-bounded,
// least-recently-used map from a cache key to a stored HTTP response (status,
// headers, body, the time it was stored and its TTL). It is safe for
// concurrent use.
//
// The store keeps policy out: it never decides what is cacheable or for how
// long (package edge does, per cloudfront.md §4). Get returns expired entries
// too, so that later features (serving stale content, conditional
// revalidation) can use them; DeleteFunc is the hook for invalidation; and
// entries are immutable once stored, so a request-collapsing layer can hand
// one entry to many waiters.
package cache

import (
	"container/list"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Entry is one stored response. An Entry must not be modified after Put: it
// is shared by every request that reads it.
type Entry struct {
	// Status is the HTTP status code that was stored (200, 404, 502, ...).
	Status int
	// Header holds the response headers as they are sent to viewers.
	Header http.Header
	// Body is the complete response body.
	Body []byte
	// Stored is when the response was stored.
	Stored time.Time
	// TTL is how long the entry is fresh after Stored.
	TTL time.Duration
	// Error marks an error response (an origin or edge-generated 4xx/5xx
	// that was error-cached, cloudfront.md §4.4).
	Error bool
}

// Expires is when the entry stops being fresh.
func (e *Entry) Expires() time.Time { return e.Stored.Add(e.TTL) }

// Fresh reports whether the entry may still be served without asking the
// origin at time now.
func (e *Entry) Fresh(now time.Time) bool { return now.Before(e.Expires()) }

// entryOverhead approximates the fixed bytes an entry costs besides its
// key, headers and body (struct, list element, map slot).
const entryOverhead = 128

// size is what the entry is charged against the store's byte budget.
func (e *Entry) size(key string) int64 {
	n := int64(entryOverhead + len(key) + len(e.Body))
	for k, vs := range e.Header {
		n += int64(len(k))
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

// ErrTooLarge is returned by Put for an entry bigger than MaxEntryBytes.
var ErrTooLarge = errors.New("cache: entry larger than the per-entry limit")

type item struct {
	key   string
	entry *Entry
	size  int64
}

// Store is a byte-bounded LRU object store.
type Store struct {
	maxBytes      int64
	maxEntryBytes int64

	mu    sync.Mutex
	bytes int64
	lru   *list.List // front = most recently used; values are *item
	items map[string]*list.Element
}

// New returns a Store that holds at most maxBytes (keys, headers and bodies
// counted) and refuses single entries larger than maxEntryBytes (0 means
// maxBytes/8).
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
	return &Store{
		maxBytes:      maxBytes,
		maxEntryBytes: maxEntryBytes,
		lru:           list.New(),
		items:         make(map[string]*list.Element),
	}, nil
}

// MaxEntryBytes is the largest body (plus headers) one entry may have.
func (s *Store) MaxEntryBytes() int64 { return s.maxEntryBytes }

// Get returns the entry stored under key, fresh or not, and marks it as
// recently used. Callers check Entry.Fresh.
func (s *Store) Get(key string) (*Entry, bool) {
	s.mu.Lock()
	el, ok := s.items[key]
	if !ok {
		s.mu.Unlock()
		return nil, false
	}
	s.lru.MoveToFront(el)
	e := el.Value.(*item).entry
	s.mu.Unlock()
	return e, true
}

// Put stores e under key, replacing any previous entry, and evicts least
// recently used entries until the store is within its byte budget.
func (s *Store) Put(key string, e *Entry) error {
	if e == nil {
		return errors.New("cache: nil entry")
	}
	sz := e.size(key)
	if sz > s.maxEntryBytes {
		return fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, sz, s.maxEntryBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		it := el.Value.(*item)
		s.bytes += sz - it.size
		it.entry, it.size = e, sz
		s.lru.MoveToFront(el)
	} else {
		s.items[key] = s.lru.PushFront(&item{key: key, entry: e, size: sz})
		s.bytes += sz
	}
	for s.bytes > s.maxBytes {
		s.removeElement(s.lru.Back())
	}
	return nil
}

// Delete removes key and reports whether it was present.
func (s *Store) Delete(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if ok {
		s.removeElement(el)
	}
	return ok
}

// DeleteFunc removes every entry whose key satisfies match and returns how
// many were removed (the basis for invalidations).
func (s *Store) DeleteFunc(match func(key string) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for el := s.lru.Front(); el != nil; {
		next := el.Next()
		if match(el.Value.(*item).key) {
			s.removeElement(el)
			n++
		}
		el = next
	}
	return n
}

// Len is the number of stored entries.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Bytes is the number of bytes charged against the budget.
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

func (s *Store) removeElement(el *list.Element) {
	it := el.Value.(*item)
	s.lru.Remove(el)
	delete(s.items, it.key)
	s.bytes -= it.size
}
