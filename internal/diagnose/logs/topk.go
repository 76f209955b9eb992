package logs

import (
	"sort"
	"strings"
)

// TopK finds the most frequent keys of a stream in bounded memory with the
// space-saving algorithm (Metwally, Agrawal, El Abbadi 2005): it keeps at
// most Capacity counters; a new key evicts the smallest counter and inherits
// its count as its overestimate. Every key whose true count exceeds n/Capacity
// is guaranteed to be kept, and each reported count overestimates the true
// count by at most its Error (≤ n/Capacity).
type TopK struct {
	capacity int
	index    map[string]int32 // key → slot; never written on an increment
	slots    []topSlot
	heap     []int32 // slots, min-heap by count
}

type topSlot struct {
	key   string
	count int64
	err   int64
	pos   int32 // position in heap
}

// NewTopK returns a TopK with capacity counters (at least 1).
func NewTopK(capacity int) *TopK {
	capacity = max(capacity, 1)
	return &TopK{capacity: capacity, index: make(map[string]int32, capacity), slots: make([]topSlot, 0, capacity), heap: make([]int32, 0, capacity)}
}

// Add counts one occurrence of key. key may alias a reused buffer: it is
// copied only when it becomes a new counter.
func (t *TopK) Add(key string) {
	if s, ok := t.index[key]; ok {
		t.slots[s].count++
		t.down(int(t.slots[s].pos))
		return
	}
	k := strings.Clone(key)
	if len(t.slots) < t.capacity {
		s := int32(len(t.slots))
		t.slots = append(t.slots, topSlot{key: k, count: 1, pos: int32(len(t.heap))})
		t.heap = append(t.heap, s)
		t.index[k] = s
		t.up(len(t.heap) - 1)
		return
	}
	s := t.heap[0]
	min := &t.slots[s]
	delete(t.index, min.key)
	min.key, min.err = k, min.count
	min.count++
	t.index[k] = s
	t.down(0)
}

func (t *TopK) less(i, j int) bool { return t.slots[t.heap[i]].count < t.slots[t.heap[j]].count }

func (t *TopK) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.slots[t.heap[i]].pos = int32(i)
	t.slots[t.heap[j]].pos = int32(j)
}

func (t *TopK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *TopK) down(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, i) {
			return
		}
		t.swap(i, m)
		i = m
	}
}

// TopEntry is one reported key: Count may overestimate the true count by up
// to MaxError (0 means exact).
type TopEntry struct {
	Key      string `json:"key"`
	Count    int64  `json:"count"`
	MaxError int64  `json:"max_error"`
}

// Top returns the n keys with the highest counts, highest first.
func (t *TopK) Top(n int) []TopEntry {
	out := make([]TopEntry, 0, len(t.slots))
	for _, e := range t.slots {
		out = append(out, TopEntry{Key: e.key, Count: e.count, MaxError: e.err})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
