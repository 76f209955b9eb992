package main

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"256MiB", 256 << 20, true}, {"1GiB", 1 << 30, true}, {"64 MB", 64 << 20, true},
		{"1000", 1000, true}, {"10KiB", 10 << 10, true}, {"0", 0, false}, {"-1MiB", 0, false},
		{"lots", 0, false}, {"1TiB", 0, false}, {"", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}
