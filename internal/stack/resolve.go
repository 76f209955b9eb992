package stack

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// Supported intrinsic functions, as listed in error messages.
var supportedIntrinsics = []string{"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::Base64", "Fn::GetAZs"}

// conditionFunctions need Conditions, which kumo does not support.
var conditionFunctions = map[string]bool{"Fn::If": true, "Fn::Equals": true, "Fn::And": true, "Fn::Or": true, "Fn::Not": true, "Condition": true}

// builder holds the state of one Parse.
type builder struct {
	// unemulated collects the properties kumo accepts but does not emulate.
	unemulated []model.UnemulatedProperty

	file string
	dir  string
	opt  Options
	log  *slog.Logger
	errs *errList

	root           *node
	region         string
	account        string
	stackName      string
	params         map[string]*param
	res            map[string]*resource
	order          []*resource // template order
	usedIPs        map[string]bool
	pendingAliases []pendingAlias
}

type param struct {
	name  string
	typ   string
	value *node // string, or seq of strings for list types
}

// resource is one entry of Resources.
type resource struct {
	id    string
	typ   string
	line  int
	raw   *node // the resource map
	props *node // raw Properties
	meta  *node // raw Metadata.Kumo

	supported bool
	deps      map[string]bool
	done      bool // identity computed
	inCycle   bool
	tainted   bool // depends on a resource in a cycle

	rprops *node // resolved Properties
	rmeta  *node // resolved Metadata.Kumo

	ref   string
	attrs map[string]*node
	// attrNames lists the GetAtt attributes of a supported type, for messages.
	attrNames []string
	// lazy attributes computed on demand (TargetGroup.LoadBalancerArns).
	lazy map[string]func(line int) *node

	obj any // the model object built from it
}

