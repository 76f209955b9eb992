package stack

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// checkKeys reports the keys of m that are not in allowed, naming the close
// match (a typo) or listing what is allowed.
func checkKeys(errs *errList, m *node, path string, allowed []string, what string) bool {
	if m == nil || m.kind != kMap {
		return true
	}
	ok := true
	for i, k := range m.keys {
		if contains(allowed, k) {
			continue
		}
		ok = false
		if s := suggest(k, allowed); s != "" {
			errs.add(m.klin[i], sub(path, k), "unknown property%s", s)
		} else if len(allowed) == 0 {
			errs.add(m.klin[i], sub(path, k), "unknown key; no %s are allowed here", what)
		} else {
			errs.add(m.klin[i], sub(path, k), "unknown property; %s are %s", what, strings.Join(sortedCopy(allowed), ", "))
		}
	}
	return ok
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns ` (did you mean "X"?)` for the closest candidate, or "".
func suggest(s string, cands []string) string {
	best, bd := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range cands {
		d := editDistance(ls, strings.ToLower(c))
		if d < bd {
			best, bd = c, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if best == "" || bd > limit || best == s {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 200 || len(b) > 200 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// obj is a resolved map being read, with its field path.
type obj struct {
	b    *builder
	n    *node
	path string
}

func (b *builder) obj(n *node, path string) obj { return obj{b: b, n: n, path: path} }

// has reports whether key is present (and resolved without error).
func (o obj) has(key string) bool { v := o.n.get(key); return v != nil && !isErr(v) }

func (o obj) p(key string) string { return sub(o.path, key) }

func (o obj) line(key string) int {
	if v := o.n.get(key); v != nil && v.line > 0 {
		return v.line
	}
	if o.n != nil {
		return o.n.keyLine(key)
	}
	return 0
}

func (o obj) errf(key string, format string, args ...any) {
	o.b.errs.add(o.line(key), o.p(key), format, args...)
}

// missing reports a required key.
func (o obj) missing(key, allowed string) {
	l := 0
	if o.n != nil {
		l = o.n.line
	}
	if allowed != "" {
		o.b.errs.add(l, o.p(key), "missing; required: %s", allowed)
	} else {
		o.b.errs.add(l, o.p(key), "missing; this property is required")
	}
}

func (o obj) keys(allowed []string) bool {
	return checkKeys(o.b.errs, o.n, o.path, allowed, "its properties")
}

// child returns the map below key; ok is false if absent or not a map (the
// latter is reported).
func (o obj) child(key string) (obj, bool) {
	v := o.n.get(key)
	if v == nil || isErr(v) {
		return obj{b: o.b, path: o.p(key)}, false
	}
	if v.kind != kMap {
		o.b.errs.add(v.line, o.p(key), "expected a map, got %s", describe(v))
		return obj{b: o.b, path: o.p(key)}, false
	}
	return obj{b: o.b, n: v, path: o.p(key)}, true
}

// list returns the items below key as maps; non-maps are reported.
func (o obj) list(key string) ([]obj, bool) {
	v := o.n.get(key)
	if v == nil || isErr(v) {
		return nil, false
	}
	if v.kind != kSeq {
		o.b.errs.add(v.line, o.p(key), "expected a list, got %s", describe(v))
		return nil, false
	}
	out := make([]obj, 0, len(v.item))
	ok := true
	for i, it := range v.item {
		p := idx(o.p(key), i)
		if isErr(it) {
			ok = false
			continue
		}
		if it.kind != kMap {
			o.b.errs.add(it.line, p, "expected a map, got %s", describe(it))
			ok = false
			continue
		}
		out = append(out, obj{b: o.b, n: it, path: p})
	}
	return out, ok
}

func asString(errs *errList, v *node, path string) (string, bool) {
	if v == nil || isErr(v) {
		return "", false
	}
	switch v.kind {
	case kString, kNumber, kBool:
		return v.str, true
	}
	errs.add(v.line, path, "expected a string, got %s", describe(v))
	return "", false
}

// str returns a string property (def when absent).
func (o obj) str(key, def string) (string, bool) {
	v := o.n.get(key)
	if v == nil {
		return def, true
	}
	return asString(o.b.errs, v, o.p(key))
}

// reqStr returns a required string property.
func (o obj) reqStr(key, allowed string) (string, bool) {
	v := o.n.get(key)
	if v == nil {
		o.missing(key, allowed)
		return "", false
	}
	return asString(o.b.errs, v, o.p(key))
}

// enum returns a string property that must be one of allowed.
func (o obj) enum(key, def string, required bool, allowed ...string) (string, bool) {
	v := o.n.get(key)
	if v == nil {
		if required {
			o.missing(key, "one of "+strings.Join(allowed, ", "))
			return "", false
		}
		return def, true
	}
	s, ok := asString(o.b.errs, v, o.p(key))
	if !ok {
		return "", false
	}
	if !contains(allowed, s) {
		o.b.errs.add(v.line, o.p(key), "%q is not one of %s", s, strings.Join(allowed, ", "))
		return "", false
	}
	return s, true
}

// int returns an integer property within [lo, hi] (def when absent).
func (o obj) int(key string, def, lo, hi int64) (int64, bool) {
	v := o.n.get(key)
	if v == nil {
		return def, true
	}
	return o.intOf(v, o.p(key), lo, hi)
}

func (o obj) reqInt(key string, lo, hi int64) (int64, bool) {
	v := o.n.get(key)
	if v == nil {
		o.missing(key, fmt.Sprintf("an integer from %d to %d", lo, hi))
		return 0, false
	}
	return o.intOf(v, o.p(key), lo, hi)
}

func (o obj) intOf(v *node, path string, lo, hi int64) (int64, bool) {
	if isErr(v) {
		return 0, false
	}
	if v.kind != kNumber && v.kind != kString {
		o.b.errs.add(v.line, path, "expected an integer from %d to %d, got %s", lo, hi, describe(v))
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v.str), 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(v.str, 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1e15 {
			n = int64(f)
		} else {
			o.b.errs.add(v.line, path, "expected an integer from %d to %d, got %s", lo, hi, describe(v))
			return 0, false
		}
	}
	if n < lo || n > hi {
		o.b.errs.add(v.line, path, "%d is out of range: must be from %d to %d", n, lo, hi)
		return 0, false
	}
	return n, true
}

// bool returns a boolean property (def when absent). CloudFormation accepts
// true/false and the strings "true"/"false".
func (o obj) bool(key string, def bool) (bool, bool) {
	v := o.n.get(key)
	if v == nil {
		return def, true
	}
	if isErr(v) {
		return def, false
	}
	if v.kind == kBool || v.kind == kString {
		switch strings.ToLower(v.str) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	o.b.errs.add(v.line, o.p(key), "expected true or false, got %s", describe(v))
	return def, false
}

// strList returns a list of strings (nil when absent).
func (o obj) strList(key string) ([]string, bool) {
	v := o.n.get(key)
	if v == nil {
		return nil, true
	}
	return o.strListOf(v, o.p(key))
}

func (o obj) strListOf(v *node, path string) ([]string, bool) {
	if isErr(v) {
		return nil, false
	}
	if v.kind != kSeq {
		o.b.errs.add(v.line, path, "expected a list of strings, got %s", describe(v))
		return nil, false
	}
	out := make([]string, 0, len(v.item))
	ok := true
	for i, it := range v.item {
		s, good := asString(o.b.errs, it, idx(path, i))
		if !good {
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}
