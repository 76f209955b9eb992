// Package stack reads a CloudFormation template (YAML or JSON), resolves its
// parameters and intrinsic functions, validates every resource kumo serves
// against the AWS rules of the reference specs, and produces a *model.Stack.
//
// It owns: template parsing (one goccy/go-yaml AST parser serves YAML and
// JSON), intrinsic resolution (Ref, Fn::GetAtt, Fn::Sub, Fn::Join,
// Fn::Select, Fn::Split, Fn::Base64, Fn::GetAZs), dependency ordering and
// cycle detection, the stable generated names (distribution domains, load
// balancer DNS names, IDs and ARNs), the Metadata.Kumo extension keys, and the
// built-in default template. Every problem is reported as an *Error naming the
// file, the line and the field path; several problems are reported together
// as Errors.
package stack

import (
	_ "embed"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// DefaultTemplateName is the file name the built-in default stack is reported
// under (and the name `kumo init` writes it to).
const DefaultTemplateName = "kumo-default.yaml"

// DefaultOriginLine is the exact line of the default template that sets the
// distribution's origin to the Route 53 name of the ALB (the fixed stack).
const DefaultOriginLine = "          DomainName: alb.example.com"

// BrokenOriginLine replaces DefaultOriginLine to build the broken reference
// stack: the origin is the ALB's generated *.elb.amazonaws.com name, which the
// ALB's certificate does not cover.
const BrokenOriginLine = "          DomainName: !GetAtt LoadBalancer.DNSName"

//go:embed templates/default.yaml
var defaultTemplate []byte

// DefaultTemplate returns a copy of the built-in default stack
// (templates/default.yaml).
func DefaultTemplate() []byte {
	return append([]byte(nil), defaultTemplate...)
}

// Options configures Load and Parse.
type Options struct {
	// Logger receives kumo's own diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// Parameters overrides template parameter values by name (kumo has no
	// prompt, so this is how a parameter without a Default gets a value).
	Parameters map[string]string
	// StackName is the value of AWS::StackName; "" means Metadata.Kumo.StackName
	// of the template, or DefaultStackName.
	StackName string
}

// Defaults of the pseudo parameters and top-level Metadata.Kumo keys.
const (
	DefaultStackName = "kumo"
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
)

// Error is one problem in a template: the file, the 1-based line (0 when the
// problem has no line, such as an unreadable file), the field path
// (Resources.X.Properties.A.B[0].C) and a message saying what is allowed.
type Error struct {
	File string
	Line int
	Path string
	Msg  string
}

// Error formats the problem as "<file>:<line>: <path>: <message>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Path != "" {
		b.WriteString(": ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a template, sorted by line.
type Errors []*Error

// Error joins the problems with newlines.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Load reads the template at path and resolves it. Relative Metadata.Kumo
// file paths are taken relative to the template's directory. Errors are *Error
// (one problem) or Errors (several).
func Load(path string, opt Options) (*model.Stack, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read the template: %v", err)}
	}
	st, err := Parse(path, src, opt)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Parse resolves the template src; name is used in errors, as model.Stack.Source
// and, through its directory, to find the files named in Metadata.Kumo.
// Errors are *Error (one problem) or Errors (several).
func Parse(name string, src []byte, opt Options) (st *model.Stack, err error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	defer func() {
		// Never panic: a bug in a rule must surface as an error naming the file.
		if r := recover(); r != nil {
			st = nil
			err = &Error{File: name, Msg: fmt.Sprintf("internal error while reading the template (please report): %v", r)}
		}
	}()
	b := &builder{
		file: name,
		dir:  filepath.Dir(name),
		opt:  opt,
		log:  log,
		errs: &errList{file: name},
	}
	st = b.run(src)
	if e := b.errs.result(); e != nil {
		return nil, e
	}
	st.Lines = fieldLines(b.root)
	if name == DefaultTemplateName {
		st.Source = ""
	} else {
		st.Source = name
	}
	log.Debug("stack loaded", "file", name, "distributions", len(st.Distributions),
		"loadBalancers", len(st.LoadBalancers), "ignored", len(st.Ignored))
	return st, nil
}

// errList collects problems.
type errList struct {
	file string
	list []*Error
	seen map[string]bool
}

func (e *errList) add(line int, path, format string, args ...any) {
	er := &Error{File: e.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
	k := er.Error()
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	if e.seen[k] {
		return
	}
	e.seen[k] = true
	e.list = append(e.list, er)
}

func (e *errList) result() error {
	switch len(e.list) {
	case 0:
		return nil
	case 1:
		return e.list[0]
	}
	out := append(Errors(nil), e.list...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}