var pathSeg = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// sub appends a key to a field path.
func sub(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func idx(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func (b *builder) run(src []byte) *model.Stack {
	st := &model.Stack{}
	b.root = parseTemplate(src, b.errs)
	if b.root == nil {
		return st
	}
	b.topLevel()
	st.Region, st.AccountID = b.region, b.account
	b.parameters()
	if !b.collectResources() {
		return st
	}
	b.resolveAll()
	b.buildModel(st)
	return st
}

var topLevelKeys = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Conditions", "Transform", "Resources", "Outputs", "Rules"}

var regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
var accountRe = regexp.MustCompile(`^[0-9]{12}$`)
var stackNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

func (b *builder) topLevel() {
	r := b.root
	checkKeys(b.errs, r, "", topLevelKeys, "template sections")
	if v := r.get("AWSTemplateFormatVersion"); v != nil {
		if s := scalarText(v); s != "2010-09-09" {
			b.errs.add(v.line, "AWSTemplateFormatVersion", "%s is not a template format version; the only one is 2010-09-09", describe(v))
		}
	}
	if v := r.get("Conditions"); v != nil {
		b.errs.add(r.keyLine("Conditions"), "Conditions", "Conditions are not supported by kumo: it serves one concrete stack; remove the Conditions section and any Condition or Fn::If")
	}
	if v := r.get("Transform"); v != nil {
		b.errs.add(r.keyLine("Transform"), "Transform", "Transform (macros, AWS::Serverless) is not supported by kumo; deploy-time macros cannot run locally")
	}
	b.region, b.account, b.stackName = DefaultRegion, DefaultAccountID, DefaultStackName
	md := r.get("Metadata")
	if md != nil && md.kind != kMap {
		b.errs.add(md.line, "Metadata", "expected a map, got %s", md.kind)
		md = nil
	}
	if k := md.get("Kumo"); k != nil {
		p := "Metadata.Kumo"
		if k.kind != kMap {
			b.errs.add(k.line, p, "expected a map with Region, AccountId, StackName, got %s", k.kind)
		} else {
			checkKeys(b.errs, k, p, []string{"Region", "AccountId", "StackName"}, "Metadata.Kumo keys at the top level")
			if v := k.get("Region"); v != nil {
				if s, ok := asString(b.errs, v, sub(p, "Region")); ok {
					if !regionRe.MatchString(s) {
						b.errs.add(v.line, sub(p, "Region"), "%q is not an AWS region name (like us-east-1 or ap-northeast-1)", s)
					} else {
						b.region = s
					}
				}
			}
			if v := k.get("AccountId"); v != nil {
				if s, ok := asString(b.errs, v, sub(p, "AccountId")); ok {
					if !accountRe.MatchString(s) {
						b.errs.add(v.line, sub(p, "AccountId"), "%q is not an AWS account ID: it must be 12 digits", s)
					} else {
						b.account = s
					}
				}
			}
			if v := k.get("StackName"); v != nil {
				if s, ok := asString(b.errs, v, sub(p, "StackName")); ok {
					if !stackNameRe.MatchString(s) {
						b.errs.add(v.line, sub(p, "StackName"), "%q is not a stack name: it must start with a letter and hold only letters, digits and hyphens (at most 128)", s)
					} else {
						b.stackName = s
					}
				}
			}
		}
	}
	if b.opt.StackName != "" {
		if !stackNameRe.MatchString(b.opt.StackName) {
			b.errs.add(0, "AWS::StackName", "%q is not a stack name: it must start with a letter and hold only letters, digits and hyphens (at most 128)", b.opt.StackName)
		} else {
			b.stackName = b.opt.StackName
		}
	}
}

var paramKeys = []string{"Type", "Default", "AllowedValues", "AllowedPattern", "ConstraintDescription", "Description", "MaxLength", "MaxValue", "MinLength", "MinValue", "NoEcho"}

// parameters resolves the Parameters section with Options.Parameters.
func (b *builder) parameters() {
	b.params = map[string]*param{}
	ps := b.root.get("Parameters")
	if ps != nil && ps.kind != kMap {
		b.errs.add(ps.line, "Parameters", "expected a map of parameter declarations, got %s", ps.kind)
		ps = nil
	}
	declared := map[string]bool{}
	if ps != nil {
		for i, name := range ps.keys {
			declared[name] = true
			b.parameter(name, ps.klin[i], ps.vals[i])
		}
	}
	var extra []string
	for k := range b.opt.Parameters {
		if !declared[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		l := 0
		if ps != nil {
			l = b.root.keyLine("Parameters")
		}
		b.errs.add(l, "Parameters", "a value was given for parameter %q, which the template does not declare%s", k, suggest(k, ps.keysOrNil()))
	}
}

func (n *node) keysOrNil() []string {
	if n == nil {
		return nil
	}
	return n.keys
}

func (b *builder) parameter(name string, line int, d *node) {
	p := sub("Parameters", name)
	if !pathSeg.MatchString(name) {
		b.errs.add(line, p, "parameter names must be alphanumeric")
		return
	}
	if d.kind != kMap {
		b.errs.add(d.line, p, "expected a parameter declaration map (Type, Default, ...), got %s", d.kind)
		return
	}
	checkKeys(b.errs, d, p, paramKeys, "parameter keys")
	typ := "String"
	if t := d.get("Type"); t != nil {
		typ, _ = asString(b.errs, t, sub(p, "Type"))
	} else {
		b.errs.add(line, sub(p, "Type"), "missing; must be one of String, Number, CommaDelimitedList, List<Number>")
		return
	}
	list := false
	switch {
	case typ == "String" || typ == "Number":
	case typ == "CommaDelimitedList" || typ == "List<Number>":
		list = true
	case strings.HasPrefix(typ, "AWS::SSM::Parameter"):
		b.errs.add(d.get("Type").line, sub(p, "Type"), "%s parameters read AWS Systems Manager, which kumo cannot reach; use String with a Default", typ)
		return
	case strings.HasPrefix(typ, "List<AWS::"):
		list = true
	case strings.HasPrefix(typ, "AWS::"):
	default:
		b.errs.add(d.get("Type").line, sub(p, "Type"), "%q is not one of String, Number, CommaDelimitedList, List<Number> (or an AWS-specific type such as AWS::EC2::VPC::Id)", typ)
		return
	}
	var raw string
	var rawLine int
	if v, ok := b.opt.Parameters[name]; ok {
		raw, rawLine = v, line
	} else if def := d.get("Default"); def != nil {
		if def.kind == kSeq && list {
			var parts []string
			for _, it := range def.items() {
				parts = append(parts, scalarText(it))
			}
			raw = strings.Join(parts, ",")
		} else {
			s, ok := asString(b.errs, def, sub(p, "Default"))
			if !ok {
				return
			}
			raw = s
		}
		rawLine = def.line
	} else {
		b.errs.add(line, p, "parameter %q has no Default and no value was given; kumo has no prompt: add a Default or pass it in Options.Parameters (kumo up --parameter %s=VALUE)", name, name)
		return
	}
	values := []string{raw}
	if list {
		values = strings.Split(raw, ",")
		for i := range values {
			values[i] = strings.TrimSpace(values[i])
		}
	}
	ok := true
	for _, v := range values {
		if !b.checkParamValue(name, p, d, typ, v, rawLine, list) {
			ok = false
		}
	}
	if !ok {
		return
	}
	pv := &param{name: name, typ: typ}
	if list {
		seq := &node{kind: kSeq, line: rawLine}
		for _, v := range values {
			seq.item = append(seq.item, str(v, rawLine))
		}
		pv.value = seq
	} else {
		pv.value = str(raw, rawLine)
	}
	b.params[name] = pv
}

func (n *node) items() []*node {
	if n == nil || n.kind != kSeq {
		return nil
	}
	return n.item
}

// checkParamValue applies AllowedValues, AllowedPattern, Min/MaxLength and
// Min/MaxValue.
func (b *builder) checkParamValue(name, p string, d *node, typ, v string, line int, list bool) bool {
	numeric := typ == "Number" || typ == "List<Number>"
	if numeric {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			b.errs.add(line, p, "value %q of parameter %s is not a number", v, name)
			return false
		}
	}
	if av := d.get("AllowedValues"); av != nil {
		if av.kind != kSeq {
			b.errs.add(av.line, sub(p, "AllowedValues"), "expected a list, got %s", av.kind)
			return false
		}
		var allowed []string
		found := false
		for _, it := range av.item {
			s := scalarText(it)
			allowed = append(allowed, s)
			if s == v {
				found = true
			}
		}
		if !found {
			b.errs.add(line, p, "value %q of parameter %s is not one of the AllowedValues: %s", v, name, strings.Join(allowed, ", "))
			return false
		}
	}
	if ap := d.get("AllowedPattern"); ap != nil && !numeric {
		re, err := regexp.Compile("^(?:" + scalarText(ap) + ")$")
		if err != nil {
			b.errs.add(ap.line, sub(p, "AllowedPattern"), "not a regular expression: %v", err)
			return false
		}
		if !re.MatchString(v) {
			msg := fmt.Sprintf("value %q of parameter %s does not match the AllowedPattern %s", v, name, scalarText(ap))
			if cd := d.get("ConstraintDescription"); cd != nil {
				msg += " (" + scalarText(cd) + ")"
			}
			b.errs.add(line, p, "%s", msg)
			return false
		}
	}
	if !numeric {
		if n := d.get("MinLength"); n != nil {
			if m, err := strconv.Atoi(scalarText(n)); err == nil && len(v) < m {
				b.errs.add(line, p, "value %q of parameter %s is shorter than MinLength %d", v, name, m)
				return false
			}
		}
		if n := d.get("MaxLength"); n != nil {
			if m, err := strconv.Atoi(scalarText(n)); err == nil && len(v) > m {
				b.errs.add(line, p, "value %q of parameter %s is longer than MaxLength %d", v, name, m)
				return false
			}
		}
	} else {
		f, _ := strconv.ParseFloat(v, 64)
		if n := d.get("MinValue"); n != nil {
			if m, err := strconv.ParseFloat(scalarText(n), 64); err == nil && f < m {
				b.errs.add(line, p, "value %s of parameter %s is below MinValue %s", v, name, scalarText(n))
				return false
			}
		}
		if n := d.get("MaxValue"); n != nil {
			if m, err := strconv.ParseFloat(scalarText(n), 64); err == nil && f > m {
				b.errs.add(line, p, "value %s of parameter %s is above MaxValue %s", v, name, scalarText(n))
				return false
			}
		}
	}
	return true
}

var resourceKeys = []string{"Type", "Properties", "DependsOn", "Metadata", "Condition", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy"}

// collectResources reads the Resources section (without resolving anything).
func (b *builder) collectResources() bool {
	b.res = map[string]*resource{}
	rs := b.root.get("Resources")
	if rs == nil {
		b.errs.add(1, "Resources", "missing; a template needs a Resources section")
		return false
	}
	if rs.kind != kMap {
		b.errs.add(rs.line, "Resources", "expected a map of resources, got %s", rs.kind)
		return false
	}
	if len(rs.keys) == 0 {
		b.errs.add(rs.line, "Resources", "empty; a template needs at least one resource")
		return false
	}
	for i, id := range rs.keys {
		p := sub("Resources", id)
		l := rs.klin[i]
		if !pathSeg.MatchString(id) || strings.Contains(id, "_") {
			b.errs.add(l, p, "logical IDs must be alphanumeric (A-Z, a-z, 0-9)")
			continue
		}
		if _, dup := b.params[id]; dup {
			b.errs.add(l, p, "logical ID %q is also a parameter name; names must be unique", id)
			continue
		}
		d := rs.vals[i]
		if d.kind != kMap {
			b.errs.add(d.line, p, "expected a resource map with Type and Properties, got %s", d.kind)
			continue
		}
		checkKeys(b.errs, d, p, resourceKeys, "resource keys")
		if c := d.get("Condition"); c != nil {
			b.errs.add(d.keyLine("Condition"), sub(p, "Condition"), "Conditions are not supported by kumo; remove the Condition")
		}
		t := d.get("Type")
		if t == nil {
			b.errs.add(l, sub(p, "Type"), "missing; every resource needs a Type such as AWS::CloudFront::Distribution")
			continue
		}
		typ, ok := asString(b.errs, t, sub(p, "Type"))
		if !ok {
			continue
		}
		r := &resource{id: id, typ: typ, line: l, raw: d, deps: map[string]bool{}}
		if spec, ok := resourceSpecs[typ]; ok {
			r.supported = true
			r.attrNames = spec.attrs
		} else if strings.HasPrefix(typ, "AWS::") {
			if typo := closeSupportedType(typ); typo != "" {
				b.errs.add(t.line, sub(p, "Type"), "%q is not a resource type kumo knows; did you mean %q?", typ, typo)
				continue
			}
		}
		if r.supported {
			pr := d.get("Properties")
			if pr == nil {
				pr = &node{kind: kMap, line: l}
			} else if pr.kind != kMap {
				b.errs.add(pr.line, sub(p, "Properties"), "expected a map, got %s", pr.kind)
				continue
			}
			r.props = pr
			md := d.get("Metadata")
			if md != nil && md.kind != kMap {
				b.errs.add(md.line, sub(p, "Metadata"), "expected a map, got %s", md.kind)
			} else if k := md.get("Kumo"); k != nil {
				if k.kind != kMap {
					b.errs.add(k.line, sub(p, "Metadata.Kumo"), "expected a map, got %s", k.kind)
				} else {
					r.meta = k
				}
			}
		}
		b.res[id] = r
		b.order = append(b.order, r)
	}
	return true
}

// closeSupportedType returns the supported type an unknown AWS type is a
// likely misspelling of.
func closeSupportedType(typ string) string {
	best, bd := "", 4
	for t := range resourceSpecs {
		if d := editDistance(strings.ToLower(t), strings.ToLower(typ)); d < bd && d > 0 {
			best, bd = t, d
		}
	}
	return best
}

// resolveAll finds the dependencies of every supported resource, orders them
// and resolves them, reporting cycles.
func (b *builder) resolveAll() {
	for _, r := range b.order {
		if !r.supported {
			continue
		}
		b.scanDeps(r, r.props)
		b.scanDeps(r, r.meta)
		if d := r.raw.get("DependsOn"); d != nil {
			p := sub(sub("Resources", r.id), "DependsOn")
			var names []*node
			switch d.kind {
			case kString:
				names = []*node{d}
			case kSeq:
				names = d.item
			default:
				b.errs.add(d.line, p, "expected a logical ID or a list of them, got %s", d.kind)
			}
			for _, n := range names {
				s := scalarText(n)
				if _, ok := b.res[s]; !ok {
					b.errs.add(n.line, p, "%q is not a resource of this template%s", s, suggest(s, b.resourceIDs()))
					continue
				}
				r.deps[s] = true
			}
		}
	}
	for _, scc := range b.sccs() {
		cyclic := len(scc) > 1 || scc[0].deps[scc[0].id]
		if cyclic {
			ids := make([]string, len(scc))
			for i, r := range scc {
				ids[i] = r.id
				r.inCycle = true
			}
			cycle := b.cyclePath(scc)
			first := scc[0]
			for _, r := range scc {
				if r.line < first.line {
					first = r
				}
			}
			b.errs.add(first.line, sub("Resources", first.id), "circular dependency between resources: %s; break it (for example use a literal value instead of a Ref/GetAtt)", strings.Join(cycle, " -> "))
		}
		for _, r := range scc {
			for d := range r.deps {
				if x := b.res[d]; x != nil && (x.inCycle || x.tainted) && !r.inCycle {
					r.tainted = true
				}
			}
			if r.supported {
				if !r.inCycle {
					rp := sub(sub("Resources", r.id), "Properties")
					r.rprops = b.resolveTop(r.props, rp)
					r.rmeta = b.resolveTop(r.meta, sub(sub("Resources", r.id), "Metadata.Kumo"))
				}
				b.identity(r)
			}
			r.done = true
		}
	}
}

func (b *builder) resourceIDs() []string {
	out := make([]string, 0, len(b.order))
	for _, r := range b.order {
		out = append(out, r.id)
	}
	return out
}

// cyclePath renders one cycle through an SCC: A -> B -> A.
func (b *builder) cyclePath(scc []*resource) []string {
	in := map[string]bool{}
	for _, r := range scc {
		in[r.id] = true
	}
	start := scc[0]
	for _, r := range scc {
		if r.line < start.line {
			start = r
		}
	}
	path := []string{start.id}
	seen := map[string]bool{start.id: true}
	cur := start
	for {
		var next string
		deps := sortedKeys(cur.deps)
		for _, d := range deps {
			if d == start.id && (len(path) > 1 || cur.deps[cur.id]) {
				return append(path, start.id)
			}
		}
		for _, d := range deps {
			if in[d] && !seen[d] {
				next = d
				break
			}
		}
		if next == "" {
			return append(path, start.id)
		}
		seen[next] = true
		path = append(path, next)
		cur = b.res[next]
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sccs returns the strongly connected components in dependency order
// (Tarjan's algorithm emits dependencies first), iterating resources in
// template order for stable results.
func (b *builder) sccs() [][]*resource {
	index := map[string]int{}
	low := map[string]int{}
	on := map[string]bool{}
	var stack []*resource
	var out [][]*resource
	i := 0
	var strong func(r *resource)
	strong = func(r *resource) {
		index[r.id], low[r.id] = i, i
		i++
		stack = append(stack, r)
		on[r.id] = true
		for _, d := range sortedKeys(r.deps) {
			w := b.res[d]
			if w == nil {
				continue
			}
			if _, ok := index[w.id]; !ok {
				strong(w)
				low[r.id] = min(low[r.id], low[w.id])
			} else if on[w.id] {
				low[r.id] = min(low[r.id], index[w.id])
			}
		}
		if low[r.id] == index[r.id] {
			var comp []*resource
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w.id] = false
				comp = append(comp, w)
				if w == r {
					break
				}
			}
			// template order inside a component
			sort.Slice(comp, func(a, c int) bool { return comp[a].line < comp[c].line })
			out = append(out, comp)
		}
	}
	for _, r := range b.order {
		if _, ok := index[r.id]; !ok {
			strong(r)
		}
	}
	return out
}

// scanDeps records the resources that n references.
func (b *builder) scanDeps(r *resource, n *node) {
	if n == nil {
		return
	}
	switch n.kind {
	case kSeq:
		for _, it := range n.item {
			b.scanDeps(r, it)
		}
	case kMap:
		if isIntrinsicMap(n) {
			arg := n.vals[0]
			switch n.keys[0] {
			case "Ref":
				b.addDep(r, scalarText(arg))
			case "Fn::GetAtt":
				var target, attr string
				if arg.kind == kString {
					target, attr, _ = strings.Cut(arg.str, ".")
				} else if arg.kind == kSeq && len(arg.item) > 0 {
					target = scalarText(arg.item[0])
					if len(arg.item) > 1 {
						attr = scalarText(arg.item[1])
					}
				}
				b.addDep(r, target)
				if t := b.res[target]; t != nil && t.typ == typeTargetGroup && attr == "LoadBalancerArns" {
					for _, o := range b.order {
						if (o.typ == typeListener || o.typ == typeListenerRule) && o != r && refersTo(o.props, target) {
							r.deps[o.id] = true
						}
					}
				}
			case "Fn::Sub":
				tmpl := arg
				if arg.kind == kSeq && len(arg.item) > 0 {
					tmpl = arg.item[0]
					if len(arg.item) > 1 {
						b.scanDeps(r, arg.item[1])
					}
				}
				if tmpl.kind == kString {
					vars := map[string]bool{}
					if arg.kind == kSeq && len(arg.item) > 1 && arg.item[1].kind == kMap {
						for _, k := range arg.item[1].keys {
							vars[k] = true
						}
					}
					for _, v := range subVars(tmpl.str) {
						if vars[v] {
							continue
						}
						name, _, _ := strings.Cut(v, ".")
						b.addDep(r, name)
					}
				}
				return
			}
		}
		for _, v := range n.vals {
			b.scanDeps(r, v)
		}
	}
}

func refersTo(n *node, id string) bool {
	if n == nil {
		return false
	}
	switch n.kind {
	case kSeq:
		for _, it := range n.item {
			if refersTo(it, id) {
				return true
			}
		}
	case kMap:
		if isIntrinsicMap(n) {
			arg := n.vals[0]
			switch n.keys[0] {
			case "Ref":
				if scalarText(arg) == id {
					return true
				}
			case "Fn::GetAtt":
				if arg.kind == kString && strings.HasPrefix(arg.str, id+".") {
					return true
				}
				if arg.kind == kSeq && len(arg.item) > 0 && scalarText(arg.item[0]) == id {
					return true
				}
			case "Fn::Sub":
				for _, v := range subVarsOf(arg) {
					if name, _, _ := strings.Cut(v, "."); name == id {
						return true
					}
				}
			}
		}
		for _, v := range n.vals {
			if refersTo(v, id) {
				return true
			}
		}
	}
	return false
}

func subVarsOf(arg *node) []string {
	if arg.kind == kString {
		return subVars(arg.str)
	}
	if arg.kind == kSeq && len(arg.item) > 0 && arg.item[0].kind == kString {
		return subVars(arg.item[0].str)
	}
	return nil
}

func (b *builder) addDep(r *resource, name string) {
	if _, ok := b.res[name]; ok {
		r.deps[name] = true
	}
}

// subVars lists the ${...} variable names of a Fn::Sub template (not ${!x}).
func subVars(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		s = s[i+2:]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return out
		}
		v := s[:j]
		s = s[j+1:]
		if strings.HasPrefix(v, "!") {
			continue
		}
		out = append(out, strings.TrimSpace(v))
	}
}

// noValue marks a value removed by Ref AWS::NoValue.
var noValue = &node{kind: kNull}

// resolveTop resolves a Properties or Metadata map.
func (b *builder) resolveTop(n *node, path string) *node {
	if n == nil {
		return nil
	}
	out := b.resolve(n, path, 0)
	if out == noValue || out == nil {
		return &node{kind: kMap, line: n.line}
	}
	return out
}

// resolve returns n with every intrinsic function replaced by its value. It
// returns nil after reporting an error, and noValue for AWS::NoValue.
func (b *builder) resolve(n *node, path string, depth int) *node {
	if n == nil {
		return nil
	}
	if depth > maxDepth {
		b.errs.add(n.line, path, "values are nested too deeply")
		return nil
	}
	switch n.kind {
	case kSeq:
		out := &node{kind: kSeq, line: n.line}
		for i, it := range n.item {
			v := b.resolve(it, idx(path, i), depth+1)
			if v == noValue {
				continue
			}
			if v == nil {
				v = &node{kind: kNull, line: it.line}
			}
			out.item = append(out.item, v)
		}
		return out
	case kMap:
		if len(n.keys) == 1 && (n.keys[0] == "Ref" || n.keys[0] == "Condition" || strings.HasPrefix(n.keys[0], "Fn::")) {
			return b.intrinsic(n.keys[0], n.vals[0], n.klin[0], path, depth)
		}
		out := &node{kind: kMap, line: n.line}
		for i, k := range n.keys {
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				b.errs.add(n.klin[i], sub(path, k), "an intrinsic function must be the only key of its map; this map also has %s", strings.Join(otherKeys(n.keys, k), ", "))
				continue
			}
			v := b.resolve(n.vals[i], sub(path, k), depth+1)
			if v == noValue {
				continue
			}
			if v == nil {
				v = &node{kind: kNull, line: n.vals[i].line, str: "\x00err"}
			}
			out.set(k, n.klin[i], v)
		}
		return out
	}
	return n
}

