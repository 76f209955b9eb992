package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
	"github.com/kumo-dev/kumo/internal/tooltest"
)

// cacheTestsPackage is the suite version, from the npm registry
// (peers.md §3.1: the registry snapshot, 350 tests of which 165 required).
const cacheTestsPackage = "http-cache-tests@0.4.5"

// requiredPassFloor is the number of required tests kumo passed when this
// floor was last raised; the test fails below it. Raise it as kumo improves
// (never lower it to make a change pass).
const requiredPassFloor = 132

// npmCacheEnv overrides where the suite is installed (default: kumo/npm in
// the user cache directory, next to Go's build cache).
const npmCacheEnv = "KUMO_NPM_CACHE"

// resultsOutEnv names a directory to which the run's results are also
// copied (the test's own copies go away with its temporary directory).
const resultsOutEnv = "KUMO_CACHE_TESTS_OUT"

// suiteRun is what bench/cache-tests/driver.mjs writes.
type suiteRun struct {
	Base   string                    `json:"base"`
	Counts map[string]map[string]int `json:"counts"`
	Tests  []suiteTest               `json:"tests"`
}

type suiteTest struct {
	ID      string `json:"id"`
	Suite   string `json:"suite"`
	Kind    string `json:"kind"` // required, optimal, check
	Outcome string `json:"outcome"`
	Name    string `json:"name"`
	Detail  string `json:"detail"`
}

// TestHTTPCacheTests runs the HTTP caching test suite against kumo: the
// suite's origin behind a distribution with MinTTL 0 and DefaultTTL 0 that
// forwards every method, and the suite's client pointed at kumo's viewer
// HTTP listener (routed by Metadata.Kumo.LocalDefault).
func TestHTTPCacheTests(t *testing.T) {
	if testing.Short() {
		t.Skip("the cache-tests run takes about a minute; skipped with -short")
	}
	node := tooltest.Require(t, "node")
	npm := tooltest.Require(t, "npm")
	driver, err := filepath.Abs(filepath.Join("..", "..", "bench", "cache-tests", "driver.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	pkg := installCacheTests(t, npm)
	originPort := startSuiteOrigin(t, node, driver, pkg)
	viewer := startKumo(t, originPort).Viewer.HTTP
	if host, _, err := net.SplitHostPort(viewer); err != nil || host != "127.0.0.1" {
		t.Fatalf("viewer HTTP address %q is not on 127.0.0.1", viewer)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "cache-tests.json")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, driver, "run", pkg, "http://"+viewer, out)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	summary, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cache-tests client: %v\n%s", err, summary)
	}
	run := readSuiteRun(t, out)
	list := filepath.Join(dir, "cache-tests.txt")
	if err := os.WriteFile(list, formatSuiteRun(run), 0o644); err != nil {
		t.Fatal(err)
	}
	copyResults(t, out, list)

	for _, kind := range []string{"required", "optimal", "check"} {
		t.Logf("%-8s %s", kind, formatCounts(run.Counts[kind]))
	}
	t.Logf("per-test results: %s (JSON: %s)", list, out)
	for _, tc := range run.Tests {
		if tc.Kind == "required" && tc.Outcome == "fail" {
			t.Logf("required fail: %s: %s", tc.ID, tc.Detail)
		}
	}
	total := 0
	for _, n := range run.Counts["required"] {
		total += n
	}
	if total == 0 {
		t.Fatalf("the suite reported no required tests:\n%s", summary)
	}
	if pass := run.Counts["required"]["pass"]; pass < requiredPassFloor {
		t.Errorf("kumo passes %d required cache-tests, below the floor of %d: a regression (see %s)", pass, requiredPassFloor, list)
	}
}

// installCacheTests installs the suite once into the npm cache directory
// and returns the package directory. A finished install is marked by a file,
// so a re-run costs one stat; concurrent installs each use their own
// directory and the first rename wins.
func installCacheTests(t *testing.T, npm string) string {
	t.Helper()
	root := os.Getenv(npmCacheEnv)
	if root == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("no user cache directory for the npm install (set %s): %v", npmCacheEnv, err)
		}
		root = filepath.Join(cache, "kumo", "npm")
	}
	final := filepath.Join(root, cacheTestsPackage)
	pkg := filepath.Join(final, "node_modules", "http-cache-tests")
	const marker = ".kumo-installed"
	if _, err := os.Stat(filepath.Join(final, marker)); err == nil {
		return pkg
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(root, ".install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", tmp, "--no-audit", "--no-fund",
		"--ignore-scripts", "--no-update-notifier", "--loglevel=error", cacheTestsPackage)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v\n%s", cacheTestsPackage, err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, marker), []byte(cacheTestsPackage+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, marker)); serr != nil {
			t.Fatalf("install %s into %s: %v", cacheTestsPackage, final, err)
		}
	}
	t.Logf("installed %s into %s", cacheTestsPackage, final)
	return pkg
}

