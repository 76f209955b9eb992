package accesslog

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// dashToEmpty returns a copy of *p with every string field that is exactly
// "-" set to "": the one value the writers cannot tell from "absent" (a "-"
// field is read as ""), as AWS's own logs cannot.
func dashToEmpty[T any](p *T) *T {
	c := *p
	v := reflect.ValueOf(&c).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.String && f.String() == "-" {
			f.SetString("")
		}
	}
	return &c
}

// addSampleSeeds adds every non-comment line of the sample files in dir.
func addSampleSeeds(f *testing.F, dir string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "samples", dir, "*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				f.Add(line)
			}
		}
	}
}

func FuzzParseCloudFrontLine(f *testing.F) {
	addSampleSeeds(f, "cloudfront-logs")
	f.Add(string(trickyCloudFront().AppendLine(nil)))
	f.Fuzz(func(t *testing.T, line string) {
		r1, err := ParseCloudFrontLine(line)
		if err != nil {
			return
		}
		line2 := r1.AppendLine(nil)
		r2, n, err := ParseCloudFrontLineFields(string(line2))
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", line2, line, err)
		}
		if n != 33 {
			t.Fatalf("re-emitted line has %d fields", n)
		}
		if !reflect.DeepEqual(r2, dashToEmpty(r1)) {
			t.Fatalf("unstable:\n r1 %+v\n r2 %+v", r1, r2)
		}
		if line3 := r2.AppendLine(nil); string(line3) != string(line2) {
			t.Fatalf("re-emission differs:\n %q\n %q", line2, line3)
		}
	})
}

func FuzzParseALBLine(f *testing.F) {
	addSampleSeeds(f, "alb-logs")
	f.Add(string(albInjection().AppendLine(nil)))
	f.Fuzz(func(t *testing.T, line string) {
		r1, err := ParseALBLine(line)
		if err != nil {
			return
		}
		line2 := r1.AppendLine(nil)
		r2, n, err := ParseALBLineFields(string(line2))
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", line2, line, err)
		}
		if n != ALBFieldCount {
			t.Fatalf("re-emitted line has %d fields", n)
		}
		want := dashToEmpty(r1)
		want.Extra = nil // the writer writes the 33 known fields only
		if !reflect.DeepEqual(r2, want) {
			t.Fatalf("unstable:\n r1 %+v\n r2 %+v", want, r2)
		}
		if line3 := r2.AppendLine(nil); string(line3) != string(line2) {
			t.Fatalf("re-emission differs:\n %q\n %q", line2, line3)
		}
		// The connection and health-check parsers must not panic either.
		ParseALBConnectionLine(line)
		ParseALBHealthCheckLine(line)
	})
}

func FuzzCloudFrontEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "-", "a b", "%", "%25", "%zz", "あ", "\t\n\x00\xff", `<>"#%{}|\^~[]` + "`'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := string(EscapeCloudFront(nil, s))
		if strings.ContainsAny(e, "\t\n\r \"") {
			t.Fatalf("escaped %q contains a separator or quote: %q", s, e)
		}
		for i := 0; i < len(e); i++ {
			if e[i] < 0x21 || e[i] >= 0x7f {
				t.Fatalf("escaped %q contains byte %#x", s, e[i])
			}
		}
		want := s
		if s == "-" {
			want = ""
		}
		if got := UnescapeCloudFront(e); got != want {
			t.Fatalf("UnescapeCloudFront(EscapeCloudFront(%q)) = %q", s, got)
		}
	})
}
