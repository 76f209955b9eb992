package doctor

import (
	"errors"

	"github.com/kumo-dev/kumo/internal/stack"
)

// IDTemplateInvalid: the template does not load (package stack rejected it,
// as CloudFormation or the CloudFront/ELB APIs would).
const IDTemplateInvalid = "KUMO-TEMPLATE-INVALID"

// FromStackError turns the problems package stack reports for a template
// that does not load (*stack.Error or stack.Errors) into a report, so that
// CI gets them in the same JSON form. ok is false for any other error.
func FromStackError(file string, err error) (rep *Report, ok bool) {
	var list stack.Errors
	var one *stack.Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = stack.Errors{one}
	default:
		return nil, false
	}
	rep = &Report{File: file, Findings: []Finding{}}
	for _, e := range list {
		rep.Findings = append(rep.Findings, Finding{
			ID: IDTemplateInvalid, Severity: SeverityError, File: e.File, Line: e.Line, Path: e.Path,
			Title:  e.Msg,
			Effect: "the stack is not deployed: CloudFormation (and kumo) reject the template",
			Why:    e.Msg,
			Fix:    Fix{Text: "change the field as the message says"},
		})
		rep.Summary.Errors++
	}
	return rep, true
}
