package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kumo-dev/kumo/internal/diagnose/doctor"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/stack"
)

// errDoctorFindings is returned (exit code 1) when the doctor finds an
// error-severity problem.
var errDoctorFindings = errors.New("doctor found error-severity problems")

type doctorFlags struct {
	file   string
	format string
}

func newDoctorCmd(g *globals) *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a stack for configurations that make CloudFront or the ALB fail",
		Long: strings.TrimSpace(`
Statically analyse a CloudFormation template (the built-in default stack
without -f): origin certificates that do not cover the origin domain or the
forwarded Host, missing listeners, redirect loops, cache keys that leak one
user's response to another, health checks that can never pass, target groups
without targets, shadowed listener rules, default root objects and error
pages that cannot be served. Each finding names its check ID, the file, line
and field, what viewers and the logs will see, why, and the fix.
The exit code is 1 when a finding has error severity.`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(g, f) },
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "CloudFormation template to check (default: the built-in stack)")
	cmd.Flags().StringVar(&f.format, "format", "text", "output format: text or json")
	return cmd
}

func runDoctor(g *globals, f doctorFlags) error {
	if f.format != "text" && f.format != "json" {
		return fmt.Errorf("--format %q: want text or json", f.format)
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	name, src := stack.DefaultTemplateName, stack.DefaultTemplate()
	if f.file != "" {
		name = f.file
		if src, err = os.ReadFile(f.file); err != nil {
			return fmt.Errorf("reading the template: %w", err)
		}
	}
	var rep *doctor.Report
	st, err := stack.Parse(name, src, stack.Options{Logger: log})
	if err != nil {
		var ok bool
		if rep, ok = doctor.FromStackError(name, err); !ok {
			return err
		}
	} else {
		rep = doctor.Check(st, doctor.Options{File: name, Source: src})
	}
	if f.format == "json" {
		err = doctor.WriteJSON(g.stdout, rep)
	} else {
		err = doctor.WriteText(g.stdout, rep, isTerminal(g.stdout))
	}
	if err != nil {
		return err
	}
	if rep.HasErrors() {
		return errDoctorFindings
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal), so that
// output is colored only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printDoctor runs the doctor on the stack kumo up is about to serve and
// prints its findings (nothing when there are none). It never stops kumo
// up: the stack is served as written, failures included, as AWS would.
func printDoctor(w io.Writer, st *model.Stack, path string) {
	name, src := stack.DefaultTemplateName, stack.DefaultTemplate()
	if path != "" {
		name = path
		var err error
		if src, err = os.ReadFile(path); err != nil {
			src = nil // the fixes then quote the fields only
		}
	}
	rep := doctor.Check(st, doctor.Options{File: name, Source: src})
	if len(rep.Findings) == 0 {
		return
	}
	if err := doctor.WriteText(w, rep, isTerminal(w)); err == nil {
		fmt.Fprintln(w)
	}
}
