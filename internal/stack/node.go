package stack

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// kind is the shape of a template value.
type kind int

const (
	kNull kind = iota
	kString
	kNumber
	kBool
	kMap
	kSeq
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "an empty value"
	case kString:
		return "a string"
	case kNumber:
		return "a number"
	case kBool:
		return "a boolean"
	case kMap:
		return "a map"
	case kSeq:
		return "a list"
	}
	return "a value"
}

// node is one template value with the line it came from. Intrinsic short
// forms (!Ref X) are turned into their long form ({Ref: X}) on conversion.
type node struct {
	kind kind
	line int
	str  string // scalar text
	keys []string
	klin []int // line of each key
	vals []*node
	item []*node
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != kMap {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) keyLine(key string) int {
	if n == nil {
		return 0
	}
	for i, k := range n.keys {
		if k == key {
			return n.klin[i]
		}
	}
	return n.line
}

func (n *node) set(key string, line int, v *node) {
	n.keys = append(n.keys, key)
	n.klin = append(n.klin, line)
	n.vals = append(n.vals, v)
}

func str(s string, line int) *node { return &node{kind: kString, str: s, line: line} }

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

// parseTemplate turns src into a node tree. JSON is YAML, so one parser
// serves both.
func parseTemplate(src []byte, errs *errList) *node {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		line, msg := 0, err.Error()
		if ye, ok := err.(yaml.Error); ok {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				line = tk.Position.Line
			}
		}
		errs.add(line, "(syntax)", "invalid YAML/JSON: %s", msg)
		return nil
	}
	var body ast.Node
	docs := 0
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		docs++
		if body == nil {
			body = d.Body
		}
	}
	if docs > 1 {
		errs.add(0, "(template)", "the file holds %d YAML documents; a template is exactly one", docs)
		return nil
	}
	if body == nil {
		errs.add(1, "(template)", "the template is empty; it needs at least a Resources section")
		return nil
	}
	c := &converter{errs: errs, anchors: map[string]*node{}}
	n := c.conv(body, 0)
	if n == nil {
		return nil
	}
	if n.kind != kMap {
		errs.add(n.line, "(template)", "the template must be a map of sections (AWSTemplateFormatVersion, Parameters, Resources, ...), got %s", n.kind)
		return nil
	}
	return n
}

type converter struct {
	errs    *errList
	anchors map[string]*node
	// expanded counts the nodes the tree holds once aliases are expanded, so
	// an alias bomb is rejected instead of exhausting time and memory.
	expanded int
	failed   bool
}

// maxExpandedNodes bounds the size of a template after alias expansion.
const maxExpandedNodes = 200000

func nodeSize(n *node) int {
	if n == nil {
		return 0
	}
	s := 1
	for _, v := range n.vals {
		s += nodeSize(v)
	}
	for _, v := range n.item {
		s += nodeSize(v)
	}
	return s
}

func line(n ast.Node) int {
	if n == nil {
		return 0
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0
	}
	return tk.Position.Line
}

// intrinsicTag maps a short-form tag to its long-form key.
func intrinsicTag(tag string) string {
	name := strings.TrimPrefix(tag, "!")
	switch name {
	case "Ref", "Condition":
		return name
	}
	return "Fn::" + name
}

