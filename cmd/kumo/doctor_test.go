package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// writeBroken writes the broken seed stack (origin = the ALB's own name).
func writeBroken(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "broken.yaml")
	src := strings.Replace(string(stack.DefaultTemplate()), stack.DefaultOriginLine, stack.BrokenOriginLine, 1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDoctorCommand(t *testing.T) {
	broken := writeBroken(t, t.TempDir())
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"default stack", []string{"doctor"}, 0, []string{"kumo-default.yaml: no findings"}},
		{"broken text", []string{"doctor", "-f", broken}, 1, []string{"error KUMO-ORIGIN-TLS-NAME " + broken + ":", "- DomainName: !GetAtt LoadBalancer.DNSName", "+ DomainName: alb.example.com", "kumo: doctor found error-severity problems"}},
		{"template that does not load", []string{"doctor", "-f", writeFile(t, "Resources: {}\nBogus: 1\n")}, 1, []string{"error KUMO-TEMPLATE-INVALID", ":2 Bogus"}},
		{"bad format", []string{"doctor", "--format", "xml"}, 1, []string{`--format "xml": want text or json`}},
		{"missing file", []string{"doctor", "-f", filepath.Join(t.TempDir(), "nope.yaml")}, 1, []string{"reading the template"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &out); code != tc.code {
				t.Fatalf("exit code %d, want %d:\n%s", code, tc.code, out.String())
			}
			if strings.Contains(out.String(), "\x1b[") {
				t.Errorf("colored output to a non-terminal:\n%s", out.String())
			}
			for _, want := range tc.contains {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	broken := writeBroken(t, t.TempDir())
	for _, tc := range []struct {
		args   []string
		code   int
		ids    []string
		errors int
	}{
		{[]string{"doctor", "--format", "json"}, 0, nil, 0},
		{[]string{"doctor", "--format", "json", "-f", broken}, 1, []string{"KUMO-ORIGIN-TLS-NAME"}, 1},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != tc.code {
			t.Fatalf("%v: exit code %d, want %d: %s", tc.args, code, tc.code, stderr.String())
		}
		var rep struct {
			File     string `json:"file"`
			Findings []struct {
				ID       string `json:"id"`
				Severity string `json:"severity"`
				Line     int    `json:"line"`
				Path     string `json:"path"`
			} `json:"findings"`
			Summary struct {
				Errors int `json:"errors"`
			} `json:"summary"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", tc.args, err, stdout.String())
		}
		var ids []string
		for _, f := range rep.Findings {
			ids = append(ids, f.ID)
			if f.Line == 0 || f.Severity != "error" || f.Path == "" {
				t.Errorf("finding %+v", f)
			}
		}
		if strings.Join(ids, ",") != strings.Join(tc.ids, ",") || rep.Summary.Errors != tc.errors {
			t.Errorf("%v: findings %v (%d errors), want %v", tc.args, ids, rep.Summary.Errors, tc.ids)
		}
	}
}

// TestUpPrintsDoctor: kumo up runs the doctor on the stack it serves and
// prints the findings before serving.
func TestUpPrintsDoctor(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	p := startKumo(t, "up", "-f", writeBroken(t, dir), "--state-dir", stateDir, "--https", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ephemeral-ports")
	waitFor(t, "endpoints.json", func() bool {
		_, err := runtime.ReadEndpoints(stateDir)
		return err == nil
	})
	waitFor(t, "the endpoints listing", func() bool { return strings.Contains(p.output(), "curl -i --resolve") })
	out := p.output()
	doc := strings.Index(out, "error KUMO-ORIGIN-TLS-NAME")
	if doc < 0 || !strings.Contains(out, "+ DomainName: alb.example.com") {
		t.Fatalf("kumo up did not print the doctor's finding:\n%s", out)
	}
	if doc > strings.Index(out, "curl -i --resolve") {
		t.Errorf("the finding is printed after the endpoints:\n%s", out)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("kumo up exited with %v:\n%s", err, p.output())
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
