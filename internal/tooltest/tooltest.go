// Package tooltest finds the external tools (goaccess, openssl, curl, node,
// h2spec) that some tests drive. Where a tool is missing the test is skipped with a
// clear message, except when KUMO_REQUIRE_TOOLS=1 (set by the test command
// that CI runs): then a missing tool fails the test, so CI never passes by
// skipping.
package tooltest

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that turns a missing tool into a
// test failure.
const RequireEnv = "KUMO_REQUIRE_TOOLS"

// Require returns the path of the named tool, or skips (fails under
// KUMO_REQUIRE_TOOLS=1) the test when it is not installed.
func Require(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := "external tool " + name + " is not installed (scripts/test installs it: " + installCommand(name) + ")"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s; %s=1 forbids skipping", msg, RequireEnv)
	}
	t.Skip(msg)
	return ""
}

// installCommand is how tool is installed.
func installCommand(tool string) string {
	if tool == "h2spec" {
		// A tool of kumo's module (go.mod's tool directive).
		return "go build -o .tools/h2spec github.com/summerwind/h2spec/cmd/h2spec, then put .tools on PATH"
	}
	return "apt-get install " + debianPackage(tool)
}

// debianPackage names the Debian package that provides tool.
func debianPackage(tool string) string {
	switch tool {
	case "node", "npm":
		return "nodejs npm"
	case "h2load":
		return "nghttp2-client"
	case "testssl":
		return "testssl.sh"
	}
	return tool
}
