// Command kumo runs the AWS edge stack — CloudFront in front of an
// Application Load Balancer in front of EC2 web servers, with ACM
// certificates and Route 53 names — on this machine, from a CloudFormation
// template.
//
// The command is thin: it turns flags into calls to kumo's packages.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is kumo's version, printed by `kumo version`.
const version = "0.1.0"

// stateDirEnv names the environment variable that sets the state directory.
const stateDirEnv = "KUMO_STATE_DIR"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one kumo command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "kumo: %v\n", err)
		return 1
	}
	return 0
}

// globals are the flags every command takes.
type globals struct {
	stateDir string
	logLevel string
	stdout   io.Writer
	stderr   io.Writer
}

func (g *globals) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl})), nil
}

// resolvedStateDir returns the state directory: --state-dir, then
// $KUMO_STATE_DIR, then the user's state directory.
func (g *globals) resolvedStateDir() (string, error) {
	if g.stateDir != "" {
		return filepath.Abs(g.stateDir)
	}
	if d := os.Getenv(stateDirEnv); d != "" {
		return filepath.Abs(d)
	}
	return defaultStateDir()
}

// defaultStateDir is $XDG_STATE_HOME/kumo, ~/.local/state/kumo on Linux, and
// the user config directory elsewhere.
func defaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kumo"), nil
	}
	if goruntime.GOOS == "linux" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the state directory: %w (set --state-dir or %s)", err, stateDirEnv)
		}
		return filepath.Join(home, ".local", "state", "kumo"), nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the state directory: %w (set --state-dir or %s)", err, stateDirEnv)
	}
	return filepath.Join(d, "kumo"), nil
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "kumo",
		Short: "Run CloudFront → ALB → EC2 on this machine, from a CloudFormation template",
		Long: strings.TrimSpace(`
kumo runs the AWS edge stack locally, for real: CloudFront in front of an
Application Load Balancer in front of EC2 web servers, with ACM certificates
and Route 53 names. Real TLS, caching, load balancing and health checks, and
CloudFront and ALB access logs in AWS's own formats.`),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.stateDir, "state-dir", "", "state directory: CA, logs, endpoints.json (env "+stateDirEnv+")")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "kumo's own log level: debug, info, warn, error")
	root.AddCommand(newUpCmd(g), newInitCmd(g), newDemoCmd(g), newStatusCmd(g), newTargetsCmd(g), newInvalidateCmd(g), newProbeCmd(g), newLogsCmd(g), newDoctorCmd(g), newVersionCmd(g))
	return root
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kumo's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(g.stdout, "kumo %s (%s)\n", version, goruntime.Version())
			return err
		},
	}
}
