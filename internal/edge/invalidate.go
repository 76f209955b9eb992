package edge

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoSuchDistribution is returned by Invalidate for an unknown
// distribution ID.
var ErrNoSuchDistribution = errors.New("no such distribution")

// maxInvalidationPath is the longest invalidation path (cloudfront.md §4.9).
const maxInvalidationPath = 4000

// InvalidationPath implements the path rules of cloudfront.md §4.9: a path
// starts with /, is at most 4,000 characters of printable ASCII (other
// characters must be URL-encoded), and may hold * only as its last
// character.
func InvalidationPath(p string) error {
	switch {
	case p == "":
		return errors.New("an invalidation path cannot be empty")
	case p[0] != '/':
		return fmt.Errorf("invalidation path %q must start with /", p)
	case len(p) > maxInvalidationPath:
		return fmt.Errorf("invalidation path is %d characters; at most %d are allowed", len(p), maxInvalidationPath)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f {
			return fmt.Errorf("invalidation path %q has a character that must be URL-encoded (byte %d: 0x%02x)", p, i, c)
		}
		if c == '*' && i != len(p)-1 {
			return fmt.Errorf("invalidation path %q: * is only allowed as the last character (like /images/*)", p)
		}
	}
	return nil
}

// invalidationTarget is what an invalidation path is compared with for a
// cache key (see appendCacheKey): the viewer path, plus "?" and the query string
// when the cache key holds one. Header, cookie, encoding and Vary parts are
// not part of it, so an invalidation removes every such variant.
func invalidationTarget(key string) string {
	p, rest, _ := strings.Cut(key, "\x00")
	i := strings.Index(rest, "\x00q=")
	if i < 0 {
		return p
	}
	q := rest[i+3:]
	if j := strings.IndexByte(q, 0); j >= 0 {
		q = q[:j]
	}
	if q == "" {
		return p
	}
	return p + "?" + q
}

// invalidationMatch implements the matching rule of cloudfront.md §4.9,
// case-sensitive: a path ending in * removes every object whose path (and
// query string) starts with what precedes the *; any other path removes the
// object with exactly that path and query string.
func invalidationMatch(pattern, target string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(target, prefix)
	}
	return target == pattern
}

// Invalidate removes from distribution id's cache every object that one of
// paths matches, with all its variants, and returns how many cache entries
// it removed. Paths are checked with InvalidationPath first; an invalid
// path removes nothing.
func (e *Edge) Invalidate(id string, paths []string) (int, error) {
	if len(paths) == 0 {
		return 0, errors.New("an invalidation needs at least one path")
	}
	for _, p := range paths {
		if err := InvalidationPath(p); err != nil {
			return 0, err
		}
	}
	for _, d := range e.dists {
		if d.m.ID != id {
			continue
		}
		n := d.store.DeleteFunc(func(key string) bool {
			target := invalidationTarget(key)
			for _, p := range paths {
				if invalidationMatch(p, target) {
					return true
				}
			}
			return false
		})
		e.logger.Info("edge: invalidation", "distribution", id, "paths", strings.Join(paths, " "), "removed", n)
		return n, nil
	}
	return 0, fmt.Errorf("%w: %s", ErrNoSuchDistribution, id)
}
