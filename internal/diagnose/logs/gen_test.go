package logs

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// cfGenerator writes realistic CloudFront standard log lines (33 fields,
// cloudfront.md §1.3) in blocks; each block's URIs carry the block number,
// so the stream has ever more distinct URIs, as a real site's logs do.
type cfGenerator struct {
	block   []byte
	uriNums []int // offsets of the 6-digit block number in block
	lines   int
}

// genEdges, genResults are drawn from the seed and sample logs.
var (
	genEdges   = []string{"NRT57-P3", "NRT57-C3", "SEA19-C2", "LAX1", "FRA2", "IAD53", "LHR50", "HKG54-C1"}
	genResults = []struct{ status, result, detailed string }{
		{"200", "Hit", "Hit"}, {"200", "Hit", "Hit"}, {"200", "Hit", "Hit"}, {"200", "Miss", "Miss"},
		{"200", "RefreshHit", "RefreshHit"}, {"304", "Hit", "Hit"}, {"404", "Error", "Error"},
		{"502", "Error", "OriginConnectError"}, {"504", "Error", "OriginCommError"},
	}
)

// newCFGenerator builds one block of about size bytes.
func newCFGenerator(size int, seed uint64) *cfGenerator {
	g := &cfGenerator{}
	rnd := rand.New(rand.NewPCG(seed, 1))
	t := time.Date(2023, 3, 17, 8, 0, 0, 0, time.UTC)
	for len(g.block) < size {
		t = t.Add(time.Duration(rnd.IntN(50)) * time.Millisecond)
		r := genResults[rnd.IntN(len(genResults))]
		g.block = t.AppendFormat(g.block, "2006-01-02\t15:04:05")
		g.block = fmt.Appendf(g.block, "\t%s\t%d\t192.0.2.%d\tGET\td111111abcdef8.cloudfront.net\t/b",
			genEdges[rnd.IntN(len(genEdges))], 200+rnd.IntN(100000), rnd.IntN(255))
		g.uriNums = append(g.uriNums, len(g.block))
		g.block = fmt.Appendf(g.block, "000000/p%d/img%d.jpg\t%s\t-\tMozilla/5.0%%20(X11;%%20Linux%%20x86_64)\t-\t-\t%s\t",
			rnd.IntN(100), rnd.IntN(1000), r.status, r.result)
		g.block = fmt.Appendf(g.block, "%056d\twww.example.com\thttps\t%d\t%s\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t%s\tHTTP/2.0\t-\t-\t%d\t%s\t%s\timage/jpeg\t%d\t-\t-\n",
			rnd.Uint64(), 100+rnd.IntN(900), secs3(rnd.IntN(2000)), r.result, 1024+rnd.IntN(60000), secs3(rnd.IntN(1000)), r.detailed, rnd.IntN(100000))
		g.lines++
	}
	return g
}

// secs3 formats milliseconds as seconds with 3 decimals.
func secs3(ms int) string {
	return strconv.Itoa(ms/1000) + "." + fmt.Sprintf("%03d", ms%1000)
}

// next returns the block with its URIs renumbered for block n.
func (g *cfGenerator) next(n int) []byte {
	var d [6]byte
	s := strconv.Itoa(n % 1000000)
	for i := range d {
		d[i] = '0'
	}
	copy(d[6-len(s):], s)
	for _, off := range g.uriNums {
		copy(g.block[off:off+6], d[:])
	}
	return g.block
}
