package stack

// fieldLines records the line of every key and list item of the template
// root under its field path (Resources.X.Properties.A.B[0].C), for
// model.Stack.Lines. Intrinsic short forms appear as their long form
// (DomainName.Fn::GetAtt); the key itself (DomainName) carries the line the
// key is written on.
func fieldLines(root *node) map[string]int {
	out := map[string]int{}
	var walk func(n *node, path string, depth int)
	walk = func(n *node, path string, depth int) {
		if n == nil || depth > maxDepth {
			return
		}
		switch n.kind {
		case kMap:
			for i, k := range n.keys {
				p := sub(path, k)
				if _, ok := out[p]; !ok {
					out[p] = n.klin[i]
				}
				walk(n.vals[i], p, depth+1)
			}
		case kSeq:
			for i, it := range n.item {
				p := idx(path, i)
				if it != nil && it.line > 0 {
					if _, ok := out[p]; !ok {
						out[p] = it.line
					}
				}
				walk(it, p, depth+1)
			}
		}
	}
	walk(root, "", 0)
	return out
}
