// Command rsslaunch runs a command with inherited stdin, stdout and stderr,
// and then prints the command's peak RSS as "maxrss-kib N" on stderr.
//
// TestStatsRSS starts kumo through it because on Linux a child started by
// a Go process (vfork semantics: CLONE_VM) inherits the parent's peak RSS
// into its own ru_maxrss at exec; the race-instrumented test binary is
// large, the launcher is a few MB, so the figure measures kumo.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rsslaunch COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "rsslaunch:", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "maxrss-kib %d\n", cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
	os.Exit(cmd.ProcessState.ExitCode())
}
