package logs

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkStatsCloudFront measures `kumo logs stats` on generated CloudFront
// lines and reports lines/s (stats runs on one goroutine: per core).
func BenchmarkStatsCloudFront(b *testing.B) {
	g := newCFGenerator(8<<20, 7)
	data := g.next(1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := ComputeStats(context.Background(), StatsConfig{Input: Input{Paths: []string{StdinPath}, Stdin: bytes.NewReader(data)}})
		if err != nil {
			b.Fatal(err)
		}
		if st.CloudFront.Requests != int64(g.lines) {
			b.Fatalf("requests %d, want %d", st.CloudFront.Requests, g.lines)
		}
	}
	b.ReportMetric(float64(g.lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