func (c *converter) conv(n ast.Node, depth int) *node {
	if depth > maxDepth {
		c.errs.add(line(n), "(template)", "values are nested more than %d levels deep", maxDepth)
		return nil
	}
	switch v := n.(type) {
	case nil:
		return &node{kind: kNull}
	case *ast.NullNode:
		return &node{kind: kNull, line: line(v)}
	case *ast.StringNode:
		return &node{kind: kString, str: v.Value, line: line(v)}
	case *ast.LiteralNode:
		s := ""
		if v.Value != nil {
			s = v.Value.Value
		}
		return &node{kind: kString, str: s, line: line(v)}
	case *ast.IntegerNode:
		return &node{kind: kNumber, str: v.GetToken().Value, line: line(v)}
	case *ast.FloatNode:
		return &node{kind: kNumber, str: v.GetToken().Value, line: line(v)}
	case *ast.InfinityNode, *ast.NanNode:
		return &node{kind: kNumber, str: n.GetToken().Value, line: line(n)}
	case *ast.BoolNode:
		s := "false"
		if v.Value {
			s = "true"
		}
		return &node{kind: kBool, str: s, line: line(v)}
	case *ast.MappingNode:
		out := &node{kind: kMap, line: line(v)}
		for _, mv := range v.Values {
			c.mapValue(out, mv, depth)
		}
		return out
	case *ast.MappingValueNode:
		out := &node{kind: kMap, line: line(v)}
		c.mapValue(out, v, depth)
		return out
	case *ast.SequenceNode:
		out := &node{kind: kSeq, line: line(v)}
		for _, it := range v.Values {
			x := c.conv(it, depth+1)
			if x == nil {
				return nil
			}
			out.item = append(out.item, x)
		}
		return out
	case *ast.AnchorNode:
		x := c.conv(v.Value, depth+1)
		if x != nil && v.Name != nil {
			c.anchors[v.Name.GetToken().Value] = x
		}
		return x
	case *ast.AliasNode:
		name := ""
		if v.Value != nil {
			name = v.Value.GetToken().Value
		}
		x, ok := c.anchors[name]
		if !ok {
			c.errs.add(line(v), "(template)", "alias *%s names no anchor defined before it", name)
			return nil
		}
		c.expanded += nodeSize(x)
		if c.expanded > maxExpandedNodes {
			if !c.failed {
				c.errs.add(line(v), "(template)", "aliases expand the template to more than %d values", maxExpandedNodes)
			}
			c.failed = true
			return nil
		}
		return x
	case *ast.TagNode:
		tag := v.Start.Value
		x := c.conv(v.Value, depth+1)
		if x == nil {
			return nil
		}
		switch tag {
		case "!!str":
			if x.kind == kNumber || x.kind == kBool || x.kind == kNull {
				x = str(x.str, x.line)
			}
			return x
		case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!binary", "!!timestamp":
			return x
		}
		if strings.HasPrefix(tag, "!!") {
			c.errs.add(line(v), "(template)", "unknown YAML tag %s", tag)
			return nil
		}
		m := &node{kind: kMap, line: line(v)}
		m.set(intrinsicTag(tag), line(v), x)
		return m
	case *ast.DocumentNode:
		return c.conv(v.Body, depth+1)
	case *ast.CommentNode, *ast.CommentGroupNode:
		return &node{kind: kNull, line: line(n)}
	}
	c.errs.add(line(n), "(template)", "unsupported YAML construct %s", n.Type())
	return nil
}

func (c *converter) mapValue(out *node, mv *ast.MappingValueNode, depth int) {
	if mv == nil || mv.Key == nil {
		return
	}
	if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
		c.errs.add(line(mv.Key), "(template)", "YAML merge keys (<<) are not supported in templates")
		return
	}
	kn := c.conv(mv.Key, depth+1)
	if kn == nil {
		return
	}
	if kn.kind == kMap || kn.kind == kSeq {
		c.errs.add(kn.line, "(template)", "a map key must be a plain string, got %s", kn.kind)
		return
	}
	val := c.conv(mv.Value, depth+1)
	if val == nil {
		val = &node{kind: kNull, line: kn.line}
	}
	// A block map or list below a key is reported at the key's line.
	if (val.kind == kMap || val.kind == kSeq) && val.line > kn.line && !isIntrinsicMap(val) {
		val = shallowWithLine(val, kn.line)
	}
	if val.kind == kNull && val.line == 0 {
		val.line = kn.line
	}
	for _, k := range out.keys {
		if k == kn.str {
			c.errs.add(kn.line, "(template)", "key %q appears twice in the same map", k)
			return
		}
	}
	out.set(kn.str, kn.line, val)
}

func shallowWithLine(n *node, l int) *node {
	cp := *n
	cp.line = l
	return &cp
}

func isIntrinsicMap(n *node) bool {
	if n == nil || n.kind != kMap || len(n.keys) != 1 {
		return false
	}
	k := n.keys[0]
	return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
}

// describe renders a value briefly for messages.
func describe(n *node) string {
	if n == nil {
		return "nothing"
	}
	switch n.kind {
	case kString:
		return fmt.Sprintf("%q", n.str)
	case kNumber, kBool:
		return n.str
	}
	return n.kind.String()
}
