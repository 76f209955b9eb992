package accesslog

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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

// FuzzCloudFrontLineCache: over any sequence of records, each drawn from a
// few values per field so that runs repeat and change in every
// combination, CloudFrontLineCache.Append writes what AppendLine writes,
// byte for byte.
func FuzzCloudFrontLineCache(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 1, 2, 0, 3})
	f.Add([]byte("some longer sequence of choices\x00\xff\x10"))
	f.Fuzz(func(t *testing.T, choices []byte) {
		strs := []string{"", "-", "a b", "GET", "x\ty", "%41", "NRT57-C3", "\xff"}
		nums := []int64{-1, 0, 1, 1024, 1 << 40}
		var c CloudFrontLineCache
		next := func() byte {
			if len(choices) == 0 {
				return 0
			}
			b := choices[0]
			choices = choices[1:]
			return b
		}
		str := func() string { return strs[int(next())%len(strs)] }
		num := func() int64 { return nums[int(next())%len(nums)] }
		base := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
		for range 64 {
			if len(choices) == 0 {
				return
			}
			r := &CloudFrontRecord{
				Time:         base.Add(time.Duration(next()%3) * time.Second),
				EdgeLocation: str(), SCBytes: num(), ClientIP: str(), Method: str(), Host: str(),
				URIStem: str(), Status: int(num()), Referer: str(), UserAgent: str(), URIQuery: str(),
				Cookie: str(), ResultType: str(), RequestID: str(), HostHeader: str(), Protocol: str(),
				CSBytes: num(), TimeTaken: time.Duration(num()), ForwardedFor: str(), SSLProtocol: str(),
				SSLCipher: str(), ResponseResultType: str(), ProtocolVersion: str(), FLEStatus: str(),
				FLEEncryptedFields: int(num()), ClientPort: int(num()), TimeToFirstByte: time.Duration(num()),
				DetailedResultType: str(), ContentType: str(), ContentLen: num(), RangeStart: num(), RangeEnd: num(),
			}
			got, want := c.Append(nil, r), r.AppendLine(nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("cached line\n%q\nwant\n%q", got, want)
			}
		}
	})
}
