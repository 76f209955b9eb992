package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStatsSeed checks every statistic on the seed's two real lines
// (cloudfront.md §1.7) and the seed ALB line (alb.md §1.10), read from a
// gzipped S3 tree.
func TestStatsSeed(t *testing.T) {
	dir := s3Tree(t, "")
	st, err := ComputeStats(context.Background(), StatsConfig{Input: Input{Paths: []string{dir}}})
	if err != nil {
		t.Fatal(err)
	}
	cf := st.CloudFront
	if cf == nil || cf.Requests != 2 || cf.HitRatio != 0 || cf.BytesSent != 1194+4549 || cf.BytesReceived != 457+141 {
		t.Fatalf("cloudfront %+v", cf)
	}
	wantResults := []Share{{"Miss", 1, 0.5}, {"OriginConnectError", 1, 0.5}}
	if len(cf.ResultTypes) != 2 || cf.ResultTypes[0] != wantResults[0] || cf.ResultTypes[1] != wantResults[1] {
		t.Errorf("result types %+v, want %+v", cf.ResultTypes, wantResults)
	}
	if len(cf.Statuses) != 2 || cf.Statuses[0] != (StatusCount{200, 1}) || cf.Statuses[1] != (StatusCount{502, 1}) {
		t.Errorf("statuses %+v", cf.Statuses)
	}
	if len(cf.TopURIs) != 2 || cf.TopURIs[0].Key != "/" || cf.TopURIs[1].Key != "/icons/apache_pb2.gif" || cf.TopURIs[0].MaxError != 0 {
		t.Errorf("top URIs %+v", cf.TopURIs)
	}
	if len(cf.TopEdgeLocations) != 2 || cf.TopEdgeLocations[0].Key != "NRT57-C3" || cf.TopEdgeLocations[1].Key != "NRT57-P3" {
		t.Errorf("top edges %+v", cf.TopEdgeLocations)
	}
	// time-taken 0.011 and 0.022: p50 is 11 ms, p99 22 ms (±0.39 %).
	within := func(got, want float64) bool { return math.Abs(got-want) <= want*QuantileRelativeError+1e-9 }
	if !within(cf.TimeTaken.P50, 0.011) || !within(cf.TimeTaken.P99, 0.022) || cf.TimeTaken.Max != 0.022 {
		t.Errorf("time-taken %+v", cf.TimeTaken)
	}
	a := st.ALB
	if a == nil || a.Requests != 1 || a.BytesSent != 4483 || a.BytesReceived != 804 || a.TopURIs[0].Key != "/icons/apache_pb2.gif" ||
		a.ELBStatuses[0] != (StatusCount{200, 1}) || !within(a.TargetProcessingTime.P50, 0.002) {
		t.Errorf("alb %+v", a)
	}
	var buf bytes.Buffer
	if err := st.Write(&buf, FormatText); err != nil {
		t.Fatal(err)
	}
	golden(t, "stats-seed.golden", buf.Bytes())
	buf.Reset()
	if err := st.Write(&buf, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var back Stats
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.CloudFront.Requests != 2 {
		t.Errorf("JSON: %v %+v", err, back.CloudFront)
	}
	if err := st.Write(&buf, "yaml"); err == nil {
		t.Error("format yaml accepted")
	}
}

// TestStatsEverySample runs stats over both sample trees: all lines but the
// marked truncated one are counted.
func TestStatsEverySample(t *testing.T) {
	for _, root := range sampleRoots(t) {
		st, err := ComputeStats(context.Background(), StatsConfig{Input: Input{Paths: []string{root}}})
		if err != nil {
			t.Fatal(err)
		}
		if st.Unreadable != 1 || st.CloudFront.Requests != 35 || st.ALB.Requests != 33 || st.Lines["alb connection"] != 7 || st.Lines["alb health check"] != 2 {
			t.Errorf("%s: lines %v unreadable %d", root, st.Lines, st.Unreadable)
		}
		for _, r := range st.CloudFront.ResultTypes {
			if strings.ContainsAny(r.Name, "\t %") {
				t.Errorf("result type %q: corrupted key", r.Name)
			}
		}
	}
}

// TestLogHistogram checks the documented error bound against exact
// quantiles of random data spanning six orders of magnitude.
func TestLogHistogram(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var h LogHistogram
	vals := make([]time.Duration, 200000)
	for i := range vals {
		v := time.Duration(math.Exp(rnd.Float64()*14)) * time.Microsecond // 1 µs … 1.2 s
		vals[i] = v
		h.Add(v)
	}
	h.Add(-time.Second) // not measured: ignored
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	if h.Count() != int64(len(vals)) {
		t.Fatalf("count %d", h.Count())
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if diff := math.Abs(float64(got - exact)); diff > float64(exact)*QuantileRelativeError+float64(time.Microsecond) {
			t.Errorf("q%.3f = %v, exact %v: error %.4f%% > %.2f%%", q, got, exact, 100*diff/float64(exact), 100*QuantileRelativeError)
		}
	}
	var empty LogHistogram
	if empty.Quantile(0.5) != 0 {
		t.Error("empty histogram quantile not 0")
	}
	for _, v := range []uint64{0, 1, 127, 128, 255, 256, 1 << 40, math.MaxUint64} {
		lo, w := histBounds(histIndex(v))
		if v < lo || v-lo >= w {
			t.Errorf("value %d in bucket [%d, +%d)", v, lo, w)
		}
	}
}

// TestTopK checks the space-saving guarantees on a skewed stream larger
// than the counters: every key above n/capacity is kept, counts bound the
// truth from above by at most MaxError.
func TestTopK(t *testing.T) {
	const capacity, n = 64, 100000
	rnd := rand.New(rand.NewPCG(3, 4))
	z := rand.NewZipf(rnd, 1.2, 1, 50000)
	exact := map[string]int64{}
	tk := NewTopK(capacity)
	buf := []byte("/k/000000")
	for i := 0; i < n; i++ {
		k := z.Uint64()
		for j, s := 0, k; j < 6; j, s = j+1, s/10 {
			buf[len(buf)-1-j] = byte('0' + s%10)
		}
		key := string(buf)
		exact[key]++
		tk.Add(key)
	}
	top := tk.Top(capacity)
	kept := map[string]TopEntry{}
	for _, e := range top {
		kept[e.Key] = e
		if e.Count < exact[e.Key] || e.Count-e.MaxError > exact[e.Key] {
			t.Errorf("%s: count %d err %d, true %d", e.Key, e.Count, e.MaxError, exact[e.Key])
		}
	}
	for k, c := range exact {
		if c > n/capacity {
			if _, ok := kept[k]; !ok {
				t.Errorf("heavy hitter %s (%d > n/capacity) lost", k, c)
			}
		}
	}
	if len(tk.Top(3)) != 3 || tk.Top(3)[0].Key != "/k/000000" {
		t.Errorf("top 3 = %+v", tk.Top(3))
	}
}

// TestStatsRSS builds kumo (without -race), pipes 1 GB of generated
// CloudFront lines into `kumo logs stats -`, and checks the child's peak RSS
// (rusage ru_maxrss) stays under 100 MB: stats streams in flat memory.
//
// kumo is started through testdata/rsslaunch, which reads kumo's rusage
// from its own exec.Cmd: a child started directly by this (race-built,
// large) test process would inherit the test's peak RSS into its ru_maxrss
// at exec (Go starts children with CLONE_VM), which measures the test.
func TestStatsRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GB stream: skipped with -short")
	}
	tmp := t.TempDir()
	bin, launch := filepath.Join(tmp, "kumo"), filepath.Join(tmp, "rsslaunch")
	for _, b := range []struct{ out, pkg string }{{bin, "./cmd/kumo"}, {launch, "./internal/diagnose/logs/testdata/rsslaunch"}} {
		build := exec.Command("go", "build", "-o", b.out, b.pkg)
		build.Dir = repoRoot(t)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	const total = 1 << 30
	g := newCFGenerator(8<<20, 11)
	blocks := (total + len(g.block) - 1) / len(g.block)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, launch, bin, "logs", "stats", "--format", "json", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var written int64
	for i := 0; i < blocks; i++ {
		n, err := stdin.Write(g.next(i))
		written += int64(n)
		if err != nil {
			t.Fatalf("writing block %d: %v", i, err)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kumo logs stats: %v\n%s", err, stderr.String())
	}
	var st Stats
	if err := json.Unmarshal(stdout.Bytes(), &st); err != nil {
		t.Fatalf("output: %v\n%s", err, stdout.String())
	}
	if want := int64(g.lines) * int64(blocks); st.CloudFront == nil || st.CloudFront.Requests != want || st.Unreadable != 0 {
		t.Fatalf("requests %+v unreadable %d, want %d", st.CloudFront, st.Unreadable, want)
	}
	var kib int64
	i := strings.LastIndex(stderr.String(), "maxrss-kib ")
	if i < 0 {
		t.Fatalf("no peak RSS from the launcher: %q", stderr.String())
	}
	if _, err := fmt.Sscanf(stderr.String()[i:], "maxrss-kib %d", &kib); err != nil || kib <= 0 {
		t.Fatalf("no peak RSS from the launcher (%v): %q", err, stderr.String())
	}
	maxRSS := kib * 1024 // ru_maxrss is in KiB on Linux
	launcherKiB := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	t.Logf("%d MB piped, %d lines, kumo peak RSS %.1f MB (launcher %.1f MB, includes this test's)", written>>20, st.CloudFront.Requests, float64(maxRSS)/1e6, float64(launcherKiB)*1024/1e6)
	if maxRSS >= 100e6 {
		t.Errorf("peak RSS %.1f MB, want < 100 MB", float64(maxRSS)/1e6)
	}
}
