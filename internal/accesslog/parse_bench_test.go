package accesslog

import "testing"

// The log parsing `kumo logs` does (issue 6, item 2): one line of each kind,
// formatted by AppendLine from the golden seed records, parsed back.

func BenchmarkParseCloudFrontLine(b *testing.B) {
	r := seedCloudFrontMiss()
	r.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36"
	line := string(r.AppendLine(nil))
	if _, err := ParseCloudFrontLine(line); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCloudFrontLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseALBLine(b *testing.B) {
	line := string(seedALB().AppendLine(nil))
	if _, err := ParseALBLine(line); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseALBLine(line); err != nil {
			b.Fatal(err)
		}
	}
}