// startSuiteOrigin starts the suite's origin server on 127.0.0.1 and an
// ephemeral port, and returns the port.
func startSuiteOrigin(t *testing.T, node, driver, pkg string) int {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command(node, driver, "server", pkg)
	cmd.Dir = t.TempDir()
	cmd.Stdout = pw
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		t.Fatalf("start the cache-tests origin: %v", err)
	}
	pw.Close()
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		pr.Close()
		<-done
	})
	lines := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	var line string
	select {
	case l, ok := <-lines:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("the cache-tests origin exited before listening: %s", stderr.String())
		}
		line = l
	case <-timer.C:
		t.Fatal("the cache-tests origin did not start listening within 30 s")
	}
	var port int
	if _, err := fmt.Sscanf(line, "listening %d", &port); err != nil || port <= 0 {
		t.Fatalf("the cache-tests origin printed %q, want \"listening <port>\"", line)
	}
	return port
}

// startKumo starts kumo's runtime with bench/cache-tests/kumo.yaml in front
// of the origin on originPort and returns its endpoints (viewer listeners
// on 127.0.0.1 and ephemeral ports).
func startKumo(t *testing.T, originPort int) runtime.Endpoints {
	t.Helper()
	st, err := stack.Load(filepath.Join("..", "..", "bench", "cache-tests", "kumo.yaml"),
		stack.Options{Parameters: map[string]string{"OriginPort": fmt.Sprint(originPort)}})
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	logFile, err := os.Create(filepath.Join(stateDir, "kumo.log"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: logFile}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rt, err := runtime.Start(context.Background(), st, runtime.Options{StateDir: stateDir,
		ViewerHTTPS: "127.0.0.1:0", ViewerHTTP: "127.0.0.1:0", Ephemeral: true, Logger: logger})
	if err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.Shutdown(ctx); err != nil {
			t.Errorf("kumo shutdown: %v", err)
		}
		logFile.Close()
	})
	t.Logf("kumo's log: %s; CloudFront logs: %s", logFile.Name(), runtime.CloudFrontDir(stateDir))
	return rt.Endpoints()
}

func readSuiteRun(t *testing.T, path string) suiteRun {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var run suiteRun
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return run
}

// formatSuiteRun is the per-test list: one line per test, grouped by kind
// and outcome ("required fail freshness-none: name — detail").
func formatSuiteRun(run suiteRun) []byte {
	rank := map[string]int{"required": 0, "optimal": 1, "check": 2}
	tests := append([]suiteTest(nil), run.Tests...)
	sort.SliceStable(tests, func(i, j int) bool {
		if tests[i].Kind != tests[j].Kind {
			return rank[tests[i].Kind] < rank[tests[j].Kind]
		}
		return tests[i].Outcome < tests[j].Outcome
	})
	var b strings.Builder
	fmt.Fprintf(&b, "# %s against %s\n", cacheTestsPackage, run.Base)
	for _, kind := range []string{"required", "optimal", "check"} {
		fmt.Fprintf(&b, "# %s: %s\n", kind, formatCounts(run.Counts[kind]))
	}
	for _, tc := range tests {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s", tc.Kind, tc.Outcome, tc.ID, tc.Name)
		if tc.Detail != "" {
			fmt.Fprintf(&b, " — %s", tc.Detail)
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// formatCounts prints outcome counts in a fixed order.
func formatCounts(c map[string]int) string {
	order := []string{"pass", "fail", "not_optimal", "yes", "no", "dependency_fail", "setup_fail", "harness_fail", "retry", "untested"}
	var parts []string
	seen := map[string]bool{}
	for _, k := range order {
		seen[k] = true
		if n, ok := c[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	var rest []string
	for k := range c {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// copyResults copies the result files to $KUMO_CACHE_TESTS_OUT, when set.
func copyResults(t *testing.T, files ...string) {
	t.Helper()
	dir := os.Getenv(resultsOutEnv)
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("%s: %v", resultsOutEnv, err)
		return
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
		}
		if err != nil {
			t.Errorf("copy %s to %s: %v", f, dir, errors.Unwrap(err))
		}
	}
}
