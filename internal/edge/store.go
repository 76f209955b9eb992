package edge

import (
	"fmt"

	"github.com/kumo-dev/kumo/internal/cache"
)

// openStore gives the edge its object store: prev's store when the budget
// is unchanged (a reload keeps the cache of unchanged distributions), else
// a new, empty one of Config.CacheBytes for all distributions together.
func (e *Edge) openStore(prev *Edge) error {
	if prev != nil && prev.store != nil && prev.store.MaxBytes() == e.cfg.CacheBytes {
		e.store = prev.store
		return nil
	}
	s, err := cache.New(e.cfg.CacheBytes, 0)
	if err != nil {
		return fmt.Errorf("edge: cache: %w", err)
	}
	e.store = s
	return nil
}