func otherKeys(keys []string, k string) []string {
	var out []string
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

// isErr reports a value whose resolution already failed (and was reported).
func isErr(n *node) bool { return n != nil && n.kind == kNull && n.str == "\x00err" }

// intrinsic evaluates one intrinsic function.
func (b *builder) intrinsic(fn string, arg *node, line int, path string, depth int) *node {
	p := sub(path, fn)
	switch fn {
	case "Ref":
		if arg.kind != kString {
			b.errs.add(line, p, "expected the name of a parameter, pseudo parameter or resource, got %s", describe(arg))
			return nil
		}
		return b.ref(arg.str, line, p)
	case "Fn::GetAtt":
		var target, attr string
		switch {
		case arg.kind == kString:
			var ok bool
			target, attr, ok = strings.Cut(arg.str, ".")
			if !ok {
				b.errs.add(line, p, "%q is not LogicalID.Attribute", arg.str)
				return nil
			}
		case arg.kind == kSeq && len(arg.item) == 2:
			target = scalarText(arg.item[0])
			an := b.resolve(arg.item[1], idx(p, 1), depth+1)
			if an == nil || an.kind != kString {
				if an != nil {
					b.errs.add(line, p, "the attribute name must be a string, got %s", describe(an))
				}
				return nil
			}
			attr = an.str
		default:
			b.errs.add(line, p, "expected LogicalID.Attribute or [LogicalID, Attribute], got %s", describe(arg))
			return nil
		}
		return b.getAtt(target, attr, line, p)
	case "Fn::Sub":
		return b.fnSub(arg, line, p, depth)
	case "Fn::Join":
		if arg.kind != kSeq || len(arg.item) != 2 {
			b.errs.add(line, p, "expected [delimiter, [values...]], got %s", describe(arg))
			return nil
		}
		delim := b.resolve(arg.item[0], idx(p, 0), depth+1)
		if delim == nil {
			return nil
		}
		if delim.kind != kString {
			b.errs.add(line, p, "the delimiter must be a string, got %s", describe(delim))
			return nil
		}
		list := b.resolve(arg.item[1], idx(p, 1), depth+1)
		if list == nil {
			return nil
		}
		if list.kind != kSeq {
			b.errs.add(line, p, "the second element must be a list of strings, got %s", describe(list))
			return nil
		}
		parts := make([]string, 0, len(list.item))
		for i, it := range list.item {
			if it.kind == kMap || it.kind == kSeq || isErr(it) {
				if !isErr(it) {
					b.errs.add(it.line, idx(idx(p, 1), i), "Fn::Join can only join strings, got %s", it.kind)
				}
				return nil
			}
			parts = append(parts, it.str)
		}
		return str(strings.Join(parts, delim.str), line)
	case "Fn::Select":
		if arg.kind != kSeq || len(arg.item) != 2 {
			b.errs.add(line, p, "expected [index, [values...]], got %s", describe(arg))
			return nil
		}
		in := b.resolve(arg.item[0], idx(p, 0), depth+1)
		list := b.resolve(arg.item[1], idx(p, 1), depth+1)
		if in == nil || list == nil {
			return nil
		}
		i, err := strconv.Atoi(scalarText(in))
		if err != nil || in.kind == kMap || in.kind == kSeq {
			b.errs.add(line, p, "the index must be a whole number, got %s", describe(in))
			return nil
		}
		if list.kind != kSeq {
			b.errs.add(line, p, "the second element must be a list, got %s", describe(list))
			return nil
		}
		if i < 0 || i >= len(list.item) {
			b.errs.add(line, p, "index %d is out of range: the list has %d elements", i, len(list.item))
			return nil
		}
		v := *list.item[i]
		v.line = line
		return &v
	case "Fn::Split":
		if arg.kind != kSeq || len(arg.item) != 2 {
			b.errs.add(line, p, "expected [delimiter, string], got %s", describe(arg))
			return nil
		}
		delim := b.resolve(arg.item[0], idx(p, 0), depth+1)
		s := b.resolve(arg.item[1], idx(p, 1), depth+1)
		if delim == nil || s == nil {
			return nil
		}
		if delim.kind != kString || delim.str == "" {
			b.errs.add(line, p, "the delimiter must be a non-empty string, got %s", describe(delim))
			return nil
		}
		if s.kind == kMap || s.kind == kSeq || s.kind == kNull {
			b.errs.add(line, p, "the value to split must be a string, got %s", describe(s))
			return nil
		}
		out := &node{kind: kSeq, line: line}
		for _, part := range strings.Split(s.str, delim.str) {
			out.item = append(out.item, str(part, line))
		}
		return out
	case "Fn::Base64":
		s := b.resolve(arg, p, depth+1)
		if s == nil {
			return nil
		}
		if s.kind == kMap || s.kind == kSeq || s.kind == kNull {
			b.errs.add(line, p, "expected a string, got %s", describe(s))
			return nil
		}
		return str(base64.StdEncoding.EncodeToString([]byte(s.str)), line)
	case "Fn::GetAZs":
		s := b.resolve(arg, p, depth+1)
		if s == nil {
			return nil
		}
		region := scalarText(s)
		if region == "" {
			region = b.region
		}
		out := &node{kind: kSeq, line: line}
		for _, z := range []string{"a", "b", "c"} {
			out.item = append(out.item, str(region+z, line))
		}
		return out
	}
	if conditionFunctions[fn] {
		b.errs.add(line, p, "%s is not supported: kumo does not support Conditions; write the value the stack should use", fn)
		return nil
	}
	for _, s := range []string{"Fn::FindInMap", "Fn::ImportValue", "Fn::Cidr", "Fn::Transform", "Fn::Length", "Fn::ToJsonString", "Fn::ForEach", "Fn::GetParam"} {
		if fn == s {
			b.errs.add(line, p, "%s is not supported by kumo; supported intrinsic functions are %s", fn, strings.Join(supportedIntrinsics, ", "))
			return nil
		}
	}
	b.errs.add(line, p, "unknown intrinsic function %s%s; supported intrinsic functions are %s", fn, suggest(fn, supportedIntrinsics), strings.Join(supportedIntrinsics, ", "))
	return nil
}

// pseudo returns a pseudo parameter's value.
func (b *builder) pseudo(name string, line int) (*node, bool) {
	switch name {
	case "AWS::Region":
		return str(b.region, line), true
	case "AWS::AccountId":
		return str(b.account, line), true
	case "AWS::StackName":
		return str(b.stackName, line), true
	case "AWS::StackId":
		return str(fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", b.region, b.account, b.stackName, stableUUID("stack", b.stackName, "")), line), true
	case "AWS::Partition":
		return str("aws", line), true
	case "AWS::URLSuffix":
		return str("amazonaws.com", line), true
	case "AWS::NoValue":
		return noValue, true
	case "AWS::NotificationARNs":
		return &node{kind: kSeq, line: line}, true
	}
	return nil, false
}

var pseudoNames = []string{"AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::StackId", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs"}

func (b *builder) ref(name string, line int, p string) *node {
	if v, ok := b.pseudo(name, line); ok {
		return v
	}
	if pv, ok := b.params[name]; ok {
		v := *pv.value
		v.line = line
		return &v
	}
	if b.root.get("Parameters").get(name) != nil {
		// declared but invalid: already reported
		return nil
	}
	r, ok := b.res[name]
	if !ok {
		if strings.HasPrefix(name, "AWS::") {
			b.errs.add(line, p, "%q is not a pseudo parameter; pseudo parameters are %s", name, strings.Join(pseudoNames, ", "))
			return nil
		}
		cands := append(b.resourceIDs(), sortedParamNames(b.params)...)
		b.errs.add(line, p, "%q is not a parameter or resource of this template%s", name, suggest(name, cands))
		return nil
	}
	if !r.supported {
		return str(fakeID(r.typ, b.stackName, r.id), line)
	}
	if !r.done || r.inCycle {
		return str(r.ref, line)
	}
	return str(r.ref, line)
}

func sortedParamNames(m map[string]*param) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (b *builder) getAtt(target, attr string, line int, p string) *node {
	r, ok := b.res[target]
	if !ok {
		b.errs.add(line, p, "%q is not a resource of this template%s", target, suggest(target, b.resourceIDs()))
		return nil
	}
	if !r.supported {
		return str(fakeAttr(r.typ, b.stackName, r.id, attr), line)
	}
	if f, ok := r.lazy[attr]; ok {
		return f(line)
	}
	if v, ok := r.attrs[attr]; ok {
		cp := *v
		cp.line = line
		return &cp
	}
	if msg, ok := unmodeledAttrs[r.typ+"."+attr]; ok {
		b.errs.add(line, p, "%s.%s: %s", target, attr, msg)
		return nil
	}
	names := r.attrNames
	if len(names) == 0 {
		b.errs.add(line, p, "%s (%s) has no attributes for Fn::GetAtt; use Ref", target, r.typ)
		return nil
	}
	b.errs.add(line, p, "%s (%s) has no attribute %q%s; its attributes are %s", target, r.typ, attr, suggest(attr, names), strings.Join(names, ", "))
	return nil
}

// fnSub evaluates Fn::Sub in its string and [string, {vars}] forms.
func (b *builder) fnSub(arg *node, line int, p string, depth int) *node {
	tmpl := arg
	vars := map[string]*node{}
	if arg.kind == kSeq {
		if len(arg.item) != 2 {
			b.errs.add(line, p, "expected a string or [string, {variables}], got a list of %d elements", len(arg.item))
			return nil
		}
		tmpl = arg.item[0]
		vm := arg.item[1]
		if vm.kind != kMap {
			b.errs.add(vm.line, idx(p, 1), "expected a map of variables, got %s", vm.kind)
			return nil
		}
		for i, k := range vm.keys {
			v := b.resolve(vm.vals[i], sub(idx(p, 1), k), depth+1)
			if v == nil {
				return nil
			}
			if v.kind == kMap || v.kind == kSeq || v == noValue {
				b.errs.add(vm.klin[i], sub(idx(p, 1), k), "a Fn::Sub variable must be a string, got %s", v.kind)
				return nil
			}
			vars[k] = v
		}
	}
	if tmpl.kind != kString {
		b.errs.add(line, p, "the template must be a string, got %s", describe(tmpl))
		return nil
	}
	s := tmpl.str
	var out strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			out.WriteString(s)
			break
		}
		out.WriteString(s[:i])
		s = s[i+2:]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			b.errs.add(line, p, "unterminated ${ in %q", tmpl.str)
			return nil
		}
		name := s[:j]
		s = s[j+1:]
		if strings.HasPrefix(name, "!") {
			out.WriteString("${" + name[1:] + "}")
			continue
		}
		name = strings.TrimSpace(name)
		var v *node
		if x, ok := vars[name]; ok {
			v = x
		} else if t, a, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v = b.getAtt(t, a, line, p)
		} else {
			v = b.ref(name, line, p)
		}
		if v == nil {
			return nil
		}
		if v.kind == kMap || v.kind == kSeq || v == noValue {
			b.errs.add(line, p, "${%s} is %s; Fn::Sub can only substitute strings", name, v.kind)
			return nil
		}
		out.WriteString(v.str)
	}
	return str(out.String(), line)
}

// scalarText returns a scalar's text ("" for maps and lists).
func scalarText(n *node) string {
	if n == nil || n.kind == kMap || n.kind == kSeq {
		return ""
	}
	return n.str
}
